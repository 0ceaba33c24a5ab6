"""The transaction executor of the in-memory OVSDB server, with its integrity checks.

:class:`Executor` runs the operations of one ``transact`` request (``insert``,
``select``, ``update``, ``mutate``, ``delete``, ``wait``, ``comment``,
``assert``, ``abort``, ``commit``) on a copy of the tables, then applies the
rules ``ovsdb-server`` applies at commit: clearing of weak references, garbage
collection of unreferenced rows in non-root tables, referential integrity of
strong references, the columns' size constraints, ``maxRows`` and uniqueness of
the schema's indexes.  It also compiles conditions (for ``where`` clauses and
monitor conditions).  It knows nothing of sessions, monitors or locks: the
server (:mod:`ovn_vif._memdb.server`) hands it the committed tables and a test
for lock ownership and publishes what it returns.
"""

from __future__ import annotations

import json
import math
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import ovs.db.data
import ovs.db.error
import ovs.db.schema
import ovs.db.types
import ovs.json

ZERO_UUID: Final = str(uuid.UUID(int=0))
_NO_SYMBOL: Final = "\0ovn-vif-no-symbol"

Row = dict[str, Any]  # column name -> ovs.db.data.Datum
Tables = dict[str, dict[uuid.UUID, Row]]


class _OpError(Exception):
    def __init__(self, tag: str, details: str, syntax: Any = None) -> None:
        super().__init__(details)
        self.tag = tag
        self.details = details
        self.syntax = syntax

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.syntax is not None:
            # As ovsdb-server writes it: keys sorted, non-ASCII text as is.
            out["syntax"] = json.dumps(
                self.syntax, sort_keys=True, ensure_ascii=False, separators=(",", ":")
            )
        out["details"] = self.details
        out["error"] = self.tag
        return out

    @classmethod
    def from_ovs(cls, e: Any) -> _OpError:
        # The Python library words some messages differently from ovsdb-server.
        msg = str(e.msg).replace("must have 1 to 1 members", "must have exactly one member")
        # "unlimited" is UINT_MAX in ovsdb-server.
        msg = msg.replace(f" to {sys.maxsize} members", " to 4294967295 members")
        enum = _ENUM_MESSAGE.match(msg)
        if enum:
            value = _c_requote(enum.group(1))
            allowed = ", ".join(_c_requote(v) for v in enum.group(2).split(", "))
            msg = f"{value} is not one of the allowed values ([{allowed}])"
        return cls(str(e.tag), msg, e.json if e.tag == "syntax error" else None)


