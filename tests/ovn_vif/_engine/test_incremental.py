"""Incremental runs reach the same plan as full runs.

One :class:`Reconciler` runs on change-tracked IDLs
(:func:`ovn_vif.track_changes`) and decides only for the lports whose
inputs changed; before each of its runs a fresh Reconciler on untracked
IDLs of the same databases decides for every lport. Hypothesis drives
random changes of the Southbound and local databases (bindings added,
moved, withdrawn, deleted; MTU and option changes; foreign and drifted
interfaces; ports deleted behind the engine's back; a provider that
declines) and every step must give the same decisions and writes.
"""

from __future__ import annotations

import uuid
from typing import Any

import ovs.db.idl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovn_vif import (
    PlugSpec,
    Policy,
    PortContext,
    Reconciler,
    ReconcileReport,
    Registry,
    VifPlugProvider,
    create_sb_indexes,
    register_ovs_columns,
    register_sb_columns,
    track_changes,
)
from ovn_vif.testing import (
    FakeDatabase,
    PortBindingFactory,
    add_chassis,
    assign_ofports,
    connect,
    ovs_database,
    sb_database,
)

LPORTS = [f"lp{i}" for i in range(6)]


class Deterministic(VifPlugProvider):
    """Answers from the lport's options only, so that asking twice is asking once."""

    type = "det"

    def __init__(self) -> None:
        self.prepares = 0

    def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
        self.prepares += 1
        if ctx.lport_options.get("decline") == "yes":
            return None
        name = ctx.lport_options.get("name", f"tap-{ctx.lport_name}")
        return PlugSpec(name=name, type="internal", options={"k": "v"})

    def prepare_remove(self, ctx: PortContext) -> bool:
        return ctx.lport_options.get("veto") != "yes"


