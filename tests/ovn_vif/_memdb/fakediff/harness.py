"""Differential fuzzer: the same random steps on FakeDatabase and on a real ovsdb-server.

Each side has, per database (``Open_vSwitch`` and ``OVN_Southbound``), a raw
JSON-RPC client (``transact`` requests as written) and several real
``ovs.db.idl.Idl`` clients: one monitoring everything, one a column subset, one
with conditional monitoring, two sharing a lock.  A *step* is plain JSON data
(so a run can be replayed, shrunk and printed); after every step the harness
waits until every client of that database has processed all updates, then
compares what each client can observe: the step's reply or commit status and
error, every client's rows, its ``notify()`` events, how much its
``change_seqno`` moved, and its lock state.

Rows are inserted with explicit UUIDs (``"uuid"`` in raw inserts,
``persist_uuid`` in IDL inserts), so both sides hold the same UUIDs and
everything compares directly.  Steps are generated from the fake side's
state; a run is deterministic for its seed.

Things the real server decides by hash order are normalised before comparing
(see :func:`normalise`): ``_version`` values (random on the real server) are
compared as "present".
"""

from __future__ import annotations

import copy
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import ovs.db.data
import ovs.db.idl
import ovs.db.types
import ovs.json
import ovs.jsonrpc
import ovs.poller
import ovs.stream

from ovn_vif.sandbox import DATABASES, OvsdbServer, SandboxDir
from ovn_vif.testing import FakeDatabase, FakeIdl, FakeSession

Step = dict[str, Any]

ROOTS = {"Open_vSwitch": "Open_vSwitch", "OVN_Southbound": "SB_Global"}
ROOT_UUIDS = {
    "Open_vSwitch": "00000000-0000-4000-8000-00000000f001",
    "OVN_Southbound": "00000000-0000-4000-8000-00000000f002",
}
#: Tables the generator writes to (clients may monitor more).
TABLES = {
    "Open_vSwitch": ["Open_vSwitch", "Bridge", "Port", "Interface", "Mirror"],
    "OVN_Southbound": [
        "SB_Global",
        "Chassis",
        "Chassis_Private",
        "Encap",
        "Datapath_Binding",
        "Port_Binding",
        "HA_Chassis_Group",
        "HA_Chassis",
    ],
}
#: (name, registered columns per table or None for all, condition per table, lock)
CLIENTS: dict[str, list[tuple[str, dict[str, list[str]] | None, dict[str, Any], str | None]]] = {
    "Open_vSwitch": [
        ("full", None, {}, None),
        (
            "cols",
            {
                "Open_vSwitch": ["bridges", "external_ids"],
                "Bridge": ["name", "ports"],
                "Port": ["name", "interfaces", "tag"],
                "Interface": ["name", "type", "mtu_request"],
            },
            {},
            None,
        ),
        ("cond", None, {"Interface": [["type", "==", "internal"]]}, None),
        ("lockA", {"Bridge": ["name"], "Port": ["name"]}, {}, "fuzz_ovs"),
        ("lockB", {"Bridge": ["name"], "Port": ["name"]}, {}, "fuzz_ovs"),
        (
            "update2",
            {
                "Bridge": ["name", "ports", "external_ids"],
                "Port": ["name", "interfaces", "tag"],
                "Interface": ["name", "type", "mtu_request"],
            },
            {"Interface": [["type", "!=", "internal"]]},
            None,
        ),
    ],
    "OVN_Southbound": [
        ("full", None, {}, None),
        (
            "cols",
            {
                "Chassis": ["name", "encaps"],
                "Encap": ["type", "ip"],
                "Port_Binding": ["logical_port", "requested_chassis", "tunnel_key"],
                "Datapath_Binding": ["tunnel_key"],
            },
            {},
            None,
        ),
        ("cond", None, {"Port_Binding": [["tunnel_key", "<=", 3]]}, None),
        ("lockA", {"Chassis": ["name"], "Port_Binding": ["logical_port"]}, {}, "fuzz_sb"),
        ("lockB", {"Chassis": ["name"], "Port_Binding": ["logical_port"]}, {}, "fuzz_sb"),
        (
            "update2",
            {
                "Chassis": ["name", "encaps", "other_config"],
                "Encap": ["type", "ip"],
                "Port_Binding": ["logical_port", "tunnel_key", "options"],
            },
            {"Port_Binding": [["tunnel_key", ">=", 2]]},
            None,
        ),
    ],
}
#: Clients that ask for an older monitor method from the start, as an IDL does
#: after falling back from one the server does not know ("unknown method").
#: Not the oldest, "monitor": python-ovs 4.0's IDL never leaves
#: IDL_S_SERVER_MONITOR_REQUESTED after asking for it (its monitor_map sends
#: Monitor.monitor there), on a real server as on the fake.
METHODS = {"update2": ovs.db.idl.Monitor.monitor_cond}

#: Lock names: ovsdb-server's locks are server-wide, a FakeDatabase's belong to one
#: database, so each database's clients use their own name.
LOCKS = {"Open_vSwitch": "fuzz_ovs", "OVN_Southbound": "fuzz_sb"}
STRINGS = ["", "a", "lsp1", "lsp2", "hv1", "geneve", "x" * 300, "ünïcödé ☃", "internal"]
#: Strings that are not valid UTF-8 text once on the wire, or that JSON text
#: cannot carry as written: a low surrogate alone (at the start, inside, at the
#: end), a high one alone, a NUL; and a surrogate pair, which is fine.
BAD_STRINGS = ["\udfff", "x\udc00y", "lsp\ude00", "\ud800", "a\x00b", "\ud83d\ude00"]
#: Texts that are not an OVSDB <id> (what uuid-name and lock names must be).
NOT_IDS = ["a b", "1st", "a-b", "", "row\udfff"]
INTS = [-7, -1, 0, 1, 2, 3, 7, 42, 4095, 32767, 2**63 - 1, -(2**63)]
REALS = [0.0, 1.5, -2.25]


