"""``QuickInsertIdl`` (``ovn_vif._ovs_private``) against the stock ``ovs.db.idl.Idl``.

Two observers on the same database, one of each class, watch a seeded
random workload of raw transactions (inserts with random subsets of
columns, values equal and unequal to the defaults, references, maps,
sets, enums, modifies and deletes; rows present before the observers
connect arrive as ``initial``) and must end every step with the same
rows, the same stored column values, the same ``notify()`` calls and the
same ``change_seqno``. It runs on the in-memory server (unit tier, so every
``ovs`` release in ``CHECKED_VERSIONS`` sees it) and on a real
``ovsdb-server``.
"""

from __future__ import annotations

import random
import sys
import uuid as uuid_module
from collections.abc import Callable, Iterator
from typing import Any

import ovs.db.data
import ovs.db.error
import ovs.db.idl
import ovs.db.schema
import ovs.db.types
import ovs.json
import ovs.poller
import pytest

from ovn_vif._engine import rows
from ovn_vif._engine.snapshot import RowMemo, read_ovs, read_sb
from ovn_vif._ovs_private import (
    _BAD,
    PACKED_TABLES,
    PackedLayout,
    QuickInsertIdl,
    _pack_datum,
    _packer,
    datum_parser,
    packed_values,
)
from ovn_vif.agent._audit import view_rows
from ovn_vif.agent._loop_status import lports_in_view
from ovn_vif.sandbox import DATABASES, OvsdbServer
from ovn_vif.testing import FakeDatabase, FakeIdl

SEEDS = (1, 2, 3)
STEPS = 14


class QuickFakeIdl(QuickInsertIdl, FakeIdl):  # type: ignore[misc]
    """The quick insert path on the in-memory server."""


# --- the column value parsers, value by value ------------------------------------------

_U1 = "1b6a9f3c-0000-4000-8000-000000000001"
_U2 = "1b6a9f3c-0000-4000-8000-000000000002"
#: Well-formed and malformed column values, as a server (or a hostile one) could send.
_VALUES: list[Any] = [
    "",
    "x",
    "é\u2603",
    "a" * 70000,
    0,
    1,
    -1,
    4095,
    4096,
    65280,
    2**63,
    -(2**63) - 1,
    1.0,
    1.5,
    True,
    False,
    None,
    [],
    {},
    ["uuid", _U1],
    ["uuid", "not-a-uuid"],
    ["uuid", 1],
    ["named-uuid", "x"],
    ["set"],
    ["set", []],
    ["set", [1, 2]],
    ["set", [1, 1]],
    ["set", [True]],
    ["set", ["a", "b"]],
    ["set", ["a", "a"]],
    ["set", [["uuid", _U1], ["uuid", _U2]]],
    ["set", [["uuid", _U1], ["uuid", _U1]]],
    ["set", list(range(5000))],
    ["set", "a"],
    ["map"],
    ["map", []],
    ["map", [["k", "v"]]],
    ["map", [["k", "v"], ["k", "w"]]],
    ["map", [["k", "v"], ["l", "v"]]],
    ["map", [["k"]]],
    ["map", [["k", 1]]],
    ["map", [[1, "v"]]],
    ["map", [["k", ["uuid", _U1]]]],
    ["map", [[["uuid", _U1], "v"]]],
    ["map", "k"],
    ["map", [("k", "v")]],
    ("map", [["k", "v"]]),
    ["set", [1], 2],
]


def _schema_columns() -> list[tuple[str, Any]]:
    found = []
    for db in ("Open_vSwitch", "OVN_Southbound"):
        schema = ovs.db.schema.DbSchema.from_json(ovs.json.from_file(str(DATABASES[db])))
        for table in schema.tables.values():
            for column in table.columns.values():
                found.append((f"{db}.{table.name}.{column.name}", column.type))
    # Constraints neither schema uses (today).
    for i, kind in enumerate(
        [
            {"key": {"type": "string", "minLength": 1, "maxLength": 3}},
            {"key": {"type": "string", "minLength": 1}, "min": 0, "max": "unlimited"},
            {
                "key": "string",
                "value": {"type": "integer", "minInteger": 1, "maxInteger": 5},
                "min": 0,
                "max": "unlimited",
            },
            {"key": {"type": "uuid", "refTable": "T", "refType": "weak"}, "min": 1, "max": 2},
            {"key": "boolean", "value": "string", "min": 1, "max": 1},
        ]
    ):
        found.append((f"synthetic-{i}", ovs.db.types.Type.from_json(kind)))
    return found


