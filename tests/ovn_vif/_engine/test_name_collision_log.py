"""A name collision is logged: which lport, which provider, which port name, held by whom.

Two lports whose port names are the same once cut to 15 bytes: the second
is refused (``name-collision``) with one rate-limited WARNING, whichever
policy, whether the engine decides in a full or an incremental run, and
whether the first lport plugs in the same run or was plugged before.
"""

from __future__ import annotations

import logging
from typing import Any

import ovs.db.idl
import pytest
from tests.support.rules_world import BOTH, Recorder, World

from ovn_vif import (
    Policy,
    RateLimitedLogger,
    Reason,
    Reconciler,
    Registry,
    create_sb_indexes,
    register_ovs_columns,
    register_sb_columns,
    track_changes,
)
from ovn_vif._engine.rules import LOG, decide
from ovn_vif.testing import PortBindingFactory, assign_ofports, connect, ovs_database, sb_database
from ovn_vif_dummy import DummyProvider

FIRST = "a-very-long-logical-port-1"
SECOND = "a-very-long-logical-port-2"
NAME = "a-very-long-log"  # both, cut to 15 bytes
REFUSED = f"Not plugging lport {SECOND} as port {NAME} for VIF plug provider dummy: "
#: What holds the name, by scenario.
HOLDER = {
    "same run": f"lport {FIRST} plugs a port named {NAME} in this transaction",
    "plugged before": f"port {NAME} is plugged for lport {FIRST} (ovn-plugged=dummy)",
}


class Agent:
    """A reconciler on fake databases, committing like the agent (tracked
    IDLs make it decide incrementally where the policy allows)."""

    def __init__(self, policy: Policy, *, tracked: bool) -> None:
        self.ovs_db = ovs_database(system_id="hv1")
        sb_db = sb_database(chassis="hv1")
        self.bindings = PortBindingFactory(sb_db)
        registry = Registry()
        registry.register(DummyProvider())

        def sb_setup(idl: Any) -> None:
            create_sb_indexes(idl)
            if tracked:
                track_changes(idl)

        self.ovs_idl = connect(
            self.ovs_db, register_ovs_columns, before_connect=track_changes if tracked else None
        )
        self.sb_idl = connect(sb_db, register_sb_columns, before_connect=sb_setup)
        self.reconciler = Reconciler(registry, policy=policy)

    def add(self, lport: str) -> None:
        self.bindings(lport, plug_type="dummy")

    def iterate(self) -> dict[str, Reason | None]:
        for _ in range(3):
            self.ovs_idl.run()
            self.sb_idl.run()
        txn = ovs.db.idl.Transaction(self.ovs_idl)
        report = self.reconciler.reconcile(
            self.ovs_idl, self.sb_idl, txn, chassis="hv1", can_unplug=True, providers_changed=False
        )
        status = txn.commit_block()
        assert status in ("success", "unchanged"), txn.get_error()
        self.reconciler.complete(status, txn=txn)
        assign_ofports(self.ovs_db)
        return {d.lport: d.reason for d in report.decisions}


def collision_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "Not plugging lport" in r.getMessage()
    ]


@pytest.mark.parametrize("tracked", [True, False], ids=["tracked", "untracked"])
@pytest.mark.parametrize("scenario", list(HOLDER))
@pytest.mark.parametrize("policy", list(Policy), ids=lambda p: p.value)
def test_the_refused_lport_is_logged_once_per_window(
    policy: Policy, scenario: str, tracked: bool, caplog: pytest.LogCaptureFixture
) -> None:
    agent = Agent(policy, tracked=tracked)
    agent.add("lsp0")
    agent.iterate()
    agent.iterate()
    agent.add(FIRST)
    if scenario == "plugged before":
        agent.iterate()
        agent.iterate()
    agent.add(SECOND)
    caplog.set_level(logging.WARNING)
    runs = (agent.reconciler.full_runs, agent.reconciler.incremental_runs)
    decided = agent.iterate()
    assert decided[SECOND] is Reason.NAME_COLLISION
    assert collision_lines(caplog) == [REFUSED + HOLDER[scenario]]
    # Decided again (and refused again) on each iteration: no second line
    # within the rate limit's window.
    caplog.clear()
    for _ in range(3):
        assert agent.iterate() == {SECOND: Reason.NAME_COLLISION}
    assert collision_lines(caplog) == []
    # Which kind of run decided: only RECOMMENDED decides incrementally,
    # and only on tracked IDLs.
    incremental = tracked and policy is Policy.RECOMMENDED
    full_runs, incremental_runs = runs
    assert (agent.reconciler.incremental_runs > incremental_runs) is incremental
    assert (agent.reconciler.full_runs > full_runs) is not incremental


@pytest.mark.parametrize("policy", BOTH)
def test_the_rate_limit_is_per_lport_and_window(
    policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry()
    registry.register(Recorder())
    now = [0.0]
    log = RateLimitedLogger(LOG, clock=lambda: now[0])
    world = World()
    world.plugged(FIRST)
    world.lsp(FIRST)
    world.lsp(SECOND)
    caplog.set_level(logging.WARNING)

    def run() -> list[str]:
        caplog.clear()
        ovs_view, sb_view = world.views()
        plan = decide(
            ovs=ovs_view, sb=sb_view, registry=registry, policy=policy, can_unplug=True, log=log
        )
        assert {d.lport: d.reason for d in plan.decisions}[SECOND] is Reason.NAME_COLLISION
        return collision_lines(caplog)

    line = REFUSED + HOLDER["plugged before"]
    assert run() == [line]
    now[0] += 11.0
    assert run() == []
    assert run() == []
    # A third lport's collision has a line of its own at once (the second's
    # is left out once more).
    world.lsp("a-very-long-logical-port-3")
    assert run() == [
        "Not plugging lport a-very-long-logical-port-3 as port a-very-long-log for VIF plug "
        f"provider dummy: port a-very-long-log is plugged for lport {FIRST} (ovn-plugged=dummy)"
    ]
    # 5 lines per minute: the next one, 12 seconds after the first, says
    # how many were left out.
    now[0] += 1.0
    assert run() == [f"{line} (dropped 3 similar message(s))"]


@pytest.mark.parametrize("policy", BOTH)
def test_hostile_names_stay_on_one_line(policy: Policy, caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry()
    registry.register(Recorder())
    world = World()
    first, second = f"{NAME}\n1", f"{NAME}\n2|INFO|forged"
    world.lsp(first)
    world.lsp(second)
    caplog.set_level(logging.WARNING)
    plan = world.decide(registry, policy)
    assert {d.lport: d.reason for d in plan.decisions}[second] is Reason.NAME_COLLISION
    assert collision_lines(caplog) == [
        f"Not plugging lport {NAME}\\n2|INFO|forged as port {NAME} for VIF plug provider "
        f"dummy: lport {NAME}\\n1 plugs a port named {NAME} in this transaction"
    ]
