"""The rules through the real Reconciler on the fake IDL, both policies.

``ovn_vif.testing.FakeIdl`` is the real ``ovs.db.idl.Idl`` on an in-memory
OVSDB server, so these run the whole engine (snapshot, decisions, row
operations, commit statuses) in milliseconds.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import pytest
from tests.support.engine_driver import EngineDriver
from tests.support.rules_world import Recorder

from ovn_vif import Outcome, Policy, Reason, Registry
from ovn_vif.testing import FakeDatabase, FakeIdl, PortBindingFactory, add_chassis, assign_ofports

BOTH = (Policy.OVN_COMPATIBLE, Policy.RECOMMENDED)


@pytest.fixture
def provider() -> Recorder:
    return Recorder()


@pytest.fixture(params=BOTH, ids=lambda p: p.value)
def policy(request: pytest.FixtureRequest) -> Policy:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def engine(
    fake_ovs_idl: FakeIdl, fake_sb_idl: FakeIdl, provider: Recorder, policy: Policy
) -> EngineDriver:
    registry = Registry()
    registry.register(provider)
    return EngineDriver(fake_ovs_idl, fake_sb_idl, registry, policy)


class Switch:
    """Reads and writes the fake local switch like ovs-vsctl would."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def ifaces(self) -> dict[str, dict[str, Any]]:
        bridge = self.db.rows("Bridge")[self.db.find("Bridge", name="br-int")[0]]
        ports = self.db.rows("Port")
        ifaces = self.db.rows("Interface")
        result = {}
        for port_uuid in bridge["ports"]:
            port = ports[port_uuid]
            if port["name"] == "br-int":
                continue
            for iface_uuid in port["interfaces"]:
                result[ifaces[iface_uuid]["name"]] = ifaces[iface_uuid] | {"port": port["name"]}
        return result

    def add_port(self, name: str, ofport: int | None = None, **external_ids: str) -> None:
        bridge = self.db.find("Bridge", name="br-int")[0]
        with self.db.batch() as t:
            iface = t.insert(
                "Interface",
                name=name,
                external_ids=external_ids,
                ofport=[] if ofport is None else [ofport],
            )
            port = t.insert("Port", name=name, interfaces=[iface])
            t.update("Bridge", bridge, ports=[*self.db.get("Bridge", bridge)["ports"], port])

    def del_port(self, name: str) -> None:
        bridge = self.db.find("Bridge", name="br-int")[0]
        port = self.db.find("Port", name=name)[0]
        ports = [p for p in self.db.get("Bridge", bridge)["ports"] if p != port]
        self.db.update("Bridge", bridge, ports=ports)

    def set_iface(self, name: str, **columns: Any) -> None:
        self.db.update("Interface", self.db.find("Interface", name=name)[0], **columns)


@pytest.fixture
def switch(fake_ovs_db: FakeDatabase) -> Switch:
    return Switch(fake_ovs_db)


@attrs.frozen
class Env:
    """Everything a test here touches."""

    engine: EngineDriver
    switch: Switch
    provider: Recorder
    policy: Policy
    ovs_db: FakeDatabase
    sb_db: FakeDatabase
    pb: PortBindingFactory


@pytest.fixture
def env(
    engine: EngineDriver,
    switch: Switch,
    provider: Recorder,
    policy: Policy,
    port_binding_factory: PortBindingFactory,
) -> Env:
    return Env(
        engine=engine,
        switch=switch,
        provider=provider,
        policy=policy,
        ovs_db=switch.db,
        sb_db=port_binding_factory.db,
        pb=port_binding_factory,
    )


def settle(engine: EngineDriver, db: FakeDatabase) -> list[Any]:
    """Run the engine until quiet, giving ofports like vswitchd would."""
    since = len(engine.reports)
    for _ in range(20):
        engine.step()
        engine.run_idls()
        assign_ofports(db)
        engine.run_idls()
    engine.settle()
    return list(engine.decisions(since))


def lport_options(pb: PortBindingFactory, name: str, **options: str) -> None:
    uuid_ = pb.db.find("Port_Binding", logical_port=name)[0]
    current = pb.db.get("Port_Binding", uuid_)["options"]
    pb.db.update("Port_Binding", uuid_, options=current | options)


def drop_option(pb: PortBindingFactory, name: str, key: str) -> None:
    uuid_ = pb.db.find("Port_Binding", logical_port=name)[0]
    current = pb.db.get("Port_Binding", uuid_)["options"]
    pb.db.update("Port_Binding", uuid_, options={k: v for k, v in current.items() if k != key})


