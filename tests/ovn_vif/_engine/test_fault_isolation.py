"""One lport's failure stays with that lport (both policies).

Whatever goes wrong while deciding for one lport (a provider answer the
rules cannot use, an exception from a place no provider error is expected,
a row gone stale) skips that lport for the run with one rate-limited ERROR
naming it, its provider and the cause, and a fault in the report; every
other lport is decided and staged as usual.
"""

from __future__ import annotations

import logging
from typing import Any

import ovs.db.idl
import pytest
from tests.support.engine_driver import EngineDriver
from tests.support.rules_world import BOTH, Recorder, World

from ovn_vif import Outcome, PlugSpec, Policy, PortContext, Reason, Reconciler, Registry
from ovn_vif._engine.decision import PolicyRun
from ovn_vif._engine.recommended import RecommendedRun
from ovn_vif._engine.rules import decide
from ovn_vif.testing import FakeDatabase, FakeIdl, PortBindingFactory, assign_ofports

ORIGINAL_REPORT_PLUGGED = PolicyRun.report_plugged


class _Exploding(PlugSpec):
    """A PlugSpec whose name cannot even be read."""

    @property
    def name(self) -> str:
        raise RuntimeError("name\nforged: line")


class _ExplodingSet(frozenset[str]):
    """Passes for a set of keys until someone looks inside."""

    def __iter__(self) -> Any:
        raise RuntimeError("cannot iterate")


class Hostile(Recorder):
    """Answers garbage for the lports named in ``garbage``."""

    def __init__(self, plug_type: str = "hostile") -> None:
        super().__init__(plug_type)
        self.garbage: set[str] = set()
        self.maintained_garbage = False

    def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
        spec = super().prepare_create(ctx)
        if ctx.lport_name in self.garbage and spec is not None:
            return _Exploding.__new__(_Exploding)
        return spec

    def maintained_iface_options(self) -> Any:
        if self.maintained_garbage:
            return _ExplodingSet({"vif-plug-dummy-option"})
        return super().maintained_iface_options()


def registry(*providers: Recorder) -> Registry:
    reg = Registry()
    for provider in providers:
        reg.register(provider)
    return reg


@pytest.mark.parametrize("policy", BOTH, ids=lambda p: p.value)
def test_garbage_from_a_provider_skips_only_that_lport(
    policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    w = World()
    dummy, hostile = Recorder("dummy"), Hostile()
    hostile.garbage.add("bad")
    for lport in ("a", "b", "c"):
        w.lsp(lport)
    w.lsp("bad", plug_type="hostile")
    w.lsp("ok-hostile", plug_type="hostile")
    with caplog.at_level(logging.ERROR):
        plan = w.decide(registry(dummy, hostile), policy)
    assert sorted(c.lport for c in plan.creates) == ["a", "b", "c", "ok-hostile"]
    [fault] = [d for d in plan.decisions if d.lport == "bad"]
    assert fault.outcome is Outcome.REFUSED
    assert fault.reason is Reason.DECISION_ERROR
    assert fault.plug_type == "hostile"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert "lport bad" in line
    assert "provider hostile" in line
    assert "RuntimeError" in line
    assert "\n" not in line
    assert "forged: line" in caplog.text
    assert "\nforged" not in caplog.text


@pytest.mark.parametrize("policy", BOTH, ids=lambda p: p.value)
def test_garbage_maintained_options_confined_to_updates_of_that_provider(policy: Policy) -> None:
    w = World()
    dummy, hostile = Recorder("dummy"), Hostile()
    hostile.maintained_garbage = True
    w.lsp("old", plug_type="hostile")
    w.plugged("old", plugged="hostile")
    w.lsp("new")
    plan = w.decide(registry(dummy, hostile), policy)
    assert [c.lport for c in plan.creates] == ["new"]
    assert plan.updates == ()
    [fault] = [d for d in plan.decisions if d.lport == "old"]
    assert fault.reason is Reason.DECISION_ERROR
    # The spec prepared for "old" went back to its provider.
    assert hostile.count("release", "old") == 1
    assert all(c.lport != "old" for c in plan.pending)


@pytest.mark.parametrize("policy", BOTH, ids=lambda p: p.value)
def test_work_of_a_failing_lport_is_dropped_and_its_spec_released(policy: Policy) -> None:
    """A failure after the lport's spec was prepared (and, with the
    recommended policy, its create staged) takes it all back."""
    w = World()
    dummy = Recorder("dummy")
    for lport in ("a", "boom", "z"):
        w.lsp(lport)

    def report_plugged(self: PolicyRun, lport: str, plug_type: str, name: str) -> None:
        if lport == "boom":
            raise KeyError("late")
        ORIGINAL_REPORT_PLUGGED(self, lport, plug_type, name)

    ovs, sb = w.views()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PolicyRun, "report_plugged", report_plugged)
        plan = decide(ovs=ovs, sb=sb, registry=registry(dummy), policy=policy, can_unplug=True)
    assert sorted(c.lport for c in plan.creates) == ["a", "z"]
    assert sorted(c.lport for c in plan.pending) == ["a", "z"]
    assert [d.reason for d in plan.decisions if d.lport == "boom"] == [Reason.DECISION_ERROR]
    assert [d.outcome for d in plan.decisions if d.lport != "boom"] == [Outcome.PLUGGED] * 2
    assert dummy.count("release", "boom") == 1
    assert dummy.count("release") == 1


