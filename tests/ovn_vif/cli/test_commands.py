"""The ``ovn-vif`` command and its subcommands, without daemons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ovn_vif import ProviderUnavailableError
from ovn_vif.cli import main

# -- the command -----------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [[], ["agent"], ["providers"], ["status"], ["demo"], ["representors"]]
)
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage: ovn-vif" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_providers_json(capsys: pytest.CaptureFixture[str], root_logging: None) -> None:
    assert main(["providers", "--json"]) == 0
    providers = {p["type"]: p for p in json.loads(capsys.readouterr().out)}
    assert providers["dummy"]["module"] == "ovn_vif_dummy"
    assert providers["dummy"]["usable"] is True
    assert providers["dummy"]["reason"] is None
    assert providers["dummy"]["version"]


def test_providers_table(capsys: pytest.CaptureFixture[str], root_logging: None) -> None:
    assert main(["providers"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["TYPE", "MODULE", "VERSION", "USABLE", "HERE"]
    assert any(row.split()[:2] == ["dummy", "ovn_vif_dummy"] for row in rows)


def test_representors_without_devlink_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], root_logging: None
) -> None:
    def no_devlink() -> None:
        raise ProviderUnavailableError("devlink is not available: generic netlink family missing")

    # The subcommand comes from the representor package's entry point.
    monkeypatch.setattr("ovn_vif_representor._cli.list_representors", no_devlink)
    assert main(["representors", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ovn-vif representors: error:")
    assert "devlink is not available" in err


def test_representors_on_this_machine_never_crashes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ovn_vif.cli", "representors", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        assert isinstance(json.loads(result.stdout), list)
    else:
        assert result.returncode == 1
        assert "ovn-vif representors: error:" in result.stderr


def test_status_unreachable_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], root_logging: None
) -> None:
    code = main(["status", "--ovs-remote", f"unix:{tmp_path}/none.sock", "--timeout", "0.2"])
    assert code == 2
    assert "ovn-vif status: error: cannot read the Open_vSwitch schema" in capsys.readouterr().err


def test_json_log_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], root_logging: None
) -> None:
    remote = f"unix:{tmp_path}/none.sock"
    argv = ["status", "--log-format", "json", "--ovs-remote", remote, "--timeout", "0.3"]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    entries = [json.loads(line) for line in err if line.startswith("{")]
    assert entries
    entry = entries[0]
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "ovn_vif.agent._connections"
    assert f"cannot reach the local Open_vSwitch DB at {remote} yet" in entry["message"]
    assert entry["ts"].endswith("Z")


def test_demo_without_binaries_runs_on_the_fake_idl(
    monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    import io

    from ovn_vif.cli import _demo as demo

    monkeypatch.setattr(demo, "_sandbox_missing", lambda: ["ovsdb-server", "ovn-northd"])
    out = io.StringIO()
    assert demo.run_demo(out=out) == 0
    text = out.getvalue()
    assert (
        "Running on the fake IDL (ovn_vif.testing.FakeIdl), as OVS/OVN are not installed "
        "(missing: ovsdb-server, ovn-northd)." in text
    )
    assert "Updated port web for lport web" in text
    assert "Unplugging port db from br-int" in text
    assert "Unplugging port cache from br-int" in text
    last_table = text.rsplit("[5/5]", 1)[1]
    assert "web    web   internal" in last_table
    assert "cache" not in last_table


def test_a_builtin_command_imports_no_plugin_command() -> None:
    """`ovn-vif agent --provider dummy` does not import the representor provider's
    command (and with it pyroute2, 12 MB of the agent's memory); `--help` and a
    plugin's own command still see the plugin commands."""
    code = (
        "import sys; from ovn_vif.cli._commands import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('pyroute2' in sys.modules, 'ovn_vif_representor' in sys.modules)"
    )

    def imported(*argv: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", code, *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.stdout.strip().splitlines()[-1]

    assert imported("agent", "--provider", "dummy", "--connect-timeout", "x") == "False False"
    assert imported("status", "--help") == "False False"
    assert imported("--help").endswith("True")