class World:
    def __init__(self) -> None:
        self.ovs_db = ovs_database(system_id="hv1")
        self.sb_db = sb_database(chassis="hv1")
        self.hv2 = add_chassis(self.sb_db, "hv2")
        self.hv1 = self.sb_db.find("Chassis", name="hv1")[0]
        self.pbs = PortBindingFactory(self.sb_db)
        self.provider = Deterministic()
        self.registry = Registry()
        self.registry.register(self.provider)
        # The reference asks its own provider (same answers).
        self.ref_registry = Registry()
        self.ref_registry.register(Deterministic())

        def sb_setup(idl: Any) -> None:
            create_sb_indexes(idl)
            track_changes(idl)

        self.ovs_idl = connect(self.ovs_db, register_ovs_columns, before_connect=track_changes)
        self.sb_idl = connect(self.sb_db, register_sb_columns, before_connect=sb_setup)
        self.ref_ovs = connect(self.ovs_db, register_ovs_columns)
        self.ref_sb = connect(self.sb_db, register_sb_columns, before_connect=create_sb_indexes)
        self.rec = Reconciler(self.registry, policy=Policy.RECOMMENDED)

    def idls(self) -> tuple[Any, ...]:
        return (self.ovs_idl, self.sb_idl, self.ref_ovs, self.ref_sb)

    def sync(self) -> None:
        for _ in range(3):
            for idl in self.idls():
                idl.run()

    def reference(self, can_unplug: bool) -> ReconcileReport:
        rec = Reconciler(self.ref_registry, policy=Policy.RECOMMENDED)
        txn = ovs.db.idl.Transaction(self.ref_ovs)
        report = rec.reconcile(self.ref_ovs, self.ref_sb, txn, chassis="hv1", can_unplug=can_unplug)
        txn.abort()
        rec.complete("aborted", txn=txn)
        return report

    def step(self, can_unplug: bool = True) -> None:
        self.sync()
        expected = self.reference(can_unplug)
        txn = ovs.db.idl.Transaction(self.ovs_idl)
        report = self.rec.reconcile(
            self.ovs_idl,
            self.sb_idl,
            txn,
            chassis="hv1",
            can_unplug=can_unplug,
            providers_changed=False,
        )
        assert report.decisions == expected.decisions
        assert report.changed == expected.changed
        status = txn.commit_block()
        self.rec.complete(status, txn=txn)
        assert status in ("success", "unchanged"), txn.get_error()
        self.sync()

    # --- changes ----------------------------------------------------------

    def pb(self, lport: str) -> uuid.UUID | None:
        found = self.sb_db.find("Port_Binding", logical_port=lport)
        return found[0] if found else None

    def apply(self, op: tuple[str, int, int]) -> None:
        kind, i, value = op
        lport = LPORTS[i]
        pb = self.pb(lport)
        db: FakeDatabase = self.sb_db
        if kind == "add":
            if pb is None:
                self.pbs(lport, plug_type="det", requested_chassis=("hv1", "hv2")[value % 2])
            return
        if kind == "ofports":
            assign_ofports(self.ovs_db)
            return
        if kind == "foreign":
            self.add_foreign(lport, f"f{value}")
            return
        if kind == "drift":
            self.drift(lport, value)
            return
        if kind == "delete_port":
            self.delete_ports(lport)
            return
        if pb is None:
            return
        options = dict(db.rows("Port_Binding")[pb]["options"])
        if kind == "delete":
            db.delete("Port_Binding", pb)
        elif kind == "mtu":
            options["vif-plug-mtu-request"] = str(1400 + value)
            db.update("Port_Binding", pb, options=options)
        elif kind == "move":
            target = (self.hv1, self.hv2)[value % 2]
            options["requested-chassis"] = ("hv1", "hv2")[value % 2]
            db.update("Port_Binding", pb, options=options, requested_chassis=[target])
        elif kind == "unplug_type":
            options.pop("vif-plug-type", None)
            db.update("Port_Binding", pb, options=options)
        elif kind == "plug_type":
            options["vif-plug-type"] = "det"
            db.update("Port_Binding", pb, options=options)
        elif kind == "decline":
            options["decline"] = "yes" if value % 2 else "no"
            db.update("Port_Binding", pb, options=options)
        elif kind == "rename":
            options["name"] = f"n{value % 3}-{lport}" if value % 4 else f"shared{value % 2}"
            db.update("Port_Binding", pb, options=options)

    def bridge(self) -> uuid.UUID:
        return self.ovs_db.find("Bridge", name="br-int")[0]

    def add_foreign(self, lport: str, name: str) -> None:
        if self.ovs_db.find("Interface", name=name) or self.ovs_db.find("Port", name=name):
            return
        bridge = self.bridge()
        ports = list(self.ovs_db.rows("Bridge")[bridge]["ports"])
        with self.ovs_db.batch() as t:
            iface = t.insert("Interface", name=name, external_ids={"iface-id": lport}, ofport=[99])
            port = t.insert("Port", name=name, interfaces=[iface])
            t.update("Bridge", bridge, ports=[*ports, port])

    def drift(self, lport: str, value: int) -> None:
        for iface_uuid, row in self.ovs_db.rows("Interface").items():
            if row["external_ids"].get("iface-id") == lport:
                self.ovs_db.update(
                    "Interface", iface_uuid, options={"k": f"x{value}"}, mtu_request=[1300 + value]
                )
                return

    def delete_ports(self, lport: str) -> None:
        ifaces = self.ovs_db.rows("Interface")
        ports = self.ovs_db.rows("Port")
        bridge = self.bridge()
        kept = []
        for port_uuid in self.ovs_db.rows("Bridge")[bridge]["ports"]:
            members = ports[port_uuid]["interfaces"]
            if any(ifaces[i]["external_ids"].get("iface-id") == lport for i in members):
                continue
            kept.append(port_uuid)
        self.ovs_db.update("Bridge", bridge, ports=kept)


