"""The agent tells providers what is plugged: at start and after the local DB came back;
a decline's retry hint makes it ask again without any database change."""

from __future__ import annotations

from collections.abc import Sequence

from ovn_vif import Decline, PlugSpec, PortContext, Registry, RestoredPort, create_sb_indexes
from ovn_vif.agent import Agent, AgentConfig, prepare_ovs_helper, prepare_sb_helper
from ovn_vif.testing import PortBindingFactory, connect, ovs_database, sb_database
from ovn_vif_dummy import DummyProvider

TIMEOUT = 30.0
RETRY: list[float | None] = [0.0]


class Recording(DummyProvider):
    def __init__(self) -> None:
        self.restores: list[tuple[str, ...]] = []
        self.asked = 0
        self.decline_first: int = 0

    def restore(self, ports: Sequence[RestoredPort]) -> None:
        self.restores.append(tuple(p.lport_name for p in ports))
        super().restore(ports)

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        self.asked += 1
        if self.asked <= self.decline_first:
            return Decline("device not ready yet", retry_after=RETRY[0])
        return super().prepare_create(ctx)


def start(provider: Recording) -> tuple[Agent, object, object, PortBindingFactory, list[object]]:
    ovs_db = ovs_database(system_id="hv1")
    sb_db = sb_database(chassis="hv1")
    registry = Registry()
    registry.register(provider)
    agent = Agent(AgentConfig(), registry)
    ovs_idl = connect(ovs_db, prepare_ovs_helper)
    sb_idl = connect(sb_db, prepare_sb_helper, before_connect=create_sb_indexes)
    agent.start(ovs_idl=ovs_idl, sb_idl=sb_idl)
    return agent, ovs_db, sb_db, PortBindingFactory(sb_db, chassis="hv1"), [ovs_idl, sb_idl]


def test_restore_at_start_and_after_the_local_db_reconnects() -> None:
    first = Recording()
    agent, ovs_db, _, add, idls = start(first)
    try:
        add("lsp1")
        assert agent.run_until(lambda: "lsp1" in first.plugged, timeout=TIMEOUT)
        assert first.restores == [()]
        ovs_db.reconnect_clients()  # type: ignore[attr-defined]
        agent.iterate()
        assert agent.run_until(lambda: len(first.restores) == 2, timeout=TIMEOUT)
        assert first.restores[1] == ("lsp1",)
    finally:
        agent.close()
        for idl in idls:
            idl.close()  # type: ignore[attr-defined]


def test_a_retry_hint_makes_the_agent_ask_again_without_a_change() -> None:
    provider = Recording()
    provider.decline_first = 2
    agent, _, _, add, idls = start(provider)
    try:
        add("lsp1")
        assert agent.run_until(lambda: "lsp1" in provider.plugged, timeout=TIMEOUT)
        assert provider.asked >= 3
    finally:
        agent.close()
        for idl in idls:
            idl.close()  # type: ignore[attr-defined]
