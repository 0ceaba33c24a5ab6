"""``--detach`` returns once the agent is set up, without waiting for the Southbound."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from tests.support import wait_for
from tests.support.agent import add_lsps, appctl, free_port, run_agent, serve_sb, wait_plugged

from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons


def test_detach_returns_while_the_southbound_is_unreachable(
    ovn_stack: Sandbox, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there yet
    ctl, pidfile, log_file = tmp_path / "agent.ctl", tmp_path / "agent.pid", tmp_path / "agent.log"
    args = (
        "--ovs-remote", ovn_stack.ovs_remote, "--ovn-remote", f"tcp:127.0.0.1:{port}",
        "--unixctl", str(ctl), "--pidfile", str(pidfile), "--log-file", str(log_file),
        "--connect-timeout", "120", "--detach",
    )  # fmt: skip
    started_at = time.monotonic()
    started = run_agent(*args, timeout=60)
    assert started.returncode == 0, started.stderr
    assert time.monotonic() - started_at < 60
    try:
        status = appctl(ctl, "status")
        assert status.returncode == 0, status.stderr
        assert "Southbound" in status.stdout
        # The Southbound appears: the detached agent connects and plugs.
        serve_sb(ovn_stack, ("127.0.0.1", port))
        add_lsps(ovn_stack, "lsp-detached")
        wait_plugged(ovn_stack, "lsp-detached")
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
            wait_for(lambda: not pidfile.exists(), "the agent gone")


def test_detach_still_reports_a_local_set_up_error(ovn_stack: Sandbox, tmp_path: Path) -> None:
    ovn_stack.vsctl("remove", "Open_vSwitch", ".", "external_ids", "system-id")
    bad = run_agent("--ovs-remote", ovn_stack.ovs_remote, "--detach", "--no-chdir")
    assert bad.returncode == 2, bad.stderr
    assert "external_ids:system-id is not set" in bad.stderr
