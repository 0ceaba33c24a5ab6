"""The shipped systemd unit: valid for systemd, and its command line is one the agent accepts."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ovn_vif.cli._commands import _parser

UNIT = Path(__file__).parents[2] / "contrib" / "systemd" / "ovn-vif-agent.service"


def _service_values(key: str) -> list[str]:
    return [
        line.split("=", 1)[1]
        for line in UNIT.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("ovn-vif")
    assert script.exists()
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/ovn-vif", str(script)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


def test_unit_command_line_is_accepted() -> None:
    [exec_start] = _service_values("ExecStart")
    argv = [a for a in shlex.split(exec_start) if not a.startswith("$")]
    assert argv[0] == "/usr/local/bin/ovn-vif"
    args = _parser().parse_args(argv[1:])
    assert args.command == "agent"
    assert args.unixctl == "/run/ovn-vif/ovn-vif-agent.ctl"
    assert args.pidfile == ""  # the default pidfile, in OVN_VIF_RUNDIR
    assert _service_values("Environment") == ["OVN_VIF_RUNDIR=/run/ovn-vif"]
    assert _service_values("PIDFile") == ["/run/ovn-vif/ovn-vif-agent.pid"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("CapabilityBoundingSet", "CAP_NET_ADMIN"),
        ("ProtectSystem", "strict"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
    ],
)
def test_unit_settings(key: str, value: str) -> None:
    assert _service_values(key) == [value]
