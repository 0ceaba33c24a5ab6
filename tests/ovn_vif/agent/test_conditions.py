"""The agent's Southbound monitor conditions (``ovn_vif.agent._conditions``).

Plugging one more port must leave the ``Port_Binding`` condition alone (its
cost would otherwise grow with the ports plugged), and a plugged port whose
binding leaves the view must be asked for by name, with unplugging held,
before it is unplugged: the binding may only have stopped matching the
condition. The seeded differential test holds the agent against one that
asks for every plugged port by name (the earlier, O(N) condition) on the
same random changes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.fake_agent import World

from ovn_vif import Outcome, Policy, create_sb_indexes
from ovn_vif.agent import Agent, AgentConfig, _loop, prepare_ovs_helper, prepare_sb_helper
from ovn_vif.agent._conditions import BindingNames, PluggedHere, SouthboundConditions
from ovn_vif.testing import add_chassis, assign_ofports, connect

SEEDS = range(6)
STEPS = 40


class Sent:
    """Every ``Port_Binding`` condition the agent's Southbound IDL is given,
    with the lports plugged at that moment."""

    def __init__(self, world: World) -> None:
        self.conditions: list[tuple[list[Any], frozenset[str]]] = []
        idl = world.sb_idl
        original = idl.cond_change

        def cond_change(table: str, condition: Any) -> Any:
            if table == "Port_Binding":
                self.conditions.append((condition, frozenset(world.plugged())))
            return original(table, condition)

        idl.cond_change = cond_change

    @staticmethod
    def named(condition: list[Any]) -> set[str]:
        return {c[2] for c in condition if isinstance(c, list) and c[0] == "logical_port"}


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    w.close()


def _quiet(world: World) -> None:
    # The iteration that ends a commit works out the condition before it:
    # one more after it looks at what the commit left.
    world.run_until(lambda: world.agent.synced and world.agent.idle)
    world.agent.iterate()
    world.run_until(lambda: world.agent.synced and world.agent.idle)


def test_plugging_more_ports_leaves_the_condition_alone(world: World) -> None:
    for n in range(5):
        world.add_binding(f"lsp{n}")
    world.run_until(lambda: len(world.plugged()) == 5)
    _quiet(world)
    sent = Sent(world)
    for n in range(5, 10):
        world.add_binding(f"lsp{n}")
        world.run_until(lambda n=n: len(world.plugged()) == n + 1)
        _quiet(world)
    assert sent.conditions == []
    assert world.agent._conditions.watched == frozenset()
    # forget() (a new IDL, chassis or reload) sends it again, unchanged.
    world.agent._conditions.forget()
    world.agent.iterate()
    [(condition, _)] = sent.conditions
    [chassis] = world.sb_db.find("Chassis", name="hv1")
    assert condition == [["requested_chassis", "==", ["uuid", str(chassis)]]]


def test_a_binding_that_left_the_view_is_asked_for_before_the_port_is_unplugged(
    world: World,
) -> None:
    world.add_binding("keep")
    world.add_binding("gone")
    world.run_until(lambda: {"keep", "gone"} <= set(world.plugged()))
    _quiet(world)
    sent = Sent(world)
    [pb] = world.sb_db.find("Port_Binding", logical_port="gone")
    world.sb_db.delete("Port_Binding", pb)
    world.run_until(lambda: "gone" not in world.plugged())
    _quiet(world)
    asked, plugged_then = sent.conditions[0]
    assert Sent.named(asked) == {"gone"}
    assert "gone" in plugged_then, "the port was unplugged before its binding was asked for"
    # Asked for until it is no longer plugged: then the clause goes.
    assert Sent.named(sent.conditions[-1][0]) == set()
    assert world.agent._conditions.watched == frozenset()
    assert "keep" in world.plugged()


def _deferred(world: World, lport: str) -> int:
    """How many runs held the unplug of *lport* (gate closed)."""
    return sum(
        1
        for report, _status in world.reports
        for d in report.with_outcome(Outcome.DEFERRED)
        if d.lport == lport
    )


def test_the_run_waits_for_the_answer_instead_of_holding_the_unplugs(world: World) -> None:
    """The run that sees bindings leave the view waits for the answer to
    the request for them by name: the unplugs are decided once, after it."""
    world.add_binding("gone")
    world.add_binding("gone2")
    world.run_until(lambda: {"gone", "gone2"} <= set(world.plugged()))
    _quiet(world)
    sent = Sent(world)
    for name in ("gone", "gone2"):
        [pb] = world.sb_db.find("Port_Binding", logical_port=name)
        world.sb_db.delete("Port_Binding", pb)
    world.run_until(lambda: not {"gone", "gone2"} & set(world.plugged()))
    _quiet(world)
    assert Sent.named(sent.conditions[0][0]) == {"gone", "gone2"}
    assert _deferred(world, "gone") == _deferred(world, "gone2") == 0


def test_an_answer_that_never_comes_holds_unplugs_not_plugs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``ANSWER_WAIT`` the loop decides without the answer (plugs go
    on, the unplug is held), and while it waits it blocks, not spins."""
    world.add_binding("gone")
    world.run_until(lambda: "gone" in world.plugged())
    _quiet(world)
    # The server stops answering condition changes (the self-audit repairs
    # that later: tests/ovn_vif/agent/test_self_audit.py).
    monkeypatch.setattr(world.sb_db, "_monitor_cond_change", lambda session, msg: None)
    [pb] = world.sb_db.find("Port_Binding", logical_port="gone")
    world.sb_db.delete("Port_Binding", pb)
    world.add_binding("new")
    before = world.agent._iterations
    world.run_until(lambda: "new" in world.plugged())
    # A spinning loop iterates thousands of times in ANSWER_WAIT; a blocked
    # one wakes for the two updates, the deadline and the commit's echoes.
    assert world.agent._iterations - before < 20
    world.settle()
    assert _deferred(world, "gone") >= 1
    assert "gone" in world.plugged()
    assert not world.agent.synced
    assert world.agent._gate.awaiting_since is not None
    # Past the wait, with the answer still missing, the loop blocks too.
    before = world.agent._iterations
    assert not world.agent.run_until(lambda: False, timeout=4 * _loop.ANSWER_WAIT)
    assert world.agent._iterations - before < 20


