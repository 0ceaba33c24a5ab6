"""The agent's loop on the fake IDL: commit outcomes, in-flight commits, gating, conditions."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from tests.support.fake_agent import TIMEOUT, World

from ovn_vif import (
    Decline,
    PlugSpec,
    Policy,
    PortContext,
    ReconcileReport,
    Registry,
    create_sb_indexes,
)
from ovn_vif.agent import Agent, AgentConfig, prepare_ovs_helper, prepare_sb_helper
from ovn_vif.agent._loop import TRY_AGAIN_AT_ONCE
from ovn_vif.testing import (
    PortBindingFactory,
    add_chassis,
    assign_ofports,
    connect,
    ovs_database,
    sb_database,
)
from ovn_vif_dummy import DummyProvider


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    w.close()


def test_plugs_and_unplugs(world: World) -> None:
    world.add_binding("lsp1")
    world.run_until(lambda: "lsp1" in world.plugged())
    assert world.plugged()["lsp1"]["name"] == "lsp1"
    [pb] = world.sb_db.find("Port_Binding", logical_port="lsp1")
    world.sb_db.delete("Port_Binding", pb)
    world.run_until_done(lambda: "lsp1" not in world.plugged())
    assert world.statuses() == ["success", "success"]


def test_try_again_is_retried_with_fresh_data(world: World) -> None:
    world.settle()
    world.ovs_db.script_commit("try again")
    world.add_binding("lsp1")
    world.run_until_done(lambda: "lsp1" in world.plugged())
    assert world.statuses() == ["try again", "success"]
    assert not world.agent.reconciler.in_flight


def test_try_again_over_and_over_backs_off(world: World, caplog: pytest.LogCaptureFixture) -> None:
    # A check that keeps failing must not make the loop spin: after
    # TRY_AGAIN_AT_ONCE retries at once, each waits for a growing pause.
    world.settle()
    for _ in range(TRY_AGAIN_AT_ONCE + 2):
        world.ovs_db.script_commit("try again")
    world.add_binding("lsp1")
    world.run_until(lambda: world.statuses().count("try again") == TRY_AGAIN_AT_ONCE + 1)
    for _ in range(20):
        world.agent.iterate()
    assert world.statuses().count("try again") == TRY_AGAIN_AT_ONCE + 1, "retried at once"
    assert "answered 'try again' to 4 commits in a row; deciding again in 1 s" in caplog.text
    world.run_until_done(lambda: "lsp1" in world.plugged())
    assert world.statuses() == ["try again"] * (TRY_AGAIN_AT_ONCE + 2) + ["success"]


def test_error_is_retried_after_a_pause(world: World) -> None:
    world.settle()
    world.ovs_db.script_commit("error", details="injected failure")
    world.add_binding("lsp1")
    world.run_until_done(lambda: "lsp1" in world.plugged())
    assert world.statuses() == ["error", "success"]


def test_commit_in_progress_across_iterations(world: World) -> None:
    world.settle()
    world.ovs_db.script_commit("success", delay_runs=3)
    world.add_binding("lsp1")
    world.run_until(lambda: world.agent.reconciler.in_flight)
    assert "lsp1" not in world.plugged()
    world.add_binding("lsp2")
    world.run_until(lambda: {"lsp1", "lsp2"} <= set(world.plugged()))
    world.settle()
    assert not world.agent.reconciler.in_flight
    assert len([r for r in world.ovs_db.rows("Port").values() if r["name"] == "lsp1"]) == 1
    assert world.statuses() == ["success", "success"]


def test_no_unplug_until_the_southbound_is_back_in_sync(world: World) -> None:
    world.add_binding("keep")
    world.run_until(lambda: "keep" in world.plugged())
    [br] = world.ovs_db.find("Bridge", name="br-int")
    ports = world.ovs_db.get("Bridge", br)["ports"]
    with world.ovs_db.batch() as t:
        iface = t.insert(
            "Interface",
            name="orphan",
            type="internal",
            external_ids={"iface-id": "orphan", "ovn-plugged": "dummy"},
        )
        port = t.insert("Port", name="orphan", interfaces=[iface])
        t.update("Bridge", br, ports=[*ports, port])
    world.sb_db.reconnect_clients()
    world.agent.iterate()
    # Read into a name: mypy would keep the narrowing of world.agent.synced
    # to False across run_until() below.
    synced = world.agent.synced
    assert not synced
    assert "orphan" in world.plugged()
    world.run_until(lambda: "orphan" not in world.plugged())
    assert world.agent.synced
    assert "keep" in world.plugged()


def test_conditional_monitoring_sees_only_this_chassis(world: World) -> None:
    world.add_binding("mine")
    world.add_binding("theirs", requested_chassis="hv2")
    world.add_binding("nobody", requested_chassis=None)
    world.run_until(lambda: "mine" in world.plugged())
    world.settle()
    seen = {row.logical_port for row in world.sb_idl.tables["Port_Binding"].rows.values()}
    assert seen == {"mine"}
    assert {row.name for row in world.sb_idl.tables["Chassis"].rows.values()} == {"hv1"}


@pytest.mark.parametrize("policy", [Policy.OVN_COMPATIBLE, Policy.RECOMMENDED])
def test_a_plugged_ports_binding_stays_monitored_without_requested_chassis(
    policy: Policy,
) -> None:
    """ovn-controller 23.03 keeps a port whose requested-chassis is removed;
    the agent must still see its Port_Binding to do the same."""
    w = World(policy=policy)
    try:
        w.add_binding("lsp1")
        w.add_binding("lsp2")
        w.run_until(lambda: {"lsp1", "lsp2"} <= set(w.plugged()))
        assign_ofports(w.ovs_db)  # as ovs-vswitchd would: the ports are bound
        w.run_until(lambda: w.agent.synced and w.agent.idle)
        statuses = len(w.reports)
        [pb] = w.sb_db.find("Port_Binding", logical_port="lsp1")
        w.sb_db.update(
            "Port_Binding",
            pb,
            options={"vif-plug-type": "dummy"},
            requested_chassis=[],
        )
        if policy is Policy.RECOMMENDED:
            # The CMS withdrew the request: unplugged.
            w.run_until(lambda: "lsp1" not in w.plugged())
        else:
            # Give an unplug every chance to happen before looking.
            assert not w.agent.run_until(lambda: "lsp1" not in w.plugged(), timeout=1.0)
            w.run_until(lambda: w.agent.synced and w.agent.idle)
            assert "lsp1" in w.plugged()
            seen = {row.logical_port for row in w.sb_idl.tables["Port_Binding"].rows.values()}
            assert seen == {"lsp1", "lsp2"}
        assert "lsp2" in w.plugged()
        assert all(status in ("success", "unchanged") for _, status in w.reports[statuses:])
    finally:
        w.close()


def test_waits_for_the_chassis_row_and_never_writes_it(caplog: pytest.LogCaptureFixture) -> None:
    w = World(chassis_row=False)
    try:
        caplog.set_level("INFO", logger="ovn_vif.agent._loop")
        w.add_binding("lsp1", requested_chassis="hv2")
        assert not w.agent.run_until(lambda: False, timeout=0.3)
        assert "waiting for the Chassis row 'hv1'" in caplog.text
        assert not w.sb_db.find("Chassis", name="hv1")
        assert w.plugged() == {}
        add_chassis(w.sb_db, "hv1", encap_ip="192.0.2.1")
        w.add_binding("lsp2")
        w.run_until(lambda: "lsp2" in w.plugged())
    finally:
        w.close()


def test_stop_abandons_a_commit_that_never_ends(world: World) -> None:
    world.settle()
    world.agent.config = AgentConfig(shutdown_timeout=0.2)
    world.ovs_db.script_commit("success", delay_runs=10**9)
    world.add_binding("lsp1")
    world.run_until(lambda: world.agent.reconciler.in_flight)
    world.agent.stop()
    world.agent.close()
    assert not world.agent.reconciler.in_flight
    assert world.statuses() == ["aborted"]


def test_no_commit_while_the_local_db_reconnects(world: World) -> None:
    world.add_binding("lsp1")
    world.run_until(lambda: "lsp1" in world.plugged())
    world.settle()
    before = len(world.reports)
    world.ovs_db.reconnect_clients()
    world.agent.iterate()
    assert not world.agent.synced
    world.run_until(lambda: world.agent.synced)
    world.settle()
    assert "try again" not in [status for _, status in world.reports[before:]]
    assert set(world.plugged()) == {"lsp1"}


class GatedProvider(DummyProvider):
    """Declines until told (through a pipe, or by a deadline) that its device is there."""

    type = "gated"

    def __init__(self, deadline: float | None = None) -> None:
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK)
        self.deadline = deadline
        self.ready = False
        self.runs = 0

    def destroy(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)

    def run(self) -> bool:
        self.runs += 1
        changed = False
        try:
            if os.read(self.read_fd, 64):
                changed = not self.ready
                self.ready = True
        except BlockingIOError:
            pass
        if self.deadline is not None and time.monotonic() >= self.deadline and not self.ready:
            self.ready = changed = True
        return changed

    def wait_fds(self) -> Sequence[int]:
        return (self.read_fd,)

    def next_wakeup(self) -> float | None:
        return None if self.ready else self.deadline

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        return super().prepare_create(ctx) if self.ready else None


def test_a_provider_fd_wakes_the_loop(world: World) -> None:
    provider = GatedProvider()
    world.registry.register(provider)
    world.add_binding("lsp1", plug_type="gated")
    world.settle()
    assert "lsp1" not in world.plugged()
    runs = provider.runs
    # Nothing happens while nothing changes: the loop blocks instead of spinning.
    assert not world.agent.run_until(lambda: False, timeout=0.3)
    assert provider.runs - runs <= 2
    threading.Timer(0.1, os.write, (provider.write_fd, b"x")).start()
    world.run_until(lambda: "lsp1" in world.plugged())
    assert world.plugged()["lsp1"]["external_ids"]["ovn-plugged"] == "gated"


def test_a_provider_deadline_wakes_the_loop(world: World) -> None:
    provider = GatedProvider(deadline=time.monotonic() + 0.3)
    world.registry.register(provider)
    world.add_binding("lsp1", plug_type="gated")
    world.run_until(lambda: "lsp1" in world.plugged())
    assert provider.ready


def test_an_engine_failure_is_retried(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.settle()
    real = world.agent.reconciler.reconcile
    calls: list[int] = []

    def failing_once(*args: Any, **kwargs: Any) -> ReconcileReport:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("injected engine failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(world.agent.reconciler, "reconcile", failing_once)
    world.add_binding("lsp1")
    world.run_until(lambda: "lsp1" in world.plugged())
    assert len(calls) >= 2
    assert world.ovs_idl.txn is None


class _UnreadableSpec(PlugSpec):
    @property
    def name(self) -> str:
        raise RuntimeError("unreadable spec")


class FlakyProvider(DummyProvider):
    """Answers garbage the engine cannot use, the first *bad* times."""

    type = "flaky"

    def __init__(self, bad: int) -> None:
        self.bad = bad

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        if self.bad:
            self.bad -= 1
            return _UnreadableSpec.__new__(_UnreadableSpec)
        return super().prepare_create(ctx)


def test_an_lport_that_failed_is_decided_again_without_any_change(world: World) -> None:
    world.registry.register(FlakyProvider(bad=2))
    world.add_binding("lsp2")
    world.run_until_done(lambda: "lsp2" in world.plugged())
    # Its first two decisions fail and write nothing: no database changes
    # after the binding arrives, yet it is plugged.
    world.add_binding("lsp1", plug_type="flaky")
    world.run_until(lambda: "lsp1" in world.plugged())
    faults = [d for report, _ in world.reports for d in report.faults]
    assert [(d.lport, d.reason.value if d.reason else None) for d in faults] == [
        ("lsp1", "decision-error"),
        ("lsp1", "decision-error"),
    ]


class CountingDummy(DummyProvider):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        self.asked.append(ctx.lport_name)
        return super().prepare_create(ctx)


def test_agent_on_tracked_idls_asks_only_about_changed_lports_until_recompute() -> None:
    from ovn_vif import track_changes

    ovs_db = ovs_database(system_id="hv1")
    sb_db = sb_database(chassis="hv1")
    add_binding = PortBindingFactory(sb_db, chassis="hv1")
    for i in range(5):
        add_binding(f"lp{i}", plug_type="dummy")
    provider = CountingDummy()
    registry = Registry()
    registry.register(provider)

    def sb_setup(idl: Any) -> None:
        create_sb_indexes(idl)
        track_changes(idl)

    def ovs_setup(idl: Any) -> None:
        track_changes(idl)

    ovs_idl = connect(ovs_db, prepare_ovs_helper, before_connect=ovs_setup)
    sb_idl = connect(sb_db, prepare_sb_helper, before_connect=sb_setup)
    agent = Agent(AgentConfig(), registry)
    agent.start(ovs_idl=ovs_idl, sb_idl=sb_idl)
    try:

        def plugged() -> int:
            return sum(
                "ovn-plugged" in r["external_ids"] for r in ovs_db.rows("Interface").values()
            )

        assert agent.run_until(lambda: plugged() == 5 and agent.idle, timeout=TIMEOUT)
        assign_ofports(ovs_db)
        assert agent.run_until(lambda: agent.idle, timeout=TIMEOUT)
        provider.asked.clear()
        lp3 = sb_db.find("Port_Binding", logical_port="lp3")[0]
        options = dict(sb_db.rows("Port_Binding")[lp3]["options"])
        sb_db.update("Port_Binding", lp3, options=options | {"vif-plug-mtu-request": "9000"})

        def mtu() -> list[Any]:
            return [
                r["mtu_request"]
                for r in ovs_db.rows("Interface").values()
                if r["external_ids"].get("iface-id") == "lp3"
            ]

        assert agent.run_until(lambda: mtu() == [[9000]] and agent.idle, timeout=TIMEOUT)
        assert set(provider.asked) == {"lp3"}
        provider.asked.clear()
        agent.recompute()
        assert agent.run_until(lambda: agent.idle, timeout=TIMEOUT)
        assert sorted(provider.asked) == [f"lp{i}" for i in range(5)]
    finally:
        agent.close()


class _SeesTheCommit(logging.Handler):
    """Notes, for each line, whether the agent's transaction was already out."""

    def __init__(self, agent: Agent) -> None:
        super().__init__(logging.INFO)
        self.agent = agent
        self.lines: list[tuple[str, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.getMessage(), self.agent.in_flight))


