"""An in-memory OVSDB server for one database: the far side of :class:`FakeIdl`.

:class:`FakeDatabase` speaks the part of the OVSDB JSON-RPC protocol that
``ovs.db.idl.Idl`` uses (``get_schema`` of ``_Server``, ``monitor_cond_since``,
``monitor_cond_change``, ``transact``, ``lock``): sessions, monitors and their
conditions, locks.  Transactions run in :class:`~ovn_vif._memdb.executor.Executor`,
which applies the server-side rules a real ``ovsdb-server`` applies at commit:
referential integrity of strong references, clearing of weak references, garbage
collection of unreferenced rows in non-root tables, ``maxRows`` and uniqueness of
the schema's indexes.  Because
the client side is the real ``ovs.db.idl`` code, everything a caller sees (rows,
``notify()``, statuses, ``get_error()``) is produced by the real library.

It also carries the test controls: writes as "another client"
(:meth:`FakeDatabase.insert`, :meth:`~FakeDatabase.update`,
:meth:`~FakeDatabase.delete`, :meth:`~FakeDatabase.batch`), scripted commit
outcomes (:meth:`~FakeDatabase.script_commit`), deterministic UUIDs and a
readable :meth:`~FakeDatabase.dump`.
"""

from __future__ import annotations

import collections.abc
import json
import logging
import os
import re
import threading
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import ovs.db.data
import ovs.db.error
import ovs.db.schema
import ovs.db.types
import ovs.json
import ovs.jsonrpc
import ovs.ovsuuid

from ovn_vif._errors import FakeDatabaseError
from ovn_vif._memdb.executor import (
    ZERO_UUID,
    Executor,
    Row,
    Tables,
    _OpError,
    is_default,
    relaxed,
)
from ovn_vif._memdb.schemas import SERVER_SCHEMA

#: What ovsdb-server takes as a lock name.
_ID: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

if TYPE_CHECKING:
    from ovn_vif._memdb.idl import FakeSession


LOG = logging.getLogger(__name__)

#: Commit outcomes :meth:`FakeDatabase.script_commit` accepts.  ``"success"``
#: means "process normally" (useful with ``delay_runs``).
COMMIT_OUTCOMES: Final = ("success", "try again", "error", "not locked")


@dataclass
class CommitScript:
    """One scripted outcome for a coming ``transact`` (see :meth:`FakeDatabase.script_commit`)."""

    outcome: str = "success"
    delay_runs: int = 0
    details: str | None = None


@dataclass
class _Held:
    session: FakeSession
    msg: Any
    runs_left: int
    outcome: str
    details: str | None


@dataclass
class _Monitor:
    monitor_id: str
    columns: dict[str, list[str]]
    conditions: dict[str, list[Any]] = field(default_factory=dict)
    compiled: dict[str, list[Any]] = field(default_factory=dict)


