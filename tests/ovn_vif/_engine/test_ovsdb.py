"""The engine and its row operations on a real ovsdb-server, without vswitchd.

Without ovs-vswitchd no interface ever gets an ofport, which is exactly the
window in which ovn-controller 23.03 sends duplicate creates (its local
binding needs ``ofport > 0``, so it creates the port again each
iteration). The databases are driven by hand with ovs-vsctl/ovn-sbctl.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import ovs.db.idl
import pytest
from tests.support.engine_driver import EngineDriver, switch_rows
from tests.support.rules_world import Recorder

from ovn_vif import Outcome, Policy, Reason, Reconciler, Registry
from ovn_vif.sandbox import OvsdbServer
from ovn_vif_dummy import DummyProvider

pytestmark = pytest.mark.daemons

BOTH = (Policy.OVN_COMPATIBLE, Policy.RECOMMENDED)


class Dbs:
    """ovs-vsctl and ovn-sbctl on the one ovsdb-server of the fixture."""

    def __init__(self, server: OvsdbServer) -> None:
        self.server = server
        self.vsctl("add-br", "br-int")
        self.sbctl("chassis-add", "hv1", "geneve", "127.0.0.1")
        self.chassis = self.sbctl(
            "--bare", "--columns=_uuid", "find", "Chassis", "name=hv1"
        ).strip()
        self.datapath = self.sbctl("create", "Datapath_Binding", "tunnel_key=1").strip()
        self.keys = 0

    def vsctl(self, *args: str) -> str:
        return self.server.dir.run("ovs-vsctl", f"--db={self.server.remote}", "--no-wait", *args)

    def sbctl(self, *args: str) -> str:
        return self.server.dir.run("ovn-sbctl", f"--db={self.server.remote}", *args)

    def lsp(self, name: str, *options: str, here: bool = True) -> None:
        self.keys += 1
        args = [
            "create",
            "Port_Binding",
            f"logical_port={name}",
            f"datapath={self.datapath}",
            f"tunnel_key={self.keys}",
            *(f"options:{o}" for o in ("requested-chassis=hv1", "vif-plug-type=dummy", *options)),
        ]
        if here:
            args.append(f"requested_chassis={self.chassis}")
        self.sbctl(*args)

    def rows(self) -> dict[str, dict[str, object]]:
        return switch_rows(self.vsctl)


@pytest.fixture
def dbs(ovsdb_server: OvsdbServer) -> Dbs:
    return Dbs(ovsdb_server)


def driver_for(dbs: Dbs, registry: Registry, policy: Policy) -> EngineDriver:
    remote = dbs.server.remote
    return EngineDriver(remote, remote, registry, policy)


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.register(DummyProvider())
    return reg


@pytest.fixture(params=BOTH, ids=lambda p: p.value)
def driver(request: pytest.FixtureRequest, dbs: Dbs, registry: Registry) -> Iterator[EngineDriver]:
    drv = driver_for(dbs, registry, request.param)
    yield drv
    drv.close()


def test_no_ofport_yet(dbs: Dbs, driver: EngineDriver) -> None:
    dbs.lsp("lsp1")
    for _ in range(4):
        driver.step()
        driver.wait(20)
    assert list(dbs.rows()) == ["lsp1"]
    plugged = [d for d in driver.decisions() if d.outcome is Outcome.PLUGGED]
    if driver.reconciler.policy is Policy.OVN_COMPATIBLE:
        # 23.03: the interface has no ofport, so no local binding: create again,
        # and the unique name index makes the commit fail.
        assert len(plugged) > 1
        assert "error" in driver.statuses
    else:
        assert len(plugged) == 1
        assert set(driver.statuses) <= {"success", "unchanged"}


def test_concurrent_write_fails_the_commit_and_is_retried(dbs: Dbs, registry: Registry) -> None:
    provider = registry.get("dummy")
    assert provider is not None
    dbs.lsp("lsp1", "vif-plug-mtu-request=1400")
    driver = driver_for(dbs, registry, Policy.RECOMMENDED)
    try:
        driver.settle()
        assert dbs.rows()["lsp1"]["mtu_request"] == 1400
        dbs.vsctl("set", "Interface", "lsp1", "mtu_request=1500")
        driver.run_idls()
        driver.wait(100)
        driver.run_idls()
        (row,) = [r for r in driver.ovs_idl.tables["Interface"].rows.values() if r.name == "lsp1"]
        assert row.mtu_request == [1500]
        rec = driver.reconciler
        txn = ovs.db.idl.Transaction(driver.ovs_idl)
        report = rec.reconcile(driver.ovs_idl, driver.sb_idl, txn, chassis="hv1", can_unplug=True)
        assert report.outcomes() == {"lsp1": (Outcome.UPDATED,)}
        # Another client changes the column between our read and our commit.
        dbs.vsctl("set", "Interface", "lsp1", "mtu_request=1600")
        status = txn.commit_block()
        assert status == "try again"
        completion = rec.complete(status)
        assert completion.released == ("lsp1",)
        assert not rec.in_flight
        driver.settle()
        assert dbs.rows()["lsp1"]["mtu_request"] == 1400
    finally:
        driver.close()


def test_replace_happens_in_one_transaction(dbs: Dbs) -> None:
    provider = Recorder()
    registry = Registry()
    registry.register(provider)
    dbs.lsp("r5")
    driver = driver_for(dbs, registry, Policy.RECOMMENDED)
    try:
        driver.settle()
        assert list(dbs.rows()) == ["r5"]
        provider.names["r5"] = "vf7"
        since = len(driver.reports)
        driver.run_idls()
        report = driver.step()
        assert report is not None
        assert report.outcomes() == {"r5": (Outcome.REPLACED,)}
        (decision,) = report.decisions
        assert (decision.old_port, decision.port) == ("r5", "vf7")
        driver.settle()
        assert driver.statuses[since] == "success"
        rows = dbs.rows()
        assert list(rows) == ["vf7"]
        assert rows["vf7"]["external_ids"] == {"iface-id": "r5", "ovn-plugged": "dummy"}
        # Both the removal and the create were finished.
        assert provider.count("prepare_remove", "r5") == 1
        assert provider.count("finish", "r5") >= 2
    finally:
        driver.close()


def test_provider_raising_affects_only_its_lport(
    dbs: Dbs, caplog: pytest.LogCaptureFixture
) -> None:
    provider = Recorder()
    provider.raise_in = {"bad": "prepare_create"}
    registry = Registry()
    registry.register(provider)
    dbs.lsp("bad")
    dbs.lsp("good")
    driver = driver_for(dbs, registry, Policy.RECOMMENDED)
    caplog.set_level(logging.ERROR)
    try:
        driver.settle()
        assert list(dbs.rows()) == ["good"]
        reasons = {d.lport: d.reason for d in driver.decisions() if d.reason}
        assert reasons == {"bad": Reason.PROVIDER_ERROR}
        assert caplog.text.count("RuntimeError: boom") == 1  # rate-limited
    finally:
        driver.close()


@pytest.mark.parametrize("policy", BOTH, ids=lambda p: p.value)
def test_lport_named_like_the_bridge_takes_nothing_over(
    dbs: Dbs, registry: Registry, policy: Policy
) -> None:
    dbs.lsp("br-int")
    dbs.vsctl("add-port", "br-int", "eth0")
    dbs.lsp("eth0")
    driver = driver_for(dbs, registry, policy)
    try:
        driver.settle()
        assert dbs.rows() == {
            "eth0": {
                "port": "eth0",
                "type": "",
                "options": {},
                "external_ids": {},
                "mtu_request": None,
                "port_external_ids": {},
            }
        }
        assert dbs.vsctl("get", "Interface", "br-int", "type").strip() == "internal"
        reasons = {d.lport: d.reason for d in driver.decisions()}
        assert reasons == {"br-int": Reason.NAME_COLLISION, "eth0": Reason.NAME_COLLISION}
    finally:
        driver.close()


def test_nothing_to_do_is_reported_with_the_reason(dbs: Dbs, registry: Registry) -> None:
    driver = driver_for(dbs, registry, Policy.RECOMMENDED)
    try:
        driver.run_idls()
        rec = driver.reconciler

        def attempt(**kwargs: object) -> str | None:
            txn = ovs.db.idl.Transaction(driver.ovs_idl)
            try:
                args: dict[str, object] = {"chassis": "hv1", "can_unplug": True} | kwargs
                return rec.reconcile(driver.ovs_idl, driver.sb_idl, txn, **args).skipped  # type: ignore[arg-type]
            finally:
                txn.abort()

        assert attempt() is None
        assert attempt(chassis="hv9") == "chassis hv9 has no Chassis row in the SB DB"
        assert attempt(bridge="br-x") == "bridge br-x does not exist"
        empty = Reconciler(Registry())
        txn = ovs.db.idl.Transaction(driver.ovs_idl)
        try:
            report = empty.reconcile(
                driver.ovs_idl, driver.sb_idl, txn, chassis="hv1", can_unplug=True
            )
        finally:
            txn.abort()
        assert report.skipped == "no VIF plug provider is registered"
        with pytest.raises(ValueError, match="open transaction"):
            rec.reconcile(driver.ovs_idl, driver.sb_idl, object(), chassis="hv1", can_unplug=True)
    finally:
        driver.close()


def _reconcile(driver: EngineDriver, *, providers_changed: bool = True) -> tuple[object, str]:
    driver.run_idls()
    txn = ovs.db.idl.Transaction(driver.ovs_idl)
    report = driver.reconciler.reconcile(
        driver.ovs_idl,
        driver.sb_idl,
        txn,
        chassis="hv1",
        can_unplug=True,
        providers_changed=providers_changed,
    )
    status = txn.commit_block()
    driver.reconciler.complete(status, txn=txn)
    return report, status


@pytest.mark.parametrize("policy", BOTH, ids=lambda p: p.value)
def test_idle_run_is_skipped_only_when_nothing_can_have_changed(dbs: Dbs, policy: Policy) -> None:
    provider = Recorder()
    registry = Registry()
    registry.register(provider)
    dbs.lsp("lsp1")
    dbs.lsp("lsp2")
    dbs.vsctl("add-port", "br-int", "x")  # gives the engine's IDL something to see
    driver = driver_for(dbs, registry, policy)
    try:
        driver.step()
        driver.step()  # completes the creates
        dbs.vsctl("set", "Interface", "lsp1", "ofport=1")
        dbs.vsctl("set", "Interface", "lsp2", "ofport=2")
        driver.settle()
        provider.calls.clear()
        _reconcile(driver)  # the previous run saw a change: not skipped
        _reconcile(driver, providers_changed=False)
        skipped = policy is Policy.RECOMMENDED
        assert provider.count("prepare_create") == (2 if skipped else 4)
        provider.calls.clear()
        _reconcile(driver, providers_changed=True)  # a provider saw a change
        assert provider.count("prepare_create") == 2
        # A declined lport is asked again on every run.
        provider.decline = {"lsp1"}
        _reconcile(driver)
        provider.calls.clear()
        _reconcile(driver, providers_changed=False)
        assert provider.count("prepare_create", "lsp1") == (1 if skipped else 2)
    finally:
        driver.close()


def test_row_memo_copies_equal_fresh_reads(dbs: Dbs) -> None:
    from ovn_vif._engine.snapshot import RowMemo, read_ovs, read_sb

    registry = Registry()
    registry.register(DummyProvider())
    dbs.lsp("lsp1", "vif-plug-mtu-request=1400")
    dbs.lsp("lsp2")
    driver = driver_for(dbs, registry, Policy.RECOMMENDED)
    ovs_memo, sb_memo = RowMemo(), RowMemo()
    changes: list[Callable[[], str]] = [
        lambda: "",  # first, no change at all
        lambda: dbs.vsctl("set", "Interface", "lsp1", "options:a=1", "external_ids:x=y"),
        lambda: dbs.vsctl("remove", "Interface", "lsp1", "options", "a"),
        lambda: dbs.vsctl("set", "Interface", "lsp2", "mtu_request=1300", "type=patch"),
        lambda: dbs.vsctl("del-port", "lsp2"),
        lambda: dbs.sbctl("set", "Port_Binding", "lsp1", "options:vif-plug-mtu-request=9000"),
        lambda: dbs.sbctl("remove", "Port_Binding", "lsp1", "options", "vif-plug-mtu-request"),
        lambda: dbs.sbctl("clear", "Port_Binding", "lsp2", "requested_chassis"),
        lambda: dbs.sbctl("destroy", "Port_Binding", "lsp2"),
    ]
    try:
        driver.settle()
        for change in changes:
            change()
            driver.wait(50)
            driver.run_idls()
            for _ in range(2):  # the second read reuses every copy
                assert read_ovs(driver.ovs_idl, "br-int", ovs_memo) == read_ovs(
                    driver.ovs_idl, "br-int"
                )
                lports = ("lsp1", "lsp2")
                assert read_sb(driver.sb_idl, "hv1", lports, sb_memo) == read_sb(
                    driver.sb_idl, "hv1", lports
                )
            assert ovs_memo.reused > 0
    finally:
        driver.close()


def test_bindings_read_from_datums_equal_row_reads(dbs: Dbs) -> None:
    from ovn_vif._engine.rows import _binding_from_attrs, _binding_from_datums
    from ovn_vif._ovs_private import committed_datums

    registry = Registry()
    registry.register(DummyProvider())
    dbs.sbctl("chassis-add", "hv2", "geneve", "127.0.0.2")
    hv2 = dbs.sbctl("--bare", "--columns=_uuid", "find", "Chassis", "name=hv2").strip()
    dbs.lsp("lsp1", "vif-plug-mtu-request=1400", "a=b c")
    dbs.lsp("lsp2", here=False)
    dbs.lsp("lsp3")
    dbs.sbctl("set", "Port_Binding", "lsp3", "type=localport", "parent_port=lsp1")
    dbs.sbctl("set", "Port_Binding", "lsp1", f"requested_additional_chassis={hv2}")
    dbs.sbctl("set", "Port_Binding", "lsp2", f"requested_chassis={hv2}", "options={}")
    driver = driver_for(dbs, registry, Policy.RECOMMENDED)
    try:
        driver.settle()
        rows = list(driver.sb_idl.tables["Port_Binding"].rows.values())
        assert len(rows) == 3
        chassis_rows = driver.sb_idl.tables["Chassis"].rows
        views = []
        for row in rows:
            data = committed_datums(row)
            assert data is not None
            view = _binding_from_datums(data, chassis_rows)
            assert view == _binding_from_attrs(row)
            views.append(view)
        by_lport = {v.logical_port: v for v in views}
        assert by_lport["lsp3"].parent_port == "lsp1"
        assert by_lport["lsp3"].type == "localport"
        assert by_lport["lsp1"].requested_additional_chassis
        assert by_lport["lsp2"].options == {}
        # A chassis the IDL does not hold resolves to nothing, either way.
        assert _binding_from_datums(committed_datums(rows[0]) or {}, {}).requested_chassis is None
    finally:
        driver.close()