class _Recorder:
    """Mixin: notify() calls as [event, table, uuid, changed columns]; the
    monitor method asked for first (``fuzz_method``, default the newest)."""

    fuzz_method: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[Any] = []

    def _Idl__send_monitor_request(self, max_version: Any = None) -> Any:
        if max_version is None:  # not a fallback the IDL chose: our method
            max_version = self.fuzz_method or ovs.db.idl.Monitor.monitor_cond_since
        return ovs.db.idl.Idl._Idl__send_monitor_request(self, max_version)

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        self.events.append(
            [event, row._table.name, str(row.uuid), sorted(updates._data) if updates else None]
        )


class RealClient(_Recorder, ovs.db.idl.Idl):  # type: ignore[misc]
    pass


class FakeClient(_Recorder, FakeIdl):
    pass


def _run_until(idl: Any, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run ``idl`` until ``cond()``; the poller wakes on the client's own events.

    ``timeout`` is a safety net for a harness bug: every caller waits for
    something the server always answers (a reply, an update, a lock grant).
    """
    deadline = time.monotonic() + timeout
    while True:
        idl.run()
        if cond():
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("client did not settle")
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(max(1, int(remaining * 1000)))
        poller.block()


def _run_all_until(idls: list[Any], cond: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while True:
        for idl in idls:
            idl.run()
        remaining = deadline - time.monotonic()
        if cond() or remaining <= 0:
            return
        poller = ovs.poller.Poller()
        for idl in idls:
            idl.wait(poller)
        poller.timer_wait(max(1, int(remaining * 1000)))
        poller.block()


def _monitoring(idl: Any) -> bool:
    return bool(
        idl._session.is_connected()
        and idl.state == idl.IDL_S_MONITORING
        and idl._lock_request_id is None
    )


_MONITOR_REQUESTED = (
    ovs.db.idl.Idl.IDL_S_DATA_MONITOR_REQUESTED,
    ovs.db.idl.Idl.IDL_S_DATA_MONITOR_COND_REQUESTED,
    ovs.db.idl.Idl.IDL_S_DATA_MONITOR_COND_SINCE_REQUESTED,
)


def _monitor_refused(idl: Any) -> bool:
    """The server answered the client's monitor request with an error (a refused
    condition still pending when it reconnected): it stays so until it reconnects."""
    return bool(
        idl._session.is_connected()
        and idl.state in _MONITOR_REQUESTED
        and idl._request_id is None
        and idl._lock_request_id is None
    )


def _conditions_answered(idl: Any) -> bool:
    """Every condition change the client made was sent and answered (acked or not)."""
    if _monitor_refused(idl):
        return True
    return (
        _monitoring(idl)
        and not idl.cond_changed
        and idl._request_id is None
        and all(t.condition_state.new is None for t in idl.tables.values())
    )


def _acked(idl: Any) -> bool:
    return _monitoring(idl) and all(
        t.condition_state.new is None and t.condition_state.requested is None
        for t in idl.tables.values()
    )


#: The longest any wait may take. Every wait is for an event the server always
#: sends (a reply, an update, a lock grant), so this is only reached by a harness
#: bug; a client whose monitor request was refused is seen at once
#: (:func:`_monitor_refused`), not timed out.
WAIT_LIMIT = 30.0


def settle(idl: Any, stuck: set[int] | None = None) -> bool:
    """Barrier: the client has processed everything the server sent before now.

    False (and no barrier) if the client is not monitoring because the server
    refused its monitor request: ``stuck`` remembers such clients, so later steps
    do not wait for them again.
    """
    if stuck is not None and id(idl) in stuck:
        idl.run()
        if not _monitoring(idl):
            return False
        stuck.discard(id(idl))
    _run_until(idl, lambda: _monitoring(idl) or _monitor_refused(idl), timeout=WAIT_LIMIT)
    if not _monitoring(idl):
        if stuck is None:
            raise RuntimeError(f"{idl.fuzz_name}: the server refused its monitor request")
        stuck.add(id(idl))
        return False
    lock, idl.lock_name = idl.lock_name, None
    try:
        txn = ovs.db.idl.Transaction(idl)
        txn.add_op({"op": "comment", "comment": "settle"})
        status = txn.commit_block()
    finally:
        idl.lock_name = lock
    if status == ovs.db.idl.Transaction.TRY_AGAIN:  # connection dropped meanwhile
        return settle(idl, stuck)
    return True


class Raw:
    """A raw JSON-RPC client: ``transact`` as written, reply as received."""

    def __init__(self, side: Side, db: str) -> None:
        self.side, self.db = side, db
        self._conn: Any = None
        self._fake: FakeSession | None = None

    def request(self, method: str, params: list[Any]) -> Any:
        req = ovs.jsonrpc.Message.create_request(method, params)
        if self.side.fake:
            if self._fake is None:
                self._fake = FakeSession(self.side.databases[self.db])
            self._fake.send(req)
            reply = self._fake.recv()
            if reply is None:  # the server dropped the connection
                self._fake.close()
                self._fake = None
                return "disconnected"
        else:
            if self._conn is None:
                err, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(self.side.remote))
                assert not err, err
                self._conn = ovs.jsonrpc.Connection(stream)
            err, reply = self._conn.transact_block(req)
            if err:
                self._conn.close()
                self._conn = None
                return "disconnected"
        if reply.type == ovs.jsonrpc.Message.T_ERROR:
            return {"rpc-error": reply.error}
        return reply.result

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._fake is not None:
            self._fake.close()


_SCHEMAS: dict[str, dict[str, Any]] = {}


def _schema_json(db: str) -> dict[str, Any]:
    """The installed schema of ``db``, read once (by ``ovs.json``, as the IDL reads it)."""
    if db not in _SCHEMAS:
        loaded = ovs.json.from_file(str(DATABASES[db]))
        assert isinstance(loaded, dict), loaded
        _SCHEMAS[db] = loaded
    return _SCHEMAS[db]


def _fingerprint(idl: Any) -> tuple[Any, ...]:
    """What a step can change of a client besides the rows it sees: its connection,
    lock and conditions. A client whose fingerprint is the one it had when new is as
    good as a new one once the databases are emptied."""
    return (
        idl._session.get_seqno(),
        idl.has_lock,
        idl.is_lock_contended,
        idl.cond_changed,
        tuple(
            (name, json.dumps(list(t.condition_state))) for name, t in sorted(idl.tables.items())
        ),
    )


class Side:
    """One backend: databases, and per database a raw client and the IDL clients.

    The databases, connections and clients live across seeds: :meth:`reset`
    empties the databases and replaces only the clients a step changed (a
    reconnect, a condition, a lock hand-over), so a seed starts from the same
    observable state as with new ones, without the cost of connecting them.
    """

    def __init__(self, fake: bool, remote: str = "") -> None:
        self.fake = fake
        self.remote = remote
        self.databases: dict[str, FakeDatabase] = {}
        self.raw: dict[str, Raw] = {}
        self.clients: dict[str, list[Any]] = {}
        self.seqnos: dict[int, int] = {}
        self.stuck: set[int] = set()
        self.fresh: dict[int, tuple[Any, ...]] = {}
        #: Clients built, for the statistics (``-v``).
        self.built = 0

    def reset(self) -> None:
        """Databases holding only the root row; clients as if new."""
        for db, root in ROOTS.items():
            if self.fake and db not in self.databases:
                self.databases[db] = FakeDatabase(_schema_json(db))
            if self.fake:
                # The UUIDs it picks depend on the seed's steps only (replayable).
                self.databases[db]._uuid_counter = 1
            if db not in self.raw:
                self.raw[db] = Raw(self, db)
            ops: list[Any] = [
                {"op": "delete", "table": t, "where": []} for t in _schema_json(db)["tables"]
            ]
            insert = {"op": "insert", "table": root, "uuid": ROOT_UUIDS[db], "row": {}}
            for request in (ops, [insert]):
                result = self.raw[db].request("transact", [db, *request])
                assert isinstance(result, list), result
                assert all("error" not in r for r in result), result
            self._renew_clients(db)
            for idl in self.clients[db]:
                settle(idl)
                idl.events.clear()
                self.seqnos[id(idl)] = idl.change_seqno
        self.stuck = set()

    def _renew_clients(self, db: str) -> None:
        specs = CLIENTS[db]
        clients = self.clients.setdefault(db, [None] * len(specs))
        for i, idl in enumerate(clients):
            if idl is not None and id(idl) not in self.stuck:
                self._restore_conditions(idl, specs[i][2])
        dirty = {
            i
            for i, idl in enumerate(clients)
            if idl is None or id(idl) in self.stuck or _fingerprint(idl) != self.fresh[id(idl)]
        }
        # The lock's clients are replaced together, in order, so the first holds it.
        locking = [i for i, spec in enumerate(specs) if spec[3]]
        if dirty & set(locking):
            dirty |= set(locking)
        for i in sorted(dirty):
            old = clients[i]
            if old is not None:
                old.close()
                self.fresh.pop(id(old), None)
        for i in sorted(dirty):
            idl = clients[i] = self._client(db, *specs[i])
            settle(idl)
            if specs[i][3] and i == locking[0]:
                # The server hands the lock over when it sees the old holder gone.

                def has_lock(idl: Any = idl) -> bool:
                    return bool(idl.has_lock)

                _run_until(idl, has_lock, timeout=WAIT_LIMIT)
            self.fresh[id(idl)] = _fingerprint(idl)

    @staticmethod
    def _restore_conditions(idl: Any, initial: dict[str, Any]) -> None:
        """Put back the client's first conditions, if its monitor still takes changes."""
        if not _acked(idl) or idl._request_id is not None:
            return  # a refused change broke the monitor: the client is replaced
        for name, table in idl.tables.items():
            want = initial.get(name, [True])
            if table.condition_state.acked != want:
                idl.cond_change(name, want)
        if idl.cond_changed:
            _run_until(idl, lambda: _conditions_answered(idl), timeout=WAIT_LIMIT)

    def _client(
        self,
        db: str,
        name: str,
        cols: dict[str, list[str]] | None,
        cond: dict[str, Any],
        lock: str | None,
    ) -> Any:
        self.built += 1
        helper = ovs.db.idl.SchemaHelper(schema_json=json.loads(json.dumps(_schema_json(db))))
        if cols is None:
            helper.register_all()
        else:
            for t, c in cols.items():
                helper.register_columns(t, c)
        if self.fake:
            idl = FakeClient(self.databases[db], helper)
        else:
            idl = RealClient(self.remote, helper)
        idl.fuzz_name = name
        idl.fuzz_method = METHODS.get(name)
        for t, c in cond.items():
            idl.cond_change(t, c)
        if lock:
            idl.set_lock(lock)
        return idl

    def close(self) -> None:
        for clients in self.clients.values():
            for idl in clients:
                if idl is not None:
                    idl.close()
        for raw in self.raw.values():
            raw.close()
        self.clients, self.raw, self.fresh = {}, {}, {}


