"""Connection outages in the agent's log, like ovn-controller's: per database
and member, with the cause, when the connection went down and when it came back."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support import wait_for
from tests.support.agent import AgentProcess, add_lsps, free_port, listening, serve_sb, wait_plugged

from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons


def test_a_southbound_outage_is_logged_with_member_cause_and_duration(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    port = free_port()
    serve_sb(ovn_stack, ("127.0.0.1", port))
    member = f"tcp:127.0.0.1:{port}"
    agent = start_agent(ovn_stack, "--ovn-remote", member)
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    # The Southbound server goes away for a while, then comes back.
    ovn_stack.sb.stop()
    wait_for(lambda: "lost the connection" in agent.log(), "the outage logged")
    time.sleep(2)
    ovn_stack.sb.start()
    wait_for(lambda: listening("127.0.0.1", port), "the server back")
    wait_for(lambda: "again after" in agent.log(), "the return logged")
    log = agent.log()
    assert (
        f"|WARNING|ovn_vif.agent._outages|Southbound database: lost the connection to "
        f"{member} (connection closed by peer): unplugging paused until it is back in sync"
    ) in log
    back = re.search(
        r"\|INFO\|ovn_vif\.agent\._outages\|Southbound database: connected to (\S+) again "
        r"after ([\d.]+) s without a connection \(lost (\S+) at \d\d:\d\d:\d\d: "
        r"connection closed by peer; last failed attempt: \S+: Connection refused\)",
        log,
    )
    assert back, log
    assert back.group(1) == back.group(3) == member
    assert float(back.group(2)) >= 2
    # One agent-level line each way, and python-ovs's own lines are not repeated.
    assert log.count("lost the connection to") == 1
    assert "|INFO|ovn_vif.agent._loop|a database is (re)connecting" not in log
    add_lsps(ovn_stack, "lsp2")
    wait_plugged(ovn_stack, "lsp2")
    assert agent.stop() == 0