def test_plug_update_unplug(
    engine: EngineDriver,
    switch: Switch,
    fake_ovs_db: FakeDatabase,
    port_binding_factory: PortBindingFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ovn_vif")
    port_binding_factory("lsp1", options={"vif-plug-mtu-request": "1400"})
    decisions = settle(engine, fake_ovs_db)
    assert {(d.lport, d.outcome) for d in decisions} == {("lsp1", Outcome.PLUGGED)}
    lsp1 = switch.ifaces()["lsp1"]
    assert lsp1["type"] == "internal"
    assert lsp1["options"] == {"vif-plug-dummy-option": "value"}
    assert lsp1["external_ids"] == {"iface-id": "lsp1", "ovn-plugged": "dummy"}
    assert lsp1["mtu_request"] == [1400]
    assert "Plugging port lsp1 into br-int for lport lsp1 on this chassis." in caplog.text

    switch.set_iface(
        "lsp1",
        mtu_request=[1500],
        options={"foo": "bar", "vif-plug-dummy-option": "changed"},
        external_ids={"iface-id": "lsp1", "ovn-plugged": "dummy", "mine": "x"},
    )
    settle(engine, fake_ovs_db)
    lsp1 = switch.ifaces()["lsp1"]
    assert lsp1["mtu_request"] == [1400]
    assert lsp1["options"] == {"foo": "bar", "vif-plug-dummy-option": "value"}
    assert lsp1["external_ids"]["mine"] == "x"

    drop_option(port_binding_factory, "lsp1", "vif-plug-mtu-request")
    settle(engine, fake_ovs_db)
    assert switch.ifaces()["lsp1"]["mtu_request"] == []

    fake_sb = port_binding_factory.db
    fake_sb.delete("Port_Binding", fake_sb.find("Port_Binding", logical_port="lsp1")[0])
    decisions = settle(engine, fake_ovs_db)
    assert {(d.lport, d.outcome) for d in decisions} == {("lsp1", Outcome.UNPLUGGED)}
    assert switch.ifaces() == {}
    assert "Unplugging port lsp1 from br-int for iface-id lsp1 on this chassis." in caplog.text
    # A removal gets finish only; creates and updates finish then release.
    assert ("finish", "lsp1") in provider_calls(engine)


def provider_calls(engine: EngineDriver) -> list[tuple[str, str]]:
    provider = engine.reconciler.registry.get("dummy")
    assert isinstance(provider, Recorder)
    return provider.calls


def test_moved_away_is_unplugged_and_deferred_until_allowed(
    engine: EngineDriver,
    switch: Switch,
    fake_ovs_db: FakeDatabase,
    fake_sb_db: FakeDatabase,
    port_binding_factory: PortBindingFactory,
) -> None:
    add_chassis(fake_sb_db, "hv2")
    port_binding_factory("lsp1")
    settle(engine, fake_ovs_db)
    uuid_ = fake_sb_db.find("Port_Binding", logical_port="lsp1")[0]
    hv2 = fake_sb_db.find("Chassis", name="hv2")[0]
    fake_sb_db.update(
        "Port_Binding",
        uuid_,
        requested_chassis=[hv2],
        options={"requested-chassis": "hv2", "vif-plug-type": "dummy"},
    )
    engine.can_unplug = False
    decisions = settle(engine, fake_ovs_db)
    assert {d.outcome for d in decisions} == {Outcome.DEFERRED}
    assert set(switch.ifaces()) == {"lsp1"}
    engine.can_unplug = True
    decisions = settle(engine, fake_ovs_db)
    assert {(d.lport, d.outcome) for d in decisions} == {("lsp1", Outcome.UNPLUGGED)}
    assert switch.ifaces() == {}


def test_refusals(
    engine: EngineDriver,
    switch: Switch,
    provider: Recorder,
    fake_ovs_db: FakeDatabase,
    port_binding_factory: PortBindingFactory,
) -> None:
    switch.add_port("vif3", ofport=7, **{"iface-id": "lsp3"})
    switch.add_port("eth0", ofport=8)
    port_binding_factory("lsp3")  # bound to an interface OVN did not plug
    port_binding_factory("br-int")  # would take the bridge's own port over
    port_binding_factory("eth0")  # would take eth0 over
    port_binding_factory("bogus", plug_type="bogus")  # no such provider
    port_binding_factory("bad")  # the provider names an impossible netdev
    port_binding_factory("boom")  # the provider raises
    port_binding_factory("good")
    provider.names["bad"] = "bad/name"
    provider.raise_in["boom"] = "prepare_create"
    decisions = settle(engine, fake_ovs_db)
    reasons = {d.lport: d.reason for d in decisions if d.outcome is Outcome.REFUSED}
    assert reasons == {
        "lsp3": Reason.NOT_PLUGGED_BY_OVN,
        "br-int": Reason.NAME_COLLISION,
        "eth0": Reason.NAME_COLLISION,
        "bogus": Reason.UNKNOWN_PLUG_TYPE,
        "bad": Reason.INVALID_SPEC,
        "boom": Reason.PROVIDER_ERROR,
    }
    assert set(switch.ifaces()) == {"vif3", "eth0", "good"}
    assert switch.ifaces()["vif3"]["external_ids"] == {"iface-id": "lsp3"}
    assert switch.ifaces()["eth0"]["external_ids"] == {}


def test_declined_and_vetoed(env: Env) -> None:
    engine, switch, provider = env.engine, env.switch, env.provider
    fake_ovs_db, fake_sb_db, port_binding_factory = env.ovs_db, env.sb_db, env.pb
    provider.decline = {"later"}
    port_binding_factory("later")
    port_binding_factory("kept")
    decisions = settle(engine, fake_ovs_db)
    assert ("later", Outcome.DECLINED) in {(d.lport, d.outcome) for d in decisions}
    assert set(switch.ifaces()) == {"kept"}
    provider.decline = set()
    settle(engine, fake_ovs_db)
    assert set(switch.ifaces()) == {"kept", "later"}

    provider.veto = {"kept"}
    fake_sb_db.delete("Port_Binding", fake_sb_db.find("Port_Binding", logical_port="kept")[0])
    decisions = settle(engine, fake_ovs_db)
    assert {d.outcome for d in decisions if d.lport == "kept"} == {Outcome.VETOED}
    assert set(switch.ifaces()) == {"kept", "later"}


def test_orphans(engine: EngineDriver, switch: Switch, fake_ovs_db: FakeDatabase) -> None:
    switch.add_port("vif1", ofport=1, **{"ovn-plugged": "dummy", "iface-id": "nonexist"})
    switch.add_port("vif2", ofport=2, **{"ovn-plugged": "bogus", "iface-id": "nonexist2"})
    switch.add_port("vif4", ofport=3, **{"ovn-plugged": "dummy"})
    switch.add_port("vif5", ofport=4, **{"iface-id": "nonexist3"})
    decisions = settle(engine, fake_ovs_db)
    assert set(switch.ifaces()) == {"vif2", "vif4", "vif5"}
    assert ("nonexist2", Reason.UNKNOWN_PLUG_TYPE) in {(d.lport, d.reason) for d in decisions}


def test_policy_differences(env: Env) -> None:
    engine, switch, provider, policy = env.engine, env.switch, env.provider, env.policy
    fake_ovs_db, port_binding_factory = env.ovs_db, env.pb
    for name in ("untype", "unchassis", "renamed"):
        port_binding_factory(name)
    settle(engine, fake_ovs_db)
    assert set(switch.ifaces()) == {"untype", "unchassis", "renamed"}
    drop_option(port_binding_factory, "untype", "vif-plug-type")
    fake_sb = port_binding_factory.db
    unchassis = fake_sb.find("Port_Binding", logical_port="unchassis")[0]
    fake_sb.update(
        "Port_Binding", unchassis, requested_chassis=[], options={"vif-plug-type": "dummy"}
    )
    provider.names["renamed"] = "vf9"
    decisions = settle(engine, fake_ovs_db)
    if policy is Policy.OVN_COMPATIBLE:
        assert set(switch.ifaces()) == {"untype", "unchassis", "renamed"}
        assert {d.reason for d in decisions} == {Reason.INCOMPATIBLE_CHANGE}
    else:
        assert set(switch.ifaces()) == {"vf9"}
        assert switch.ifaces()["vf9"]["external_ids"]["iface-id"] == "renamed"
        outcomes = {(d.lport, d.outcome) for d in decisions}
        assert outcomes == {
            ("untype", Outcome.UNPLUGGED),
            ("unchassis", Outcome.UNPLUGGED),
            ("renamed", Outcome.REPLACED),
        }


def test_no_second_create_before_the_ofport(
    engine: EngineDriver,
    switch: Switch,
    policy: Policy,
    fake_ovs_db: FakeDatabase,
    port_binding_factory: PortBindingFactory,
) -> None:
    port_binding_factory("lsp1")
    for _ in range(4):  # no vswitchd: no ofport
        engine.step()
        engine.wait(10)
    plugged = [d for d in engine.decisions() if d.outcome is Outcome.PLUGGED]
    assert set(switch.ifaces()) == {"lsp1"}
    if policy is Policy.OVN_COMPATIBLE:
        assert len(plugged) > 1
        assert "error" in engine.statuses
    else:
        assert len(plugged) == 1
        assert "error" not in engine.statuses


@pytest.mark.parametrize("outcome", ["try again", "error", "not locked"])
def test_failed_commit_releases_and_retries(env: Env, outcome: str) -> None:
    engine, switch, provider = env.engine, env.switch, env.provider
    fake_ovs_db, port_binding_factory = env.ovs_db, env.pb
    port_binding_factory("lsp1")
    fake_ovs_db.script_commit(outcome, details="scripted failure")
    engine.step()
    while not engine.statuses:  # the reply arrives during a later run()
        engine.wait(10)
        engine.step()
    assert engine.statuses == [outcome]
    # Released, not finished; then retried at once (the same step goes on).
    assert provider.calls[:2] == [("prepare_create", "lsp1"), ("release", "lsp1")]
    assert ("finish", "lsp1") not in provider.calls
    settle(engine, fake_ovs_db)
    assert set(switch.ifaces()) == {"lsp1"}


def test_in_flight_lports_are_left_alone(
    engine: EngineDriver,
    switch: Switch,
    provider: Recorder,
    fake_ovs_db: FakeDatabase,
    port_binding_factory: PortBindingFactory,
) -> None:
    port_binding_factory("lsp1")
    fake_ovs_db.script_commit("success", delay_runs=3)
    engine.step()
    assert engine.reconciler.in_flight_lports == {"lsp1"}
    assert engine.step() is None  # still in progress: no new reconcile
    # Another reconcile with the commit still in progress leaves lsp1 alone.
    import ovs.db.idl

    txn = ovs.db.idl.Transaction(engine.ovs_idl)
    report = engine.reconciler.reconcile(
        engine.ovs_idl, engine.sb_idl, txn, chassis="hv1", can_unplug=True
    )
    txn.abort()
    engine.reconciler.complete("aborted", txn=txn)
    assert report.decisions == ()
    assert provider.count("prepare_create", "lsp1") == 1
    settle(engine, fake_ovs_db)
    assert set(switch.ifaces()) == {"lsp1"}
    assert provider.calls[:3] == [
        ("prepare_create", "lsp1"),
        ("finish", "lsp1"),
        ("release", "lsp1"),
    ]


def test_second_run_writes_nothing_and_restart_rebuilds_state(
    env: Env, fake_ovs_idl: FakeIdl, fake_sb_idl: FakeIdl, fake_idl_factory: Any
) -> None:
    fake_ovs_db, fake_sb_db, port_binding_factory, policy = (
        env.ovs_db,
        env.sb_db,
        env.pb,
        env.policy,
    )
    from ovn_vif import create_sb_indexes

    registry = Registry()
    registry.register(Recorder())
    engine = EngineDriver(fake_ovs_idl, fake_sb_idl, registry, policy)
    for i in range(5):
        port_binding_factory(f"lsp{i}", options={"vif-plug-mtu-request": str(1400 + i)})
    settle(engine, fake_ovs_db)
    before = fake_ovs_db.dump()
    for _ in range(3):
        report = engine.step()
        assert report is not None
        assert not report.changed
    assert engine.statuses[-3:] == ["unchanged"] * 3
    assert fake_ovs_db.dump() == before

    # A new agent (new IDLs, new Reconciler) picks up from the database alone.
    fake_sb_db.delete("Port_Binding", fake_sb_db.find("Port_Binding", logical_port="lsp0")[0])
    fresh = EngineDriver(
        fake_idl_factory(fake_ovs_db),
        fake_idl_factory(fake_sb_db, before_connect=create_sb_indexes),
        registry,
        policy,
    )
    decisions = settle(fresh, fake_ovs_db)
    assert {(d.lport, d.outcome) for d in decisions} == {("lsp0", Outcome.UNPLUGGED)}


@pytest.mark.parametrize(
    "case", ["localport", "container", "additional-only", "no-requested-chassis", "other-chassis"]
)
def test_not_plugged_here(env: Env, case: str) -> None:
    hv2 = add_chassis(env.sb_db, "hv2")
    hv1 = env.sb_db.find("Chassis", name="hv1")[0]
    if case == "localport":
        env.pb("lsp1", type="localport")
    elif case == "container":
        env.pb("lsp1", parent_port=["vm1"], tag=[7])
    elif case == "additional-only":
        env.pb(
            "lsp1",
            requested_chassis=hv2,
            requested_additional_chassis=[hv1],
            options={"requested-chassis": "hv2,hv1"},
        )
    elif case == "no-requested-chassis":
        env.pb("lsp1", requested_chassis=None)
    else:
        env.pb("lsp1", requested_chassis="hv2")
    decisions = settle(env.engine, env.ovs_db)
    assert decisions == []
    assert env.switch.ifaces() == {}
    assert env.provider.calls == []


def test_bad_mtu_request_is_no_request(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.pb("lsp1", options={"vif-plug-mtu-request": "jumbo"})
    caplog.set_level(logging.WARNING, logger="ovn_vif")
    settle(env.engine, env.ovs_db)
    assert env.switch.ifaces()["lsp1"]["mtu_request"] == []
    assert "Ignoring vif-plug-mtu-request of lport lsp1: 'jumbo' is not an integer" in caplog.text
    assert caplog.text.count("Ignoring vif-plug-mtu-request") == 1  # rate-limited