def test_a_port_whose_binding_moves_to_another_chassis_is_asked_for() -> None:
    """Its binding leaves the view; asked for by name, it comes back
    requested elsewhere, and the recommended policy unplugs the port."""
    w = World()
    try:
        w.add_binding("lsp1")
        w.run_until(lambda: "lsp1" in w.plugged())
        _quiet(w)
        sent = Sent(w)
        _move(w, "lsp1", "hv2")
        w.run_until(lambda: "lsp1" not in w.plugged())
        _quiet(w)
        assert Sent.named(sent.conditions[0][0]) == {"lsp1"}
        assert w.agent._conditions.watched == frozenset()
    finally:
        w.close()


def test_after_a_restart_every_plugged_port_is_a_suspect() -> None:
    """Ports left plugged by a stopped agent whose bindings left the view
    meanwhile are asked for by the next agent: under the ovn-compatible
    policy the one whose requested-chassis was removed stays plugged (as
    ovn-controller keeps it), the one moved to another chassis goes."""
    w = World(policy=Policy.OVN_COMPATIBLE)
    try:
        for name in ("stays", "kept", "moves"):
            w.add_binding(name)
        w.run_until(lambda: {"stays", "kept", "moves"} <= set(w.plugged()))
        assign_ofports(w.ovs_db)  # as ovs-vswitchd would: the ports are bound
        _quiet(w)
        w.agent.close()
        before = {n: w.ovs_db.find("Interface", name=n) for n in ("stays", "kept")}
        [pb] = w.sb_db.find("Port_Binding", logical_port="kept")
        w.sb_db.update("Port_Binding", pb, options={"vif-plug-type": "dummy"}, requested_chassis=[])
        _move(w, "moves", "hv2")
        again = Agent(AgentConfig(policy=Policy.OVN_COMPATIBLE), w.registry)
        ovs_idl = connect(w.ovs_db, prepare_ovs_helper)
        sb_idl = connect(w.sb_db, prepare_sb_helper, before_connect=create_sb_indexes)
        try:
            again.start(ovs_idl=ovs_idl, sb_idl=sb_idl)
            assert again.run_until(lambda: "moves" not in w.plugged(), timeout=30)
            assert again.run_until(lambda: again.synced and again.idle, timeout=30)
            again.iterate()  # the iteration after the unplug's commit drops its clause
            assert again.run_until(lambda: again.synced and again.idle, timeout=30)
            assert {n: w.ovs_db.find("Interface", name=n) for n in before} == before
            assert again._conditions.watched == frozenset({"kept"})
        finally:
            again.close()
            ovs_idl.close()
            sb_idl.close()
    finally:
        w.close()