def test_column_parsers_answer_as_datum_from_json() -> None:
    """For every column of both schemas and every value above, the quick
    parser gives the same Datum as ``Datum.from_json`` or leaves the value
    to it, and never accepts what it refuses."""
    handled = 0
    for name, kind in _schema_columns():
        parse = datum_parser(kind)
        if parse is None:
            continue
        for value in _VALUES:
            try:
                expected = ovs.db.data.Datum.from_json(kind, value)
            except ovs.db.error.Error:
                expected = None
            got = parse(value)
            if got is None:
                continue
            handled += 1
            assert expected is not None, (name, value)
            assert got == expected, (name, value)
            assert got.type == expected.type, (name, value)
            assert [type(a.value) for a in got.values] == [
                type(a.value) for a in expected.values
            ], (name, value)
    assert handled > 500


def test_packed_parsers_take_what_the_column_parsers_take() -> None:
    """The parsers that pack a value straight from its JSON take exactly the
    values :func:`datum_parser` takes, and give what packing its Datum gives."""
    handled = 0
    for name, kind in _schema_columns():
        parse, pack = datum_parser(kind), _packer(kind)
        assert (parse is None) == (pack is None), name
        if parse is None:
            continue
        shape = 2 if kind.is_map() else 0 if kind.n_max == 1 else 1
        for value in _VALUES:
            datum, packed = parse(value), pack(value)
            assert (datum is None) == (packed is _BAD), (name, value)
            if datum is not None:
                handled += 1
                assert packed == _pack_datum(shape, datum), (name, value)
    assert handled > 500


#: Small pools of atoms per base type, so that diffs hit held values often.
_POOLS: dict[str, list[Any]] = {
    "string": ["", "a", "b"],
    "integer": [0, 1, 7],
    "boolean": [False, True],
    "uuid": [["uuid", _U1], ["uuid", _U2], ["uuid", "1b6a9f3c-0000-4000-8000-000000000003"]],
}


def _random_value(rng: random.Random, kind: Any, count: int) -> Any:
    """JSON for a Datum of *kind* with *count* distinct keys (the count may
    break the type's bounds: a diff is parsed with them too)."""
    keys = _POOLS[kind.key.type.to_string()]
    picked = rng.sample(range(len(keys)), min(count, len(keys)))
    if kind.is_map():
        values = _POOLS[kind.value.type.to_string()]
        return ["map", [[keys[i], rng.choice(values)] for i in picked]]
    if len(picked) == 1 and rng.random() < 0.5:
        return keys[picked[0]]
    return ["set", [keys[i] for i in picked]]


def _diff_tables() -> list[Any]:
    """Tables whose rows are packed, of both schemas, and one of synthetic
    column types (maps and sets of one, sets that may not be empty)."""
    import ovs.db.schema

    tables = []
    for db in ("Open_vSwitch", "OVN_Southbound"):
        schema = ovs.db.schema.DbSchema.from_json(ovs.json.from_file(str(DATABASES[db])))
        tables += [t for name, t in schema.tables.items() if name in PACKED_TABLES]
    synthetic = {
        "one_map": {"type": {"key": "string", "value": "integer", "min": 0, "max": 1}},
        "required_map": {"type": {"key": "boolean", "value": "string", "min": 1, "max": 1}},
        "some_uuids": {"type": {"key": "uuid", "min": 1, "max": 2}},
        "optional_int": {"type": {"key": "integer", "min": 0, "max": 1}},
        "string": {"type": "string"},
    }
    tables.append(ovs.db.schema.TableSchema.from_json({"columns": synthetic}, "Synthetic"))
    for table in tables:
        for column in table.columns.values():
            column.alert = True  # as an IDL's tables have it
    return [t for t in tables if PackedLayout.fits(t)]


def _odd_default(kind: Any) -> bool:
    """Whether ``ovs`` makes the default of *kind* with an atom that holds an
    ``Atom`` (a UUID set that may not be empty: ``Atom.default`` wraps the
    UUID twice), which ``to_json`` cannot sort with others."""
    default = ovs.db.data.Datum.default(kind)
    return any(isinstance(atom.value, ovs.db.data.Atom) for atom in default.values)


