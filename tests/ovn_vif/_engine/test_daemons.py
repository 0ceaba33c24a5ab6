"""The engine with the real ovs.db.idl against real ovsdb-server / ovs-vswitchd."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.engine_driver import EngineDriver, iface_uuid, switch_rows

from ovn_vif import Outcome, Policy, Registry
from ovn_vif.sandbox import Sandbox
from ovn_vif_dummy import DummyProvider

pytestmark = pytest.mark.daemons

BOTH = (Policy.OVN_COMPATIBLE, Policy.RECOMMENDED)


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.register(DummyProvider())
    return reg


@pytest.fixture(params=BOTH, ids=lambda p: p.value)
def driver(
    request: pytest.FixtureRequest, ovn_stack: Sandbox, registry: Registry
) -> Iterator[EngineDriver]:
    drv = EngineDriver(ovn_stack.ovs_remote, ovn_stack.sb_remote, registry, request.param)
    yield drv
    drv.close()


def lsp(stack: Sandbox, name: str, *options: str, switch: str = "sw0") -> None:
    stack.nbctl(
        "--may-exist",
        "ls-add",
        switch,
        "--",
        "lsp-add",
        switch,
        name,
        "--",
        "lsp-set-options",
        name,
        *options,
    )
    stack.nbctl("--wait=sb", "sync")


def test_plug_update_unplug(ovn_stack: Sandbox, driver: EngineDriver) -> None:
    lsp(
        ovn_stack,
        "lsp1",
        "requested-chassis=hv1",
        "vif-plug-type=dummy",
        "vif-plug-mtu-request=1400",
    )
    reports = driver.settle()
    outcomes = [d.outcome for r in reports for d in r]
    if driver.reconciler.policy is Policy.RECOMMENDED:
        assert outcomes == [Outcome.PLUGGED]
    else:  # 23.03 creates again until vswitchd has given the ofport
        assert set(outcomes) == {Outcome.PLUGGED}
    rows = switch_rows(ovn_stack.vsctl)
    assert rows == {
        "lsp1": {
            "port": "lsp1",
            "type": "internal",
            "options": {"vif-plug-dummy-option": "value"},
            "external_ids": {"iface-id": "lsp1", "ovn-plugged": "dummy"},
            "mtu_request": 1400,
            "port_external_ids": {},
        }
    }
    ofport = ovn_stack.vsctl("get", "Interface", "lsp1", "ofport").strip()
    assert int(ofport) > 0
    first = iface_uuid(ovn_stack.vsctl, "lsp1")

    ovn_stack.vsctl(
        "set",
        "Interface",
        "lsp1",
        "mtu_request=1500",
        "options:foo=bar",
        "options:vif-plug-dummy-option=changed",
        "external_ids:mine=x",
    )
    reports = driver.settle()
    assert Outcome.UPDATED in [d.outcome for r in reports for d in r]
    row = switch_rows(ovn_stack.vsctl)["lsp1"]
    assert row["mtu_request"] == 1400
    assert row["options"] == {"foo": "bar", "vif-plug-dummy-option": "value"}
    assert row["external_ids"] == {"iface-id": "lsp1", "ovn-plugged": "dummy", "mine": "x"}
    assert iface_uuid(ovn_stack.vsctl, "lsp1") == first

    ovn_stack.nbctl("lsp-del", "lsp1")
    ovn_stack.nbctl("--wait=sb", "sync")
    reports = driver.settle()
    assert [d.outcome for r in reports for d in r] == [Outcome.UNPLUGGED]
    assert switch_rows(ovn_stack.vsctl) == {}


def test_second_reconcile_writes_nothing(ovn_stack: Sandbox, driver: EngineDriver) -> None:
    for i in range(3):
        lsp(ovn_stack, f"lsp{i}", "requested-chassis=hv1", "vif-plug-type=dummy")
    driver.settle()
    before = switch_rows(ovn_stack.vsctl)
    for _ in range(3):
        report = driver.step()
        assert report is not None
        assert not report.changed
        assert report.decisions == ()
    assert driver.statuses[-1] == "unchanged"
    assert switch_rows(ovn_stack.vsctl) == before


def test_restart_rebuilds_state_from_the_database(
    ovn_stack: Sandbox, registry: Registry, driver: EngineDriver
) -> None:
    lsp(ovn_stack, "lsp1", "requested-chassis=hv1", "vif-plug-type=dummy")
    lsp(ovn_stack, "lsp2", "requested-chassis=hv1", "vif-plug-type=dummy")
    driver.settle()
    driver.close()
    ovn_stack.nbctl("lsp-del", "lsp2")
    ovn_stack.nbctl("--wait=sb", "sync")
    policy = driver.reconciler.policy
    fresh = EngineDriver(ovn_stack.ovs_remote, ovn_stack.sb_remote, registry, policy)
    try:
        reports = fresh.settle()
        assert {(d.lport, d.outcome) for r in reports for d in r} == {("lsp2", Outcome.UNPLUGGED)}
        assert set(switch_rows(ovn_stack.vsctl)) == {"lsp1"}
    finally:
        fresh.close()