# ---------------------------------------------------------------- observation
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: Errors whose details name rows in the server's hash order (which missing row a
#: reference points at, which two rows share index values): UUIDs are masked.
HASH_ORDER_ERRORS = ("referential integrity violation", "constraint violation")


_REF_DETAILS = re.compile(
    r"^Table \S+ column \S+ row <uuid> references nonexistent row <uuid> in table \S+\.$"
)
_INDEX_DETAILS = re.compile(r"^(.*?)  First row, (with UUID <uuid>, .*?)  Second row, (.*)$", re.S)


def _stable_details(details: str) -> str:
    details = _UUID_RE.sub("<uuid>", details)
    if _REF_DETAILS.match(details):
        # Which of several bad references is reported first is hash order.
        return "Table <t> column <c> row <uuid> references nonexistent row <uuid> in table <t>."
    index = _INDEX_DETAILS.match(details)
    if index:  # the two rows are named in hash order
        first, second = sorted([index.group(2), index.group(3).rstrip(".") + "."])
        return f"{index.group(1)}  Rows: {first} | {second}"
    return details


def normalise(value: Any) -> Any:
    """What is compared of a reply: ``_version`` values only as present; what
    errors say in hash order (see :func:`_stable_details`) made order-free."""
    if isinstance(value, dict):
        if value.get("error") in HASH_ORDER_ERRORS and isinstance(value.get("details"), str):
            value = {**value, "details": _stable_details(value["details"])}
        out = {k: ("<version>" if k == "_version" else normalise(v)) for k, v in value.items()}
        if isinstance(out.get("rows"), list) and len(value) == 1:
            # A select's rows come in the server's hash order.
            out["rows"] = sorted(out["rows"], key=lambda r: json.dumps(r, sort_keys=True))
        return out
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def _row_view(row: Any) -> dict[str, Any]:
    return {c: d.to_json() for c, d in sorted(row._data.items())}


