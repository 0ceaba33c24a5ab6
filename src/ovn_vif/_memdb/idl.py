"""FakeIdl: the real ``ovs.db.idl.Idl`` talking to an in-memory OVSDB server.

Decision (how transactions work against the fake)
-------------------------------------------------
Caller code builds transactions exactly as it does against a real database::

    txn = ovs.db.idl.Transaction(idl)     # the REAL class, unchanged
    row = txn.insert(idl.tables["Interface"])
    ...
    status = txn.commit_block()

There is no seam and no fake ``Transaction`` class.  :class:`FakeIdl` *is* an
``ovs.db.idl.Idl`` (a subclass): only its JSON-RPC session is replaced by
:class:`FakeSession`, an in-process pipe to a :class:`FakeDatabase` that speaks
the OVSDB protocol (``_Server`` schema and monitor, ``monitor_cond_since``,
``monitor_cond_change``, ``transact``, locks).  Everything a caller touches --
``Row`` (reads, copies, optional columns as lists, refs resolved to rows,
``AttributeError`` for unregistered tables/columns, ``AssertionError`` for writes
outside a transaction), ``Transaction`` (provisional UUIDs, ``verify``,
``setkey``/``delkey``/``addvalue``/``delvalue``, statuses, ``get_error()``),
``notify()``, ``change_seqno``, indexes and conditions -- is the real ``ovs``
code.  The fake only has to get the server side right (integrity, weak refs,
garbage collection, index uniqueness, ``wait``/verify conflicts, monitor
updates), and the contract suite in ``tests/`` runs the same tests against a real
``ovsdb-server`` to prove it does.

Like the real one, a FakeIdl is empty until ``run()`` has connected it (a couple
of ``run()`` calls; :func:`wait_for` or :meth:`FakeIdl.connect` loop for you),
and changes -- its own commits and other clients' writes -- become visible
only inside ``run()`` (``commit_block()`` calls ``run()``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import ovs.db.idl
import ovs.json
import ovs.jsonrpc
import ovs.poller

from ovn_vif._memdb.server import FakeDatabase
from ovn_vif._ovs_private import close_session, idl_schema_name, set_session

_NOWHERE = "unix:/nonexistent/ovn-vif-fake-idl.sock"


class _NeedsOvsParser(Exception):
    """The text has something on which ``json`` and ``ovs.json`` could disagree."""


def _int_as_ovs(text: str) -> int:
    value = int(text)
    if -(2**63) <= value < 2**63:
        return value
    raise _NeedsOvsParser  # ovs.json turns it into a float, or refuses it


def _not_as_ovs(text: str) -> Any:
    raise _NeedsOvsParser  # fractions and exponents: ovs.json has its own number rules


_DECODER: Final = json.JSONDecoder(
    parse_int=_int_as_ovs, parse_float=_not_as_ovs, parse_constant=_not_as_ovs
)
# ovs.json.Parser refuses input nested deeper than this (1000, its MAX_HEIGHT):
# deeper (or about as deep) text goes to that parser.
_SAFE_DEPTH: Final = 900


def _nested_deeper_than(value: Any, limit: int) -> bool:
    level = [value]  # one level at a time: no recursion, no per-node tuples
    depth = 1
    while level:
        if depth > limit:
            return True
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) is list or type(child) is dict
        ]
        depth += 1
    return False


def _parse(text: str) -> Any:
    """``ovs.json.from_string(text)`` for ``text`` that ``ovs.json.to_string`` wrote.

    The pure-Python ``ovs.json`` parser (the ``ovs`` wheel has no C extension)
    was most of the cost of big transactions, so plain ``json`` parses what both
    read alike -- strings without ``\\u0000`` or surrogate escapes, integers in
    the signed 64-bit range, nesting well below ``ovs.json``'s limit -- and
    anything else still goes to ``ovs.json``, so the result (or its error) is the same.
    """
    if "\\u0000" not in text and "\\ud" not in text:
        try:
            value = _DECODER.decode(text)
        except (_NeedsOvsParser, RecursionError):
            pass
        else:
            if isinstance(value, (list, dict)) and not _nested_deeper_than(value, _SAFE_DEPTH):
                return value
    return ovs.json.from_string(text)


def _round_trip(msg: Any) -> Any:
    """A copy of ``msg`` as the other side would read it off the wire."""
    return ovs.jsonrpc.Message.from_json(_parse(ovs.json.to_string(msg.to_json())))


_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _round_trip_text(msg: Any) -> tuple[Any, bool]:
    """:func:`_round_trip`, and whether the text is valid UTF-8 (ovsdb-server
    writes a lone surrogate it was given as is, which no client can read)."""
    text = ovs.json.to_string(msg.to_json())
    copy = ovs.jsonrpc.Message.from_json(_parse(text))
    if "\\ud" not in text:  # ovs.json escapes every surrogate: none here
        return copy, True
    plain = json.dumps(copy.to_json(), ensure_ascii=False)
    return copy, _LONE_SURROGATE.search(plain) is None


def _close_fds(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


class FakeSession:
    """Stands in for ``ovs.jsonrpc.Session``: an in-process connection to a :class:`FakeDatabase`.

    Messages are round-tripped through JSON text in both directions, so anything
    the real session could not send fails here too.  A pipe makes
    ``poller.block()`` wake up when a message is waiting, also when another
    thread wrote to the database.
    """

    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self._inbox: deque[Any] = deque()
        self._lock = threading.Lock()
        # Like ovs.jsonrpc.Session: not connected until the first run() (or, for a
        # caller using the session directly, the first send()).
        self._seqno = 0
        self._connected = False
        self._closed = False
        self._monitor_method = "monitor_cond_since"
        #: A message was not valid UTF-8: the next recv() drops the connection.
        self._unreadable = False
        self._rfd, self._wfd = os.pipe()
        os.set_blocking(self._rfd, False)
        os.set_blocking(self._wfd, False)
        self._close_fds = weakref.finalize(self, _close_fds, self._rfd, self._wfd)
        database._attach(self)

    # -- called by FakeDatabase
    def _deliver(self, msg: Any) -> None:
        if self._closed or not self._connected:
            return
        copy, readable = _round_trip_text(msg)
        with self._lock:
            if self._unreadable or not readable:
                # ovsdb-server writes such text as it is (an error naming a table
                # or column that holds a lone surrogate): not UTF-8, which the
                # client cannot read, so it drops the connection.
                self._unreadable = True
                self._inbox.clear()
            else:
                self._inbox.append(copy)
        with contextlib.suppress(BlockingIOError):  # pipe full: the reader is awake already
            os.write(self._wfd, b"m")

    # -- the ovs.jsonrpc.Session surface the IDL uses
    def run(self) -> None:
        if not self._closed and not self._connected:
            self._connect()
        if not self._closed and self._connected:
            self.database._tick(self)

    def _connect(self) -> None:
        self._connected = True
        self._seqno += 1

    def is_connected(self) -> bool:
        return self._connected and not self._closed

    def is_alive(self) -> bool:
        return not self._closed

    def get_seqno(self) -> int:
        return self._seqno

    def get_name(self) -> str:
        return f"fake:{self.database.name}"

    def send(self, msg: Any) -> int:
        if not self._closed and not self._connected and self._seqno == 0:
            self._connect()
        if not self.is_connected():
            return errno.ENOTCONN
        try:
            copy = _round_trip(msg)
        except (UnicodeError, ValueError):
            copy = None
        if not isinstance(copy, ovs.jsonrpc.Message):
            # Text ovsdb-server cannot parse (a \u0000, a lone surrogate): it drops
            # the connection, and the client reconnects.
            self.force_reconnect()
            return 0
        self.database._handle(self, copy)
        return 0

    def recv(self) -> Any:
        with self._lock:
            unreadable, self._unreadable = self._unreadable, False
            msg = self._inbox.popleft() if self._inbox and not unreadable else None
            if not self._inbox:
                self._drain()
        if unreadable:
            self.force_reconnect()
        return msg

    def _drain(self) -> None:
        try:
            while os.read(self._rfd, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def wait(self, poller: Any) -> None:
        if self._inbox or self._unreadable or self.database._has_held(self):
            poller.immediate_wake()
        elif not self._closed:
            poller.fd_wait(self._rfd, ovs.poller.POLLIN)

    def recv_wait(self, poller: Any) -> None:
        self.wait(poller)

    def force_reconnect(self) -> None:
        """Drop the connection and reconnect at once (the IDL re-fetches everything)."""
        self.database._reset_session(self)
        with self._lock:
            self._inbox.clear()
        self._seqno += 1

    def reset_backoff(self) -> None:
        pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.database._detach(self)
        self._close_fds()


class FakeIdl(ovs.db.idl.Idl):  # type: ignore[misc]
    """An ``ovs.db.idl.Idl`` whose database is the in-memory :class:`FakeDatabase` ``database``.

    Construct it like the real one, with a ``SchemaHelper`` on which the caller
    registered its tables and columns (``database.schema_helper()`` gives a fresh
    helper for the database's schema)::

        db = FakeDatabase(OVS_SCHEMA_SUBSET)
        helper = db.schema_helper()
        helper.register_columns("Bridge", ["name", "ports"])
        idl = FakeIdl(db, helper)
        idl.connect()            # or loop run()/wait() as with a real Idl

    ``idl.database`` is the database, for test controls.  Several FakeIdls on one
    database behave like several clients of one ``ovsdb-server``.
    """

    def __init__(
        self,
        database: FakeDatabase,
        schema_helper: Any,
        probe_interval: int | None = None,
        leader_only: bool = True,
    ) -> None:
        super().__init__(_NOWHERE, schema_helper, probe_interval, leader_only)
        close_session(self)  # the one it built for a remote; a fake one comes below
        if idl_schema_name(self) != database.name:
            raise ValueError(
                f"schema helper describes {idl_schema_name(self)!r}, database is {database.name!r}"
            )
        missing = [
            f"{t}.{c}"
            for t, table in self.tables.items()
            for c in table.columns
            if t not in database.schema.tables or c not in database.schema.tables[t].columns
        ]
        if missing:
            raise ValueError(
                f"{database.name} fake database has no column(s) {', '.join(sorted(missing))}; "
                "build the FakeDatabase from a schema that has them"
            )
        self.database = database
        set_session(self, FakeSession(database))

    def connect(self, timeout: float = 5.0) -> None:
        """Run until the initial contents arrived (``has_ever_connected()``)."""
        wait_for(self, self.has_ever_connected, timeout=timeout)


def wait_for(idl: Any, condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Run ``idl`` (real or fake) until ``condition()`` holds; ``TimeoutError`` after ``timeout`` s.

    Checks the condition after each ``run()`` and before blocking, so a change
    made by that ``run()`` is never slept through.
    """
    deadline = time.monotonic() + timeout
    while True:
        idl.run()
        if condition():
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"condition not met within {timeout} s")
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(max(1, min(int(remaining * 1000), 100)))
        poller.block()