def _load_schema_json(schema: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    if isinstance(schema, Mapping):
        return json.loads(json.dumps(schema))  # type: ignore[no-any-return]
    loaded = ovs.json.from_file(str(Path(schema)))
    if isinstance(loaded, str):  # ovs.json.from_file returns error text on failure
        raise TypeError(f"cannot read schema {schema}: {loaded}")
    return loaded  # type: ignore[no-any-return]


class FakeDatabase:
    """One OVSDB database held in memory, served to any number of :class:`FakeIdl` clients.

    ``schema`` is an OVSDB schema as a dict or a path to a ``.ovsschema`` file, for
    example :data:`ovn_vif.testing.OVS_SCHEMA_SUBSET` or
    ``"/usr/share/openvswitch/vswitch.ovsschema"``.

    UUIDs the database assigns are deterministic: the *n*-th row inserted gets
    ``<prefix>-0000-4000-8000-<n as 12 hex digits>`` where ``<prefix>`` (8 hex digits) is derived
    from the database name and ``uuid_seed``.  Provisional UUIDs handed out by
    ``Transaction.insert()`` are chosen by the real IDL and stay random.
    """

    def __init__(
        self, schema: Mapping[str, Any] | str | os.PathLike[str], *, uuid_seed: int = 0
    ) -> None:
        self.schema_json: dict[str, Any] = _load_schema_json(schema)
        self.schema: Any = ovs.db.schema.DbSchema.from_json(self.schema_json)
        self.name: str = self.schema.name
        self._lock = threading.RLock()
        self._tables: Tables = {name: {} for name in self.schema.tables}
        self._sessions: list[FakeSession] = []
        self._monitors: dict[int, _Monitor] = {}
        self._scripts: collections.deque[CommitScript] = collections.deque()
        self._held: list[_Held] = []
        # Per lock name, the sessions in line for it; the first one owns it.
        self._lock_queues: dict[str, list[FakeSession]] = {}
        # Per session, the locks it asked for ("lock" or "steal") and has not
        # unlocked; a thief's victim keeps its entry after leaving the line.
        self._lock_requests: dict[int, dict[str, str]] = {}
        self._uuid_prefix = (zlib.crc32(self.name.encode()) + uuid_seed) & 0xFFFFFFFF
        self._uuid_counter = 0
        self._executor = Executor(self.schema, self._new_uuid)
        self._default_rows: dict[str, Row] = self._executor.default_rows
        self._server_row_uuid = self._new_uuid()
        self.transactions = 0
        """Number of ``transact`` requests committed successfully (all clients)."""

    # ------------------------------------------------------------------ helpers
    def _new_uuid(self) -> uuid.UUID:
        self._uuid_counter += 1
        return uuid.UUID(f"{self._uuid_prefix:08x}-0000-4000-8000-{self._uuid_counter:012x}")

    def schema_helper(self) -> Any:
        """A fresh ``ovs.db.idl.SchemaHelper`` for this database's schema.

        Single-use, like the real one: build one per Idl.
        """
        import ovs.db.idl

        return ovs.db.idl.SchemaHelper(schema_json=json.loads(json.dumps(self.schema_json)))

    def _table(self, name: str) -> Any:
        try:
            return self.schema.tables[name]
        except KeyError:
            raise _OpError("unknown table", f"No table named {name}.") from None

    # ------------------------------------------------------------ session side
    def _attach(self, session: FakeSession) -> None:
        with self._lock:
            self._sessions.append(session)

    def _detach(self, session: FakeSession) -> None:
        with self._lock:
            if session in self._sessions:
                self._sessions.remove(session)
            self._monitors.pop(id(session), None)
            self._held = [h for h in self._held if h.session is not session]
            self._unlock_all(session)

    def _reset_session(self, session: FakeSession) -> None:
        """The connection dropped: monitors, in-flight requests and locks are forgotten.

        As with ovsdb-server, the session's locks go to the next waiting client;
        the reconnected client asks for them again (and waits its turn).
        """
        with self._lock:
            self._monitors.pop(id(session), None)
            self._held = [h for h in self._held if h.session is not session]
            self._unlock_all(session)

    def _tick(self, session: FakeSession) -> None:
        """Called once per client ``run()``: lets delayed commits progress."""
        with self._lock:
            for held in [h for h in self._held if h.session is session]:
                held.runs_left -= 1
                if held.runs_left <= 0:
                    self._held.remove(held)
                    self._finish_transact(held.session, held.msg, held.outcome, held.details)

    def _has_held(self, session: FakeSession) -> bool:
        with self._lock:
            return any(h.session is session for h in self._held)

    def _handle(self, session: FakeSession, msg: Any) -> None:
        """Handle one request from a client (already round-tripped through JSON)."""
        with self._lock:
            if msg.type != ovs.jsonrpc.Message.T_REQUEST:
                return
            method, params = msg.method, msg.params
            try:
                if method == "get_schema":
                    self._get_schema(session, msg)
                elif method in ("monitor_cond_since", "monitor_cond", "monitor"):
                    self._monitor(session, msg)
                elif method == "monitor_cond_change":
                    self._monitor_cond_change(session, msg)
                elif method == "transact":
                    self._transact(session, msg)
                elif method in ("lock", "steal", "unlock"):
                    self._lock_request(session, msg)
                elif method == "set_db_change_aware":
                    session._deliver(ovs.jsonrpc.Message.create_reply({}, msg.id))
                elif method == "echo":
                    session._deliver(ovs.jsonrpc.Message.create_reply(params, msg.id))
                elif method == "monitor_cancel":
                    self._monitors.pop(id(session), None)
                    session._deliver(ovs.jsonrpc.Message.create_reply({}, msg.id))
                else:
                    session._deliver(ovs.jsonrpc.Message.create_error("unknown method", msg.id))
            except _OpError as e:
                session._deliver(ovs.jsonrpc.Message.create_error(e.json(), msg.id))
            except ovs.db.error.Error as e:
                error = _OpError.from_ovs(e).json()
                session._deliver(ovs.jsonrpc.Message.create_error(error, msg.id))

    def _get_schema(self, session: FakeSession, msg: Any) -> None:
        name = msg.params[0]
        if name == "_Server":
            result = SERVER_SCHEMA
        elif name == self.name:
            result = self.schema_json
        else:
            session._deliver(ovs.jsonrpc.Message.create_error("unknown database", msg.id))
            return
        session._deliver(ovs.jsonrpc.Message.create_reply(json.loads(json.dumps(result)), msg.id))

    def _server_rows(self, method: str, requests: Any) -> dict[str, Any]:
        """The ``_Server`` ``Database`` row of a standalone server (this database only)."""
        row = {
            "name": self.name,
            "model": "standalone",
            "connected": True,
            "leader": True,
            "schema": json.dumps(self.schema_json),
        }
        wanted: list[str] | None = None
        reqs = requests.get("Database") if isinstance(requests, dict) else None
        for req in reqs if isinstance(reqs, list) else [reqs] if reqs else []:
            if isinstance(req, dict) and "columns" in req:
                wanted = (wanted or []) + list(req["columns"])
        if wanted is not None:
            row = {c: v for c, v in row.items() if c in wanted}
        key = "new" if method == "monitor" else "initial"
        return {str(self._server_row_uuid): {key: row}}

    def _monitor(self, session: FakeSession, msg: Any) -> None:
        db_name, monitor_id, requests = msg.params[0], msg.params[1], msg.params[2]
        if db_name == "_Server":
            rows = {"Database": self._server_rows(msg.method, requests)}
            result: Any = [False, ZERO_UUID, rows] if msg.method == "monitor_cond_since" else rows
            session._deliver(ovs.jsonrpc.Message.create_reply(result, msg.id))
            return
        if db_name != self.name:
            session._deliver(ovs.jsonrpc.Message.create_error("unknown database", msg.id))
            return
        mon = _Monitor(str(monitor_id), {})
        for table_name, reqs in requests.items():
            table = self._table(table_name)
            columns: list[str] = []
            for req in reqs if isinstance(reqs, list) else [reqs]:
                cols = req.get("columns", list(table.columns))
                for c in cols:
                    if c not in table.columns:
                        raise _OpError("syntax error", f"{c} is not a valid column name")
                    if c not in columns:
                        columns.append(c)
                if "where" in req:
                    for clause in req["where"]:
                        self._executor.compile(table, clause, None)
                    mon.conditions[table_name] = req["where"]
            mon.columns[table_name] = columns
        self._monitors[id(session)] = mon
        update: dict[str, Any] = {}
        for table_name in mon.columns:
            rows = {}
            for row_uuid, row in self._tables[table_name].items():
                if self._visible(mon, table_name, row_uuid, row):
                    rows[str(row_uuid)] = {"initial": self._row_json(mon, table_name, row)}
            if rows:
                update[table_name] = rows
        if msg.method == "monitor_cond_since":
            result = [False, ZERO_UUID, update]
        elif msg.method == "monitor_cond":
            result = update
        else:
            result = {  # version 1: whole rows, defaults included
                t: {
                    str(u): {"new": self._full_row_json(mon, t, row)}
                    for u, row in self._tables[t].items()
                    if self._visible(mon, t, u, row)
                }
                for t in mon.columns
            }
            result = {t: rows for t, rows in result.items() if rows}
        session._monitor_method = msg.method
        session._deliver(ovs.jsonrpc.Message.create_reply(result, msg.id))

    def _monitor_cond_change(self, session: FakeSession, msg: Any) -> None:
        old_id, new_id, changes = msg.params
        mon = self._monitors.get(id(session))
        if mon is None or mon.monitor_id != str(old_id):
            raise _OpError("unknown monitor", f"unknown monitor {old_id}")
        # A refused condition leaves the monitor as it was (conditions and id).
        before = dict(mon.conditions)
        new_conditions = dict(mon.conditions)
        for table_name, reqs in changes.items():
            table = self._table(table_name)
            for req in reqs:
                if "where" in req:
                    for clause in req["where"]:
                        self._executor.compile(table, clause, None)
                    new_conditions[table_name] = req["where"]
        for table_name in changes:
            mon.compiled.pop(table_name, None)
        mon.conditions = new_conditions
        mon.monitor_id = str(new_id)
        old_mon = _Monitor(mon.monitor_id, mon.columns, before)
        update: dict[str, Any] = {}
        for table_name in changes:
            if table_name not in mon.columns:
                continue
            rows: dict[str, Any] = {}
            for row_uuid, row in self._tables[table_name].items():
                was = self._visible(old_mon, table_name, row_uuid, row)
                now = self._visible(mon, table_name, row_uuid, row)
                if was and not now:
                    rows[str(row_uuid)] = {"delete": None}
                elif now and not was:
                    rows[str(row_uuid)] = {"insert": self._row_json(mon, table_name, row)}
            if rows:
                update[table_name] = rows
        if update:
            session._deliver(self._update_notification(session, mon, update))
        session._deliver(ovs.jsonrpc.Message.create_reply({}, msg.id))

    def _update_notification(self, session: FakeSession, mon: _Monitor, update: Any) -> Any:
        if session._monitor_method == "monitor":
            return ovs.jsonrpc.Message.create_notify("update", [mon.monitor_id, update])
        if session._monitor_method == "monitor_cond_since":
            return ovs.jsonrpc.Message.create_notify("update3", [mon.monitor_id, ZERO_UUID, update])
        return ovs.jsonrpc.Message.create_notify("update2", [mon.monitor_id, update])

    def _lock_request(self, session: FakeSession, msg: Any) -> None:
        """``lock``, ``steal`` and ``unlock``, as ovsdb-server answers them.

        A session asks for a lock once until it unlocks it; ``steal`` puts the
        thief first in line and tells the owner ``stolen`` (an owner that had
        stolen the lock itself leaves the line). Whenever a session leaves a
        line that others are still in (``unlock``, a dropped connection), the
        first of them is told ``locked``, also when it owned the lock already.
        """
        params = msg.params
        if not (
            isinstance(params, list)
            and len(params) == 1
            and isinstance(params[0], str)
            and _ID.match(params[0])
        ):
            raise _OpError(
                "syntax error",
                f"{msg.method} request params must be <id>",
                syntax=params,
            )
        name = params[0]
        mine = self._lock_requests.setdefault(id(session), {})
        if msg.method == "unlock":
            if name not in mine:
                raise _OpError(
                    "syntax error",
                    'unlock: "unlock" without "lock" or "steal"',
                    syntax=params,
                )
            self._unlock(session, name)
            session._deliver(ovs.jsonrpc.Message.create_reply({}, msg.id))
            return
        if name in mine:
            raise _OpError(
                "syntax error",
                f'must issue "unlock" before new "{msg.method}"',
                syntax=params,
            )
        mine[name] = msg.method
        line = self._lock_queues.setdefault(name, [])
        if msg.method == "steal":
            victim = line[0] if line else None
            line.insert(0, session)
            if victim is not None:
                if self._lock_requests.get(id(victim), {}).get(name) == "steal":
                    line.remove(victim)
                victim._deliver(ovs.jsonrpc.Message.create_notify("stolen", [name]))
        else:
            line.append(session)
        locked = line[0] is session
        session._deliver(ovs.jsonrpc.Message.create_reply({"locked": locked}, msg.id))

    def _unlock(self, session: FakeSession, name: str) -> None:
        self._lock_requests.get(id(session), {}).pop(name, None)
        line = self._lock_queues.get(name, [])
        if session not in line:
            return
        line.remove(session)
        if line:
            line[0]._deliver(ovs.jsonrpc.Message.create_notify("locked", [name]))
        else:
            del self._lock_queues[name]

    def _unlock_all(self, session: FakeSession) -> None:
        for name in list(self._lock_requests.get(id(session), {})):
            self._unlock(session, name)
        self._lock_requests.pop(id(session), None)

    def _lock_owner(self, name: str) -> FakeSession | None:
        line = self._lock_queues.get(name)
        return line[0] if line else None

    # ----------------------------------------------------------- transactions
    def _transact(self, session: FakeSession, msg: Any) -> None:
        script = self._scripts.popleft() if self._scripts else CommitScript()
        if script.delay_runs > 0:
            self._held.append(
                _Held(session, msg, script.delay_runs, script.outcome, script.details)
            )
            return
        self._finish_transact(session, msg, script.outcome, script.details)

    def _finish_transact(
        self, session: FakeSession, msg: Any, outcome: str, details: str | None
    ) -> None:
        params = list(msg.params)
        if not params or params[0] != self.name:
            session._deliver(ovs.jsonrpc.Message.create_error("unknown database", msg.id))
            return
        ops = params[1:]
        if outcome == "success":
            results = self._execute(ops, session)
        else:
            results = self._scripted_failure(ops, outcome, details)
        session._deliver(ovs.jsonrpc.Message.create_reply(results, msg.id))

    @staticmethod
    def _scripted_failure(ops: Sequence[Any], outcome: str, details: str | None) -> list[Any]:
        if outcome == "try again":
            err = {
                "details": details or '"where" clause test failed (scripted by FakeDatabase)',
                "error": "timed out",
            }
        elif outcome == "not locked":
            err = {
                "details": details or "Asserted lock is not held (scripted by FakeDatabase)",
                "error": "not owner",
            }
        else:
            err = {
                "details": details or "commit failure scripted by FakeDatabase.script_commit()",
                "error": "constraint violation",
            }
        return [err] + [None] * (len(ops) - 1) if ops else [err]

    def _execute(self, ops: Sequence[Any], session: FakeSession | None) -> list[Any]:
        """Run one transaction; commit it and notify monitors if it succeeds."""

        def holds_lock(name: str) -> bool:
            return session is not None and self._lock_owner(name) is session

        results, work = self._executor.execute(self._tables, ops, holds_lock)
        if work is not None:
            self._publish(work)
            self.transactions += 1
        return results

    # ------------------------------------------------------- monitor updates
    def _visible(self, mon: _Monitor, table_name: str, row_uuid: uuid.UUID, row: Row) -> bool:
        cond = mon.conditions.get(table_name)
        if cond is None:
            return True
        tests = mon.compiled.get(table_name)
        if tests is None:
            table = self.schema.tables[table_name]
            tests = mon.compiled[table_name] = [
                self._executor.compile(table, c, None) for c in cond
            ]
        return any(test(row_uuid, row) for test in tests)

    def _row_json(self, mon: _Monitor, table_name: str, row: Row) -> dict[str, Any]:
        defaults = self._default_rows[table_name]
        out: dict[str, Any] = {}
        for c in mon.columns[table_name]:
            datum, default = row[c], defaults[c]
            if datum is not default and datum.values != default.values:
                out[c] = datum.to_json()
        return out

    @staticmethod
    def _full_row_json(mon: _Monitor, table_name: str, row: Row) -> dict[str, Any]:
        return {c: row[c].to_json() for c in mon.columns[table_name]}

    @staticmethod
    def _diff_json(old: Any, new: Any) -> Any:
        type_ = new.type
        if type_.n_max == 1 and not type_.is_map():
            return new.to_json()
        diff: dict[Any, Any] = {}
        for k, v in old.values.items():
            if k not in new.values:
                diff[k] = v
        for k, v in new.values.items():
            if k not in old.values or old.values[k] != v:
                diff[k] = v
        return ovs.db.data.Datum(relaxed(type_), diff).to_json()

    def _publish(self, work: Tables) -> None:
        old_tables = self._tables
        self._tables = work
        changed: dict[str, list[uuid.UUID]] = {}
        for table_name, new_rows in work.items():
            old_rows = old_tables[table_name]
            uuids = [u for u, row in new_rows.items() if old_rows.get(u) is not row]
            uuids += [u for u in old_rows if u not in new_rows]
            if uuids:
                changed[table_name] = uuids
        sessions = {id(s): s for s in self._sessions}
        for sid, mon in self._monitors.items():
            session = sessions.get(sid)
            if session is None:
                continue
            update: dict[str, Any] = {}
            for table_name, uuids in changed.items():
                columns = mon.columns.get(table_name)
                if columns is None:
                    continue
                old_rows, new_rows = old_tables[table_name], work[table_name]
                table_update: dict[str, Any] = {}
                v1 = session._monitor_method == "monitor"
                for u in uuids:
                    old, new = old_rows.get(u), new_rows.get(u)
                    was = old is not None and self._visible(mon, table_name, u, old)
                    now = new is not None and self._visible(mon, table_name, u, new)
                    if v1:  # "update" notifications: whole rows, old values of changes
                        change: dict[str, Any] = {}
                        if was and old is not None:
                            change["old"] = {
                                c: old[c].to_json()
                                for c in columns
                                if new is None or not now or old[c] != new[c]
                            }
                        if now and new is not None:
                            change["new"] = self._full_row_json(mon, table_name, new)
                        if change and (change.get("old") or not (was and now)):
                            table_update[str(u)] = change
                    elif was and not now:
                        table_update[str(u)] = {"delete": None}
                    elif now and not was:
                        assert new is not None
                        table_update[str(u)] = {"insert": self._row_json(mon, table_name, new)}
                    elif was and now:
                        assert old is not None
                        assert new is not None
                        diff = {
                            c: self._diff_json(old[c], new[c]) for c in columns if old[c] != new[c]
                        }
                        if diff:
                            table_update[str(u)] = {"modify": diff}
                if table_update:
                    update[table_name] = table_update
            if update:
                session._deliver(self._update_notification(session, mon, update))

    # ------------------------------------------------------------ test controls
    def script_commit(
        self, outcome: str = "success", *, delay_runs: int = 0, details: str | None = None
    ) -> None:
        """Script the outcome of the next ``transact`` any client sends (FIFO; call again for more).

        ``outcome`` is one of :data:`COMMIT_OUTCOMES`: ``"try again"`` (the reply a
        failed ``verify`` gets), ``"error"`` (a hard error; ``details`` end up in
        ``txn.get_error()``), ``"not locked"``, or ``"success"`` (processed normally).
        Failed commits change nothing.  ``delay_runs=n`` keeps the commit in
        progress: ``txn.commit()`` returns ``"incomplete"`` and the outcome arrives
        during the client's *n*-th ``idl.run()`` after it (``commit_block()`` keeps
        running, so it just returns later).  Test-control writes are never scripted.
        """
        if outcome not in COMMIT_OUTCOMES:
            raise ValueError(f"outcome must be one of {COMMIT_OUTCOMES}, not {outcome!r}")
        if delay_runs < 0:
            raise ValueError("delay_runs must be >= 0")
        with self._lock:
            self._scripts.append(CommitScript(outcome, delay_runs, details))

    def reconnect_clients(self) -> None:
        """Drop every client's connection, as an ``ovsdb-server`` restart would.

        Each client notices in its next ``run()``: commits in flight end as
        ``"try again"``, then it reconnects and fetches the whole database again.
        """
        with self._lock:
            for session in list(self._sessions):
                session.force_reconnect()

    @property
    def scripted_commits(self) -> int:
        """How many scripted outcomes are still waiting for a ``transact``."""
        return len(self._scripts)

    @property
    def commits_in_progress(self) -> int:
        """How many delayed commits have not been answered yet."""
        return len(self._held)

    def _python_row(self, table: Any, values: Mapping[str, Any], *, insert: bool) -> Row:
        out: Row = {}
        for name, value in values.items():
            column = table.columns.get(name)
            if column is None:
                raise ValueError(f"table {table.name} has no column {name!r}")
            try:
                out[name] = ovs.db.data.Datum.from_python(column.type, value, _row_to_uuid)
            except ovs.db.error.Error as e:
                raise ValueError(f"{table.name}.{name}: {e}") from e
        return out

    def _apply_as_client(self, ops: list[Any]) -> list[Any]:
        with self._lock:
            results = self._execute(ops, None)
        for r in results:
            if isinstance(r, dict) and "error" in r:
                raise FakeDatabaseError(r)
        return results

    @contextmanager
    def batch(self) -> Iterator[FakeTransaction]:
        """Group test-control writes into one transaction (one update for monitors).

        ::

            with sb.batch() as t:
                encap = t.insert("Encap", type="geneve", ip="192.0.2.1", chassis_name="hv1")
                t.insert("Chassis", name="hv1", hostname="hv1", encaps=[encap])
        """
        txn = FakeTransaction(self)
        yield txn
        txn.commit()

    def insert(self, table: str, **columns: Any) -> uuid.UUID:
        """Insert a row as another client would; returns its UUID (deterministic)."""
        with self.batch() as t:
            return t.insert(table, **columns)

    def update(self, table: str, row: uuid.UUID | Any, **columns: Any) -> None:
        """Write columns of an existing row as another client would."""
        with self.batch() as t:
            t.update(table, row, **columns)

    def delete(self, table: str, row: uuid.UUID | Any) -> None:
        """Delete a row as another client would.

        Rows of non-root tables are deleted by dropping the last reference instead.
        """
        with self.batch() as t:
            t.delete(table, row)

    def get(self, table: str, row: uuid.UUID | Any) -> dict[str, Any]:
        """The committed row as plain Python values.

        References are ``uuid.UUID``; optional columns and sets are lists; maps dicts.
        """
        with self._lock:
            data = self._tables[self._table(table).name][_row_to_uuid(row)]
            return {c: _plain(d) for c, d in data.items()}

    def rows(self, table: str) -> dict[uuid.UUID, dict[str, Any]]:
        """All committed rows of ``table`` as ``{uuid: {column: plain value}}``."""
        with self._lock:
            return {
                u: {c: _plain(d) for c, d in data.items()}
                for u, data in self._tables[self._table(table).name].items()
            }

    def find(self, table: str, **match: Any) -> list[uuid.UUID]:
        """UUIDs of committed rows whose columns equal ``match`` (Python values, as for writes)."""
        with self._lock:
            schema_table = self._table(table)
            wanted = self._python_row(schema_table, match, insert=False)
            return [
                u
                for u, data in self._tables[schema_table.name].items()
                if all(data[c] == d for c, d in wanted.items())
            ]

    def dump(self, *, columns: Mapping[str, Sequence[str]] | None = None) -> str:
        """The committed database as stable, readable text (for assertions and failure output).

        Default-valued columns are left out; ``columns`` limits the columns per table.
        """
        lines = [f"{self.name}:"]
        with self._lock:
            for table_name in sorted(self._tables):
                rows = self._tables[table_name]
                if not rows:
                    continue
                lines.append(f"  {table_name}:")
                for u in sorted(rows, key=str):
                    wanted = (columns or {}).get(table_name)
                    cells = [
                        f"{c}={d.to_string()}"
                        for c, d in sorted(rows[u].items())
                        if (wanted is None and not is_default(d)) or (wanted and c in wanted)
                    ]
                    lines.append(f"    {u}: " + ", ".join(cells))
        return "\n".join(lines)


def _row_to_uuid(value: Any) -> Any:
    if isinstance(value, uuid.UUID) or not hasattr(value, "uuid"):
        return value
    return value.uuid


def _plain(datum: Any) -> Any:
    if datum.type.is_map():
        return {k.value: v.value for k, v in datum.values.items()}
    if datum.type.n_min == 1 and datum.type.n_max == 1:
        return next(iter(datum.values)).value
    return sorted(k.value for k in datum.values)


class FakeTransaction:
    """Test-control writes committed together by :meth:`FakeDatabase.batch`.

    Values are Python values as the IDL takes them (maps as dicts, sets and
    optional columns as lists, references as ``uuid.UUID`` or rows).
    """

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self._ops: list[Any] = []
        self._done = False

    def _table(self, name: str) -> Any:
        try:
            return self._db.schema.tables[name]
        except KeyError:
            raise ValueError(f"{self._db.name} has no table {name!r}") from None

    def _row_json(self, table: Any, values: Mapping[str, Any]) -> dict[str, Any]:
        return {c: d.to_json() for c, d in self._db._python_row(table, values, insert=True).items()}

    def insert(self, table: str, **columns: Any) -> uuid.UUID:
        """Insert a row; returns the UUID it will have (usable as a reference in this batch)."""
        schema_table = self._table(table)
        with self._db._lock:
            row_uuid = self._db._new_uuid()
        self._ops.append(
            {
                "op": "insert",
                "table": schema_table.name,
                "uuid": str(row_uuid),
                "row": self._row_json(schema_table, columns),
            }
        )
        return row_uuid

    def update(self, table: str, row: uuid.UUID | Any, **columns: Any) -> None:
        """Overwrite columns of an existing row."""
        schema_table = self._table(table)
        self._ops.append(
            {
                "op": "update",
                "table": schema_table.name,
                "where": [["_uuid", "==", ["uuid", str(_row_to_uuid(row))]]],
                "row": self._row_json(schema_table, columns),
            }
        )

    def delete(self, table: str, row: uuid.UUID | Any) -> None:
        """Delete a row."""
        schema_table = self._table(table)
        self._ops.append(
            {
                "op": "delete",
                "table": schema_table.name,
                "where": [["_uuid", "==", ["uuid", str(_row_to_uuid(row))]]],
            }
        )

    def commit(self) -> None:
        """Commit now (``batch()`` does this on exit).

        Raises :class:`FakeDatabaseError` if the database refuses the transaction.
        """
        if self._done:
            return
        self._done = True
        if self._ops:
            self._db._apply_as_client(self._ops)