def test_plug_lines_are_written_once_the_transaction_is_sent(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The engine's line per plug is made while it decides and written after
    the commit went out, in order."""
    caplog.set_level(logging.INFO)
    handler = _SeesTheCommit(world.agent)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        world.settle()
        for name in ("lsp1", "lsp2", "lsp3"):
            world.add_binding(name)
        world.run_until_done(lambda: {"lsp1", "lsp2", "lsp3"} <= set(world.plugged()))
    finally:
        root.removeHandler(handler)
    plugs = [(m, out) for m, out in handler.lines if m.startswith("Plugging port")]
    assert [m.split()[2] for m, _ in plugs] == ["lsp1", "lsp2", "lsp3"]
    assert all(out for _, out in plugs), plugs
    assert handler.filters == []
    # caplog's handler, on the root logger too, got them as well.
    assert sum(r.getMessage().startswith("Plugging port") for r in caplog.records) == 3


def test_a_condition_change_goes_out_in_the_iteration_that_makes_it(world: World) -> None:
    """A plugged port's binding that left the view is asked for by name at
    once, not at the start of the next iteration."""
    world.add_binding("lsp1")
    world.add_binding("lsp2")
    world.run_until_done(lambda: {"lsp1", "lsp2"} <= set(world.plugged()))
    [pb] = world.sb_db.find("Port_Binding", logical_port="lsp1")
    world.sb_db.delete("Port_Binding", pb)
    sb = world.agent.sb_idl
    for _ in range(200):
        world.agent.iterate()
        if "lsp1" in world.agent._conditions.watched:
            break
    else:
        raise AssertionError("the agent never asked for lsp1's binding")
    # Sent within that iteration: nothing is left for the next run().
    assert not sb.cond_changed
    world.run_until_done(lambda: "lsp1" not in world.plugged())
    assert "lsp2" in world.plugged()