@pytest.mark.parametrize("seed", range(4))
def test_packed_modify_applies_the_diff_as_the_stock_idl_does(seed: int) -> None:
    """``PackedLayout.apply_diff`` against ``ovs.db.idl``'s own steps (parse
    the diff, copy the old value, ``Datum.diff``, store if unlike), column by
    column, from random stored, stored-empty and unstored values: the same
    stored columns, the same values, the same old values, and the same
    refusals."""
    rng = random.Random(seed)
    applied = refused = 0
    for table in _diff_tables():
        layout = PackedLayout(table)
        for name, column in table.columns.items():
            kind = column.type
            for _ in range(25):
                data = ovs.db.idl.ColumnDefaultDict(table)
                state = rng.choice(("unstored", "stored", "stored"))
                if state == "stored":
                    count = rng.randrange(kind.n_min, min(kind.n_max, 3) + 1)
                    json = _random_value(rng, kind, count)
                    try:
                        data[name] = ovs.db.data.Datum.from_json(kind, json)
                    except ovs.db.error.Error:
                        continue
                packed = layout.pack(data)
                if state == "stored" and rng.random() < 0.3:
                    diff_json = json  # takes out every value held (sets, maps)
                else:
                    diff_json = _random_value(rng, kind, rng.randrange(0, 4))
                try:
                    diff = ovs.db.data.Datum.from_json(kind, diff_json)
                except ovs.db.error.Error:
                    diff = None
                got = layout.apply_diff(packed, {name: diff_json})
                if diff is None:
                    # Refused by the stock parser: refused here (the row
                    # then goes to the stock steps, which warn).
                    assert got is None, (table.name, name, diff_json)
                    refused += 1
                    continue
                assert got is not None, (table.name, name, diff_json)
                old = data[name].copy()
                datum = data[name].diff(diff)
                if datum != data[name]:
                    data[name] = datum
                new_packed, old_row = got
                applied += 1
                where = (table.name, name, state, dict(data), diff_json)
                assert old_row == {name: old}, where
                assert old_row[name].type == kind, where
                expected = layout.pack(data)
                assert new_packed == expected, where
                if not _odd_default(kind):
                    assert {c: d.to_json() for c, d in layout.unpack(new_packed).items()} == {
                        c: d.to_json() for c, d in data.items()
                    }, where
    assert applied > 300, (applied, refused)
    assert refused > 100, (applied, refused)


def test_map_keys_and_empty_strings_are_shared_atoms(monkeypatch: pytest.MonkeyPatch) -> None:
    import ovn_vif._ovs_private as private

    monkeypatch.setattr(private, "_SHARED_KEYS", {})
    monkeypatch.setattr(private, "SHARED_ATOMS_MAX", 2)
    smap = ovs.db.types.Type.from_json(
        {"key": "string", "value": "string", "min": 0, "max": "unlimited"}
    )
    scalar = ovs.db.types.Type.from_json("string")
    parse_map, parse_scalar = datum_parser(smap), datum_parser(scalar)
    one = parse_map(["map", [["iface-id", "a"], ["k2", "x"], ["k3", ""]]])
    two = parse_map(["map", [["iface-id", "b"], ["k2", "y"], ["k3", ""]]])
    keys_one, keys_two = list(one.values), list(two.values)
    assert keys_one[0] is keys_two[0]
    assert keys_one[1] is keys_two[1]
    assert keys_one[2] is not keys_two[2]  # past the bound: made as usual
    assert keys_one[2] == keys_two[2]
    assert one.values[keys_one[2]] is two.values[keys_two[2]]  # the empty string
    assert one.values[keys_one[0]] is not two.values[keys_two[0]]
    assert parse_scalar("") is not parse_scalar("")  # Datums never are
    assert next(iter(parse_scalar("").values)) is next(iter(parse_scalar("").values))
    assert next(iter(parse_scalar("a").values)) is not next(iter(parse_scalar("a").values))


# --- one object per value, and the rows' dict ------------------------------------------


def test_shared_values_answer_one_object_per_value_and_forget_unused_ones() -> None:
    from ovn_vif._ovs_private import SharedValues

    shared = SharedValues(floor=16)
    first = shared("".join(["lsp", "1"]))
    again = "".join(["lsp", "1"])
    assert again is not first
    assert shared(again) is first
    kept = shared(uuid_module.UUID(_U1))
    assert shared(uuid_module.UUID(_U1)) is kept
    del kept
    held = [shared("".join(["held-", str(i)])) for i in range(10)]
    # A tenant that creates ever new names: the table does not keep them.
    for i in range(2000):
        shared("".join(["gone-", str(i)]))
        assert len(shared) <= 2 * (len(held) + 2) + shared.floor
    assert shared("".join(["lsp", "1"])) is first
    assert all(shared("".join(["held-", str(i)])) is held[i] for i in range(10))
    del first
    shared.sweep()
    assert len(shared) == len(held)  # the UUID and "lsp1" are gone: nothing else held them


@pytest.mark.parametrize("seed", range(6))
def test_shared_values_stay_bounded_and_exact_under_churn(seed: int) -> None:
    """Seeded churn of strings and UUIDs held and dropped: an equal value
    always comes back as the object still held, and the table never holds
    more than its floor or twice the most ever held at once (plus the value
    being added)."""
    from ovn_vif._ovs_private import SharedValues

    rng = random.Random(seed)
    shared = SharedValues(floor=32)
    held: dict[Any, Any] = {}  # value -> the object the caller holds
    most = 0
    for _step in range(4000):
        if held and rng.random() < 0.45:
            del held[rng.choice(list(held))]
            continue
        number = rng.randrange(300)
        fresh: Any = (
            "".join(["lsp-", str(number)])
            if rng.random() < 0.7
            else uuid_module.UUID(int=number + 1)
        )
        got = shared(fresh)
        assert got == fresh
        if fresh in held:
            assert got is held[fresh]
        else:
            held[fresh] = got
        most = max(most, len(held))
        assert len(shared) <= max(shared.floor, 2 * most) + 1
    held.clear()
    del fresh, got  # the last value added
    shared.sweep()
    assert len(shared) == 0


