"""The IDL contract: written once, run against FakeIdl and a real ovsdb-server (see conftest)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import ovs.db.custom_index
import ovs.db.idl
import pytest
from ovs.db.idl import Transaction

from ovn_vif.testing import wait_for

from .conftest import Backend, settle

OVS = "Open_vSwitch"
SB = "OVN_Southbound"


def register_ovs(helper: Any) -> None:
    helper.register_columns("Open_vSwitch", ["bridges", "external_ids", "next_cfg"])
    helper.register_columns("Bridge", ["name", "ports", "external_ids", "datapath_id", "fail_mode"])
    helper.register_columns("Port", ["name", "interfaces", "external_ids", "tag"])
    helper.register_columns(
        "Interface", ["name", "type", "options", "external_ids", "mtu_request", "ofport"]
    )


def register_sb(helper: Any) -> None:
    helper.register_columns("Chassis", ["name", "hostname", "encaps", "other_config"])
    helper.register_columns("Encap", ["type", "ip", "chassis_name"])
    helper.register_columns("Datapath_Binding", ["tunnel_key", "external_ids"])
    helper.register_columns(
        "Port_Binding",
        [
            "logical_port",
            "datapath",
            "tunnel_key",
            "options",
            "requested_chassis",
            "chassis",
            "up",
            "external_ids",
        ],
    )


class Recorder:
    """Mixin recording notify() calls as (event, table, name-or-None, changed columns)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[tuple[str, str, Any, Any]] = []

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        name = None
        for column in ("name", "logical_port"):
            if column in row._table.columns:
                name = getattr(row, column)
        self.events.append(
            (
                event,
                row._table.name,
                name,
                sorted(updates._data) if updates is not None else None,
            )
        )


class RecordingIdl(Recorder, ovs.db.idl.Idl):  # type: ignore[misc]
    pass


def one(idl: Any, table: str, **match: Any) -> Any:
    rows = [
        r
        for r in idl.tables[table].rows.values()
        if all(getattr(r, k) == v for k, v in match.items())
    ]
    assert len(rows) == 1, (table, match, rows)
    return rows[0]


def seed_bridge(idl: Any) -> Any:
    """Create br-int (with its internal port) under the root row, as ovs-vsctl add-br does."""
    txn = Transaction(idl)
    root = next(iter(idl.tables["Open_vSwitch"].rows.values()))
    iface = txn.insert(idl.tables["Interface"])
    iface.name = "br-int"
    iface.type = "internal"
    port = txn.insert(idl.tables["Port"])
    port.name = "br-int"
    port.interfaces = [iface]
    br = txn.insert(idl.tables["Bridge"])
    br.name = "br-int"
    br.ports = [port]
    root.verify("bridges")
    root.addvalue("bridges", br.uuid)
    root.setkey("external_ids", "system-id", "hv1")
    assert txn.commit_block() == Transaction.SUCCESS, txn.get_error()
    return one(idl, "Bridge", name="br-int")


def seed_sb(idl: Any) -> None:
    """Two chassis, one datapath, three port bindings (lsp-a on hv1, lsp-b on hv2, lsp-c none)."""
    txn = Transaction(idl)
    chassis = {}
    for n, name in enumerate(("hv1", "hv2"), start=1):
        encap = txn.insert(idl.tables["Encap"])
        encap.type = "geneve"
        encap.ip = f"192.0.2.{n}"
        encap.chassis_name = name
        ch = txn.insert(idl.tables["Chassis"])
        ch.name = name
        ch.hostname = f"{name}.example"
        ch.encaps = [encap]
        chassis[name] = ch
    dp = txn.insert(idl.tables["Datapath_Binding"])
    dp.tunnel_key = 1
    for key, (lport, ch_name) in enumerate(
        (("lsp-a", "hv1"), ("lsp-b", "hv2"), ("lsp-c", None)), 1
    ):
        pb = txn.insert(idl.tables["Port_Binding"])
        pb.logical_port = lport
        pb.datapath = dp
        pb.tunnel_key = key
        pb.options = {"vif-plug-type": "dummy"}
        if ch_name is not None:
            pb.requested_chassis = [chassis[ch_name]]
    assert txn.commit_block() == Transaction.SUCCESS, txn.get_error()