def observe_clients(side: Side, db: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for idl in side.clients[db]:
        monitoring = settle(idl, side.stuck)
        rows = {
            name: {
                str(u): _row_view(r) for u, r in sorted(table.rows.items(), key=lambda x: str(x[0]))
            }
            for name, table in sorted(idl.tables.items())
        }
        seq = idl.change_seqno - side.seqnos[id(idl)]
        side.seqnos[id(idl)] = idl.change_seqno
        out[idl.fuzz_name] = {
            "rows": {t: r for t, r in rows.items() if r},
            "events": sorted(idl.events, key=json.dumps),
            "change_seqno moved": seq > 0,
            "monitoring": monitoring,
            "has_lock": idl.has_lock,
            "last_id": str(idl.last_id),
            "is_lock_contended": idl.is_lock_contended,
        }
        idl.events.clear()
    return out


# ----------------------------------------------------------------- execution
def _python(column_type: Any, value_json: Any) -> Any:
    datum = ovs.db.data.Datum.from_json(column_type, value_json)
    return datum.to_python(lambda value, _base: value)


def _idl_txn(idl: Any, acts: list[Any]) -> Any:
    txn = ovs.db.idl.Transaction(idl)
    try:
        _stage(idl, txn, acts)
    except BaseException:
        txn.abort()
        raise
    return txn


def _stage(idl: Any, txn: Any, acts: list[Any]) -> None:
    for act in acts:
        kind = act[0]
        if kind == "addop":
            txn.add_op(act[1])
            continue
        table = idl.tables.get(act[1])
        if table is None:
            continue
        if kind == "insert":
            u, values = act[2], act[3]
            persist = len(act) < 5
            row = txn.insert(table, new_uuid=uuid.UUID(u), persist_uuid=persist)
            for c, v in values.items():
                if c in table.columns:
                    setattr(row, c, _python(table.columns[c].type, v))
            continue
        row = table.rows.get(uuid.UUID(act[2]))
        if row is None:
            continue
        if kind == "delete":
            row.delete()
        elif act[3] not in table.columns:
            continue
        elif kind == "set":
            setattr(row, act[3], _python(table.columns[act[3]].type, act[4]))
        elif kind == "verify":
            row.verify(act[3])
        elif kind == "setkey":
            row.setkey(act[3], act[4], act[5])
        elif kind == "delkey":
            row.delkey(act[3], act[4])
        elif kind == "addvalue":
            row.addvalue(act[3], act[4])
        elif kind == "delvalue":
            row.delvalue(act[3], act[4])
        elif kind == "increment":
            row.increment(act[3])


def _finish(txn: Any) -> dict[str, Any]:
    """``commit_block()``, bounded: a server that died never answers."""
    deadline = time.monotonic() + WAIT_LIMIT
    while (status := txn.commit()) == txn.INCOMPLETE:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            txn.abort()
            return {"status": "no answer (is the server alive?)"}
        txn.idl.run()
        poller = ovs.poller.Poller()
        txn.idl.wait(poller)
        txn.wait(poller)
        poller.timer_wait(max(1, int(remaining * 1000)))
        poller.block()
    error = txn.get_error()
    with suppress(ValueError):
        error = json.loads(error) if error else error
    answer: dict[str, Any] = normalise({"status": status, "error": error})
    return answer


def execute(side: Side, step: Step) -> dict[str, Any]:
    """Apply ``step`` on ``side``; returns what a client observes."""
    db, kind = step["db"], step["k"]
    clients = side.clients[db]
    result: Any = None
    assigned: list[Any] = []  # UUIDs the server picked, in step order
    if kind == "raw":
        result = side.raw[db].request("transact", [db, *step["ops"]])
        for i, op in enumerate(step["ops"]):
            if op.get("op") == "insert" and "uuid" not in op:
                reply = result[i] if isinstance(result, list) and i < len(result) else None
                assigned.append(reply["uuid"][1] if reply and "uuid" in reply else None)
    elif kind == "idl":
        idl = clients[step["c"]]
        txn = _idl_txn(idl, step["acts"])
        result = _finish(txn)
        for act in step["acts"]:
            if act[0] == "insert" and len(act) > 4:
                real_uuid = txn.get_insert_uuid(uuid.UUID(act[2]))
                assigned.append(str(real_uuid) if real_uuid else None)
    elif kind == "race":  # a verifies and writes from a stale cache while b commits
        a, b = clients[step["a"]], clients[step["b"]]
        txn_a = _idl_txn(a, step["acts_a"])
        try:
            first = _finish(_idl_txn(b, step["acts_b"]))
        except BaseException:
            txn_a.abort()  # an open transaction would stop a's run()
            raise
        result = [first, _finish(txn_a)]
    elif kind == "cond":
        idl = clients[step["c"]]
        # Would the server take this condition?  Ask it on the raw connection (a
        # select with it as "where"), so a refused one is not waited for.
        where = step["cond"] or [False]
        check = side.raw[db].request(
            "transact", [db, {"op": "select", "table": step["table"], "where": where}]
        )
        refused = not isinstance(check, list) or any("error" in r for r in check if r)
        idl.cond_change(step["table"], step["cond"])
        if refused or id(idl) in side.stuck:
            result = {"refused": refused}
        else:
            # Until the server answered the change (an ack, or an error for a
            # monitor it no longer knows after an earlier refusal).
            _run_until(idl, lambda: _conditions_answered(idl), timeout=WAIT_LIMIT)
            result = "acked" if _acked(idl) else "condition never acked"
    elif kind == "reconnect":
        idl = clients[step["c"]]
        idl.force_reconnect()
        side.stuck.discard(id(idl))
        result = "ok"
        if idl.lock_name:
            # The server hands the lock on when it notices the old connection is
            # gone, which a barrier on another connection does not wait for.
            holders = [c for c in clients if c.lock_name == idl.lock_name]
            _run_all_until(holders, lambda: any(c.has_lock for c in holders))
    elif kind == "lock":
        idl = clients[step["c"]]
        idl.set_lock(step["name"])
        result = "ok"
    return {"result": normalise(result), "clients": observe_clients(side, db), "assigned": assigned}


# ----------------------------------------------------------------- generation
@dataclass
class Generator:
    rng: random.Random
    fake: Side
    invalid: float = 0.15
    counter: int = 0
    schemas: dict[str, Any] = field(default_factory=dict)
    #: UUIDs given to inserts of the step being generated.
    step_uuids: list[str] = field(default_factory=list)
    #: No BAD_STRINGS now (a monitor condition with one: the client
    #: reconnects and sends it again, for ever, on either server).
    clean_strings: bool = False

    def __post_init__(self) -> None:
        self.schemas = {db: d.schema for db, d in self.fake.databases.items()}

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def existing(self, db: str, table: str) -> list[str]:
        return sorted(str(u) for u in self.fake.databases[db].rows(table))

    def insert_uuid(self, db: str, idl_table: str | None = None) -> str:
        """A UUID for an insert: mostly new; else one that collides, with a row
        of any table of the database or with an earlier insert of this step.

        For an IDL insert (*idl_table*), only with rows of other tables: the
        Python IDL keeps a transaction's rows by UUID alone, so two inserts
        of one UUID in one transaction, or one over a row of its own
        replica, break the client itself, whatever the server says."""
        rng = self.rng
        if rng.random() < self.invalid:
            tables = [t for t in sorted(self.schemas[db].tables) if t != idl_table]
            choices = [u for t in tables for u in self.existing(db, t)]
            if idl_table is None:
                choices += self.step_uuids
            if choices:
                return rng.choice(choices)
        new = self.uuid()
        self.step_uuids.append(new)
        return new

    def bad_string(self) -> str:
        return self.rng.choice(BAD_STRINGS)

    def atom(self, db: str, base: Any) -> Any:
        rng = self.rng
        t = base.type
        if t == ovs.db.types.IntegerType:
            lo, hi = base.min, base.max
            choices = list(INTS)
            if lo is not None or hi is not None:
                lo2 = lo if lo is not None else -10
                hi2 = hi if hi is not None else lo2 + 10
                choices = [lo2, hi2, rng.randint(lo2, min(hi2, lo2 + 5))] * 3 + choices
            return rng.choice(choices)
        if t == ovs.db.types.RealType:
            return rng.choice(REALS)
        if t == ovs.db.types.BooleanType:
            return rng.random() < 0.5
        if t == ovs.db.types.StringType:
            if rng.random() < self.invalid / 4 and not self.clean_strings:
                return rng.choice(BAD_STRINGS)
            if base.enum is not None and rng.random() > self.invalid:
                return rng.choice(sorted(a.value for a in base.enum.values))
            return rng.choice(STRINGS)
        if base.ref_table_name:
            rows = self.existing(db, base.ref_table_name)
            if rows and rng.random() > self.invalid:
                return ["uuid", rng.choice(rows)]
        return ["uuid", self.uuid()]

    def datum(self, db: str, type_: Any) -> Any:
        rng = self.rng
        hi = min(type_.n_max, 3)
        n = rng.randint(type_.n_min, max(hi, type_.n_min))
        if rng.random() < self.invalid / 3:
            n = type_.n_max + 1 if type_.n_max < 5 else 0
        if type_.is_map():
            pairs = {}
            for _ in range(n):
                k = self.atom(db, type_.key)
                pairs[json.dumps(k)] = [k, self.atom(db, type_.value)]
            return ["map", list(pairs.values())]
        atoms = {json.dumps(a): a for a in (self.atom(db, type_.key) for _ in range(n))}
        if n == 1 and type_.n_max == 1 and rng.random() < 0.7:
            return next(iter(atoms.values()))
        return ["set", list(atoms.values())]

    def row(self, db: str, table: Any, k: int, *, insert: bool = True) -> dict[str, Any]:
        """Values for ``k`` random columns, at most one of them refused.

        ovsdb-server checks a row's columns in the hash order of their names, so
        which of two bad columns it names is not something to compare.
        """
        cols = sorted(c for c in table.columns)
        picks = self.rng.sample(cols, min(k, len(cols)))
        out: dict[str, Any] = {}
        refused = False
        for c in picks:
            for _attempt in range(5):
                value = self.datum(db, table.columns[c].type)
                if not self._refused(db, table, c, value, insert):
                    out[c] = value
                    break
                if not refused:
                    out[c], refused = value, True
                    break
        return out

    def _refused(self, db: str, table: Any, column: str, value: Any, insert: bool) -> bool:
        executor = self.fake.databases[db]._executor
        try:
            executor._parse_row(table, {column: value}, {}, insert=insert)
        except Exception:
            return True
        return False

    def condition(self, db: str, table: Any, *, monitor: bool = False) -> Any:
        """A clause for a ``where`` or, with ``monitor``, a monitor condition.

        Monitor conditions leave out ``_uuid``: ovsdb-server 3.1 exits when a
        row is inserted into a table that a client monitoring every table
        watches with ``["_uuid", "==", ...]`` (docs/testing.rst); and
        :data:`BAD_STRINGS` (see :attr:`clean_strings`).
        """
        self.clean_strings = monitor
        try:
            return self._condition(db, table, monitor=monitor)
        finally:
            self.clean_strings = False

    def _condition(self, db: str, table: Any, *, monitor: bool) -> Any:
        rng = self.rng
        if rng.random() < 0.05:
            return rng.choice([True, False])
        col = rng.choice([*sorted(table.columns), *([] if monitor else ["_uuid"])])
        func = rng.choice(["==", "!=", "includes", "excludes", "<", "<=", ">", ">="])
        if col == "_uuid":
            rows = self.existing(db, table.name)
            arg: Any = ["uuid", rng.choice(rows) if rows else self.uuid()]
            if rng.random() < 0.7:
                func = "=="
        else:
            type_ = table.columns[col].type
            if rng.random() < self.invalid:
                arg = rng.choice(["x", 1, ["set", [1, 2]], True])
            elif func in ("includes", "excludes", "==", "!=") and not (
                type_.n_min == 1 and type_.n_max == 1
            ):
                arg = self.datum(db, ovs.db.types.Type(type_.key, type_.value, 0, type_.n_max))
            else:
                arg = self.atom(db, type_.key)
        return [col, func, arg]

    def where(self, db: str, table: Any) -> list[Any]:
        rows = self.existing(db, table.name)
        if rows and self.rng.random() < 0.7:
            return [["_uuid", "==", ["uuid", self.rng.choice(rows)]]]
        return [self.condition(db, table) for _ in range(self.rng.randint(0, 2))]

    def mutation(self, db: str, table: Any) -> list[Any]:
        rng = self.rng
        col = rng.choice(sorted(table.columns))
        type_ = table.columns[col].type
        if (
            type_.key.type in (ovs.db.types.IntegerType, ovs.db.types.RealType)
            and not type_.is_map()
        ):
            mutator = rng.choice(["+=", "-=", "*=", "/=", "%="])
            arg: Any = (
                rng.choice([*INTS[:9], 0, 2**62, 3])
                if type_.key.type == ovs.db.types.IntegerType
                else 1.5
            )
            if mutator == "*=" and arg == 0:
                # ovsdb-server 3.1 exits on "*= 0" of a negative integer
                # (docs/testing.rst); the contract suite covers "*= 0".
                arg = 2

        elif rng.random() < self.invalid:
            mutator = rng.choice(["+=", "*=", "frob", "insert", "delete"])
            arg = rng.choice([1, "x", ["map", [["a", "b"]]], ["set", ["a"]]])
        else:
            mutator = rng.choice(["insert", "delete"])
            sub = ovs.db.types.Type(type_.key, type_.value, 0, max(type_.n_max, 1))
            if mutator == "delete" and type_.is_map() and rng.random() < 0.5:
                sub = ovs.db.types.Type(type_.key, None, 0, max(type_.n_max, 1))
            arg = self.datum(db, sub)
        return [col, mutator, arg]

    def op(self, db: str, inserted: list[tuple[str, Any]]) -> dict[str, Any]:
        rng = self.rng
        schema = self.schemas[db]
        table = schema.tables[rng.choice(TABLES[db])]
        kind = rng.choices(
            ["insert", "update", "mutate", "delete", "select", "wait", "bad"],
            [5, 3, 3, 1, 2, 1, 1],
        )[0]
        if kind == "insert":
            op: dict[str, Any] = {"op": "insert", "table": table.name}
            ref: Any = None
            if rng.random() < 0.25:  # the server picks the UUID
                if rng.random() < 0.5:
                    self.counter += 1
                    op["uuid-name"] = f"row{self.counter}"
                    ref = ["named-uuid", op["uuid-name"]]
            else:
                op["uuid"] = self.insert_uuid(db)
                ref = ["uuid", op["uuid"]]
            op["row"] = self.row(db, table, rng.randint(0, 4))
            if ref is not None:
                inserted.append((table.name, ref))
            return op
        if kind == "update":
            return {
                "op": "update",
                "table": table.name,
                "where": self.where(db, table),
                "row": self.row(db, table, rng.randint(1, 2), insert=False),
            }
        if kind == "mutate":
            return {
                "op": "mutate",
                "table": table.name,
                "where": self.where(db, table),
                "mutations": [self.mutation(db, table) for _ in range(rng.randint(1, 2))],
            }
        if kind == "delete":
            return {"op": "delete", "table": table.name, "where": self.where(db, table)}
        if kind == "select":
            op = {"op": "select", "table": table.name, "where": self.where(db, table)}
            if rng.random() < 0.5:
                cols = [*sorted(table.columns), "_uuid", "_version"]
                op["columns"] = rng.sample(cols, rng.randint(0, 3))
            return op
        if kind == "wait":
            col = rng.choice(sorted(table.columns))
            return {
                "op": "wait",
                "table": table.name,
                "timeout": 0,
                "where": self.where(db, table),
                "columns": [col],
                "until": rng.choice(["==", "!="]),
                "rows": [{col: self.datum(db, table.columns[col].type)}],
            }
        bad: list[dict[str, Any]] = [
            {"op": "select", "table": table.name},
            {"op": "select", "table": table.name, "where": [], "columns": ["nope"]},
            {"op": "insert", "table": "Nope", "row": {}},
            {"op": "frobnicate", "table": table.name},
            {"op": "update", "table": table.name, "where": [], "row": {"nope": 1}},
            {
                "op": "insert",
                "table": table.name,
                "uuid": self.uuid(),
                "row": {"_version": ["uuid", self.uuid()]},
            },
            {"op": "mutate", "table": table.name, "where": [], "mutations": [["nope", "+=", 1]]},
            # Text that is not UTF-8 on the wire, or not an <id>, where it is
            # not a datum: ovsdb-server quotes it back in its error.
            {"op": "select", "table": table.name + self.bad_string(), "where": []},
            {"op": "select" + self.bad_string(), "table": table.name, "where": []},
            {"op": "insert", "table": table.name, "row": {"name" + self.bad_string(): "x"}},
            {"op": "select", "table": table.name, "where": [], "columns": [self.bad_string()]},
            {
                "op": "select",
                "table": table.name,
                "where": [[rng.choice(sorted(table.columns)) + self.bad_string(), "==", "x"]],
            },
            {
                "op": "mutate",
                "table": table.name,
                "where": [],
                "mutations": [[self.bad_string(), "insert", ["set", []]]],
            },
            {"op": "insert", "table": table.name, "uuid-name": rng.choice(NOT_IDS), "row": {}},
            {"op": "assert", "lock": rng.choice(NOT_IDS)},
            {"op": "comment", "comment": self.bad_string()},
        ]
        return rng.choice(bad)

    def raw_step(self, db: str) -> Step:
        rng = self.rng
        self.step_uuids = []
        inserted: list[tuple[str, Any]] = []
        ops = [self.op(db, inserted) for _ in range(rng.randint(1, 4))]
        # Reference some of the inserted rows from an existing row so they survive GC.
        schema = self.schemas[db]
        for table_name, u in inserted:
            for owner in TABLES[db]:
                for col, column in sorted(schema.tables[owner].columns.items()):
                    if column.type.key.ref_table_name == table_name and column.type.value is None:
                        rows = self.existing(db, owner)
                        if rows and rng.random() < 0.6:
                            ops.append(
                                {
                                    "op": "mutate",
                                    "table": owner,
                                    "where": [["_uuid", "==", ["uuid", rng.choice(rows)]]],
                                    "mutations": [[col, "insert", ["set", [u]]]],
                                }
                            )
                            break
        if rng.random() < 0.1:
            ops.insert(0, {"op": "assert", "lock": LOCKS[db]})
        if rng.random() < 0.05:
            ops.append({"op": "abort"})
        return {"k": "raw", "db": db, "ops": ops}

    def acts(self, db: str, client: int) -> list[Any]:
        rng = self.rng
        _name, cols, _cond, _lock = CLIENTS[db][client]
        schema = self.schemas[db]
        out: list[Any] = []
        for _ in range(rng.randint(1, 3)):
            tables = [t for t in TABLES[db] if cols is None or t in cols]
            table = schema.tables[rng.choice(tables)]
            columns = sorted(table.columns) if cols is None else cols[table.name]
            rows = self.existing(db, table.name)
            kind = rng.choice(
                [
                    "set",
                    "set",
                    "verify",
                    "setkey",
                    "addvalue",
                    "delete",
                    "insert",
                    "increment",
                    "addop",
                ]
            )
            if kind == "insert" or not rows:
                values = self.row(db, table, rng.randint(0, 3))
                insert = [
                    "insert",
                    table.name,
                    self.insert_uuid(db, idl_table=table.name),
                    {c: v for c, v in values.items() if c in columns},
                ]
                if rng.random() < 0.25:
                    insert.append("server")  # the server picks the UUID
                out.append(insert)
                continue
            u = rng.choice(rows)
            col = rng.choice(columns)
            type_ = table.columns[col].type
            if kind == "addop":
                out.append(["addop", self.op(db, [])])
            elif kind == "delete":
                out.append(["delete", table.name, u])
            elif kind == "verify":
                out.append(["verify", table.name, u, col])
            elif (
                kind == "increment"
                and type_.key.type == ovs.db.types.IntegerType
                and type_.n_max == 1
            ):
                out.append(["increment", table.name, u, col])
            elif kind == "setkey" and type_.is_map():
                k = self.atom(db, type_.key)
                v = self.atom(db, type_.value)
                if isinstance(k, (str, int)) and isinstance(v, (str, int, bool)):
                    # delkey carries the value too (the replay ignores it).
                    out.append(
                        ["setkey" if rng.random() < 0.7 else "delkey", table.name, u, col, k, v]
                    )
            elif kind == "addvalue" and not type_.is_map() and type_.n_max > 1:
                a = self.atom(db, type_.key)
                val = uuid.UUID(a[1]) if isinstance(a, list) else a
                out.append(
                    [
                        rng.choice(["addvalue", "delvalue"]),
                        table.name,
                        u,
                        col,
                        str(val) if isinstance(val, uuid.UUID) else val,
                    ]
                )
            else:
                out.append(["set", table.name, u, col, self.datum(db, type_)])
        return out

    def step(self) -> Step:
        rng = self.rng
        db = rng.choice(sorted(ROOTS))
        self.step_uuids = []
        n = len(CLIENTS[db])
        kind = rng.choices(["raw", "idl", "race", "cond", "reconnect"], [10, 6, 1, 2, 1])[0]
        if kind == "raw":
            return self.raw_step(db)
        if kind == "idl":
            c = rng.randrange(n)
            return {"k": "idl", "db": db, "c": c, "acts": self.acts(db, c)}
        if kind == "race":
            a, b = 0, 2
            table = self.schemas[db].tables[rng.choice(TABLES[db])]
            rows = self.existing(db, table.name)
            if not rows:
                return self.raw_step(db)
            u = rng.choice(rows)
            col = rng.choice(sorted(table.columns))
            va = self.datum(db, table.columns[col].type)
            vb = self.datum(db, table.columns[col].type)
            vcol = col if rng.random() < 0.7 else rng.choice(sorted(table.columns))
            return {
                "k": "race",
                "db": db,
                "a": a,
                "b": b,
                "acts_a": [["verify", table.name, u, vcol], ["set", table.name, u, col, va]],
                "acts_b": [["set", table.name, u, col, vb]],
            }
        if kind == "cond":
            table = self.schemas[db].tables[rng.choice(TABLES[db])]
            return {
                "k": "cond",
                "db": db,
                "c": 2,
                "table": table.name,
                "cond": [self.condition(db, table, monitor=True) for _ in range(rng.randint(0, 2))],
            }
        return {"k": "reconnect", "db": db, "c": rng.randrange(n)}


# ------------------------------------------------------------------- running
@dataclass
class Divergence:
    seed: int
    steps: list[Step]
    index: int
    fake: Any
    real: Any

    def report(self) -> str:
        lines = [f"seed {self.seed}: divergence at step {self.index}", "steps:"]
        lines += [f"  {_printable(s)}" for s in self.steps[: self.index + 1]]
        lines.append("differences (fake | real):")
        lines += [f"  {path}: {f!r} | {r!r}" for path, f, r in diff(self.fake, self.real)]
        return "\n".join(lines)


def _printable(step: Step) -> str:
    """One step as JSON, readable, with what UTF-8 cannot carry escaped
    (the generator writes lone surrogates on purpose)."""
    text = json.dumps(step, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(step)
    return text


def diff(a: Any, b: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            yield from diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}/{k}")
    elif a != b:
        yield path or "/", a, b


def _translate(value: Any, mapping: dict[str, str]) -> Any:
    """A copy of ``value`` with every UUID in ``mapping`` replaced."""
    text = json.dumps(value, ensure_ascii=False)
    if mapping:
        text = _UUID_RE.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
    return json.loads(text)


def _sets_sorted(value: Any) -> Any:
    """``value`` with the members of every ``["set", ...]`` and ``["map", ...]`` sorted."""
    if isinstance(value, dict):
        return {k: _sets_sorted(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) == 2 and value[0] in ("set", "map") and isinstance(value[1], list):
            return [value[0], sorted((_sets_sorted(v) for v in value[1]), key=json.dumps)]
        return [_sets_sorted(v) for v in value]
    return value


def _in_order(observed: Any) -> Any:
    """What was sorted by UUID sorted again, once the UUIDs are the fake's."""
    if isinstance(observed, dict):
        if "result" in observed:
            observed["result"] = normalise(observed["result"])
        for client in observed.get("clients", {}).values():
            client["events"] = sorted(client["events"], key=json.dumps)
    return observed


def _assigned(u: str | None, seen: dict[str, str]) -> str:
    """What is compared of a UUID the server picked."""
    if u is None:
        return "none"
    if u in seen:
        return "picked before"
    try:
        parsed = uuid.UUID(u)
    except ValueError:
        return "not a UUID"
    if parsed.version != 4 or parsed.variant != uuid.RFC_4122 or str(parsed) != u:
        return "not a version-4 UUID"
    return "new v4"


@contextmanager
def real_server() -> Iterator[str]:
    with SandboxDir.create() as d:
        server = OvsdbServer(d, list(ROOTS))
        server.start()
        yield server.remote


class Fuzzer:
    """Runs steps on both sides and compares (``patch_fake`` alters the fake, for self-tests)."""

    def __init__(self, remote: str) -> None:
        self.fake = Side(True)
        self.real = Side(False, remote)
        # UUIDs the servers picked for the same insert: fake -> real, real -> fake.
        self.to_real: dict[str, str] = {}
        self.to_fake: dict[str, str] = {}

    def _reset(self) -> None:
        self.fake.reset()
        self.real.reset()
        self.to_real, self.to_fake = {}, {}

    def close(self) -> None:
        self.fake.close()
        self.real.close()

    def replay(self, steps: list[Step]) -> tuple[int, Any, Any] | None:
        """Run ``steps`` from empty databases; the first divergence, or None."""
        self._reset()
        for i, step in enumerate(steps):
            f, r = self._both(step)
            if f != r:
                return i, f, r
        return None

    def _both(self, step: Step) -> tuple[Any, Any]:
        """Run ``step`` on both sides; what each observed, the real side's in the
        fake's UUIDs (steps name rows by the fake's UUIDs)."""
        try:
            f = execute(self.fake, copy.deepcopy(step))
        except Exception as e:
            f = {"exception": f"{type(e).__name__}: {e}"}
        try:
            r = execute(self.real, _translate(step, self.to_real))
        except Exception as e:
            r = {"exception": f"{type(e).__name__}: {e}"}
        # What is stable of a UUID the server picks: a new version-4 UUID.
        fake_new = f.pop("assigned", [])
        real_new = r.pop("assigned", [])
        f["assigned"] = [_assigned(u, self.to_real) for u in fake_new]
        r["assigned"] = [_assigned(u, self.to_fake) for u in real_new]
        for fu, ru in zip(fake_new, real_new, strict=False):  # equal unless one raised
            if fu and ru:
                self.to_real[fu], self.to_fake[ru] = ru, fu
        if not self.to_fake:
            return f, r
        # Sets and maps are sorted by value; once the real side's UUIDs are the
        # fake's, sort both sides' again.
        return _sets_sorted(f), _sets_sorted(_in_order(_translate(r, self.to_fake)))

    def run_seed(self, seed: int, n_steps: int) -> Divergence | None:
        rng = random.Random(seed)
        self._reset()
        gen = Generator(rng, self.fake)
        steps: list[Step] = []
        for i in range(n_steps):
            step = gen.step()
            steps.append(step)
            f, r = self._both(step)
            if f != r:
                return Divergence(seed, steps, i, f, r)
        return None

    def run_profile(self, first_seed: int, seeds: int, steps: int) -> Divergence | None:
        """Seeds ``first_seed`` onwards, ``steps`` each; the first divergence, minimised."""
        for seed in range(first_seed, first_seed + seeds):
            div = self.run_seed(seed, steps)
            if div is not None:
                return self.minimise(div)
        return None

    def minimise(self, div: Divergence) -> Divergence:
        """Shrink to a short step list that still diverges (delta debugging on steps)."""
        steps = div.steps[: div.index + 1]
        best = div
        chunk = max(1, len(steps) // 2)
        while chunk >= 1:
            i = 0
            changed = False
            while i < len(steps):
                candidate = steps[:i] + steps[i + chunk :]
                found = self.replay(candidate) if candidate else None
                if found is not None:
                    index, f, r = found
                    steps = candidate[: index + 1]
                    best = Divergence(div.seed, steps, index, f, r)
                    changed = True
                else:
                    i += chunk
            if not changed:
                chunk //= 2
        return best