def test_shared_values_pass_values_through_where_refcounts_do_not_tell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    import ovn_vif._ovs_private as private

    monkeypatch.setattr(sys, "implementation", types.SimpleNamespace(name="pypy"))
    shared = private.SharedValues(floor=4)
    value = "".join(["a", "b"])
    assert shared(value) is value
    assert shared("".join(["a", "b"])) is not value
    assert len(shared) == 0
    assert shared.sweep() == 0


def test_packed_rows_share_equal_strings_and_uuids(make_idl: Any) -> None:
    """The agent's two IDLs hold each lport's name in four rows, and every
    row repeats the same map keys: one object for each value."""
    writer_helper = _helper("Open_vSwitch")
    writer_helper.register_all()
    writer = make_idl("Open_vSwitch", writer_helper, False)
    _run_until([writer], writer.has_ever_connected)
    _clear(writer, "Open_vSwitch")
    _commit(writer, _seed_rows("Open_vSwitch"))
    from ovn_vif import register_ovs_columns

    helper = _helper("Open_vSwitch")
    register_ovs_columns(helper)  # as the agent does (all of them would not pack)
    quick = make_idl("Open_vSwitch", helper, True)
    _run_until([writer, quick], lambda: bool(quick.tables["Interface"].rows))
    by_value: dict[Any, set[int]] = {}
    for name in ("Interface", "Port"):
        for row in quick.tables[name].rows.values():
            by_value.setdefault(row.uuid, set()).add(id(row.uuid))
            packed = packed_values(row)
            assert packed is not None
            for value in packed[1:]:
                for item in value if type(value) is tuple else (value,):
                    if type(item) in (str, uuid_module.UUID):
                        by_value.setdefault(item, set()).add(id(item))
    assert any(type(v) is uuid_module.UUID for v in by_value)
    repeated = [v for v, ids in by_value.items() if len(ids) > 1]
    assert repeated == [], repeated[:5]


@pytest.mark.parametrize("seed", range(8))
def test_plain_rows_behave_as_indexed_rows(seed: int) -> None:
    """``PlainRows`` against ``ovs.db.custom_index.IndexedRows`` on the same
    random sets (over present uuids too: a transaction's inserted row),
    deletes and clears, with an index on odd seeds: the same answers, rows,
    order and index."""
    import ovs.db.custom_index

    from ovn_vif._ovs_private import PlainRows

    rng = random.Random(seed)
    helper = _helper("Open_vSwitch")
    helper.register_all()
    interface = FakeIdl(FakeDatabase(DATABASES["Open_vSwitch"]), helper).tables["Interface"]

    class Table:
        """The IdlTable of one side (an index finds its rows through ``table.rows``)."""

        name, columns = interface.name, interface.columns
        rows: Any = None

    class Row:
        def __init__(self, name: str, uuid: uuid_module.UUID, table: Table) -> None:
            self.name, self.uuid, self._table = name, uuid, table

        def __repr__(self) -> str:
            return self.name

    tables = [Table(), Table()]
    tables[0].rows = ovs.db.custom_index.IndexedRows(tables[0])
    tables[1].rows = PlainRows(tables[1])
    indexed = seed % 2 == 1
    if indexed:
        for table in tables:
            table.rows.index_create("by-name").add_column("name")
    keys = [uuid_module.UUID(int=i) for i in range(5)]
    for step in range(300):
        key = rng.choice(keys)
        action = rng.choice(["set", "set", "del", "del", "get"] + ["clear"] * (step % 50 == 49))
        outcomes: list[tuple[str, str | None, bool | None]] = []
        for table in tables:
            side = table.rows
            try:
                if action == "set":
                    side[key] = Row(f"r{step:03}", key, table)
                elif action == "del":
                    del side[key]
                elif action == "clear":
                    side.clear()
                outcomes.append(("ok", repr(side.get(key)), key in side))
            except KeyError:
                outcomes.append(("KeyError", None, None))
        assert outcomes[0] == outcomes[1], (step, action)
        old, new = (table.rows for table in tables)
        assert (len(old), bool(old)) == (len(new), bool(new)), step
        assert [(k, repr(v)) for k, v in old.items()] == [(k, repr(v)) for k, v in new.items()], (
            step
        )
        if indexed:
            assert [repr(r) for r in old.indexes["by-name"]] == [
                repr(r) for r in new.indexes["by-name"]
            ], step


# --- what an observer saw -------------------------------------------------------------


def _watch(idl: Any) -> list[tuple[str, str, str, Any]]:
    seen: list[tuple[str, str, str, Any]] = []

    def notify(event: str, row: Any, updates: Any = None) -> None:
        old = None if updates is None else sorted(updates._data)
        seen.append((event, row._table.name, str(row.uuid), old))

    idl.notify = notify
    return seen


