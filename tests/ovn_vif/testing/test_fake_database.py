"""The fake's own test controls: writes as another client, scripted commits, uuids, dump."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import ovs.db.idl
import ovs.poller
import pytest
from ovs.db.idl import Transaction

from ovn_vif.testing import (
    OVS_SCHEMA_SUBSET,
    SB_SCHEMA_SUBSET,
    FakeDatabase,
    FakeDatabaseError,
    FakeIdl,
    FakeTransaction,
    PortBindingFactory,
    add_chassis,
    connect,
    ovs_database,
    sb_database,
    wait_for,
)


class Recording(FakeIdl):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[tuple[str, str]] = []

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        self.events.append((event, row._table.name))


def root(idl: Any) -> Any:
    return next(iter(idl.tables["Open_vSwitch"].rows.values()))


def test_uuids_are_deterministic() -> None:
    a, b = ovs_database(), ovs_database()
    assert a.rows("Bridge").keys() == b.rows("Bridge").keys()
    first = next(iter(a.rows("Bridge")))
    assert str(first).split("-")[1:4] == ["0000", "4000", "8000"]
    sb_first = next(iter(sb_database().rows("SB_Global")))
    assert str(sb_first)[:8] != str(first)[:8]  # each database has its own prefix


def test_other_client_writes_arrive_in_run_with_notify() -> None:
    db = sb_database()
    idl = connect(db, idl_class=Recording)
    assert isinstance(idl, Recording)
    idl.events.clear()
    chassis = add_chassis(db, "hv2")
    assert chassis not in idl.tables["Chassis"].rows  # not before run()
    idl.run()
    assert idl.tables["Chassis"].rows[chassis].name == "hv2"
    assert sorted(idl.events) == [("create", "Chassis"), ("create", "Encap")]
    db.update("Chassis", chassis, hostname="hv2.example", other_config={"k": "v"})
    idl.run()
    assert idl.tables["Chassis"].rows[chassis].other_config == {"k": "v"}
    db.delete("Chassis", chassis)
    idl.run()
    assert chassis not in idl.tables["Chassis"].rows
    assert idl.events[-2:] == [("delete", "Chassis"), ("delete", "Encap")]


def test_refused_writes_raise_with_the_server_error() -> None:
    db = sb_database()
    with pytest.raises(FakeDatabaseError) as info:
        db.insert("Port_Binding", logical_port="x", tunnel_key=1)  # no datapath
    assert info.value.error["error"] == "referential integrity violation"
    with pytest.raises(ValueError, match="no column 'nope'"):
        db.insert("Chassis", nope=1)
    with pytest.raises(ValueError, match="no table"):
        db.insert("Nope")


def test_get_rows_find() -> None:
    db = sb_database()
    (hv1,) = db.find("Chassis", name="hv1")
    row = db.get("Chassis", hv1)
    assert row["name"] == "hv1"
    assert len(row["encaps"]) == 1
    assert db.rows("Chassis") == {hv1: row}
    assert db.find("Chassis", name="nope") == []


def test_port_binding_factory() -> None:
    db = sb_database(chassis="dpu1")
    add = PortBindingFactory(db, chassis="dpu1")
    first = add("lsp1", options={"vif-plug:dummy:x": "1"})
    other = add_chassis(db, "hv9")
    second = add(requested_chassis="hv9", plug_type=None)
    third = add("lsp3", requested_chassis=None)
    pb = db.get("Port_Binding", first)
    assert pb["options"] == {
        "vif-plug-type": "dummy",
        "vif-plug:dummy:x": "1",
        "requested-chassis": "dpu1",
    }
    assert pb["requested_chassis"] == db.find("Chassis", name="dpu1")
    assert db.get("Port_Binding", second)["requested_chassis"] == [other]
    assert db.get("Port_Binding", second)["logical_port"] == "lsp2"
    assert db.get("Port_Binding", third)["requested_chassis"] == []
    keys = sorted(r["tunnel_key"] for r in db.rows("Port_Binding").values())
    assert keys == [1, 2, 3]
    with pytest.raises(LookupError):
        add(requested_chassis="ghost")


@pytest.mark.parametrize("outcome", ["try again", "error", "not locked"])
def test_scripted_failure_changes_nothing(outcome: str) -> None:
    db = ovs_database()
    idl = connect(db)
    before = db.dump()
    db.script_commit(outcome, details="injected" if outcome == "error" else None)
    txn = Transaction(idl)
    root(idl).setkey("external_ids", "k", "v")
    assert txn.commit_block() == outcome
    if outcome == "error":
        assert json.loads(txn.get_error())["details"] == "injected"
    assert db.dump() == before
    assert db.scripted_commits == 0
    txn = Transaction(idl)
    root(idl).setkey("external_ids", "k", "v")
    assert txn.commit_block() == "success"


def test_scripted_outcomes_queue_up() -> None:
    idl = connect(ovs_database())
    idl.database.script_commit("try again")
    idl.database.script_commit("error")
    statuses = []
    for _ in range(3):
        txn = Transaction(idl)
        root(idl).setkey("external_ids", "k", "v")
        statuses.append(txn.commit_block())
    assert statuses == ["try again", "error", "success"]


def test_delayed_commit_completes_in_a_later_run() -> None:
    db = ovs_database()
    idl = connect(db)
    db.script_commit(delay_runs=2)
    txn = Transaction(idl)
    root(idl).setkey("external_ids", "k", "v")
    assert txn.commit() == "incomplete"
    assert db.commits_in_progress == 1
    idl.run()
    assert txn.commit() == "incomplete"
    idl.run()
    assert txn.commit() == "success"
    assert root(idl).external_ids["k"] == "v"
    # a delayed failure, through commit_block (which keeps running the IDL)
    db.script_commit("try again", delay_runs=3)
    txn = Transaction(idl)
    root(idl).setkey("external_ids", "k", "w")
    assert txn.commit_block() == "try again"


def test_reconnect_turns_commits_in_flight_into_try_again() -> None:
    db = ovs_database()
    idl = connect(db, idl_class=Recording)
    db.script_commit(delay_runs=5)
    txn = Transaction(idl)
    root(idl).setkey("external_ids", "k", "v")
    assert txn.commit() == "incomplete"
    db.reconnect_clients()
    idl.run()
    assert txn.commit() == "try again"
    idl.events.clear()
    wait_for(idl, lambda: len(idl.tables["Open_vSwitch"].rows) == 1)
    assert ("create", "Open_vSwitch") in idl.events  # reloaded


def test_script_commit_validates() -> None:
    db = ovs_database()
    with pytest.raises(ValueError, match="outcome"):
        db.script_commit("maybe")
    with pytest.raises(ValueError, match="delay_runs"):
        db.script_commit(delay_runs=-1)


def test_dump_is_readable_and_stable() -> None:
    db = ovs_database(system_id="hv7")
    text = db.dump()
    assert text.splitlines()[0] == "Open_vSwitch:"
    assert 'external_ids={ovn-bridge=br-int, system-id="hv7"}' in text
    assert "name=br-int" in text
    assert ovs_database(system_id="hv7").dump() == text
    limited = db.dump(columns={"Bridge": ["name"]})
    assert "fail_mode" not in limited.split("Bridge:")[1].split("Interface:")[0]


def test_full_schema_from_file_and_dict() -> None:
    path = Path("/usr/share/openvswitch/vswitch.ovsschema")
    from_file = FakeDatabase(path)
    from_dict = FakeDatabase(json.loads(path.read_text()))
    assert "Mirror" in from_file.schema.tables
    assert from_dict.schema_json == from_file.schema_json
    idl = connect(from_file)
    assert "Mirror" in idl.tables


def test_schema_helper_must_fit_the_database() -> None:
    db = FakeDatabase(OVS_SCHEMA_SUBSET)
    full = ovs.db.idl.SchemaHelper(location="/usr/share/openvswitch/vswitch.ovsschema")
    full.register_columns("Bridge", ["name", "mirrors"])
    with pytest.raises(ValueError, match=r"Bridge\.mirrors"):
        FakeIdl(db, full)
    sb_helper = FakeDatabase(SB_SCHEMA_SUBSET).schema_helper()
    sb_helper.register_table("Chassis")
    with pytest.raises(ValueError, match="OVN_Southbound"):
        FakeIdl(db, sb_helper)


def test_poller_wakes_when_another_thread_writes() -> None:
    db = sb_database()
    idl = connect(db)
    added: list[uuid.UUID] = []
    writer = threading.Thread(target=lambda: added.append(add_chassis(db, "hv3")))
    poller = ovs.poller.Poller()
    idl.wait(poller)
    writer.start()
    poller.timer_wait(30_000)  # a safety net only: the pipe wakes the poller
    poller.block()
    writer.join()
    idl.run()
    assert added[0] in idl.tables["Chassis"].rows


def test_closed_idl_stops_receiving() -> None:
    db = sb_database()
    idl = connect(db)
    idl.close()
    add_chassis(db, "hv4")
    assert db.transactions >= 1
    assert len(idl.tables["Chassis"].rows) == 1


def _seed_port_bindings(db: FakeDatabase, n: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    with db.batch() as t:
        dp = t.insert("Datapath_Binding", tunnel_key=4242)
        pbs = [
            t.insert("Port_Binding", logical_port=f"lsp{i}", datapath=dp, tunnel_key=i + 1)
            for i in range(n)
        ]
    return dp, pbs


def test_large_transaction_duplicate_index_details_between_inserts() -> None:
    db = sb_database()
    dp, _ = _seed_port_bindings(db, 2000)
    t = FakeTransaction(db)
    new = [
        t.insert(
            "Port_Binding",
            logical_port="new1200" if i == 2500 else f"new{i}",
            datapath=dp,
            tunnel_key=5000 + i,
        )
        for i in range(3000)
    ]
    with pytest.raises(FakeDatabaseError) as caught:
        t.commit()
    assert caught.value.error == {
        "error": "constraint violation",
        "details": 'Transaction causes multiple rows in "Port_Binding" table to have identical '
        'values (new1200) for index on column "logical_port".  First row, with UUID '
        f"{new[1200]}, was inserted by this transaction.  Second row, with UUID {new[2500]}, "
        "was inserted by this transaction.",
    }
    assert len(db.rows("Port_Binding")) == 2000  # nothing committed


def test_large_transaction_duplicate_index_details_modified_row_first() -> None:
    db = sb_database()
    dp, old = _seed_port_bindings(db, 2000)
    t = FakeTransaction(db)
    for i in range(3000):  # one of them collides with an existing row, reported later
        t.insert("Port_Binding", logical_port=f"lsp{i}", datapath=dp, tunnel_key=5000 + i)
    t.update("Port_Binding", old[7], logical_port="lsp1500")
    t.update("Port_Binding", old[8], tunnel_key=9000)
    with pytest.raises(FakeDatabaseError) as caught:
        t.commit()
    assert caught.value.error == {
        "error": "constraint violation",
        "details": 'Transaction causes multiple rows in "Port_Binding" table to have identical '
        'values (lsp1500) for index on column "logical_port".  First row, with UUID '
        f"{old[7]}, had the following index values before the transaction: lsp7.  Second row, "
        f"with UUID {old[1500]}, existed in the database before this transaction and was not "
        "modified by the transaction.",
    }
    t = FakeTransaction(db)
    added = [
        t.insert("Port_Binding", logical_port=f"new{i}", datapath=dp, tunnel_key=5000 + i)
        for i in range(3000)
    ]
    t.update("Port_Binding", old[8], tunnel_key=5001)
    with pytest.raises(FakeDatabaseError) as caught:
        t.commit()
    assert caught.value.error == {
        "error": "constraint violation",
        "details": 'Transaction causes multiple rows in "Port_Binding" table to have identical '
        f'values ({dp} and 5001) for index on columns "datapath" and "tunnel_key".  First row, '
        f"with UUID {old[8]}, had the following index values before the transaction: {dp} and "
        f"9.  Second row, with UUID {added[1]}, was inserted by this transaction.",
    }


@pytest.mark.parametrize(
    "value",
    [
        {"n": [0, -0, 1, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**30, -(10**400)]},
        {"f": [1.0, -0.0, 0.5, 1e20, 1e-7, 123456789.25, 1e300 * 10, float("nan")]},
        {"s": ["", "plain", 'q"\\/', "\x00", "a\x00b", "\x01\x1f\t\n", "é✓", "\U0001f600"]},
        {"s": ["\ud800", "\udc00x", "\ud7ff\ue000", "\ud83d\ude00"], "k\x00": None},
        [True, False, None, [], {}, [[[]]], {"a": {"b": {"c": []}}}],
        [[[[1]]]],
    ],
)
def test_wire_parse_reads_what_ovs_json_reads(value: Any) -> None:
    import ovs.json

    from ovn_vif._memdb.idl import _parse

    text = ovs.json.to_string(value)
    assert repr(_parse(text)) == repr(ovs.json.from_string(text))


@pytest.mark.parametrize("depth", [1, 10, 899, 900, 901, 999, 1000, 1001, 3000])
def test_wire_parse_nesting_limit_as_ovs_json(depth: int) -> None:
    import ovs.json

    from ovn_vif._memdb.idl import _parse

    for opening, closing in (("[", "]"), ('{"k":', "}")):
        text = opening * depth + "1" + closing * depth
        assert _unnest(_parse(text)) == _unnest(ovs.json.from_string(text))


def _unnest(value: Any) -> tuple[list[str], Any]:
    """(container types from the outside in, innermost value): no recursion (repr, == recurse)."""
    kinds = []
    while isinstance(value, (list, dict)):
        kinds.append(type(value).__name__)
        value = next(iter(value.values() if isinstance(value, dict) else value))
    return kinds, repr(value)