_ENUM_MESSAGE: Final = re.compile(r"^(.*) is not one of the allowed values \(\[(.*)\]\)$", re.S)
_UUID_TEXT: Final = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_C_BARE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def c_string(text: str) -> str:
    """A string as ovsdb-server prints it in messages: bare when it is an
    identifier-like ASCII word (digits allowed after the first character) other
    than ``true``, ``false`` or a UUID, else quoted like JSON."""
    if _C_BARE.match(text) and text not in ("true", "false") and not _UUID_TEXT.match(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _c_requote(rendered: str) -> str:
    """Re-render one atom printed by ``ovs.db.data.Atom.to_string``."""
    if rendered.startswith('"'):
        try:
            return c_string(json.loads(rendered))
        except ValueError:
            return rendered
    if rendered and (rendered[0].isalpha() or rendered[0] == "_"):
        return c_string(rendered)
    return rendered


def _check_atom_json(base: Any, value: Any) -> None:
    # ovs.db.data reads a JSON true/false as the integer 1/0 (bool is an int in
    # Python); ovsdb-server refuses it.
    if isinstance(value, bool) and base.type in (ovs.db.types.IntegerType, ovs.db.types.RealType):
        raise _OpError("syntax error", f"expected {base.type.to_string()}", value)


def parse_atom(base: Any, value: Any, symtab: Any = None) -> Any:
    """``ovs.db.data.Atom.from_json``, as strict as ovsdb-server."""
    _check_atom_json(base, value)
    return ovs.db.data.Atom.from_json(base, value, symtab)


#: A UTF-16 surrogate: a str holding one alone cannot be encoded as UTF-8.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
#: What ovsdb-server accepts as an ``uuid-name`` or a lock name (``OP_ID``).
_ID: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_id(value: object) -> bool:
    """Whether *value* is an OVSDB ``<id>`` (``uuid-name``, lock names)."""
    return isinstance(value, str) and _ID.match(value) is not None


def _utf8_error(text: str) -> _OpError:
    # ovsdb-server reads the string as UTF-8: a lone surrogate is 0xed and a
    # second byte it refuses, and it names those two bytes.
    found = _SURROGATE.search(text)
    assert found is not None
    second = 0x80 | ((ord(found.group()) >> 6) & 0x3F)
    return _OpError(
        "constraint violation",
        f"not a valid UTF-8 string: invalid UTF-8 sequence 0xed 0x{second:02x}",
    )


def _atoms_json(type_: Any, value: Any) -> tuple[int, list[tuple[Any, Any]]] | None:
    """``(members, [(base type, atom JSON), ...])`` in the order ovsdb-server
    parses them, or ``None`` when *value* is not shaped as a datum."""
    if isinstance(value, list) and len(value) == 2 and value[0] in ("set", "map"):
        if not isinstance(value[1], list):
            return None
        atoms: list[tuple[Any, Any]] = []
        for member in value[1]:
            if value[0] == "map":
                if not (isinstance(member, list) and len(member) == 2) or type_.value is None:
                    return len(value[1]), atoms
                atoms += [(type_.key, member[0]), (type_.value, member[1])]
            else:
                atoms.append((type_.key, member))
        return len(value[1]), atoms
    return 1, [(type_.key, value)]


def _first_invalid_utf8(type_: Any, value: Any, symtab: Any, failed: bool) -> _OpError | None:
    """The UTF-8 error ovsdb-server reports for *value*, if a string atom holds a
    lone surrogate before anything else it refuses. *failed*: whether
    ``Datum.from_json`` refused *value* (then only atoms before the one it
    refused count)."""
    shaped = _atoms_json(type_, value)
    if shaped is None:
        return None
    members, atoms = shaped
    if failed and not type_.n_min <= members <= type_.n_max:
        return None  # the member count is checked before any atom
    for base, atom in atoms:
        # Per atom, as ovsdb-server checks constraints: an enum first (its
        # error quotes the value), then UTF-8, then the length.
        if (
            base.type == ovs.db.types.StringType
            and isinstance(atom, str)
            and base.enum is None
            and _SURROGATE.search(atom)
        ):
            return _utf8_error(atom)
        if failed:
            try:
                parse_atom(base, atom, symtab)
            except Exception:
                return None
    return None


def parse_datum(type_: Any, value: Any, symtab: Any = None) -> Any:
    """``ovs.db.data.Datum.from_json``, as strict as ovsdb-server."""
    strings = type_.key.type == ovs.db.types.StringType or (
        type_.value is not None and type_.value.type == ovs.db.types.StringType
    )
    try:
        datum = _parse_datum(type_, value, symtab)
    except Exception:
        bad = _first_invalid_utf8(type_, value, symtab, True) if strings else None
        if bad is not None:
            raise bad from None
        raise
    if strings:
        bad = _first_invalid_utf8(type_, value, symtab, False)
        if bad is not None:
            raise bad
    return datum


def _parse_datum(type_: Any, value: Any, symtab: Any) -> Any:
    if isinstance(value, list) and len(value) == 2 and value[0] in ("set", "map"):
        members = value[1] if isinstance(value[1], list) else []
        for member in members:
            if value[0] == "map" and isinstance(member, list) and len(member) == 2:
                _check_atom_json(type_.key, member[0])
                if type_.value is not None:
                    _check_atom_json(type_.value, member[1])
            elif value[0] == "set":
                _check_atom_json(type_.key, member)
    elif not type_.is_map():  # a map takes only ["map", ...]
        _check_atom_json(type_.key, value)
    return ovs.db.data.Datum.from_json(type_, value, symtab)


def c_datum_string(datum: Any) -> str:
    """``datum`` as ovsdb-server's ``ovsdb_datum_to_string`` prints it."""

    def atom(a: Any) -> str:
        if isinstance(a.value, str):
            return c_string(a.value)
        return str(a.to_string())

    type_ = datum.type
    parts = [
        atom(k) if v is None or type_.value is None else f"{atom(k)}={atom(v)}"
        for k, v in sorted(datum.values.items())
    ]
    text = ", ".join(parts)
    if type_.n_max > 1 or not datum.values:
        return f"[{text}]" if type_.value is None else f"{{{text}}}"
    return text


def relaxed(type_: Any) -> Any:
    return ovs.db.types.Type(type_.key, type_.value, 0, sys.maxsize)


_UUID_COLUMN_TYPE: Final = ovs.db.types.Type(ovs.db.types.BaseType(ovs.db.types.UuidType))


def _divide(a: Any, b: Any) -> Any:
    """C division: integers round toward zero."""
    if isinstance(a, int):
        q = abs(a) // abs(b)
        return q if (a < 0) == (b < 0) else -q
    return a / b


def _modulo(a: int, b: int) -> int:
    """C remainder: takes the sign of the dividend."""
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def _type_mismatch(mutator: str, column: str, type_: Any, syntax: Any) -> _OpError:
    return _OpError(
        "syntax error",
        f'Type mismatch: "{mutator}" operator may not be applied to column {column} of '
        f"type {english(type_)}.",
        syntax,
    )


def english(type_: Any) -> str:
    """A column type in the words ovsdb-server uses in its errors."""
    key = type_.key.type.to_string()
    if type_.n_min == 1 and type_.n_max == 1 and type_.value is None:
        return str(key)
    out = "set" if type_.value is None else "map"
    if type_.n_max == sys.maxsize:
        out += f" of {type_.n_min} or more" if type_.n_min else " of"
    elif type_.n_min:
        out += f" of {type_.n_min} to {type_.n_max}"
    else:
        out += f" of up to {type_.n_max}"
    if type_.value is None:
        return f"{out} {key}s"
    return f"{out} ({key}, {type_.value.type.to_string()}) pairs"


_COMPARISONS: Final[dict[str, Any]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

_ARITHMETIC: Final[dict[str, Any]] = {
    "+=": lambda a, b: a + b,
    "-=": lambda a, b: a - b,
    "*=": lambda a, b: a * b,
    "/=": _divide,
    "%=": _modulo,
}
_FUNCTIONS: Final = ("==", "!=", "includes", "excludes", "<", "<=", ">", ">=")
_MUTATORS: Final = ("+=", "-=", "*=", "/=", "%=", "insert", "delete")


def default_datum(type_: Any) -> Any:
    """The column default (``ovs.db.data.Datum.default`` nests Atoms, which breaks to_json)."""
    if type_.n_min == 0:
        return ovs.db.data.Datum(type_, {})
    key = ovs.db.data.Atom(type_.key.type, type_.key.type.default)
    value = None
    if type_.value is not None:
        value = ovs.db.data.Atom(type_.value.type, type_.value.type.default)
    return ovs.db.data.Datum(type_, {key: value})


def is_default(datum: Any) -> bool:
    return bool(datum.values == default_datum(datum.type).values)


def _row_key(row: Mapping[str, Any]) -> str:
    return json.dumps({c: d.to_json() for c, d in row.items()}, sort_keys=True)


def _op_columns(table: Any, op: Any) -> Any:
    """A ``select``'s or ``wait``'s ``columns`` (default: every column,
    ``_uuid`` and ``_version`` too), each checked as ovsdb-server does."""
    columns = op.get("columns")
    if columns is None:
        columns = ["_uuid", "_version", *table.columns]
    for name in columns:
        if not isinstance(name, str) or not (
            name in table.columns or name in ("_uuid", "_version")
        ):
            raise _OpError("syntax error", f"{name} is not a valid column name", columns)
    return columns


class _ParseError(Exception):
    """An operation ovsdb-server cannot parse (reported with the operation's position)."""


class Executor:
    """Runs transactions against one database schema.

    ``new_uuid`` gives the UUID of each row inserted without one.
    """

    def __init__(self, schema: Any, new_uuid: Callable[[], uuid.UUID]) -> None:
        self.schema = schema
        self._new_uuid = new_uuid
        self._base: Tables = {}
        #: ``_version`` of every row: a new UUID each time a commit changes the row.
        self.versions: dict[uuid.UUID, uuid.UUID] = {}
        self._ref_cache: dict[tuple[str, str], list[tuple[str, Any, list[Any]]]] = {}
        # Every column's default Datum, built once: rows share them (Datums in rows
        # are never changed in place; writes put new Datums in a new row dict).
        self.default_rows: dict[str, Row] = {
            name: {c: default_datum(col.type) for c, col in table.columns.items()}
            for name, table in schema.tables.items()
        }

    def _table(self, name: str) -> Any:
        try:
            return self.schema.tables[name]
        except KeyError:
            raise _OpError("unknown table", f"No table named {name}.") from None

    def execute(
        self, tables: Tables, ops: Sequence[Any], holds_lock: Callable[[str], bool]
    ) -> tuple[list[Any], Tables | None]:
        """Run one transaction on ``tables`` (not changed); returns the results and the
        tables after commit, or ``None`` when the transaction failed."""
        self._base = tables
        self._deleted: dict[str, set[uuid.UUID]] = {}
        work: Tables = {t: dict(rows) for t, rows in tables.items()}
        touched: set[tuple[str, uuid.UUID]] = set()
        inserted: list[tuple[str, uuid.UUID]] = []
        symtab: dict[str, uuid.UUID] = {_NO_SYMBOL: uuid.UUID(int=0)}
        for op in ops:
            if isinstance(op, dict) and op.get("op") == "insert" and is_id(op.get("uuid-name")):
                symtab[op["uuid-name"]] = (
                    uuid.UUID(op["uuid"]) if "uuid" in op else self._new_uuid()
                )
        results: list[Any] = []
        for i, op in enumerate(ops):
            try:
                try:
                    result = self._op(
                        op, work, symtab, holds_lock=holds_lock, touched=touched, inserted=inserted
                    )
                except _ParseError as e:
                    raise _OpError(
                        "syntax error",
                        f"Parsing ovsdb operation {i + 1} of {len(ops)} failed: {e}",
                        op,
                    ) from None
                results.append(result)
            except _OpError as e:
                results.append(e.json())
                results.extend([None] * (len(ops) - i - 1))
                return results, None
            except ovs.db.error.Error as e:
                results.append(_OpError.from_ovs(e).json())
                results.extend([None] * (len(ops) - i - 1))
                return results, None
        try:
            self._commit_checks(work, touched, inserted)
        except _OpError as e:
            results.append(e.json())
            return results, None
        for table_name, rows in work.items():
            old = tables[table_name]
            for u, row in rows.items():
                if old.get(u) is not row:
                    self.versions[u] = uuid.uuid4()
            for u in old:
                if u not in rows:
                    self.versions.pop(u, None)
        return results, work

    def _op(
        self,
        op: Any,
        work: Tables,
        symtab: dict[str, uuid.UUID],
        *,
        holds_lock: Callable[[str], bool],
        touched: set[tuple[str, uuid.UUID]],
        inserted: list[tuple[str, uuid.UUID]],
    ) -> Any:
        if not isinstance(op, dict) or "op" not in op:
            raise _OpError("syntax error", "operation is not a JSON object", op)
        kind = op["op"]
        if kind == "comment":
            return {}
        if kind == "commit":
            return {}
        if kind == "abort":
            raise _OpError("aborted", "aborted by request")
        if kind == "assert":
            if "lock" not in op:
                raise _ParseError("Required 'lock' member is missing.")
            if not is_id(op["lock"]):
                raise _ParseError("Type mismatch for member 'lock'.")
            if not holds_lock(op["lock"]):
                raise _OpError("not owner", f"Asserted lock {op['lock']} not held.")
            return {}
        if kind not in ("insert", "select", "update", "mutate", "delete", "wait"):
            if not is_id(kind):
                raise _ParseError("Type mismatch for member 'op'.")
            raise _ParseError(f'No operation "{kind}"')
        if "table" not in op:
            raise _ParseError("Required 'table' member is missing.")
        if not is_id(op["table"]):
            raise _ParseError("Type mismatch for member 'table'.")
        if op["table"] not in self.schema.tables:
            raise _ParseError(f"No table named {op['table']}.")
        table = self.schema.tables[op["table"]]
        rows = work[table.name]
        if kind == "insert":
            if "uuid-name" in op and not is_id(op["uuid-name"]):
                raise _ParseError("Type mismatch for member 'uuid-name'.")
            if "uuid-name" in op:
                new_uuid = symtab[op["uuid-name"]]
            elif "uuid" in op:
                new_uuid = uuid.UUID(op["uuid"])
            else:
                new_uuid = self._new_uuid()
            values = self._parse_row(table, op.get("row", {}), symtab, insert=True)
            if new_uuid in rows or new_uuid in self._deleted.get(table.name, ()):
                raise _OpError(
                    "duplicate uuid",
                    "This UUID would duplicate a UUID already present within the table or "
                    "deleted within the same transaction.",
                    op.get("uuid", op.get("uuid-name")),
                )
            row = dict(self.default_rows[table.name])
            row.update(values)
            self._check_defaults(table, values)
            rows[new_uuid] = row
            touched.add((table.name, new_uuid))
            inserted.append((table.name, new_uuid))
            return {"uuid": ["uuid", str(new_uuid)]}
        if kind == "update":
            changes = self._parse_row(table, op.get("row", {}), symtab, insert=False, op=op)
        elif kind == "mutate":
            mutations = self._parse_mutations(table, op.get("mutations"), symtab)
        if "where" not in op:
            raise _ParseError("Required 'where' member is missing.")
        matches = self._matches(table, rows, op["where"], symtab)
        if kind == "select":
            columns = _op_columns(table, op)
            # Distinct rows, as ovsdb-server answers: rows equal in every
            # selected column are one row of the reply.
            selected: dict[str, Any] = {}
            for u in matches:
                row_json = self._select_json(table, u, rows[u], columns)
                selected.setdefault(json.dumps(row_json, sort_keys=True), row_json)
            return {"rows": list(selected.values())}
        if kind == "update":
            for u in matches:
                rows[u] = {**rows[u], **changes}
                touched.add((table.name, u))
            return {"count": len(matches)}
        if kind == "mutate":
            for u in matches:
                rows[u] = self._mutate(rows[u], mutations)
                touched.add((table.name, u))
            return {"count": len(matches)}
        if kind == "delete":
            for u in matches:
                del rows[u]
                self._deleted.setdefault(table.name, set()).add(u)
            return {"count": len(matches)}
        if kind == "wait":
            return self._wait(table, rows, matches, op)
        raise AssertionError(kind)

    def _check_defaults(self, table: Any, given: Row) -> None:
        """Omitted columns get their defaults, which must meet the column's constraints."""
        for name, column in table.columns.items():
            if name in given:
                continue
            for atom, value in self.default_rows[table.name][name].values.items():
                atom.check_constraints(column.type.key)
                if value is not None:
                    value.check_constraints(column.type.value)

    def _parse_row(
        self,
        table: Any,
        row_json: Mapping[str, Any],
        symtab: dict[str, uuid.UUID],
        *,
        insert: bool,
        op: Any = None,
    ) -> Row:
        out: Row = {}
        for name, value in row_json.items():
            # As ovsdb-server: the value is parsed first; an insert ignores _uuid
            # and _version, an update may not set them or an immutable column.
            internal = name in ("_uuid", "_version")
            column = table.columns.get(name)
            if column is None and not internal:
                raise _OpError(
                    "unknown column", f"No column {name} in table {table.name}.", row_json
                )
            datum = parse_datum(_UUID_COLUMN_TYPE if internal else column.type, value, symtab)
            if insert and internal:
                continue
            if internal or (not insert and not column.mutable):
                raise _OpError(
                    "constraint violation",
                    f"Cannot update immutable column {name} in table {table.name}.",
                    op,
                )
            out[name] = datum
        return out

    def _column_type(self, table: Any, name: str) -> Any:
        if name in ("_uuid", "_version"):
            return _UUID_COLUMN_TYPE
        column = table.columns.get(name)
        if column is None:
            raise _OpError("syntax error", f"{name} is not a valid column name")
        return column.type

    def _value(self, table: Any, row_uuid: uuid.UUID, row: Row, name: str) -> Any:
        if name == "_uuid":
            return ovs.db.data.Datum.from_python(_UUID_COLUMN_TYPE, row_uuid, lambda x: x)
        if name == "_version":
            version = self.versions.get(row_uuid, uuid.UUID(int=0))
            return ovs.db.data.Datum.from_python(_UUID_COLUMN_TYPE, version, lambda x: x)
        return row[name]

    def _matches(
        self,
        table: Any,
        rows: dict[uuid.UUID, Row],
        where: Sequence[Any],
        symtab: dict[str, uuid.UUID] | None,
    ) -> list[uuid.UUID]:
        """UUIDs of ``rows`` matching every clause of ``where`` (a transaction's where)."""
        tests = [self.compile(table, clause, symtab) for clause in where]
        candidates: Sequence[uuid.UUID] = list(rows)
        for clause in where:  # the IDL's usual "_uuid == X": a lookup, not a scan
            if isinstance(clause, list) and clause[:2] == ["_uuid", "=="]:
                arg = parse_datum(_UUID_COLUMN_TYPE, clause[2], symtab)
                candidates = [k.value for k in arg.values if k.value in rows]
                break
        return [u for u in candidates if all(test(u, rows[u]) for test in tests)]

    def compile(
        self, table: Any, clause: Any, symtab: dict[str, uuid.UUID] | None
    ) -> Callable[[uuid.UUID, Row], bool]:
        """Parse one condition clause once; returns a test for ``(row uuid, row)``."""
        if clause is True or clause is False:
            return lambda _u, _r: bool(clause)
        if not isinstance(clause, list) or len(clause) != 3:
            raise _OpError("syntax error", "Parsing condition failed", clause)
        name, function, arg_json = clause
        if not isinstance(name, str) or not isinstance(function, str):
            raise _OpError("syntax error", "Parsing condition failed", clause)
        if name not in table.columns and name not in ("_uuid", "_version"):
            raise _OpError("unknown column", f"No column {name} in table {table.name}.", clause)
        type_ = self._column_type(table, name)
        if function not in _FUNCTIONS:
            raise _OpError("unknown function", f"No function named {function}.")
        scalar = type_.value is None and type_.n_max == 1
        if function in _COMPARISONS:
            if not scalar or type_.key.type not in (
                ovs.db.types.IntegerType,
                ovs.db.types.RealType,
            ):
                raise _OpError(
                    "syntax error",
                    f'Type mismatch: "{function}" operator may not be applied to column '
                    f"{name} of type {english(type_)}.",
                    clause,
                )
            type_ = ovs.db.types.Type(type_.key)  # exactly one value to compare with
        elif function in ("includes", "excludes") and not (type_.n_min == 1 and scalar):
            # Any subset may be asked for; "excludes" takes any number of values.
            n_max = sys.maxsize if function == "excludes" else type_.n_max
            type_ = ovs.db.types.Type(type_.key, type_.value, 0, n_max)
        arg = parse_datum(type_, arg_json, symtab).values

        def value(u: uuid.UUID, row: Row) -> Any:
            if name == "_uuid":
                return {ovs.db.data.Atom(ovs.db.types.UuidType, u): None}
            return row[name].values

        if function == "==":
            return lambda u, row: bool(value(u, row) == arg)
        if function == "!=":
            return lambda u, row: bool(value(u, row) != arg)
        if function in ("includes", "excludes"):
            want = function == "includes"

            def contains(u: uuid.UUID, row: Row) -> bool:
                values = value(u, row)
                hits = [k in values and values[k] == v for k, v in arg.items()]
                return all(hits) if want else not any(hits)

            return contains
        if function in ("<", "<=", ">", ">="):
            compare = _COMPARISONS[function]
            bound = next(iter(arg)).value if arg else None

            def ordered(u: uuid.UUID, row: Row) -> bool:
                values = value(u, row)
                if not values or bound is None:
                    return False
                return bool(compare(next(iter(values)).value, bound))

            return ordered
        raise AssertionError(function)

    def _select_json(
        self, table: Any, row_uuid: uuid.UUID, row: Row, columns: Sequence[str]
    ) -> Any:
        out: dict[str, Any] = {}
        for name in columns:
            out[name] = self._value(table, row_uuid, row, name).to_json()
        return out

    def _wait(
        self, table: Any, rows: dict[uuid.UUID, Row], matches: list[uuid.UUID], op: Any
    ) -> Any:
        """As ovsdb-server: ``columns`` (default: every column, ``_uuid`` and
        ``_version`` too) checked, then each of ``rows`` parsed with its columns'
        full types (sizes and constraints; a column it omits has its default);
        the rows that match ``where`` and the expected ones are compared as sets
        of distinct values of ``columns``."""
        columns = _op_columns(table, op)
        expected = set()
        for row_json in op.get("rows", []):
            given = {}
            for name, value in row_json.items():
                if name not in table.columns and name not in ("_uuid", "_version"):
                    raise _OpError(
                        "unknown column", f"No column {name} in table {table.name}.", row_json
                    )
                given[name] = parse_datum(self._column_type(table, name), value)
            expected.add(
                _row_key(
                    {
                        c: given[c] if c in given else default_datum(self._column_type(table, c))
                        for c in columns
                    }
                )
            )
        actual = {
            _row_key({c: self._value(table, u, rows[u], c) for c in columns}) for u in matches
        }
        if (actual == expected) == (op.get("until", "==") == "=="):
            return {}
        raise _OpError("timed out", '"where" clause test failed')

    def _parse_mutations(
        self, table: Any, mutations: Any, symtab: dict[str, uuid.UUID]
    ) -> list[tuple[str, Any, str, Any]]:
        """Check and parse every mutation (before any row is looked at, as ovsdb-server does)."""
        if not isinstance(mutations, list):
            raise _OpError("syntax error", "array expected", mutations)
        parsed = []
        for mutation in mutations:
            if (
                not isinstance(mutation, list)
                or len(mutation) != 3
                or not isinstance(mutation[0], str)
                or not isinstance(mutation[1], str)
            ):
                raise _OpError("syntax error", "Parse error in mutation.", mutation)
            name, mutator, arg_json = mutation
            column = table.columns.get(name)
            if column is None:
                raise _OpError(
                    "unknown column", f"No column {name} in table {table.name}.", mutation
                )
            if not column.mutable:
                raise _OpError(
                    "constraint violation",
                    f"Cannot mutate immutable column {name} in table {table.name}.",
                    mutation,
                )
            if mutator not in _MUTATORS:
                raise _OpError("unknown mutator", f"No mutator named {mutator}.")
            type_ = column.type
            is_set_or_scalar = type_.value is None
            if mutator in _ARITHMETIC:
                key = type_.key.type
                if not is_set_or_scalar or not (
                    key == ovs.db.types.IntegerType
                    or (key == ovs.db.types.RealType and mutator != "%=")
                ):
                    raise _type_mismatch(mutator, name, type_, mutation)
                arg: Any = parse_atom(type_.key.without_constraints(), arg_json, symtab)
            else:
                if is_set_or_scalar and type_.n_min == 1 and type_.n_max == 1:
                    raise _type_mismatch(mutator, name, type_, mutation)
                n_max = type_.n_max if mutator == "insert" else sys.maxsize
                arg_type = ovs.db.types.Type(type_.key, type_.value, 0, n_max)
                try:
                    arg = parse_datum(arg_type, arg_json, symtab)
                except (ovs.db.error.Error, _OpError):
                    # A map's "delete" takes a map or a set of keys: when both
                    # fail, ovsdb-server reports the second error.
                    if not (type_.is_map() and mutator == "delete"):
                        raise
                    arg_type = ovs.db.types.Type(type_.key, None, 0, n_max)
                    arg = parse_datum(arg_type, arg_json, symtab)
            parsed.append((name, column, mutator, arg))
        return parsed

    def _mutate(self, row: Row, mutations: list[tuple[str, Any, str, Any]]) -> Row:
        new = dict(row)
        for name, column, mutator, arg in mutations:
            type_ = column.type
            datum = new[name].copy()
            values = datum.values
            if mutator in _ARITHMETIC:
                updated = {}
                for k, v in values.items():
                    if mutator in ("/=", "%=") and arg.value == 0:  # checked per element
                        raise _OpError("domain error", "Division by zero.")
                    res = _ARITHMETIC[mutator](k.value, arg.value)
                    if (isinstance(res, int) and not -(2**63) <= res < 2**63) or (
                        isinstance(res, float) and not math.isfinite(res)
                    ):
                        raise _OpError(
                            "range error", f'Result of "{mutator}" operation is out of range.'
                        )
                    new_atom = ovs.db.data.Atom(type_.key.type, res)
                    new_atom.check_constraints(type_.key)
                    if new_atom in updated:
                        raise _OpError(
                            "constraint violation",
                            f'Result of "{mutator}" operation contains duplicates.',
                        )
                    updated[new_atom] = v
                datum = ovs.db.data.Datum(type_, updated)
            elif arg.type.value is not None:  # a map argument
                for k, v in arg.values.items():
                    if mutator == "insert":
                        values.setdefault(k, v)
                    elif k in values and values[k] == v:
                        del values[k]
            else:
                for k in arg.values:
                    if mutator == "insert":
                        values.setdefault(k, None)
                    else:
                        values.pop(k, None)
            n = len(datum.values)
            if n < type_.n_min or n > type_.n_max:
                raise _OpError(
                    "constraint violation",
                    f"Attempted to store {n} elements in {english(type_)}.",
                )
            new[name] = datum
        return new

    # ------------------------------------------------------------ commit rules
    def _refs(self, type_: Any) -> Iterator[tuple[str, Any]]:
        for part in ("key", "value"):
            base = getattr(type_, part)
            if base is not None and base.is_ref():
                yield part, base

    def _ref_columns(self, table_name: str, strength: str) -> list[tuple[str, Any, list[Any]]]:
        """``(column name, column, [(part, base)...])`` of the columns holding refs of
        ``strength`` (``"strong"``/``"weak"``) in ``table_name`` (cached)."""
        key = (table_name, strength)
        cached = self._ref_cache.get(key)
        if cached is None:
            cached = []
            for name, column in self.schema.tables[table_name].columns.items():
                refs = [(p, b) for p, b in self._refs(column.type) if b.ref_type == strength]
                if refs:
                    cached.append((name, column, refs))
            self._ref_cache[key] = cached
        return cached

    def _clear_weak_refs(
        self, work: Tables, table_name: str, row_uuid: uuid.UUID, touched: set[Any]
    ) -> bool:
        rows = work[table_name]
        row = rows[row_uuid]
        changed = False
        for col_name, column, refs in self._ref_columns(table_name, "weak"):
            datum = row[col_name]
            keep = {
                k: v
                for k, v in datum.values.items()
                if all(
                    (k if part == "key" else v).value in work[base.ref_table_name]
                    for part, base in refs
                )
            }
            if len(keep) != len(datum.values):
                row = {**row, col_name: ovs.db.data.Datum(column.type, keep)}
                rows[row_uuid] = row
                touched.add((table_name, row_uuid))
                changed = True
        return changed

    def _commit_checks(
        self,
        work: Tables,
        touched: set[tuple[str, uuid.UUID]],
        inserted: list[tuple[str, uuid.UUID]],
    ) -> None:
        base = self._base
        tables = self.schema.tables
        # ovsdb-server checks the strong references of every row the operations
        # wrote before it collects garbage: an unreferenced row (collected
        # afterwards) that points at a missing row still fails the transaction.
        # A row deleted by this transaction still counts as a target here: a
        # reference to it makes the delete fail ("cannot delete"), counted
        # before garbage collection, also from rows that would be collected.
        gone = {
            t: {u for u in uuids if u in base.get(t, ())}
            for t, uuids in self._deleted.items()
            if any(u in base.get(t, ()) for u in uuids)
        }
        for table_name, row_uuid in sorted(touched, key=str):
            row = work[table_name].get(row_uuid)
            if row is None:
                continue
            for col_name, _column, refs in self._ref_columns(table_name, "strong"):
                for k, v in row[col_name].values.items():
                    for part, ref_base in refs:
                        target = (k if part == "key" else v).value
                        ref_table = ref_base.ref_table_name
                        if target not in work[ref_table] and target not in gone.get(ref_table, ()):
                            raise _OpError(
                                "referential integrity violation",
                                f"Table {table_name} column {col_name} row {row_uuid} "
                                f"references nonexistent row {target} in table "
                                f"{ref_table}.",
                            )
        if gone:
            counts: dict[tuple[str, uuid.UUID], int] = {}
            for table_name, rows in work.items():
                pointing = [
                    (col_name, part, str(b.ref_table_name))
                    for col_name, _column, refs in self._ref_columns(table_name, "strong")
                    for part, b in refs
                    if b.ref_table_name in gone
                ]
                if not pointing:
                    continue
                for row in rows.values():
                    for col_name, part, ref_table in pointing:
                        for k, v in row[col_name].values.items():
                            key = (ref_table, (k if part == "key" else v).value)
                            counts[key] = counts.get(key, 0) + 1
            for table_name in sorted(gone):
                for row_uuid in sorted(gone[table_name], key=str):
                    n = counts.get((table_name, row_uuid), 0)
                    if n:
                        raise _OpError(
                            "referential integrity violation",
                            f"cannot delete {table_name} row {row_uuid} because of "
                            f"{n} remaining reference(s)",
                        )
        # Weak references to rows that do not exist vanish, unreferenced rows of
        # non-root tables are collected; repeat until nothing changes.  Full scans
        # only when a deletion or a non-root row makes them necessary.
        while True:
            changed = False
            deleted_tables = {t for t in base if any(u not in work[t] for u in base[t])}
            deleted_tables |= {t for t, u in inserted if u not in work[t]}
            for table_name in work:
                if not self._ref_columns(table_name, "weak"):
                    continue
                targets = {
                    b.ref_table_name
                    for _c, _col, refs in self._ref_columns(table_name, "weak")
                    for _p, b in refs
                }
                if targets & deleted_tables:
                    candidates = list(work[table_name])
                else:
                    candidates = [u for t, u in touched if t == table_name and u in work[t]]
                for row_uuid in candidates:
                    changed |= self._clear_weak_refs(work, table_name, row_uuid, touched)
            needs_gc = bool(deleted_tables) or any(
                not tables[t].is_root
                or any(
                    not tables[b.ref_table_name].is_root
                    for _c, _col, refs in self._ref_columns(t, "strong")
                    for _p, b in refs
                )
                for t, _u in touched
            )
            if needs_gc:
                referenced: set[uuid.UUID] = set()
                for table_name, rows in work.items():
                    strong = self._ref_columns(table_name, "strong")
                    for row in rows.values():
                        for col_name, _column, refs in strong:
                            for k, v in row[col_name].values.items():
                                for part, _base in refs:
                                    referenced.add((k if part == "key" else v).value)
                for table_name, rows in work.items():
                    if tables[table_name].is_root:
                        continue
                    for row_uuid in [u for u in rows if u not in referenced]:
                        del rows[row_uuid]
                        changed = True
            if not changed:
                break
        deleted_tables = {t for t in base if any(u not in work[t] for u in base[t])}
        # Strong references: every row written must point at existing rows, and
        # a deleted row must not be referenced any more.
        for table_name, rows in work.items():
            strong = self._ref_columns(table_name, "strong")
            if not strong:
                continue
            points_at_deleted = any(
                b.ref_table_name in deleted_tables for _c, _col, refs in strong for _p, b in refs
            )
            if points_at_deleted:
                candidates = list(rows)
            else:
                candidates = [u for t, u in touched if t == table_name and u in rows]
            for row_uuid in candidates:
                row = rows[row_uuid]
                for col_name, _column, refs in strong:
                    for k, v in row[col_name].values.items():
                        for part, ref_base in refs:
                            target = (k if part == "key" else v).value
                            if target in work[ref_base.ref_table_name]:
                                continue
                            if (table_name, row_uuid) in touched:
                                raise _OpError(
                                    "referential integrity violation",
                                    f"Table {table_name} column {col_name} row {row_uuid} "
                                    f"references nonexistent row {target} in table "
                                    f"{ref_base.ref_table_name}.",
                                )
                            n = sum(
                                1
                                for r in rows.values()
                                for kk, vv in r[col_name].values.items()
                                if (kk if part == "key" else vv).value == target
                            )
                            raise _OpError(
                                "referential integrity violation",
                                f"cannot delete {ref_base.ref_table_name} row {target} because "
                                f"of {n} remaining reference(s)",
                            )
        for table_name, row_uuid in sorted(touched, key=str):
            written = work[table_name].get(row_uuid)
            if written is None:
                continue
            for col_name, column in tables[table_name].columns.items():
                n_values = len(written[col_name].values)
                if n_values < column.type.n_min or n_values > column.type.n_max:
                    raise _OpError(
                        "constraint violation",
                        f"Column {col_name} in table {table_name} row {row_uuid} has "
                        f"{n_values} values after deletion of weak references to "
                        f"missing rows, but it must have between {column.type.n_min} "
                        f"and {column.type.n_max} values.",
                    )
        written_tables = sorted({t for t, _u in touched} | {t for t, _u in inserted})
        # ovsdb-server checks maxRows of every table before any index.
        for table_name in written_tables:
            table, rows = tables[table_name], work[table_name]
            if len(rows) > table.max_rows:
                raise _OpError(
                    "constraint violation",
                    f'transaction causes "{table_name}" table to contain {len(rows)} rows, '
                    f"greater than the schema-defined limit of {table.max_rows} row(s)",
                )
        for table_name in written_tables:
            self._check_indexes(tables[table_name], work[table_name], touched, inserted)

    def _check_indexes(
        self,
        table: Any,
        rows: dict[uuid.UUID, Row],
        touched: set[tuple[str, uuid.UUID]],
        inserted: list[tuple[str, uuid.UUID]],
    ) -> None:
        # ovsdb-server names a modified row first, then an untouched one, then
        # inserted rows in the order they were inserted.
        if not table.indexes:
            return
        insert_order: dict[uuid.UUID, int] = {}
        for t, u in inserted:
            if t == table.name:
                insert_order.setdefault(u, len(insert_order))
        old_rows = self._base[table.name]

        def modified(u: uuid.UUID) -> bool:
            return (table.name, u) in touched and u in old_rows and old_rows[u] != rows[u]

        def order(u: uuid.UUID) -> tuple[int, int]:
            position = insert_order.get(u)
            if position is not None:
                return (2, position)
            return (0, 0) if modified(u) else (1, 0)

        def describe(u: uuid.UUID, names: list[str]) -> str:
            if u in insert_order:
                return "was inserted by this transaction"
            if modified(u):
                if all(old_rows[u][n] == rows[u][n] for n in names):
                    return (
                        "existed in the database before this transaction, which modified some "
                        "of the row's columns but not any columns in this index"
                    )
                before = " and ".join(c_datum_string(old_rows[u][n]) for n in names)
                return f"had the following index values before the transaction: {before}"
            return (
                "existed in the database before this transaction and was not modified by the "
                "transaction"
            )

        ordered = sorted(rows, key=order)
        for index in table.indexes:
            names = [c.name for c in index]
            seen: dict[tuple[frozenset[Any], ...], uuid.UUID] = {}
            for u in ordered:
                key = tuple(frozenset(rows[u][n].values.items()) for n in names)
                if key not in seen:
                    seen[key] = u
                    continue
                first = seen[key]
                values = " and ".join(c_datum_string(rows[u][n]) for n in names)
                cols = (
                    f'column "{names[0]}"'
                    if len(names) == 1
                    else "columns " + " and ".join(f'"{n}"' for n in names)
                )
                raise _OpError(
                    "constraint violation",
                    f'Transaction causes multiple rows in "{table.name}" table to have '
                    f"identical values ({values}) for index on {cols}.  First row, with UUID "
                    f"{first}, {describe(first, names)}.  Second row, with UUID {u}, "
                    f"{describe(u, names)}.",
                )