OPS = st.tuples(
    st.sampled_from(
        [
            "add",
            "add",
            "delete",
            "mtu",
            "move",
            "unplug_type",
            "plug_type",
            "decline",
            "rename",
            "ofports",
            "foreign",
            "drift",
            "delete_port",
        ]
    ),
    st.integers(0, len(LPORTS) - 1),
    st.integers(0, 7),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.lists(OPS, min_size=1, max_size=3), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_incremental_runs_reach_the_plan_of_full_runs(steps: list[Any]) -> None:
    world = World()
    world.step()
    for ops, can_unplug in steps:
        for op in ops:
            world.apply(op)
        world.step(can_unplug)
        world.step(can_unplug)
        world.step()
    assert world.rec.incremental_runs > 0


def test_one_change_asks_the_provider_about_one_lport() -> None:
    world = World()
    for lport in LPORTS:
        world.apply(("add", LPORTS.index(lport), 0))
    world.step()
    assign_ofports(world.ovs_db)
    world.step()
    world.step()
    full_runs = world.rec.full_runs
    world.provider.prepares = 0
    world.apply(("mtu", 2, 1))
    world.sync()
    txn = ovs.db.idl.Transaction(world.ovs_idl)
    report = world.rec.reconcile(
        world.ovs_idl,
        world.sb_idl,
        txn,
        chassis="hv1",
        can_unplug=True,
        providers_changed=False,
    )
    world.rec.complete(txn.commit_block(), txn=txn)
    assert [d.lport for d in report.decisions] == ["lp2"]
    assert world.provider.prepares == 1
    assert world.rec.full_runs == full_runs


def test_own_commit_is_not_decided_again() -> None:
    world = World()
    for lport in LPORTS:
        world.apply(("add", LPORTS.index(lport), 0))
    world.step()  # a full run plugs all six
    world.provider.prepares = 0
    assign_ofports(world.ovs_db)
    world.step()  # the plugged rows and their ofports come back
    assert world.provider.prepares == 0


def test_recompute_and_provider_changes_decide_everything() -> None:
    world = World()
    for lport in LPORTS:
        world.apply(("add", LPORTS.index(lport), 0))
    world.step()
    world.step()
    full_runs = world.rec.full_runs
    world.rec.recompute()
    world.step()
    assert world.rec.full_runs == full_runs + 1
    txn = ovs.db.idl.Transaction(world.ovs_idl)
    world.provider.prepares = 0
    world.rec.reconcile(world.ovs_idl, world.sb_idl, txn, chassis="hv1", can_unplug=True)
    world.rec.complete(txn.commit_block(), txn=txn)
    assert world.provider.prepares == len(LPORTS)
    assert world.rec.full_runs == full_runs + 2


def test_rows_read_from_datums_equal_attribute_reads() -> None:
    from ovn_vif._engine.rows import _iface_from_attrs, _port_from_attrs, read_iface, read_port
    from ovn_vif._ovs_private import committed_datums

    world = World()
    for i in range(len(LPORTS)):
        world.apply(("add", i, 0))
    world.step()
    world.apply(("drift", 1, 3))
    world.apply(("foreign", 2, 5))
    assign_ofports(world.ovs_db)
    world.sync()
    ifaces = world.ovs_idl.tables["Interface"].rows
    assert len(ifaces) > len(LPORTS)
    for row in ifaces.values():
        assert committed_datums(row) is not None
        assert read_iface(row) == _iface_from_attrs(row)
    for row in world.ovs_idl.tables["Port"].rows.values():
        assert read_port(row, ifaces) == _port_from_attrs(row)


def test_settled_keys_share_the_maps_of_the_copy() -> None:
    """Once a plug is confirmed, the key the engine keeps for the lport is
    read from its copy (equal to the one it expected, and sharing the maps
    of the copy's views instead of holding maps of its own)."""
    world = World()
    for i in range(len(LPORTS)):
        world.apply(("add", i, 0))
    world.step()
    assign_ofports(world.ovs_db)
    world.step()
    world.step()
    incremental = world.rec._incremental
    copy = incremental._copy
    assert copy is not None
    views = {(v.name, v.type): v for v in copy.ifaces.values()}
    checked = 0
    for _binding, keys in incremental._settled.values():
        for key in keys:
            view = views[(key.name, key.type)]
            assert key.options is view.options
            assert key.external_ids is view.external_ids
            checked += 1
    assert checked >= 1


def test_an_interface_read_again_shares_its_equal_maps() -> None:
    """An Interface changed in another column (its ofport) is copied with the
    maps of its previous copy, which the engine's settled keys also hold."""
    import attrs

    from ovn_vif._engine.rows import read_iface

    world = World()
    for i in range(len(LPORTS)):
        world.apply(("add", i, 0))
    world.step()
    before = {u: read_iface(r) for u, r in world.ovs_idl.tables["Interface"].rows.items()}
    assign_ofports(world.ovs_db)
    world.sync()
    shared = 0
    for row_uuid, row in world.ovs_idl.tables["Interface"].rows.items():
        old = before.get(row_uuid)
        if old is None:
            continue
        new = read_iface(row, like=old)
        assert new == read_iface(row)
        assert new.options is old.options
        assert new.external_ids is old.external_ids
        shared += bool(old.external_ids)
        other = attrs.evolve(old, options={"x": "y"}, external_ids={"x": "y"})
        assert read_iface(row, like=other) == read_iface(row)
        assert read_iface(row, like=other).external_ids is not other.external_ids
    assert shared >= len(LPORTS)