def _move(w: World, lport: str, chassis: str) -> None:
    [pb] = w.sb_db.find("Port_Binding", logical_port=lport)
    [where] = w.sb_db.find("Chassis", name=chassis)
    w.sb_db.update(
        "Port_Binding",
        pb,
        options={"vif-plug-type": "dummy", "requested-chassis": chassis},
        requested_chassis=[where],
    )


def test_binding_names_follow_the_changed_rows() -> None:
    w = World()
    try:
        names = BindingNames()
        names.update(w.sb_idl)
        assert names.take_gone() is None  # a full read: any name may have gone
        rng = random.Random(7)
        before: set[str] = set()
        for step in range(80):
            rows = w.sb_db.find("Port_Binding")
            if rows and rng.random() < 0.4:
                w.sb_db.delete("Port_Binding", rng.choice(rows))
            elif rows and rng.random() < 0.3:
                # A rename: the old name leaves, the new one arrives.
                w.sb_db.update("Port_Binding", rng.choice(rows), logical_port=f"r{step}")
            else:
                w.add_binding(f"lsp{rng.randrange(12)}x{step}")
            w.sb_idl.run()
            names.update(w.sb_idl)
            seen = {row.logical_port for row in w.sb_idl.tables["Port_Binding"].rows.values()}
            assert {n for n in seen if n in names} == seen
            assert "nowhere" not in names
            assert names.take_gone() == before - seen
            before = seen
        assert names.full_reads == 1
    finally:
        w.close()


class _EveryPluggedPort(SouthboundConditions):
    """The earlier condition: every plugged (or in flight) port by name."""

    def _watch(
        self,
        plugged: PluggedHere | frozenset[str],
        plugged_from: tuple[Any, ...],
        in_flight: frozenset[str],
        complete: bool,
    ) -> None:
        lports = plugged.lports if isinstance(plugged, PluggedHere) else plugged
        needed = lports | in_flight
        if needed != self._watched:
            self._watched = needed
            self._watched_version += 1


def _run_schedule(
    seed: int, policy: Policy, conditions: type[SouthboundConditions], ofports: bool
) -> list[Any]:
    """What is plugged after each of the seed's random changes."""
    rng = random.Random(seed)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_loop, "SouthboundConditions", conditions)
        w = World(policy=policy)
    add_chassis(w.sb_db, "hv3", encap_ip="192.0.2.3")
    chassis = {name: w.sb_db.find("Chassis", name=name)[0] for name in ("hv1", "hv2", "hv3")}
    seen: list[Any] = []
    try:
        for step in range(STEPS):
            rows = w.sb_db.find("Port_Binding")
            roll = rng.random()
            if not rows or roll < 0.3:
                w.add_binding(f"lsp{step}", requested_chassis=rng.choice(["hv1", "hv1", "hv2"]))
            else:
                pb = rng.choice(rows)
                lport = w.sb_db.get("Port_Binding", pb)["logical_port"]
                if roll < 0.45:
                    w.sb_db.delete("Port_Binding", pb)
                else:
                    # requested-chassis removed, moved or given back.
                    where = rng.choice([None, "hv1", "hv2", "hv3"])
                    options = {"vif-plug-type": "dummy"}
                    if where is not None:
                        options["requested-chassis"] = where
                    w.sb_db.update(
                        "Port_Binding",
                        pb,
                        options=options,
                        requested_chassis=[] if where is None else [chassis[where]],
                    )
                del lport
            _quiet(w)
            if ofports:
                # As ovs-vswitchd would: the plugged ports get their ofport
                # (the ovn-compatible policy binds only those; without, it
                # creates them again, as OVN 23.03 does).
                assign_ofports(w.ovs_db)
                _quiet(w)
            seen.append(sorted(w.plugged()))
        # About seven iterations a step: a loop that spins while an answer
        # is awaited (or a port is re-created) makes thousands.
        assert w.agent._iterations < 20 * STEPS, "the loop spun"
        return seen
    finally:
        w.close()


@pytest.mark.parametrize("ofports", [True, False], ids=["vswitchd", "no-ofports"])
@pytest.mark.parametrize("policy", [Policy.OVN_COMPATIBLE, Policy.RECOMMENDED])
@pytest.mark.parametrize("seed", SEEDS)
def test_plugs_as_with_every_plugged_port_asked_for_by_name(
    seed: int, policy: Policy, ofports: bool
) -> None:
    mine = _run_schedule(seed, policy, SouthboundConditions, ofports)
    reference = _run_schedule(seed, policy, _EveryPluggedPort, ofports)
    assert mine == reference, f"seed {seed}: plugged ports differ"
