"""The agent reading the Southbound database through an ``ovsdb-server`` relay.

OVN deployments scale Southbound reads with relays (``relay:OVN_Southbound:``
remotes) in front of the clustered database: the chassis connect to a
relay, which answers their monitors from its own copy and forwards
transactions to the cluster. Here the real ``ovn-vif agent`` reads a
3-member cluster through one relay; the relay is killed and started
again, then a cluster member (the leader) is killed, and after each fault
the agent must converge: plug what was created meanwhile, unplug what was
deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support import wait_for
from tests.support.agent import AgentProcess, add_lsps, converged
from tests.support.cluster import ClusterStack
from tests.support.relay import SouthboundRelay

pytestmark = pytest.mark.daemons

IN_SYNC = "both databases in sync: unplugging enabled"


class RelayStack(ClusterStack):
    """A cluster stack with a relay in front of the members, which the agent uses."""

    def __init__(self) -> None:
        super().__init__()
        self.relay = SouthboundRelay(self.dir, self.cluster.remote)

    def start_front(self) -> None:
        self.relay.start()


@pytest.fixture
def relay_stack() -> Iterator[RelayStack]:
    stack = RelayStack()
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


def _syncs(log: Path) -> int:
    return log.read_text(errors="replace").count(IN_SYNC) if log.exists() else 0


def test_agent_through_a_relay_converges_after_relay_and_member_faults(
    relay_stack: RelayStack, tmp_path: Path
) -> None:
    stack = relay_stack
    log = tmp_path / "agent.log"
    agent = AgentProcess(stack, log, "--provider", "dummy", "--ovn-remote", stack.relay.remote)
    try:
        add_lsps(stack, "lsp1", "lsp2")
        wait_for(converged(stack, {"lsp1", "lsp2"}), "lsp1 and lsp2 plugged through the relay")
        wait_for(lambda: _syncs(log), "the agent in sync")

        # The relay dies; meanwhile one LSP comes and one goes.
        stack.relay.kill()
        add_lsps(stack, "lsp3")
        stack.nbctl("lsp-del", "lsp1")
        stack.nbctl("--wait=sb", "sync")
        syncs = _syncs(log)
        stack.relay.start()
        wait_for(lambda: _syncs(log) > syncs, "the agent in sync again after the relay restart")
        wait_for(converged(stack, {"lsp2", "lsp3"}), "lsp3 plugged and lsp1 unplugged")

        # The cluster's leader dies: the relay follows the cluster to the new
        # one, and so do the agent's plugs and unplugs.
        leader = stack.cluster.leader()
        assert leader is not None
        leader.kill()
        stack.cluster.wait_healthy()
        add_lsps(stack, "lsp4")
        stack.nbctl("lsp-del", "lsp2")
        wait_for(converged(stack, {"lsp3", "lsp4"}), "lsp4 plugged and lsp2 unplugged")

        # The member comes back; the relay dies again, and the agent still follows.
        leader.start()
        stack.cluster.wait_healthy()
        stack.relay.kill()
        stack.relay.start()
        add_lsps(stack, "lsp5")
        stack.nbctl("lsp-del", "lsp3")
        wait_for(converged(stack, {"lsp4", "lsp5"}), "lsp5 plugged and lsp3 unplugged")
        assert agent.proc.poll() is None, agent.log()
        assert "|ERROR|" not in agent.log()
    finally:
        agent.kill()
