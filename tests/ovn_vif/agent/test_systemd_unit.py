"""The shipped systemd unit: valid for systemd, and its command line is one the agent accepts."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import REPO

from ovn_vif.cli._commands import _parser

UNIT = REPO / "contrib" / "systemd" / "ovn-vif-agent.service"
LOGROTATE = REPO / "contrib" / "logrotate" / "ovn-vif-agent"


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
    assert args.log_file == "/var/log/ovn-vif/ovn-vif-agent.log"
    assert args.status_file is None  # the default, in OVN_VIF_RUNDIR


def test_unit_writes_only_where_it_may() -> None:
    """Under ProtectSystem=strict the agent may write only to its RuntimeDirectory
    and LogsDirectory: the status file (default: $OVN_VIF_RUNDIR) and the log file
    must be there, and the log file where contrib/logrotate rotates it."""
    from ovn_vif.agent import default_status_file

    [exec_start] = _service_values("ExecStart")
    args = _parser().parse_args([a for a in shlex.split(exec_start) if "$" not in a][1:])
    [runtime] = _service_values("RuntimeDirectory")
    [logs] = _service_values("LogsDirectory")
    rundir = _service_values("Environment")[0].split("=", 1)[1]
    assert rundir == f"/run/{runtime}"
    status = default_status_file(args.ovs_remote, {"OVN_VIF_RUNDIR": rundir})
    assert status == f"/run/{runtime}/ovn-vif.status.json"
    assert Path(args.log_file).parent == Path("/var/log") / logs
    rotated = [
        line.split()[0]
        for line in LOGROTATE.read_text().splitlines()
        if line.startswith("/") and line.rstrip().endswith("{")
    ]
    assert rotated == [f"/var/log/{logs}/*.log"]
    assert Path(args.log_file).match(rotated[0])


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