def plug(idl: Any, br: Any, name: str) -> tuple[Transaction, Any, Any]:
    txn = Transaction(idl)
    iface = txn.insert(idl.tables["Interface"])
    iface.name = name
    iface.external_ids = {"iface-id": f"lsp-{name}", "ovn-plugged": "dummy"}
    iface.mtu_request = [1500]
    port = txn.insert(idl.tables["Port"])
    port.name = name
    port.interfaces = [iface]
    br.verify("ports")
    br.addvalue("ports", port.uuid)
    return txn, iface, port


# --------------------------------------------------------------- read surface
def test_connects_in_run_and_counts_changes(backend: Backend) -> None:
    idl = backend.unconnected(OVS, register_ovs)
    assert not idl.has_ever_connected()
    assert idl.change_seqno == 0
    assert len(idl.tables["Open_vSwitch"].rows) == 0
    wait_for(idl, idl.has_ever_connected)
    assert idl.change_seqno > 0
    assert len(idl.tables["Open_vSwitch"].rows) == 1


def test_row_read_surface(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    br = seed_bridge(idl)
    assert isinstance(br.uuid, uuid.UUID)
    assert set(idl.tables["Bridge"].rows) == {br.uuid}
    with pytest.raises(AttributeError, match="no attribute '_uuid'"):
        br._uuid  # noqa: B018
    assert br.datapath_id == []  # optional column -> list
    assert br.fail_mode == []
    assert br.external_ids == {}  # map -> dict
    port = br.ports[0]  # set of refs -> list of rows
    assert isinstance(port, ovs.db.idl.Row)
    assert port.name == "br-int"
    assert port.interfaces[0].type == "internal"
    assert port.tag == []
    root = next(iter(idl.tables["Open_vSwitch"].rows.values()))
    assert root.bridges == [br]
    assert root.external_ids == {"system-id": "hv1"}
    assert isinstance(root.next_cfg, int)


def test_values_are_copies(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    seed_bridge(idl)
    root = next(iter(idl.tables["Open_vSwitch"].rows.values()))
    ids = root.external_ids
    ids["system-id"] = "changed"
    root.bridges.clear()
    assert root.external_ids == {"system-id": "hv1"}
    assert len(root.bridges) == 1


def test_unregistered_columns_and_tables_raise(backend: Backend) -> None:
    idl = backend.client(OVS, lambda h: h.register_columns("Open_vSwitch", ["bridges"]))
    root = next(iter(idl.tables["Open_vSwitch"].rows.values()))
    with pytest.raises(AttributeError, match="no attribute 'cur_cfg'"):
        root.cur_cfg  # noqa: B018
    assert "Bridge" not in idl.tables
    writer = backend.client(OVS, register_ovs)
    seed_bridge(writer)
    wait_for(idl, lambda: len(root_of(idl).__dict__["_data"]["bridges"].values) == 1)
    with pytest.raises(AttributeError, match="Table Bridge is not registered"):
        root_of(idl).bridges  # noqa: B018


def root_of(idl: Any) -> Any:
    return next(iter(idl.tables["Open_vSwitch"].rows.values()))


# -------------------------------------------------------- transaction rules
def test_writes_need_an_open_transaction(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    root = root_of(idl)
    with pytest.raises(AssertionError):
        root.external_ids = {"a": "b"}
    with pytest.raises(AttributeError, match="_txn_rows"):
        root.setkey("external_ids", "a", "b")
    with pytest.raises(AssertionError):
        root.verify("external_ids")


def test_one_open_transaction_and_no_run_inside_it(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    txn = Transaction(idl)
    with pytest.raises(AssertionError):
        Transaction(idl)
    with pytest.raises(AssertionError):
        idl.run()
    txn.abort()
    assert txn.commit() == Transaction.ABORTED
    assert idl.txn is None


def test_status_strings(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    txn = Transaction(idl)
    assert txn.commit_block() == "unchanged"
    assert txn.get_error() == "unchanged"
    txn = Transaction(idl)
    root_of(idl).setkey("external_ids", "k", "v")
    assert txn.commit() == "incomplete"
    assert txn.commit_block() == "success"
    assert txn.get_error() == "success"


def test_plug_like_transaction(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    idx = None
    br = seed_bridge(idl)
    idx = idl.index_create("Interface", "by_name")  # late: not back-filled, see below
    idx.add_column("name")
    txn, iface, port = plug(idl, br, "rep0")
    provisional = iface.uuid
    # Inserted rows are visible (and indexed) inside the transaction.
    assert provisional in idl.tables["Interface"].rows
    entry = idl.tables["Interface"].rows.IndexEntry(name="rep0")
    assert [r.name for r in idl.index_equal("Interface", "by_name", entry)] == ["rep0"]
    assert txn.commit_block() == Transaction.SUCCESS, txn.get_error()
    real = txn.get_insert_uuid(provisional)
    assert real is not None
    assert real != provisional
    assert provisional not in idl.tables["Interface"].rows
    row = idl.tables["Interface"].rows[real]  # visible: commit_block ran the IDL
    assert row.external_ids == {"iface-id": "lsp-rep0", "ovn-plugged": "dummy"}
    assert row.mtu_request == [1500]
    assert row.ofport == []
    port_row = idl.tables["Port"].rows[txn.get_insert_uuid(port.uuid)]
    assert port_row.interfaces == [row]
    assert port_row in one(idl, "Bridge", name="br-int").ports


def test_changes_are_seen_by_others_only_after_run(backend: Backend) -> None:
    writer = backend.client(OVS, register_ovs)
    reader = backend.client(OVS, register_ovs)
    br = seed_bridge(writer)
    txn, iface, _port = plug(writer, br, "rep1")
    assert txn.commit_block() == Transaction.SUCCESS
    real = txn.get_insert_uuid(iface.uuid)
    assert real not in reader.tables["Interface"].rows
    seqno = reader.change_seqno
    wait_for(reader, lambda: real in reader.tables["Interface"].rows)
    assert reader.change_seqno > seqno


def test_unplug_garbage_collects_port_and_interface(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    br = seed_bridge(idl)
    txn, iface, port = plug(idl, br, "rep2")
    assert txn.commit_block() == Transaction.SUCCESS
    port_uuid, iface_uuid = txn.get_insert_uuid(port.uuid), txn.get_insert_uuid(iface.uuid)
    txn = Transaction(idl)
    br = one(idl, "Bridge", name="br-int")
    br.verify("ports")
    br.delvalue("ports", port_uuid)
    assert txn.commit_block() == Transaction.SUCCESS
    settle(idl)
    assert port_uuid not in idl.tables["Port"].rows
    assert iface_uuid not in idl.tables["Interface"].rows
    assert [p.name for p in one(idl, "Bridge", name="br-int").ports] == ["br-int"]


def test_unreferenced_insert_into_non_root_table_is_collected(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    seed_bridge(idl)
    txn = Transaction(idl)
    iface = txn.insert(idl.tables["Interface"])
    iface.name = "orphan"
    assert txn.commit_block() == Transaction.SUCCESS
    settle(idl)
    assert [r for r in idl.tables["Interface"].rows.values() if r.name == "orphan"] == []


def test_map_and_set_mutations(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    br = seed_bridge(idl)
    txn, iface, _ = plug(idl, br, "rep3")
    assert txn.commit_block() == Transaction.SUCCESS
    row = idl.tables["Interface"].rows[txn.get_insert_uuid(iface.uuid)]
    txn = Transaction(idl)
    row.setkey("external_ids", "foo", "bar")
    row.setkey("external_ids", "iface-id", "lsp-new")
    row.delkey("external_ids", "ovn-plugged")
    row.setkey("options", "n_rxq", "2")
    # inside the transaction the row reads back the staged mutations
    assert row.external_ids == {"iface-id": "lsp-new", "foo": "bar"}
    assert txn.commit_block() == Transaction.SUCCESS, txn.get_error()
    settle(idl)
    row = idl.tables["Interface"].rows[row.uuid]
    assert row.external_ids == {"iface-id": "lsp-new", "foo": "bar"}
    assert row.options == {"n_rxq": "2"}
    txn = Transaction(idl)
    row.delkey("external_ids", "foo", "not-the-value")  # value mismatch: no-op
    row.delkey("options", "n_rxq", "2")
    assert txn.commit_block() == Transaction.SUCCESS
    settle(idl)
    row = idl.tables["Interface"].rows[row.uuid]
    assert row.external_ids == {"iface-id": "lsp-new", "foo": "bar"}
    assert row.options == {}


def test_optional_column_writes(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    br = seed_bridge(idl)
    port = br.ports[0]
    for value in ([7], [8], []):
        txn = Transaction(idl)
        port.tag = value
        assert txn.commit_block() == Transaction.SUCCESS
        settle(idl)
        port = one(idl, "Port", name="br-int")
        assert port.tag == value
    txn = Transaction(idl)
    br = one(idl, "Bridge", name="br-int")
    br.fail_mode = ["secure"]
    assert txn.commit_block() == Transaction.SUCCESS
    settle(idl)
    assert one(idl, "Bridge", name="br-int").fail_mode == ["secure"]


def test_bad_typed_write_is_dropped(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    seed_bridge(idl)
    txn = Transaction(idl)
    one(idl, "Port", name="br-int").tag = ["not-an-int"]
    assert txn.commit_block() == Transaction.UNCHANGED


def test_constraint_violation_is_an_error(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    seed_bridge(idl)
    txn = Transaction(idl)
    extra = txn.insert(idl.tables["Open_vSwitch"])  # maxRows 1
    extra.external_ids = {"x": "y"}
    assert txn.commit_block() == Transaction.ERROR
    error = json.loads(txn.get_error())
    assert error["error"] == "constraint violation"
    assert "greater than the schema-defined limit of 1 row(s)" in error["details"]


def test_increment(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    before = root_of(idl).next_cfg
    txn = Transaction(idl)
    root = root_of(idl)
    root.increment("next_cfg")
    root.setkey("external_ids", "bumped", "yes")
    assert txn.commit_block() == Transaction.SUCCESS
    assert txn.get_increment_new_value() == before + 1


# ------------------------------------------------------------- conflicts
def test_verify_conflict_is_try_again(backend: Backend) -> None:
    a = backend.client(OVS, register_ovs)
    b = backend.client(OVS, register_ovs)
    txn = Transaction(b)
    root_of(b).setkey("external_ids", "owner", "b")
    assert txn.commit_block() == Transaction.SUCCESS
    # a has not run(): its cache is stale
    seqno = a.change_seqno
    txn = Transaction(a)
    root = root_of(a)
    root.verify("external_ids")
    root.external_ids = {"owner": "a"}
    assert txn.commit_block() == Transaction.TRY_AGAIN
    assert a.change_seqno != seqno
    settle(a)
    assert root_of(a).external_ids == {"owner": "b"}


def test_verify_of_unchanged_column_succeeds(backend: Backend) -> None:
    a = backend.client(OVS, register_ovs)
    b = backend.client(OVS, register_ovs)
    txn = Transaction(b)
    root_of(b).next_cfg = 5
    assert txn.commit_block() == Transaction.SUCCESS
    txn = Transaction(a)
    root = root_of(a)
    root.verify("external_ids")
    root.external_ids = {"owner": "a"}
    assert txn.commit_block() == Transaction.SUCCESS


def test_duplicate_index_is_error_with_details(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    seed_sb(idl)
    existing = one(idl, "Port_Binding", logical_port="lsp-a")
    txn = Transaction(idl)
    pb = txn.insert(idl.tables["Port_Binding"])
    pb.logical_port = "lsp-a"
    pb.datapath = existing.datapath
    pb.tunnel_key = 99
    assert txn.commit_block() == Transaction.ERROR
    error = json.loads(txn.get_error())
    assert error["error"] == "constraint violation"
    details = error["details"]
    assert details.startswith(
        'Transaction causes multiple rows in "Port_Binding" table to have identical values '
        '(lsp-a) for index on column "logical_port".  First row, with UUID '
    )
    assert (
        f"with UUID {existing.uuid}, existed in the database before this transaction and was "
        "not modified by the transaction."
    ) in details
    assert ", was inserted by this transaction." in details


def test_duplicate_multi_column_index(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    seed_sb(idl)
    existing = one(idl, "Port_Binding", logical_port="lsp-a")
    txn = Transaction(idl)
    pb = txn.insert(idl.tables["Port_Binding"])
    pb.logical_port = "lsp-new"
    pb.datapath = existing.datapath
    pb.tunnel_key = existing.tunnel_key
    assert txn.commit_block() == Transaction.ERROR
    details = json.loads(txn.get_error())["details"]
    assert (
        f"identical values ({existing.datapath.uuid} and {existing.tunnel_key}) for index on "
        'columns "datapath" and "tunnel_key"'
    ) in details


def test_stale_provisional_row_is_error(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    txn = Transaction(idl)
    dp = txn.insert(idl.tables["Datapath_Binding"])
    dp.tunnel_key = 7
    assert txn.commit_block() == Transaction.SUCCESS
    txn2 = Transaction(idl)
    pb = txn2.insert(idl.tables["Port_Binding"])
    pb.logical_port = "lsp-x"
    pb.datapath = dp  # the provisional row of the committed transaction
    pb.tunnel_key = 1
    assert txn2.commit_block() == Transaction.ERROR
    error = json.loads(txn2.get_error())
    assert error["error"] == "referential integrity violation"
    assert f"references nonexistent row {dp.uuid} in table Datapath_Binding." in error["details"]
    # the right way: re-fetch by the real uuid
    real = idl.tables["Datapath_Binding"].rows[txn.get_insert_uuid(dp.uuid)]
    txn3 = Transaction(idl)
    pb = txn3.insert(idl.tables["Port_Binding"])
    pb.logical_port = "lsp-x"
    pb.datapath = real
    pb.tunnel_key = 1
    assert txn3.commit_block() == Transaction.SUCCESS


def test_deleting_a_strongly_referenced_root_row_is_error(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    seed_sb(idl)
    txn = Transaction(idl)
    one(idl, "Port_Binding", logical_port="lsp-a").datapath.delete()
    assert txn.commit_block() == Transaction.ERROR
    assert json.loads(txn.get_error())["error"] == "referential integrity violation"


def test_weak_references_cleared_when_chassis_deleted(backend: Backend) -> None:
    writer = backend.client(SB, register_sb)
    seed_sb(writer)
    reader = backend.client(SB, register_sb, idl_class=RecordingIdl)
    assert [
        c.name for c in one(reader, "Port_Binding", logical_port="lsp-a").requested_chassis
    ] == ["hv1"]
    reader.events.clear()
    txn = Transaction(writer)
    one(writer, "Chassis", name="hv1").delete()
    assert txn.commit_block() == Transaction.SUCCESS
    wait_for(reader, lambda: len(reader.tables["Chassis"].rows) == 1)
    assert one(reader, "Port_Binding", logical_port="lsp-a").requested_chassis == []
    assert sorted(reader.events) == [
        ("delete", "Chassis", "hv1", None),
        ("delete", "Encap", None, None),  # garbage-collected with its chassis
        ("update", "Port_Binding", "lsp-a", ["requested_chassis"]),
    ]


def test_weak_reference_to_missing_row_is_dropped(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    seed_sb(idl)
    txn = Transaction(idl)
    one(idl, "Port_Binding", logical_port="lsp-c").requested_chassis = [uuid.uuid4()]
    assert txn.commit_block() == Transaction.SUCCESS
    settle(idl)
    assert one(idl, "Port_Binding", logical_port="lsp-c").requested_chassis == []


# ------------------------------------------------------------------ notify
def test_notify_sequence_for_plug_and_unplug(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs, idl_class=RecordingIdl)
    br = seed_bridge(idl)
    idl.events.clear()
    txn, _iface, port = plug(idl, br, "rep4")
    assert txn.commit_block() == Transaction.SUCCESS
    port_uuid = txn.get_insert_uuid(port.uuid)
    assert idl.events == [
        ("update", "Bridge", "br-int", ["ports"]),
        ("create", "Interface", "rep4", None),
        ("create", "Port", "rep4", None),
    ]
    idl.events.clear()
    txn = Transaction(idl)
    one(idl, "Bridge", name="br-int").delvalue("ports", port_uuid)
    assert txn.commit_block() == Transaction.SUCCESS
    assert idl.events == [
        ("update", "Bridge", "br-int", ["ports"]),
        ("delete", "Interface", "rep4", None),
        ("delete", "Port", "rep4", None),
    ]


def test_notify_update_payload_holds_old_values_of_changed_columns(backend: Backend) -> None:
    seen: list[tuple[str, Any]] = []

    class Idl(ovs.db.idl.Idl):  # type: ignore[misc]
        def notify(self, event: str, row: Any, updates: Any = None) -> None:
            if event == "update" and row._table.name == "Open_vSwitch":
                seen.append((event, dict(updates._data)))

    idl = backend.client(OVS, register_ovs, idl_class=Idl)
    txn = Transaction(idl)
    root_of(idl).external_ids = {"a": "1"}
    assert txn.commit_block() == Transaction.SUCCESS
    assert len(seen) == 1
    assert set(seen[0][1]) == {"external_ids"}
    assert seen[0][1]["external_ids"].to_python(lambda v, _b: v) == {}


# ---------------------------------------------------------------- indexes
def test_index_created_before_connect_is_filled(backend: Backend) -> None:
    writer = backend.client(SB, register_sb)
    seed_sb(writer)

    def make_index(idl: Any) -> None:
        idx = idl.index_create("Port_Binding", "by_lport")
        idx.add_column("logical_port")

    reader = backend.client(SB, register_sb, before_connect=make_index)
    entry = reader.tables["Port_Binding"].rows.IndexEntry
    hits = reader.index_equal("Port_Binding", "by_lport", entry(logical_port="lsp-b"))
    assert [r.logical_port for r in hits] == ["lsp-b"]
    in_range = reader.index_irange(
        "Port_Binding", "by_lport", entry(logical_port="lsp-a"), entry(logical_port="lsp-b")
    )
    assert [r.logical_port for r in in_range] == ["lsp-a", "lsp-b"]


def test_late_index_is_not_back_filled(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    seed_sb(idl)
    idx = idl.index_create("Port_Binding", "late")
    idx.add_column("logical_port")
    entry = idl.tables["Port_Binding"].rows.IndexEntry(logical_port="lsp-a")
    assert list(idl.index_equal("Port_Binding", "late", entry)) == []
    with pytest.raises(ValueError, match="already exists"):
        idl.index_create("Port_Binding", "late")


def test_index_direction_and_custom_key(backend: Backend) -> None:
    def make_index(idl: Any) -> None:
        idx = idl.index_create("Port_Binding", "by_key_desc")
        idx.add_column("tunnel_key", direction=ovs.db.custom_index.OVSDB_INDEX_DESC)

    writer = backend.client(SB, register_sb)
    seed_sb(writer)
    reader = backend.client(SB, register_sb, before_connect=make_index)
    ordered = list(reader.tables["Port_Binding"].rows.indexes["by_key_desc"])
    assert [r.tunnel_key for r in ordered] == [3, 2, 1]


# ------------------------------------------------------------- conditions
def test_condition_changes(backend: Backend) -> None:
    writer = backend.client(SB, register_sb)
    seed_sb(writer)
    hv1 = one(writer, "Chassis", name="hv1")
    reader = backend.client(SB, register_sb)
    assert len(reader.tables["Port_Binding"].rows) == 3

    def lports() -> list[str]:
        return sorted(r.logical_port for r in reader.tables["Port_Binding"].rows.values())

    reader.cond_change("Port_Binding", [["requested_chassis", "==", ["uuid", str(hv1.uuid)]]])
    wait_for(reader, lambda: lports() == ["lsp-a"])
    assert reader.tables["Port_Binding"].condition == [
        ["requested_chassis", "==", ["uuid", str(hv1.uuid)]]
    ]
    # rows that start matching arrive, rows that stop matching leave
    txn = Transaction(writer)
    one(writer, "Port_Binding", logical_port="lsp-c").requested_chassis = [hv1]
    one(writer, "Port_Binding", logical_port="lsp-a").requested_chassis = []
    assert txn.commit_block() == Transaction.SUCCESS
    wait_for(reader, lambda: lports() == ["lsp-c"])
    reader.cond_change("Port_Binding", [])  # [] means [False]
    wait_for(reader, lambda: lports() == [])
    assert reader.tables["Port_Binding"].condition == [False]
    reader.tables["Port_Binding"].condition = [True]
    wait_for(reader, lambda: lports() == ["lsp-a", "lsp-b", "lsp-c"])


def test_condition_clauses_are_alternatives(backend: Backend) -> None:
    writer = backend.client(SB, register_sb)
    seed_sb(writer)
    reader = backend.client(SB, register_sb)
    reader.cond_change(
        "Port_Binding",
        [
            ["logical_port", "==", "lsp-a"],
            ["tunnel_key", ">=", 3],
            ["options", "includes", ["map", [["x", "y"]]]],
        ],
    )
    wait_for(
        reader,
        lambda: (
            sorted(r.logical_port for r in reader.tables["Port_Binding"].rows.values())
            == ["lsp-a", "lsp-c"]
        ),
    )


# ------------------------------------------------------------------- locks
def test_commit_without_the_lock_is_not_locked(backend: Backend) -> None:
    owner = backend.client(OVS, register_ovs)
    owner.set_lock("ovn_vif")
    wait_for(owner, lambda: owner.has_lock)
    other = backend.client(OVS, register_ovs)
    other.set_lock("ovn_vif")
    wait_for(other, lambda: other.is_lock_contended)
    txn = Transaction(other)
    root_of(other).setkey("external_ids", "who", "other")
    assert txn.commit_block() == Transaction.NOT_LOCKED
    txn = Transaction(owner)
    root_of(owner).setkey("external_ids", "who", "owner")
    assert txn.commit_block() == Transaction.SUCCESS


# ------------------------------------------------------ more server rules
def test_index_conflict_from_a_modified_row(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    seed_sb(idl)
    a = one(idl, "Port_Binding", logical_port="lsp-a")
    b = one(idl, "Port_Binding", logical_port="lsp-b")
    txn = Transaction(idl)
    b.logical_port = "lsp-a"
    assert txn.commit_block() == Transaction.ERROR
    details = json.loads(txn.get_error())["details"]
    # ovsdb-server names the two rows in hash order: check both sentences, not their order
    assert details.startswith(
        'Transaction causes multiple rows in "Port_Binding" table to have identical values '
        '(lsp-a) for index on column "logical_port".  First row, with UUID '
    )
    assert (
        f"with UUID {b.uuid}, had the following index values before the transaction: lsp-b."
    ) in details
    assert (
        f"with UUID {a.uuid}, existed in the database before this transaction and was not "
        "modified by the transaction."
    ) in details


def test_two_inserts_with_the_same_index_values(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    seed_sb(idl)
    dp = one(idl, "Port_Binding", logical_port="lsp-a").datapath
    txn = Transaction(idl)
    for key in (50, 51):
        pb = txn.insert(idl.tables["Port_Binding"])
        pb.logical_port = "twin"
        pb.datapath = dp
        pb.tunnel_key = key
    assert txn.commit_block() == Transaction.ERROR
    details = json.loads(txn.get_error())["details"]
    assert "identical values (twin)" in details
    assert details.count("was inserted by this transaction") == 2


def test_delete_with_remaining_references_details(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    seed_sb(idl)
    dp = one(idl, "Port_Binding", logical_port="lsp-a").datapath
    txn = Transaction(idl)
    dp.delete()
    assert txn.commit_block() == Transaction.ERROR
    assert json.loads(txn.get_error()) == {
        "details": f"cannot delete Datapath_Binding row {dp.uuid} because of 3 remaining "
        "reference(s)",
        "error": "referential integrity violation",
    }


def test_out_of_range_value_from_a_mutation(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    seed_sb(idl)
    txn = Transaction(idl)
    txn.add_op(
        {
            "op": "mutate",
            "table": "Port_Binding",
            "where": [["logical_port", "==", "lsp-a"]],
            "mutations": [["tunnel_key", "+=", 40000]],
        }
    )
    assert txn.commit_block() == Transaction.ERROR
    assert json.loads(txn.get_error()) == {
        "details": "40001 is not in the valid range 1 to 32767 (inclusive)",
        "error": "constraint violation",
    }


def test_insert_with_persisted_uuid(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    wanted = uuid.UUID("11111111-2222-4333-8444-555555555555")
    txn = Transaction(idl)
    dp = txn.insert(idl.tables["Datapath_Binding"], new_uuid=wanted, persist_uuid=True)
    dp.tunnel_key = 42
    assert txn.commit_block() == Transaction.SUCCESS
    settle(idl)
    assert idl.tables["Datapath_Binding"].rows[wanted].tunnel_key == 42


def test_readonly_column_is_fetched_on_demand(backend: Backend) -> None:
    def register(helper: Any) -> None:
        helper.register_columns("Open_vSwitch", ["external_ids", "next_cfg"], readonly=["next_cfg"])

    writer = backend.client(OVS, register_ovs)
    txn = Transaction(writer)
    root_of(writer).next_cfg = 17
    assert txn.commit_block() == Transaction.SUCCESS
    idl = backend.client(OVS, register)
    txn = Transaction(idl)
    root_of(idl).fetch("next_cfg")
    assert txn.commit_block() == Transaction.SUCCESS
    assert root_of(idl).next_cfg == 17


def test_dry_run_changes_nothing(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    txn = Transaction(idl)
    txn.dry_run = True
    root_of(idl).setkey("external_ids", "dry", "run")
    assert txn.commit_block() == Transaction.SUCCESS
    settle(idl)
    assert "dry" not in root_of(idl).external_ids


def test_condition_on_uuid(backend: Backend) -> None:
    writer = backend.client(SB, register_sb)
    seed_sb(writer)
    hv2 = one(writer, "Chassis", name="hv2")
    reader = backend.client(SB, register_sb)
    reader.cond_change("Chassis", [["_uuid", "==", ["uuid", str(hv2.uuid)]]])
    wait_for(
        reader,
        lambda: [c.name for c in reader.tables["Chassis"].rows.values()] == ["hv2"],
    )


def test_initial_load_notifies_create(backend: Backend) -> None:
    writer = backend.client(SB, register_sb)
    seed_sb(writer)
    reader = backend.client(SB, register_sb, idl_class=RecordingIdl)
    # ovs.db.idl before 4.0 also notifies the rows of the _Server database's
    # Database table it monitors itself (OVN_Southbound has no such table).
    events = [e[:3] for e in reader.events if e[1] != "Database"]
    assert sorted(events) == sorted(
        [("create", "Chassis", n, None)[:3] for n in ("hv1", "hv2")]
        + [("create", "Encap", None), ("create", "Encap", None)]
        + [("create", "Datapath_Binding", None)]
        + [("create", "Port_Binding", n) for n in ("lsp-a", "lsp-b", "lsp-c")]
    )


def test_delete_notice_carries_the_last_row_state(backend: Backend) -> None:
    deleted: list[Any] = []

    class Idl(ovs.db.idl.Idl):  # type: ignore[misc]
        def notify(self, event: str, row: Any, updates: Any = None) -> None:
            if event == "delete":
                deleted.append((row._table.name, row.name, row.hostname, updates))

    writer = backend.client(SB, register_sb)
    seed_sb(writer)
    reader = backend.client(
        SB, lambda h: h.register_columns("Chassis", ["name", "hostname"]), idl_class=Idl
    )
    txn = Transaction(writer)
    one(writer, "Chassis", name="hv2").delete()
    assert txn.commit_block() == Transaction.SUCCESS
    wait_for(reader, lambda: bool(deleted))
    assert deleted == [("Chassis", "hv2", "hv2.example", None)]


def test_mutations_of_a_row_inserted_in_the_same_transaction(backend: Backend) -> None:
    idl = backend.client(OVS, register_ovs)
    br = seed_bridge(idl)
    txn, iface, _port = plug(idl, br, "rep5")
    iface.setkey("external_ids", "extra", "1")  # a mutate whose where names the new row
    assert txn.commit_block() == Transaction.SUCCESS, txn.get_error()
    settle(idl)
    row = idl.tables["Interface"].rows[txn.get_insert_uuid(iface.uuid)]
    assert row.external_ids == {"iface-id": "lsp-rep5", "ovn-plugged": "dummy", "extra": "1"}


def test_deleting_a_row_inserted_in_the_same_transaction(backend: Backend) -> None:
    idl = backend.client(SB, register_sb)
    txn = Transaction(idl)
    dp = txn.insert(idl.tables["Datapath_Binding"])
    dp.tunnel_key = 5
    dp.delete()
    assert txn.commit_block() == Transaction.UNCHANGED
    assert txn.get_insert_uuid(dp.uuid) is None