def test_an_engine_failure_names_the_lport_being_decided(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = World()
    w.lsp("lsp\nforged")
    ovs, sb = w.views()

    def broken_run(self: RecommendedRun) -> None:
        self.current = "lsp\nforged"
        raise AssertionError("engine bug")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RecommendedRun, "run", broken_run)
        with pytest.raises(AssertionError, match="engine bug"):
            decide(
                ovs=ovs,
                sb=sb,
                registry=registry(Recorder()),
                policy=Policy.RECOMMENDED,
                can_unplug=True,
            )
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "The plugging engine failed while deciding lport lsp\\nforged"


@pytest.mark.parametrize("policy", BOTH, ids=lambda p: p.value)
def test_a_stale_row_skips_its_lport_and_never_escapes(
    fake_ovs_idl: FakeIdl,
    fake_sb_idl: FakeIdl,
    fake_ovs_db: FakeDatabase,
    port_binding_factory: PortBindingFactory,
    policy: Policy,
) -> None:
    engine = EngineDriver(fake_ovs_idl, fake_sb_idl, registry(Recorder()), policy)
    bindings = {lport: port_binding_factory(lport, plug_type="dummy") for lport in ("lp1", "lp2")}
    for _ in range(5):
        engine.step()
        engine.run_idls()
        assign_ofports(fake_ovs_db)
    engine.settle()
    ports = {r.name: r for r in fake_ovs_idl.tables["Port"].rows.values()}
    assert {"lp1", "lp2"} <= set(ports)
    # Both lports go; the engine's copy of the switch is still current
    # (the local IDL did not change), but lp1's Port leaves the IDL's cache
    # behind its back, as a row does when the IDL's view moves on between
    # the snapshot and the staging.
    for uuid_ in bindings.values():
        port_binding_factory.db.delete("Port_Binding", uuid_)
    fake_sb_idl.run()
    del fake_ovs_idl.tables["Port"].rows[ports["lp1"].uuid]
    txn = ovs.db.idl.Transaction(fake_ovs_idl)
    report = engine.reconciler.reconcile(
        fake_ovs_idl, fake_sb_idl, txn, chassis="hv1", can_unplug=True
    )
    assert [(d.lport, d.reason) for d in report.faults] == [("lp1", Reason.STALE_ROW)]
    assert [d.lport for d in report.with_outcome(Outcome.UNPLUGGED)] == ["lp2"]
    assert report.changed
    assert engine.reconciler.in_flight_lports == {"lp2"}
    txn.abort()
    engine.reconciler.complete(txn.commit(), txn=txn)


def test_a_row_vanishing_while_staging_aborts_the_run_without_raising(
    fake_ovs_idl: FakeIdl,
    fake_sb_idl: FakeIdl,
    port_binding_factory: PortBindingFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The backstop behind the row check: StaleRowError from staging itself."""
    from ovn_vif import StaleRowError
    from ovn_vif._engine import reconciler as reconciler_module

    provider = Recorder()
    reconciler = Reconciler(registry(provider), policy=Policy.RECOMMENDED)
    port_binding_factory("lp1", plug_type="dummy")
    fake_sb_idl.run()

    def vanished(*args: Any, **kwargs: Any) -> None:
        raise StaleRowError("Bridge row gone")

    monkeypatch.setattr(reconciler_module, "stage", vanished)
    txn = ovs.db.idl.Transaction(fake_ovs_idl)
    report = reconciler.reconcile(fake_ovs_idl, fake_sb_idl, txn, chassis="hv1", can_unplug=True)
    assert [(d.lport, d.reason) for d in report.faults] == [("lp1", Reason.STALE_ROW)]
    assert not report.changed
    assert provider.count("release", "lp1") == 1
    assert not reconciler.in_flight
    assert txn.commit() == ovs.db.idl.Transaction.ABORTED
