"""The agent's building blocks and the ``ovn-vif`` command, without daemons."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import ovs.json
import pytest

from ovn_vif import ProviderUnavailableError, Registry
from ovn_vif.agent import Agent, AgentConfig, AgentSetupError, RemoteError
from ovn_vif.agent._connections import split_remotes, validate_remote
from ovn_vif.agent._json import ORIGINAL_PARSER, StreamParser, install, installed, uninstall
from ovn_vif.cli import main

# -- ovsjson ---------------------------------------------------------------------


def _feed_in_pieces(parser: StreamParser, text: str, rng: random.Random) -> int:
    pos = 0
    while not parser.is_done() and pos < len(text):
        piece = text[pos : pos + rng.randint(1, 40)]
        used = parser.feed(piece)
        assert used == len(piece) or parser.is_done()
        pos += used
    return pos


def test_stream_parser_finds_messages_split_anywhere() -> None:
    rng = random.Random(4)
    for n in range(200):
        value = {
            "id": n,
            "method": "update3",
            "params": [
                None,
                "00000000-0000-0000-0000-000000000000",
                {
                    "Interface": {
                        f"u{i}": {"name": 'a"}]{[\\' * (i % 3), "n": i, "f": 0.5, "x": [None, True]}
                        for i in range(rng.randint(0, 20))
                    }
                },
            ],
            "snow": "\u2603 é",
        }
        text = json.dumps(value) + '  {"id": "next"}'
        parser = StreamParser()
        used = _feed_in_pieces(parser, text, rng)
        assert parser.finish() == value
        assert text[used:] == '  {"id": "next"}'


def test_stream_parser_passes_over_long_messages_in_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of a long message where it cannot end skip the token scan,
    wherever the pieces split strings, escapes and brackets."""
    scans = 0
    scan = StreamParser._scan

    def counting(self: StreamParser, *args: object) -> int:
        nonlocal scans
        scans += 1
        return scan(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(StreamParser, "_scan", counting)
    rng = random.Random(7)
    nasty = ['a"}]{[\\', "\\\\", '\\"', "\\", "}}}]]]", '"{"', "\u2603"]
    for n in range(40):
        value = {
            "id": n,
            "result": {
                f"u{i}": {
                    "s": "".join(rng.choice(nasty) for _ in range(rng.randint(0, 6))),
                    "m": ["map", [[str(i), "}"], ["x", "{["]]],
                    "n": [[[[i]]], {"k": {}}],
                }
                for i in range(rng.randint(100, 400))
            },
        }
        text = json.dumps(value) + ' {"id": "next"}'
        parser = StreamParser()
        pos = 0
        feeds = 0
        while not parser.is_done():
            piece = text[pos : pos + rng.randint(1, 4096)]
            pos += parser.feed(piece)
            feeds += 1
        assert parser.finish() == value
        assert text[pos:] == ' {"id": "next"}'
        assert feeds > 4
    assert scans < 40 * 5  # a few pieces per message at most, not every one


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"a": 1} x', "trailing garbage at end of input"),
        ('x{"a": 1}', "syntax error"),
        ('{"a": 1', "unexpected end of input"),
        ("  ", "empty input stream"),
        ('}{"a": 1}', "unexpected closing bracket"),
    ],
)
def test_stream_parser_reports_errors_like_ovs(text: str, error: str) -> None:
    parser = StreamParser(check_trailer=True)
    parser.feed(text)
    result = parser.finish()
    assert isinstance(result, str)
    assert error in result


def test_install_replaces_the_pure_python_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ovs.json, "Parser", ORIGINAL_PARSER)
    monkeypatch.setattr(ovs.json, "PARSER", ovs.json.PARSER_PY)
    assert install() is True
    assert installed()
    assert install() is False
    assert ovs.json.from_string('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    uninstall()
    assert ovs.json.Parser is ORIGINAL_PARSER


def test_install_keeps_the_c_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ovs.json, "Parser", ORIGINAL_PARSER)
    monkeypatch.setattr(ovs.json, "PARSER", ovs.json.PARSER_C)
    assert install() is False
    assert not installed()


# -- remotes ---------------------------------------------------------------------


def test_split_remotes() -> None:
    assert split_remotes("tcp:10.0.0.1:6642,tcp:10.0.0.2:6642, unix:/run/sb.sock") == [
        "tcp:10.0.0.1:6642",
        "tcp:10.0.0.2:6642",
        "unix:/run/sb.sock",
    ]
    assert split_remotes("tcp:[::1]:6642") == ["tcp:[::1]:6642"]
    assert split_remotes("") == []


def test_validate_remote_names_the_bad_member() -> None:
    assert validate_remote("unix:/a,tcp:1.2.3.4:6642", "Southbound database") == [
        "unix:/a",
        "tcp:1.2.3.4:6642",
    ]
    with pytest.raises(RemoteError, match=r"Southbound database remote 'sctp:x' is not a valid"):
        validate_remote("unix:/a, sctp:x", "Southbound database")
    with pytest.raises(RemoteError, match="remote is empty"):
        validate_remote(" ", "local database")


# -- Agent set-up errors (before any connection) ---------------------------------


def test_agent_without_providers_lists_installed() -> None:
    agent = Agent(AgentConfig(), Registry())
    try:
        with pytest.raises(
            AgentSetupError, match="no VIF plug provider is registered; installed: dummy"
        ):
            agent.start()
    finally:
        agent.close()


def test_agent_unknown_provider() -> None:
    agent = Agent(AgentConfig(providers=["dummy", "bogus"]))
    try:
        with pytest.raises(AgentSetupError, match=r"unknown VIF plug provider type\(s\): bogus"):
            agent.start()
    finally:
        agent.close()


def test_agent_requires_start_before_run() -> None:
    agent = Agent(AgentConfig())
    try:
        with pytest.raises(AgentSetupError, match="start"):
            agent.run()
    finally:
        agent.close()


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