def _datums(row: Any) -> Any:
    """A row's ``_data``, read without unpacking a packed row."""
    packed = packed_values(row)
    return row._data if packed is None else packed[0].unpack(packed)


def _state(idl: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Every row's stored (non-default) column values, as JSON."""
    return {
        name: {
            str(u): {c: d.to_json() for c, d in _datums(row).items()}
            for u, row in table.rows.items()
        }
        for name, table in idl.tables.items()
    }


def _visible(idl: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Every row's value in every column, defaults included, as JSON."""
    return {
        name: {
            str(u): {c: _datums(row)[c].to_json() for c in table.columns}
            for u, row in table.rows.items()
        }
        for name, table in idl.tables.items()
    }


def _attributes(idl: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Every row's value in every column, read as attributes."""

    def plain(value: Any) -> Any:
        if isinstance(value, ovs.db.idl.Row):
            return ("row", str(value.uuid))
        if isinstance(value, dict):
            return sorted((plain(k), plain(v)) for k, v in value.items())
        if isinstance(value, list):
            return sorted(plain(v) for v in value)
        return value

    return {
        name: {
            str(u): {c: plain(getattr(row, c)) for c in table.columns}
            for u, row in table.rows.items()
        }
        for name, table in idl.tables.items()
    }


def _row_views(idl: Any, db: str) -> dict[str, Any]:
    """Each row as the engine's readers copy it, references resolved against
    only every other target row (as under a monitor condition, where a
    reference may name a row the IDL does not hold)."""
    if db == "Open_vSwitch":
        ifaces = idl.tables["Interface"].rows
        some = {u: r for u, r in ifaces.items() if u.int % 2}
        return {
            "Interface": {u: rows.read_iface(r) for u, r in ifaces.items()},
            "Port": {u: rows.read_port(r, some) for u, r in idl.tables["Port"].rows.items()},
        }
    chassis = {u: r for u, r in idl.tables["Chassis"].rows.items() if u.int % 2}
    bindings = idl.tables["Port_Binding"].rows
    return {
        "Port_Binding": {u: rows.read_binding(r, chassis) for u, r in bindings.items()},
        "requested": {u: rows.requested_chassis(r, chassis) for u, r in bindings.items()},
        "names": {u: rows.column(r, "logical_port", None) for u, r in bindings.items()},
    }


def _run_until(idls: list[Any], condition: Callable[[], bool]) -> None:
    for _ in range(200):
        for idl in idls:
            idl.run()
        if condition():
            return
        poller = ovs.poller.Poller()
        for idl in idls:
            idl.wait(poller)
        poller.timer_wait(20)
        poller.block()
    raise AssertionError("the IDLs did not catch up with the writer")


# --- the workload ---------------------------------------------------------------------


def _rand_map(rng: random.Random, prefix: str) -> list[Any]:
    n = rng.choice((0, 0, 1, 2, 3))
    return [
        "map",
        [[f"{prefix}{rng.randrange(5)}-{i}", rng.choice(("", "x", "1"))] for i in range(n)],
    ]


class Workload:
    """Random raw operations on the Open_vSwitch or the OVN_Southbound schema."""

    def __init__(self, db: str, rng: random.Random) -> None:
        self.db = db
        self.rng = rng
        self.count = 0

    def _name(self, what: str) -> str:
        self.count += 1
        return f"{what}{self.count}"

    def ops(self, writer: Any) -> list[dict[str, Any]]:
        rng = self.rng
        ops: list[dict[str, Any]] = []
        if self.db == "Open_vSwitch":
            bridge = next(iter(writer.tables["Bridge"].rows.values()))
            ports = list(writer.tables["Port"].rows.values())
            ifaces = list(writer.tables["Interface"].rows.values())
            added = []
            for _ in range(rng.randrange(4)):
                iface: dict[str, Any] = {"name": self._name("if")}
                if rng.random() < 0.5:
                    iface["type"] = rng.choice(("", "internal", "dummy"))
                if rng.random() < 0.5:
                    iface["options"] = _rand_map(rng, "o")
                if rng.random() < 0.5:
                    iface["external_ids"] = _rand_map(rng, "e")
                if rng.random() < 0.3:
                    iface["mtu_request"] = ["set", [rng.choice((1280, 1500, 9000))]]
                if rng.random() < 0.3:
                    iface["admin_state"] = rng.choice(("up", "down"))
                if rng.random() < 0.2:
                    iface["ofport_request"] = rng.randrange(1, 100)
                n = self._name("i")
                ops.append({"op": "insert", "table": "Interface", "row": iface, "uuid-name": n})
                port: dict[str, Any] = {"name": iface["name"], "interfaces": ["named-uuid", n]}
                if rng.random() < 0.3:
                    port["tag"] = rng.randrange(0, 4096)
                if rng.random() < 0.3:
                    port["vlan_mode"] = rng.choice(("trunk", "access"))
                if rng.random() < 0.3:
                    port["trunks"] = ["set", sorted(rng.sample(range(1, 50), 2))]
                p = self._name("p")
                ops.append({"op": "insert", "table": "Port", "row": port, "uuid-name": p})
                added.append(["named-uuid", p])
            gone = [p for p in ports if p.name != "br0" and rng.random() < 0.2]
            mutations = []
            if added:
                mutations.append(["ports", "insert", ["set", added]])
            if gone:
                mutations.append(
                    ["ports", "delete", ["set", [["uuid", str(p.uuid)] for p in gone]]]
                )
            if mutations:
                where = [["_uuid", "==", ["uuid", str(bridge.uuid)]]]
                ops.append(
                    {"op": "mutate", "table": "Bridge", "where": where, "mutations": mutations}
                )
            for port_row in ports:
                if port_row.name != "br0" and rng.random() < 0.2:
                    # An optional scalar and a set, emptied as often as not.
                    change: dict[str, Any] = {"tag": ["set", rng.choice(([], [5], [6]))]}
                    if rng.random() < 0.5:
                        trunks = sorted(rng.sample(range(1, 6), rng.randrange(3)))
                        change["trunks"] = ["set", trunks]
                    where = [["_uuid", "==", ["uuid", str(port_row.uuid)]]]
                    ops.append({"op": "update", "table": "Port", "where": where, "row": change})
            for iface_row in ifaces:
                if rng.random() < 0.2:
                    update: dict[str, Any] = {
                        "external_ids": _rand_map(rng, "e"),
                        "mtu_request": ["set", rng.choice(([], [1400]))],
                    }
                    if rng.random() < 0.5:
                        # As ovs-vswitchd does after a plug (any client may).
                        update["ofport"] = ["set", rng.choice(([], [rng.randrange(1, 100)]))]
                    where = [["_uuid", "==", ["uuid", str(iface_row.uuid)]]]
                    ops.append(
                        {"op": "update", "table": "Interface", "where": where, "row": update}
                    )
            return ops
        chassis = list(writer.tables["Chassis"].rows.values())
        datapath = next(iter(writer.tables["Datapath_Binding"].rows.values()))
        if rng.random() < 0.3 or not chassis:
            encap = self._name("e")
            ops.append(
                {
                    "op": "insert",
                    "table": "Encap",
                    "row": {"type": "geneve", "ip": f"192.0.2.{self.count}", "chassis_name": encap},
                    "uuid-name": encap,
                }
            )
            row: dict[str, Any] = {"name": self._name("ch"), "encaps": ["named-uuid", encap]}
            if rng.random() < 0.5:
                row["hostname"] = rng.choice(("", "host"))
            if rng.random() < 0.5:
                row["other_config"] = _rand_map(rng, "c")
            ops.append({"op": "insert", "table": "Chassis", "row": row})
        for _ in range(rng.randrange(5)):
            binding: dict[str, Any] = {
                "logical_port": self._name("lsp"),
                "tunnel_key": 1000 + self.count,
                "datapath": ["uuid", str(datapath.uuid)],
            }
            if rng.random() < 0.6:
                binding["options"] = _rand_map(rng, "opt")
            if rng.random() < 0.4:
                binding["type"] = rng.choice(("", "localnet", "virtual"))
            if chassis and rng.random() < 0.5:
                binding["requested_chassis"] = ["uuid", str(rng.choice(chassis).uuid)]
            if rng.random() < 0.2:
                binding["mac"] = ["set", ["00:00:00:00:00:01 10.0.0.1"]]
            if rng.random() < 0.2:
                binding["up"] = rng.choice((True, False))
            ops.append({"op": "insert", "table": "Port_Binding", "row": binding})
        for pb in writer.tables["Port_Binding"].rows.values():
            where = [["_uuid", "==", ["uuid", str(pb.uuid)]]]
            dice = rng.random()
            if dice < 0.1:
                ops.append({"op": "delete", "table": "Port_Binding", "where": where})
            elif dice < 0.25:
                row = {"options": _rand_map(rng, "opt"), "up": ["set", rng.choice(([], [True]))]}
                if rng.random() < 0.5:
                    row["type"] = rng.choice(("", "localnet", "virtual"))
                if chassis and rng.random() < 0.5:
                    picked = [["uuid", str(rng.choice(chassis).uuid)]]
                    row["requested_chassis"] = ["set", rng.choice(([], picked))]
                ops.append({"op": "update", "table": "Port_Binding", "where": where, "row": row})
        return ops


def _seed_rows(db: str) -> list[dict[str, Any]]:
    """What exists before the observers connect."""
    if db == "Open_vSwitch":
        return [
            {
                "op": "insert",
                "table": "Interface",
                "row": {"name": "br0", "type": "internal"},
                "uuid-name": "i",
            },
            {
                "op": "insert",
                "table": "Port",
                "row": {"name": "br0", "interfaces": ["named-uuid", "i"]},
                "uuid-name": "p",
            },
            {
                "op": "insert",
                "table": "Bridge",
                "row": {"name": "br0", "ports": ["named-uuid", "p"]},
                "uuid-name": "b",
            },
            {"op": "insert", "table": "Open_vSwitch", "row": {"bridges": ["named-uuid", "b"]}},
        ]
    return [
        {"op": "insert", "table": "Datapath_Binding", "row": {"tunnel_key": 1}, "uuid-name": "dp"},
        {
            "op": "insert",
            "table": "Encap",
            "row": {"type": "geneve", "ip": "192.0.2.250", "chassis_name": "hv1"},
            "uuid-name": "e",
        },
        {
            "op": "insert",
            "table": "Chassis",
            "row": {"name": "hv1", "hostname": "hv1", "encaps": ["named-uuid", "e"]},
        },
        {
            "op": "insert",
            "table": "Port_Binding",
            "row": {
                "logical_port": "lsp0",
                "tunnel_key": 1,
                "datapath": ["named-uuid", "dp"],
                "options": ["map", [["requested-chassis", "hv1"]]],
            },
        },
    ]


# --- the databases ----------------------------------------------------------------------


def _helper(db: str) -> Any:
    return ovs.db.idl.SchemaHelper(location=str(DATABASES[db]))


@pytest.fixture(params=["fake", pytest.param("ovsdb-server", marks=pytest.mark.daemons)])
def make_idl(request: pytest.FixtureRequest) -> Iterator[Callable[[str, Any, bool], Any]]:
    """make_idl(db, helper, quick): an IDL (quick or stock) on this test's database *db*."""
    made: list[Any] = []
    fakes: dict[str, FakeDatabase] = {}

    def make(db: str, helper: Any, quick: bool) -> Any:
        if request.param == "fake":
            database = fakes.setdefault(db, FakeDatabase(DATABASES[db]))
            idl = (QuickFakeIdl if quick else FakeIdl)(database, helper)
        else:
            server: OvsdbServer = request.getfixturevalue("ovsdb_server")
            idl = (QuickInsertIdl if quick else ovs.db.idl.Idl)(server.remote, helper)
        made.append(idl)
        return idl

    yield make
    for idl in made:
        idl.close()


def _commit(writer: Any, ops: list[dict[str, Any]]) -> None:
    txn = ovs.db.idl.Transaction(writer)
    for op in ops:
        txn.add_op(op)
    status = txn.commit_block()
    assert status in ("success", "unchanged"), (status, txn.get_error(), ops)


def _clear(writer: Any, db: str) -> None:
    """Empty the database's tables that the workload writes (a real server is shared)."""
    roots = (
        ("Open_vSwitch", "Bridge")
        if db == "Open_vSwitch"
        else ("Port_Binding", "Chassis", "Encap", "Datapath_Binding", "SB_Global")
    )
    _commit(writer, [{"op": "delete", "table": t, "where": []} for t in roots])


@pytest.mark.parametrize("db", ["Open_vSwitch", "OVN_Southbound"])
@pytest.mark.parametrize("columns", ["all", "engine"])
@pytest.mark.parametrize("seed", SEEDS)
def test_quick_inserts_give_the_stock_rows_and_notices(
    make_idl: Any, db: str, columns: str, seed: int
) -> None:
    from ovn_vif import register_ovs_columns, register_sb_columns

    rng = random.Random(f"{db}-{columns}-{seed}")
    writer_helper = _helper(db)
    writer_helper.register_all()
    writer = make_idl(db, writer_helper, False)
    _run_until([writer], writer.has_ever_connected)
    _clear(writer, db)
    _commit(writer, _seed_rows(db))

    observers = []
    for quick in (False, True):
        helper = _helper(db)
        if columns == "all":
            helper.register_all()
        else:
            (register_ovs_columns if db == "Open_vSwitch" else register_sb_columns)(helper)
        observers.append(make_idl(db, helper, quick))
    stock, quick = observers
    seen = [_watch(idl) for idl in observers]
    workload = Workload(db, rng)
    # The quick IDL's reads go through a memo kept across the steps, as the
    # engine's are: a packed row's copy is reused only while it is exact.
    memo = RowMemo()

    def caught_up() -> bool:
        truth = _visible(writer)
        return all(
            idl.has_ever_connected()
            and _visible(idl)
            == {
                t: {
                    u: {c: v for c, v in row.items() if c in table.columns}
                    for u, row in truth[t].items()
                }
                for t, table in idl.tables.items()
            }
            for idl in observers
        )

    _run_until([writer, *observers], caught_up)
    for step in range(STEPS):
        ops = workload.ops(writer)
        if ops:
            _commit(writer, ops)
        _run_until([writer, *observers], caught_up)
        # The quick IDL keeps the rows of the big tables packed...
        for name, table in quick.tables.items():
            if name in PACKED_TABLES and PackedLayout.fits(table):
                assert all(packed_values(r) is not None for r in table.rows.values()), name
        if db == "OVN_Southbound":
            # The agent's own periodic readers (status aging, self-audit) see
            # the same, and leave the rows packed.
            assert lports_in_view(quick) == lports_in_view(stock), f"step {step}"
            for row in stock.tables["Chassis"].rows.values():
                assert view_rows(quick, row.uuid) == view_rows(stock, row.uuid), f"step {step}"
            assert all(
                packed_values(r) is not None for r in quick.tables["Port_Binding"].rows.values()
            )
        if columns == "engine":
            # ...and what the engine copies from each is the same (read packed).
            if db == "Open_vSwitch":
                assert read_ovs(quick, "br0", memo) == read_ovs(stock, "br0"), f"step {step}"
            else:
                assert read_sb(quick, "hv1", memo=memo) == read_sb(stock, "hv1"), f"step {step}"
            assert _row_views(quick, db) == _row_views(stock, db), f"step {step}"
        assert _state(quick) == _state(stock), f"step {step}"
        assert seen[1] == seen[0], f"step {step}"
        assert quick.change_seqno == stock.change_seqno, f"step {step}"
        # Attribute reads (which unpack a packed row until the next run()).
        assert _attributes(quick) == _attributes(stock), f"step {step}"
    assert any(event == "create" for event, *_ in seen[0])
    assert any(event == "delete" for event, *_ in seen[0])
    assert any(event == "update" for event, *_ in seen[0])


def test_transactions_write_packed_rows(make_idl: Any) -> None:
    """A transaction on the quick IDL's own packed rows (a write, a verify, a
    mutation, a delete) commits what the stock IDL would, and the rows it
    touched are packed again, without their transaction dicts, once it is
    over."""
    from ovn_vif import register_ovs_columns

    helper = _helper("Open_vSwitch")
    helper.register_all()
    writer = make_idl("Open_vSwitch", helper, False)
    _run_until([writer], writer.has_ever_connected)
    _clear(writer, "Open_vSwitch")
    ops: list[dict[str, Any]] = []
    for i in range(3):
        ops.append(
            {
                "op": "insert",
                "table": "Interface",
                "row": {"name": f"i{i}", "external_ids": ["map", [["iface-id", f"lsp{i}"]]]},
                "uuid-name": f"i{i}",
            }
        )
        ops.append(
            {
                "op": "insert",
                "table": "Port",
                "row": {"name": f"i{i}", "interfaces": ["named-uuid", f"i{i}"]},
                "uuid-name": f"p{i}",
            }
        )
    ports = ["set", [["named-uuid", f"p{i}"] for i in range(3)]]
    ops.append({"op": "insert", "table": "Bridge", "row": {"name": "br0", "ports": ports}})
    ops[-1]["uuid-name"] = "b"
    ops.append({"op": "insert", "table": "Open_vSwitch", "row": {"bridges": ["named-uuid", "b"]}})
    _commit(writer, ops)
    helper = _helper("Open_vSwitch")
    register_ovs_columns(helper)
    quick = make_idl("Open_vSwitch", helper, True)

    def named(idl: Any, name: str) -> Any:
        for row in idl.tables["Interface"].rows.values():
            if rows.column(row, "name", None) == name:
                return row
        return None

    _run_until([writer, quick], lambda: named(quick, "i2") is not None)
    touched = [named(quick, f"i{i}") for i in range(3)]
    assert all(packed_values(row) is not None for row in touched)
    assert all("_changes" not in row.__dict__ for row in touched)

    txn = ovs.db.idl.Transaction(quick)
    touched[0].verify("external_ids")
    touched[0].external_ids = {"iface-id": "lsp0", "ovn-plugged": "dummy"}
    touched[1].setkey("options", "k", "v")
    # The third goes with its Port (both packed), off the bridge (not packed).
    port = next(
        p for p in quick.tables["Port"].rows.values() if rows.column(p, "name", None) == "i2"
    )
    bridge = next(iter(quick.tables["Bridge"].rows.values()))
    bridge.delvalue("ports", port)
    port.delete()
    touched[2].delete()
    status = txn.commit_block()
    assert status == "success", txn.get_error()

    def caught_up() -> bool:
        first, second = named(writer, "i0"), named(writer, "i1")
        return (
            named(quick, "i2") is None
            and named(writer, "i2") is None
            and first is not None
            and first.external_ids.get("ovn-plugged") == "dummy"
            and second is not None
            and second.options == {"k": "v"}
            and quick.tables["Interface"].rows[touched[0].uuid].external_ids
            == {"iface-id": "lsp0", "ovn-plugged": "dummy"}
            and quick.tables["Interface"].rows[touched[1].uuid].options == {"k": "v"}
        )

    _run_until([writer, quick], caught_up)
    quick.run()
    for row in touched[:2]:
        assert packed_values(row) is not None
        assert not any(name in row.__dict__ for name in ("_data", "_changes", "_prereqs"))
    assert rows.read_iface(touched[1]).options == {"k": "v"}
