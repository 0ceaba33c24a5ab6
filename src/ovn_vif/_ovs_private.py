"""Every read of the ``ovs`` package's private state, in one place.

``ovs.db.idl`` has no public accessor for a few things the engine and the
agent need; this module is the only place in ovn-vif that reaches past the
public API for them, each with a fallback where one exists. Each access is
pinned by ``tests/ovn_vif/test_ovs_private.py`` against the installed ``ovs``;
CI runs that test with every ``ovs`` release in :data:`CHECKED_VERSIONS`
(the default install and the OpenStack constraint sets).

What is read, and why:

* ``SchemaHelper._all``, ``._tables``, ``._readonly``: which columns a
  caller already registered, so that :func:`ovn_vif.register_ovs_columns`
  adds to them instead of replacing them (``register_columns`` overwrites
  a table's read-only list).
* ``Row.__dict__["_data"]``, ``["_changes"]``, ``["_mutations"]``: a row's
  committed ``Datum`` values, read directly because ``Row`` attribute
  reads convert and resolve every value (several times slower over
  thousands of rows); rows with staged writes fall back to attribute reads.
  :func:`ref_set` also keeps, in the row's ``__dict__``, a copy of a
  reference set's values to tell what changed since (``ovs.db.idl``
  applies set diffs to the stored ``Datum`` in place, keeping the Atoms).
* ``Idl._session``: whether the session is connected right now
  (``Idl.is_connected()`` does not exist before ``ovs`` 3.3, and
  ``has_ever_connected()`` says nothing about now); and, for the test
  kit's ``FakeIdl``, replacing the session the ``Idl`` built with one that
  talks to the in-memory server.
* ``Idl._db``: the schema the ``Idl`` was built with (its name).
* ``Idl._session.get_name()``: the remote (cluster member) the session
  uses now, for the agent's status and self-audit.
* ``Idl.last_id`` (written) and ``IdlTable.condition_state``: the agent's
  self-audit makes a diverged IDL reload every row
  (:func:`force_full_resync`) and watches for condition changes the server
  never acknowledged (:func:`conditions_pending`).
* ``SSLStream._open``, ``Stream._recv`` and ``Stream._send``: the agent's
  ``ssl:`` stream (``ovn_vif.agent._tls``) subclasses ``SSLStream``, the
  extension point ``ovs.stream`` offers (``Stream.register_method``), and
  calls these for the socket set-up and the raw reads and writes while it
  maps their exceptions itself.
* ``IndexedRows.data`` (the ``UserDict``'s dict of an ``IdlTable``'s rows,
  each uuid to a list whose last item is the row): :func:`table_rows`
  reads rows through it, several times quicker than through the
  ``UserDict`` methods. ``IdlTable.rows`` (written): :class:`QuickInsertIdl`
  keeps the rows of its packed tables in a :class:`PlainRows` instead.
* ``Idl._Idl__process_update2``, ``Idl._Idl__apply_diff``, ``Idl._Idl__create_row``,
  ``Idl._Idl__column_name``, ``Idl.readonly``, ``Row._data``:
  :class:`QuickInsertIdl` applies inserted rows without the per-column
  default ``Datum`` that ``ovs.db.idl`` builds and throws away for each of
  them, and with quicker parsers for common column types (see the class).
  It also keeps the rows of :data:`PACKED_TABLES` packed
  (:class:`PackedLayout`): a ``Row`` subclass whose ``_data`` is a property
  that unpacks the values kept in the row's ``__dict__``, created through
  ``Row.__init__`` and ``ovs.db.idl.ColumnDefaultDict``.
* ``Idl._session.reconnect`` (the session's ``ovs.reconnect.Reconnect``),
  its ``state`` and ``disconnected()``: :func:`watch_disconnects` wraps that
  method on the instance to remember why the session last lost (or failed
  to make) a connection, which ``ovs`` logs but keeps nowhere
  (:func:`last_disconnect`).
* The module-level ``ssl`` name of ``ovs.poller``, ``ovs.socket_util`` and
  ``ovs.stream``: :func:`import_ovs_streams` imports them with a stand-in
  there that loads the standard ``ssl`` module (about 6 MB resident: it
  maps OpenSSL) only when a TLS stream first needs it, not for every
  ``unix:`` and ``tcp:`` remote.
* ``Vlog._Vlog__inited``, ``._Vlog__mfl`` and ``Vlog``'s logging methods:
  :func:`route_ovs_logging` replaces the methods so that the ``ovs``
  package's own log messages reach the standard library's logging instead
  of being dropped until ``Vlog.init()`` (which the agent does not call).
"""

from __future__ import annotations

import bisect
import functools
import importlib
import importlib.util
import logging
import sys
import types
import uuid as uuid_module
from collections.abc import Callable, Iterator, Mapping
from typing import Any

#: ``ovs`` releases against which every access here was checked.
CHECKED_VERSIONS = ("3.5.0", "3.7.1", "4.0.0")


def helper_registers_all(helper: Any) -> bool:
    """Whether ``register_all()`` was called on the ``SchemaHelper``."""
    return bool(getattr(helper, "_all", False))


def helper_registered(helper: Any) -> Mapping[str, set[str]]:
    """Table -> registered columns (an empty set: the whole table)."""
    registered: Mapping[str, set[str]] = getattr(helper, "_tables", {})
    return registered


def helper_readonly(helper: Any) -> Mapping[str, list[str]]:
    """Table -> the columns registered read-only."""
    readonly: Mapping[str, list[str]] = getattr(helper, "_readonly", {})
    return readonly


def committed_datums(row: Any) -> Mapping[str, Any] | None:
    """The committed ``ovs.db.data.Datum`` of each column of an IDL row.

    ``None`` for a row with writes staged in a transaction, a row inserted
    by one, or any object that is not an ``ovs.db.idl.Row``: read those
    through attributes. For a packed row (:class:`PackedLayout`), Datums
    unpacked for this read (the row stays packed): readers that care read
    :func:`packed_values` first.
    """
    state = getattr(row, "__dict__", None)
    if state is None:
        return None
    packed = state.get(_PACKED)
    if packed is not None:
        # A copy made for this read; the row stays packed.
        unpacked: Mapping[str, Any] = packed[0].unpack(packed)
        return unpacked
    data = state.get("_data")
    if not isinstance(data, dict) or state.get("_changes") or state.get("_mutations"):
        return None
    return data


def packed_values(row: Any) -> tuple[Any, ...] | None:
    """The packed values of a row :class:`QuickInsertIdl` keeps packed, or ``None``.

    ``packed[0]`` is the table's :class:`PackedLayout`; read a column with
    ``packed[0].get(packed, name)``.
    """
    state = getattr(row, "__dict__", None)
    return None if state is None else state.get(_PACKED)


class _Refs:
    """What :func:`ref_set` keeps of one reference-set column of one row."""

    __slots__ = ("atoms", "pairs", "strings", "uuids")

    def __init__(self, atoms: dict[Any, Any]) -> None:
        #: A copy of the Datum's values when last looked at (same Atom objects).
        self.atoms = atoms
        self.uuids: frozenset[uuid_module.UUID] = frozenset(a.value for a in atoms)
        #: Sorted ``str`` of :attr:`uuids` and their ``["uuid", s]`` pairs, once asked for.
        self.strings: list[str] | None = None
        self.pairs: list[list[str]] | None = None


_REFS = "_ovn_vif_refs_"


def _followed(row: Any, column: str) -> _Refs | None:
    """The :class:`_Refs` of *row*'s *column*, brought up to date.

    ``ovs.db.idl`` applies a set diff to the stored ``Datum`` in place, and
    the Atoms of the unchanged elements stay the same objects, so comparing
    the values with the copy kept last time takes set operations over known
    hashes (C speed); only the elements that changed are read in Python.
    Kept in the row's ``__dict__`` (it goes with the row).
    """
    data = committed_datums(row)
    datum = None if data is None else data.get(column)
    if datum is None:
        return None
    values = datum.values
    state = row.__dict__
    refs: _Refs | None = state.get(_REFS + column)
    if refs is None:
        refs = _Refs(dict(values))
        state[_REFS + column] = refs
        return refs
    if len(values) == len(refs.atoms) and not set(values).difference(refs.atoms):
        return refs
    added = [a.value for a in set(values).difference(refs.atoms)]
    removed = [a.value for a in set(refs.atoms).difference(values)]
    refs.atoms = dict(values)
    refs.uuids = refs.uuids.difference(removed).union(added)
    strings, pairs = refs.strings, refs.pairs
    if strings is not None and pairs is not None:
        for value in removed:
            text = str(value)
            at = bisect.bisect_left(strings, text)
            if at < len(strings) and strings[at] == text:
                del strings[at]
                del pairs[at]
        for value in added:
            text = str(value)
            at = bisect.bisect_left(strings, text)
            strings.insert(at, text)
            pairs.insert(at, ["uuid", text])
    return refs


def ref_set(row: Any, column: str) -> frozenset[uuid_module.UUID] | None:
    """The uuids a reference-set *column* of an IDL *row* holds (committed),
    followed from one call to the next at the cost of what changed; ``None``
    for a row :func:`committed_datums` does not read."""
    packed = packed_values(row)
    if packed is not None:
        return frozenset(packed[0].members(packed, column))
    refs = _followed(row, column)
    return None if refs is None else refs.uuids


def ref_pairs(row: Any, column: str) -> list[list[str]] | None:
    """``[["uuid", str], ...]`` of :func:`ref_set`, sorted by string (a new
    list; its pairs are shared and must not be changed); ``None`` likewise."""
    packed = packed_values(row)
    if packed is not None:
        return [["uuid", text] for text in sorted(map(str, packed[0].members(packed, column)))]
    refs = _followed(row, column)
    if refs is None:
        return None
    if refs.strings is None or refs.pairs is None:
        refs.strings = sorted(str(value) for value in refs.uuids)
        refs.pairs = [["uuid", text] for text in refs.strings]
    return list(refs.pairs)


class _RowsView(Mapping[uuid_module.UUID, Any]):
    """Read-only access to an ``IndexedRows`` through its ``data`` dict."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[uuid_module.UUID, list[Any]]) -> None:
        self._data = data

    def __getitem__(self, key: uuid_module.UUID) -> Any:
        return self._data[key][-1]

    def get(self, key: uuid_module.UUID, default: Any = None) -> Any:
        entry = self._data.get(key)
        return default if entry is None else entry[-1]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[uuid_module.UUID]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def values(self) -> list[Any]:  # type: ignore[override]
        return [entry[-1] for entry in self._data.values()]


def table_rows(idl: Any, table: str) -> Mapping[uuid_module.UUID, Any]:
    """The rows of *table* in *idl*, for reading only, at C speed.

    ``ovs.db.idl`` keeps them in an ``IndexedRows``, a ``UserDict`` whose
    ``data`` maps each uuid to a list of rows (the last one is the row):
    each ``get()`` of a missing uuid there raises and catches a ``KeyError``
    in Python, each ``in`` and each value of ``values()`` is a call of its
    Python methods. The view returned reads ``data`` directly; anything
    other than an ``IndexedRows`` is returned as it is.
    """
    import ovs.db.custom_index

    rows = idl.tables[table].rows
    if isinstance(rows, ovs.db.custom_index.IndexedRows) and type(rows.data) is dict:
        return _RowsView(rows.data)
    return rows  # type: ignore[no-any-return]


def session_connected(idl: Any) -> bool:
    """Whether the IDL's JSON-RPC session is connected right now."""
    return bool(idl._session.is_connected())


def close_session(idl: Any) -> None:
    """Close the session *idl* built for itself."""
    idl._session.close()


def set_session(idl: Any, session: Any) -> None:
    """Make *idl* talk through *session* (a JSON-RPC session look-alike)."""
    idl._session = session


def idl_schema_name(idl: Any) -> str:
    """The name of the database schema *idl* was built with."""
    return str(idl._db.name)


def force_full_resync(idl: Any) -> None:
    """Reconnect *idl* and make it reload every row, not only what changed.

    ``Idl.last_id`` is the last transaction the IDL saw; ``monitor_cond_since``
    asks the server for what changed since then. Forgetting it makes the
    server answer with everything (``found`` false), and the IDL drop its
    rows first: nothing of a copy that may have diverged survives.
    """
    idl.last_id = str(uuid_module.UUID(int=0))
    idl.force_reconnect()


def conditions_pending(idl: Any, tables: Any) -> bool:
    """Whether a monitor condition set on one of *tables* is not acknowledged yet."""
    for name in tables:
        state = idl.tables[name].condition_state
        if state.new is not None or state.requested is not None:
            return True
    return False


def session_name(idl: Any) -> str | None:
    """The remote the IDL's session uses now (one member of a comma-separated list)."""
    session = getattr(idl, "_session", None)
    get_name = getattr(session, "get_name", None)
    return None if get_name is None else str(get_name())


def watch_disconnects(idl: Any) -> None:
    """Remember, from now on, why *idl*'s session loses connections (idempotent)."""
    fsm = getattr(getattr(idl, "_session", None), "reconnect", None)
    if fsm is None or "_ovn_vif_last" in vars(fsm):
        return
    original = fsm.disconnected
    fsm._ovn_vif_last = None

    def disconnected(now: Any, error: int) -> Any:
        state = getattr(getattr(fsm, "state", None), "name", "")
        fsm._ovn_vif_last = (str(fsm.get_name()), error, state)
        return original(now, error)

    fsm.disconnected = disconnected


def last_disconnect(idl: Any) -> tuple[str, str] | None:
    """``(member, cause in words)`` of *idl*'s last lost connection or failed
    attempt since :func:`watch_disconnects`, or ``None``."""
    import os

    import ovs.util

    fsm = getattr(getattr(idl, "_session", None), "reconnect", None)
    last = getattr(fsm, "_ovn_vif_last", None) if fsm is not None else None
    if last is None:
        return None
    member, error, state = last
    if error > 0:
        cause = os.strerror(error)
    elif error == ovs.util.EOF:
        cause = "connection closed by peer"
    elif state == "IDLE":
        cause = "no response to inactivity probe"
    elif state == "CONNECTING":
        cause = "connection attempt timed out"
    else:
        cause = "connection dropped"
    return member, cause


def ssl_open(suffix: str, dscp: int) -> tuple[int, Any]:
    """``SSLStream._open``: a TLS client socket to ``HOST:PORT``, connecting.

    Raises what ``ssl`` raises for missing or bad files.
    """
    import ovs.stream  # not at import: the engine needs no stream

    result: tuple[int, Any] = ovs.stream.SSLStream._open(suffix, dscp)
    return result


def stream_recv(stream: Any, n: int) -> tuple[int, Any]:
    """``Stream._recv``: read from the stream's socket, exceptions left to the caller."""
    import ovs.stream

    result: tuple[int, Any] = ovs.stream.Stream._recv(stream, n)
    return result


def stream_send(stream: Any, buf: Any) -> int:
    """``Stream._send``: write to the stream's socket, exceptions left to the caller."""
    import ovs.stream

    return int(ovs.stream.Stream._send(stream, buf))


#: The ``ovs`` modules that bind the name ``ssl`` at import (each does
#: ``try: import ssl``); ``ovs.stream`` imports the other two.
SSL_IMPORTERS = ("ovs.poller", "ovs.socket_util", "ovs.stream")


class _NoSSLSocket:
    """What :class:`SslOnDemand` gives for ``SSLSocket`` while ``ssl`` is not
    loaded: nothing is an instance of it, as nothing can be an
    ``ssl.SSLSocket`` before the ``ssl`` module exists."""


class SslOnDemand(types.ModuleType):
    """Stands for the ``ssl`` module in :data:`SSL_IMPORTERS` until TLS is used.

    Reading any attribute imports the real ``ssl`` module, rebinds the name
    ``ssl`` in those modules to it (the stand-in then drops out of sight)
    and returns the real attribute; except ``SSLSocket`` while ``ssl`` is
    not loaded, which ``ovs.poller`` reads for an ``isinstance`` check on
    every socket it polls (:class:`_NoSSLSocket` then). The stand-in is
    true, like a module, so ``ovs.stream`` still registers ``ssl:``.
    """

    def __getattr__(self, name: str) -> Any:
        loaded = sys.modules.get("ssl")
        if name == "SSLSocket" and (loaded is None or loaded is self):
            return _NoSSLSocket
        if name.startswith("__"):  # introspection (copy, pickle, help) loads nothing
            raise AttributeError(name)
        return getattr(_load_ssl(self), name)


def _load_ssl(stand_in: SslOnDemand) -> types.ModuleType:
    return _load_real(stand_in, "ssl", SSL_IMPORTERS)


def _load_real(
    stand_in: types.ModuleType, name: str, importers: tuple[str, ...]
) -> types.ModuleType:
    """Import the real module *name* and put it in the place of *stand_in*
    in the modules *importers*."""
    if sys.modules.get(name) is stand_in:
        del sys.modules[name]
    real = importlib.import_module(name)
    for importer in importers:
        module = sys.modules.get(importer)
        if module is not None and module.__dict__.get(name) is stand_in:
            module.__dict__[name] = real
    return real


def import_ovs_streams() -> None:
    """Import ``ovs.stream`` (and ``ovs.poller``, ``ovs.socket_util``) without
    loading ``ssl`` until a TLS stream needs it.

    Call it before anything imports those modules (``ovn_vif.agent`` does,
    first thing): they import ``ssl`` at module level, which costs a
    process about 6 MB although only ``ssl:`` remotes use it. While they
    are imported, ``sys.modules["ssl"]`` is a :class:`SslOnDemand`
    stand-in, removed again right after, so any later ``import ssl`` gets
    the real module. A no-op when ``ssl`` or ``ovs.stream`` is already
    loaded, and when this Python has no ``_ssl`` (the ``ovs`` modules then
    go without TLS, as they would anyway).
    """
    if "ssl" in sys.modules or "ovs.stream" in sys.modules:
        return
    if importlib.util.find_spec("_ssl") is None:
        return
    stand_in = SslOnDemand("ssl", "The ssl module, loaded on first use (ovn_vif._ovs_private).")
    sys.modules["ssl"] = stand_in
    try:
        import ovs.stream  # noqa: F401  (imports ovs.poller and ovs.socket_util)
    finally:
        if sys.modules.get("ssl") is stand_in:
            del sys.modules["ssl"]


#: The ``ovs`` module that binds the name ``sortedcontainers`` at import
#: (``try: import sortedcontainers``) and reads it only to make an index.
SORTED_IMPORTERS = ("ovs.db.custom_index",)


class SortedOnDemand(types.ModuleType):
    """Stands for ``sortedcontainers`` in ``ovs.db.custom_index`` until an
    index is made (``Idl.index_create``): reading any attribute imports the
    real module, puts it in its place there and returns the real attribute."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # introspection (copy, pickle, help) loads nothing
            raise AttributeError(name)
        return getattr(_load_real(self, "sortedcontainers", SORTED_IMPORTERS), name)


def import_ovs_idl() -> None:
    """Import ``ovs.db.idl`` without ``sortedcontainers`` (about 0.3 MB of
    code) until an IDL makes an index.

    ``ovs.db.custom_index`` imports it at module level for the indexes'
    sorted lists; the agent's IDLs make none (the agent monitors only its
    own ``Chassis`` row: a scan finds it). As :func:`import_ovs_streams`,
    ``sys.modules["sortedcontainers"]`` is a :class:`SortedOnDemand` only
    while ``ovs.db.custom_index`` is imported; a no-op when either is
    already loaded.
    """
    if "sortedcontainers" in sys.modules or "ovs.db.custom_index" in sys.modules:
        return
    if importlib.util.find_spec("sortedcontainers") is None:
        return  # ovs.db.custom_index then uses its own copy
    stand_in = SortedOnDemand(
        "sortedcontainers", "sortedcontainers, loaded on first use (ovn_vif._ovs_private)."
    )
    sys.modules["sortedcontainers"] = stand_in
    try:
        import ovs.db.idl  # noqa: F401  (imports ovs.db.custom_index)
    finally:
        if sys.modules.get("sortedcontainers") is stand_in:
            del sys.modules["sortedcontainers"]


#: ``ovs.vlog`` levels and the standard library's.
VLOG_LEVELS = {
    "emer": logging.CRITICAL,
    "err": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "dbg": logging.DEBUG,
}

#: Prefix of the standard loggers that :func:`route_ovs_logging` logs to.
OVS_LOGGER_PREFIX = "ovs."

# The Vlog methods route_ovs_logging() replaced, to put back; the escaping
# of messages; the standard logger of each ovs module.
_VLOG_ORIGINALS: dict[str, Any] = {}
_VLOG_ESCAPE: list[Callable[[str], str]] = [str]
_VLOG_LOGGERS: dict[str, logging.Logger] = {}


def _ovs_logger(module: str) -> logging.Logger:
    logger = _VLOG_LOGGERS.get(module)
    if logger is None:
        logger = _VLOG_LOGGERS[module] = logging.getLogger(OVS_LOGGER_PREFIX + module)
    return logger


def route_ovs_logging(*, escape: Callable[[str], str] = str) -> bool:
    """Send the ``ovs`` package's log messages to the standard library's logging.

    Each ``ovs.vlog.Vlog`` module (``reconnect``, ``idl``, ``jsonrpc``,
    ``stream``, ``poller``, ``unixctl_server``, ...) logs to the logger
    ``ovs.<module>`` (``ovs.reconnect``), its levels mapped ``emer`` ->
    ``CRITICAL``, ``err`` -> ``ERROR``, ``warn`` -> ``WARNING``, ``info`` ->
    ``INFO``, ``dbg`` -> ``DEBUG``; ``Vlog.dbg_is_enabled()`` and the other
    ``*_is_enabled()`` answer from that logger, so the ``jsonrpc`` module
    builds its per-message ``DEBUG`` lines only when ``ovs.jsonrpc`` logs
    ``DEBUG``. *escape* is applied to each message that is logged (the
    messages quote database text). No handler is installed: the messages
    go wherever the program's logging sends them.

    Without this, ``ovs`` drops every message until ``Vlog.init()`` is
    called; ``Vlog.init()`` is not used because it installs handlers of its
    own and, once called, makes creating a ``Vlog`` (which ``ovs`` modules
    do when imported) fail. A program that called ``Vlog.init()`` keeps
    ``ovs``'s own logging: this returns ``False`` and changes nothing (and
    a ``Vlog.init()`` after this call takes over again as well).

    Idempotent; a later call only replaces *escape*. Returns whether the
    messages go to the standard loggers.
    """
    import ovs.vlog

    vlog = ovs.vlog.Vlog
    if vlog._Vlog__inited:
        return False
    _VLOG_ESCAPE[0] = escape
    if _VLOG_ORIGINALS:
        return True

    def is_inited() -> bool:
        return bool(vlog._Vlog__inited)

    def logs_at(level: int, original: Any) -> Any:
        def log(self: Any, message: Any, **kwargs: Any) -> None:
            if is_inited():
                original(self, message, **kwargs)
                return
            logger = _ovs_logger(self.name)
            if logger.isEnabledFor(level):
                text = _VLOG_ESCAPE[0](message if isinstance(message, str) else str(message))
                logger.log(level, "%s", text, stacklevel=2, **kwargs)

        return log

    def enabled_at(level: int, original: Any) -> Any:
        def is_enabled(self: Any) -> bool:
            if is_inited():
                return bool(original(self))
            return _ovs_logger(self.name).isEnabledFor(level)

        return is_enabled

    init = vlog.__init__

    def create(self: Any, name: str) -> None:
        init(self, name)
        if not is_inited():
            _ovs_logger(self.name)

    replacements: dict[str, Any] = {"__init__": create}
    for name, level in VLOG_LEVELS.items():
        replacements[name] = logs_at(level, getattr(vlog, name))
        enabled = f"{name}_is_enabled"
        replacements[enabled] = enabled_at(level, getattr(vlog, enabled))
    for name, replacement in replacements.items():
        _VLOG_ORIGINALS[name] = vlog.__dict__[name]
        setattr(vlog, name, replacement)
    # The modules already imported, for ``vlog/list``.
    for module in list(vlog._Vlog__mfl):
        _ovs_logger(module)
    return True


def unroute_ovs_logging() -> None:
    """Undo :func:`route_ovs_logging` (for tests)."""
    import ovs.vlog

    for name, original in _VLOG_ORIGINALS.items():
        setattr(ovs.vlog.Vlog, name, original)
    _VLOG_ORIGINALS.clear()
    _VLOG_ESCAPE[0] = str


def __getattr__(name: str) -> Any:
    # QuickInsertIdl is built on first use: importing this module (the
    # engine does) must not load ovs.db.idl.
    if name == "QuickInsertIdl":
        return _quick_insert_idl()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Most string atoms :func:`datum_parser` shares between rows (map keys and
#: the empty string): map keys are a small vocabulary (``iface-id``,
#: ``vif-plug-type``...) repeated in every row, and ``ovs`` never changes an
#: atom once made (a changed value is a new atom), so one object can stand
#: in every row. The bound keeps a database that uses ever new keys from
#: growing it for ever; past it, atoms are made as usual.
SHARED_ATOMS_MAX = 1024


class SharedValues:
    """One object for each distinct string or UUID that packed rows hold.

    The JSON decoder makes a new ``str`` for every string of every update,
    and ``uuid.UUID`` a new object for every reference: with 1,000 plugged
    ports the packed rows held 14,000 strings of 1,011 distinct values
    (map keys, ``dummy``, the chassis name, each lport's name four times:
    ``Port_Binding``, ``Interface`` and ``Port`` rows in two IDLs) and
    7,000 UUIDs of 3,000. :meth:`__call__` answers the object already kept
    for an equal value, so that the one decoded is freed with the rest of
    the update's JSON.

    The table itself would keep every value ever seen (tenants' lport names
    included) if nothing took them out: once it has grown to twice its size
    after the last sweep (at least :attr:`floor` values), :meth:`sweep`
    drops the values nothing but the table refers to, so it never holds
    more than twice the values in use at its last sweep. Python's own
    ``sys.intern`` is not used: it only takes strings, and since Python 3.12
    keeps them for ever.

    Only on CPython, whose reference counts tell when nothing else holds a
    value; elsewhere values are answered as they come.
    """

    __slots__ = ("_held_alone", "_limit", "_values", "floor")

    def __init__(self, floor: int = 4096) -> None:
        self._values: dict[Any, Any] = {}
        #: Values kept before the next sweep.
        self.floor = floor
        self._limit = floor
        self._held_alone = _table_only_refcount()

    def __call__(self, value: Any) -> Any:
        """The kept object equal to *value* (a ``str`` or ``uuid.UUID``), or
        *value* itself, kept from now on."""
        values = self._values
        kept = values.get(value)
        if kept is not None:
            return kept
        if self._held_alone is None:
            return value
        if len(values) >= self._limit:
            self.sweep()
        values[value] = value
        return value

    def __len__(self) -> int:
        return len(self._values)

    def sweep(self) -> int:
        """Drop the values only this table refers to; how many it dropped."""
        alone = self._held_alone
        values = self._values
        if alone is None:
            return 0
        getrefcount = sys.getrefcount
        gone = [value for value in values if getrefcount(value) <= alone]
        for value in gone:
            del values[value]
        self._limit = max(self.floor, 2 * len(values))
        return len(gone)


def _table_only_refcount() -> int | None:
    """What ``sys.getrefcount`` answers, in :meth:`SharedValues.sweep`'s
    loop, for a value that only the table refers to; ``None`` where
    reference counts do not tell (not CPython)."""
    if sys.implementation.name != "cpython":
        return None
    probe: dict[Any, Any] = {}
    value = uuid_module.UUID(int=1)
    probe[value] = value
    del value
    getrefcount = sys.getrefcount
    counts = [getrefcount(value) for value in probe]
    return counts[0]


#: The strings and UUIDs of every packed row, in every IDL of the process
#: (the agent's two share lport names).
SHARED = SharedValues()


#: What a value parser (:func:`_value_parser`) answers for JSON it does not take.
_BAD = object()


def _value_parser(base: Any, share: Callable[[Any], Any] | None = None) -> Any:
    """A parser for one atom of base type *base*: the JSON to the atom's
    Python value (``str``, ``int``, ``bool``, ``uuid.UUID``), checked as
    ``Atom.from_json`` checks it, or :data:`_BAD`; ``None`` for a base type
    it does not handle (enums, reals). With *share* (:class:`SharedValues`),
    strings and UUIDs are the objects it answers."""
    import ovs.db.types
    import ovs.ovsuuid

    kind = base.type
    if base.enum is not None:
        return None
    if kind == ovs.db.types.StringType:
        shortest, longest = base.min_length, base.max_length

        def string(json: Any) -> Any:
            if type(json) is str and shortest <= len(json) <= longest:
                return json
            return _BAD

        if share is not None:

            def shared_string(json: Any) -> Any:
                if type(json) is str and shortest <= len(json) <= longest:
                    return share(json)
                return _BAD

            return shared_string
        return string
    if kind == ovs.db.types.IntegerType:
        low, high = base.min, base.max

        def integer(json: Any) -> Any:
            if (
                type(json) is int
                and (low is None or json >= low)
                and (high is None or json <= high)
            ):
                return json
            return _BAD

        return integer
    if kind == ovs.db.types.BooleanType:
        return lambda json: json if type(json) is bool else _BAD
    if kind == ovs.db.types.UuidType:

        def reference(json: Any) -> Any:
            if (
                type(json) is list
                and len(json) == 2
                and json[0] == "uuid"
                and type(json[1]) is str
                and ovs.ovsuuid.uuidRE.match(json[1])
            ):
                parsed = uuid_module.UUID(json[1])
                return parsed if share is None else share(parsed)
            return _BAD

        return reference
    return None


def _atom_parser(base: Any, shared: dict[str, Any] | None = None) -> Any:
    """As :func:`datum_parser`, for one atom (``Atom.from_json``), or
    :data:`_BAD`; string atoms are taken from and added to *shared* (while it
    has room), and the empty string is always shared."""
    import ovs.db.data
    import ovs.db.types

    value = _value_parser(base)
    if value is None:
        return None
    atom_class = ovs.db.data.Atom
    kind = base.type
    if kind == ovs.db.types.StringType:
        known = shared if shared is not None else {}
        bounded = shared is not None

        def string(json: Any) -> Any:
            text = value(json)
            if text is _BAD:
                return _BAD
            atom = known.get(text)
            if atom is None:
                atom = atom_class(kind, text)
                if (bounded and len(known) < SHARED_ATOMS_MAX) or not text:
                    known[text] = atom
            return atom

        return string

    def atom(json: Any) -> Any:
        parsed = value(json)
        return _BAD if parsed is _BAD else atom_class(kind, parsed)

    return atom


def _elements_parser(kind: Any, key: Any, value: Any) -> Any:
    """The walk of a column value's JSON that :func:`datum_parser` and
    :func:`_packer` share: a list of ``(key, value)`` pairs (``value``
    ``None`` for a set or scalar), each element parsed by *key* and *value*
    (for maps), or ``None`` if the JSON, an element or the count is wrong.
    Duplicates are the caller's to refuse."""
    fewest, most = kind.n_min, kind.n_max
    wrapper = "map" if value is not None else "set"

    def walk(json: Any) -> list[tuple[Any, Any]] | None:
        if not (type(json) is list and json and json[0] == wrapper):
            if wrapper == "map":
                return None
            k = key(json)
            return None if k is _BAD else [(k, None)]
        if len(json) != 2 or type(json[1]) is not list:
            return None
        inner = json[1]
        if not fewest <= len(inner) <= most:
            return None
        out = []
        for element in inner:
            if value is None:
                k, v = key(element), None
                if k is _BAD:
                    return None
            else:
                if type(element) is not list or len(element) != 2:
                    return None
                k, v = key(element[0]), value(element[1])
                if k is _BAD or v is _BAD:
                    return None
            out.append((k, v))
        return out

    return walk


# The string atoms of map keys, shared by every parser (SHARED_ATOMS_MAX).
_SHARED_KEYS: dict[str, Any] = {}


def datum_parser(kind: Any) -> Any:
    """A parser for a column value of type *kind* (an ``ovs.db.types.Type``)
    that answers exactly as ``Datum.from_json(kind, json)`` does, or
    ``None`` for any value it does not handle (the caller then asks
    ``Datum.from_json``); ``None`` for a type it does not handle (enums,
    reals). Strings, integers, booleans and UUIDs, alone, in sets or in
    maps, cover every column the engine reads.
    """
    import ovs.db.data

    datum_class = ovs.db.data.Datum
    key = _atom_parser(kind.key, _SHARED_KEYS if kind.is_map() else None)
    value = _atom_parser(kind.value) if kind.is_map() else None
    if key is None or (kind.is_map() and value is None):
        return None
    walk = _elements_parser(kind, key, value)

    def parse(json: Any) -> Any:
        pairs = walk(json)
        if pairs is None:
            return None
        values = dict(pairs)
        if len(values) != len(pairs):
            return None  # a duplicate
        return datum_class(kind, values)

    return parse


class PlainRows(dict):  # type: ignore[type-arg]
    """The rows of an ``IdlTable`` in a plain ``dict`` (uuid -> row), for
    :class:`QuickInsertIdl`'s :data:`PACKED_TABLES`, in place of
    ``ovs.db.custom_index.IndexedRows``.

    ``IndexedRows`` keeps each row in a list of its own (about 100 bytes a
    row) so that a row set again over an existing uuid (a transaction's
    inserted row) comes back when the newer one is deleted, and answers
    every ``get``, ``in`` and ``[]`` in Python. Here reads are the
    ``dict``'s own; a row set over another keeps the older one aside
    (``_under``), and deleting the newer brings it back, as there. Indexes
    work as in ``IndexedRows`` (:meth:`index_create`), although
    :class:`QuickInsertIdl` keeps packed only the rows of tables without
    one.
    """

    def __init__(self, table: Any) -> None:
        super().__init__()
        self.table = table
        self.indexes: dict[str, Any] = {}
        #: Per uuid, the rows set before the one held (oldest first).
        self._under: dict[Any, list[Any]] = {}

    @functools.cached_property
    def IndexEntry(self) -> Any:  # IndexedRows names it so
        import ovs.db.custom_index

        return ovs.db.custom_index.IndexEntryClass(self.table)

    def index_create(self, name: str) -> Any:
        import ovs.db.custom_index

        if name in self.indexes:
            raise ValueError(f"An index named {name} already exists")
        index = self.indexes[name] = ovs.db.custom_index.MultiColumnIndex(name)
        return index

    def __setitem__(self, key: Any, row: Any) -> None:
        held = self.get(key)
        if held is not None:
            self._under.setdefault(key, []).append(held)
        super().__setitem__(key, row)
        for index in self.indexes.values():
            index.add(row)

    def __delitem__(self, key: Any) -> None:
        under = self._under.get(key)
        if under:
            # The older row comes back in the uuid's place (the order of
            # iteration is the IndexedRows' one).
            row = self[key]
            super().__setitem__(key, under.pop())
            if not under:
                del self._under[key]
        else:
            row = self.pop(key)
        for index in self.indexes.values():
            index.remove(row)

    def clear(self) -> None:
        super().clear()
        self._under.clear()
        for index in self.indexes.values():
            index.clear()


# --- packed rows ----------------------------------------------------------------------

#: Where a packed row keeps its values (in its ``__dict__``, instead of ``_data``).
_PACKED = "_ovn_vif_packed"
#: Tables whose rows :class:`QuickInsertIdl` keeps packed: the ones with a
#: row per plugged port. The others (one Bridge, one Open_vSwitch, a few
#: Chassis, whose rows indexes and :func:`ref_set` read) keep their Datums.
PACKED_TABLES = frozenset({"Port_Binding", "Interface", "Port"})

_SCALAR, _SET, _MAP = 0, 1, 2


class _StoredEmpty:
    """The packed value of an optional scalar column stored empty (a modify
    emptied it), which ``ovs.db.idl`` keeps apart from a column never stored."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<stored empty>"


STORED_EMPTY = _StoredEmpty()


class PackedLayout:
    """How :class:`QuickInsertIdl` packs the rows of one table.

    A packed row keeps, instead of ``_data`` (a dict of ``ovs.db.data.Datum``,
    each with a dict of ``Atom`` objects: about 2 kB a row), one tuple: this
    layout, then per column ``None`` (not stored: the default), or the
    column's plain values (a scalar's value; a set's values as a tuple; a
    map's keys and values alternating in one tuple), and a last ``None``
    (:meth:`slots`). ``row._data`` unpacks it
    for whoever asks (``ovs.db.idl`` itself, attribute reads, transactions):
    the row then holds its Datums until :meth:`QuickInsertIdl.run` packs it
    again. The engine's readers (:func:`packed_values`) read the values
    without unpacking.
    """

    __slots__ = ("_columns", "_index", "_parsers", "_slots", "table")

    def __init__(self, table: Any) -> None:
        import ovs.db.data

        self.table = table
        columns = []
        #: Per column: its packed parser, its packed default, whether it alerts.
        parsers = {}
        for name, column in table.columns.items():
            kind = column.type
            shape = _MAP if kind.is_map() else _SCALAR if kind.n_max == 1 else _SET
            value_type = kind.value.type if kind.is_map() else None
            columns.append((name, kind, shape, kind.key.type, value_type))
            default = _pack_datum(shape, ovs.db.data.Datum.default(kind))
            parsers[name] = (len(columns), _packer(kind), default, column.alert)
        self._columns = tuple(columns)
        self._index = {name: at + 1 for at, name in enumerate(table.columns)}
        self._parsers = parsers
        self._slots: dict[tuple[str, ...], tuple[int, ...]] = {}

    def slots(self, names: tuple[str, ...]) -> tuple[int, ...]:
        """Where the columns *names* are in a packed tuple (``packed[at]``); a
        column the table lacks is at the last place, which is always ``None``."""
        found = self._slots.get(names)
        if found is None:
            missing = len(self._columns) + 1
            found = self._slots[names] = tuple(self._index.get(n, missing) for n in names)
        return found

    def parse(self, new: Mapping[str, Any], fill: list[Any]) -> tuple[tuple[Any, ...], bool] | None:
        """A row inserted with the columns *new* (JSON), packed, and whether
        a column stored alerts; ``None`` if a value does not parse here.

        As :class:`QuickInsertIdl` stores Datums: only values unlike the
        column's default, and *fill*'s defaults for required scalars left
        out.
        """
        out: list[Any] = [None] * (len(self._columns) + 2)
        out[0] = self
        alert = False
        parsers = self._parsers
        for name, json in new.items():
            at, parse, default, alerts = parsers[name]
            value = parse(json)
            if value is _BAD:
                return None
            if value != default:
                out[at] = value
                alert = alert or alerts
        for name, datum, alerts in fill:
            if name not in new:
                if datum is None:
                    return None
                at, _parse, default, _alerts = parsers[name]
                value = _pack_datum(self._columns[at - 1][2], datum)
                if value != default:
                    out[at] = value
                    alert = alert or alerts
        return tuple(out), alert

    @staticmethod
    def fits(table: Any) -> bool:
        """Whether the rows of *table* can be packed: every column of a type
        :func:`datum_parser` reads (no enums, no reals), so that each value
        packed is a ``str``, ``int``, ``bool`` or ``uuid.UUID``."""
        return all(datum_parser(column.type) is not None for column in table.columns.values())

    def get(self, packed: tuple[Any, ...], name: str) -> Any:
        """The packed value of column *name* (``None``: not stored), or
        ``None`` for a column this table does not have."""
        at = self._index.get(name)
        return None if at is None else packed[at]

    def first(self, packed: tuple[Any, ...], name: str, default: Any) -> Any:
        """A scalar or optional column's value; *default* when it is empty or not stored."""
        return packed_scalar(self.get(packed, name), default)

    def members(self, packed: tuple[Any, ...], name: str) -> tuple[Any, ...]:
        """A set (or optional scalar) column's values, as a tuple."""
        return packed_members(self.get(packed, name))

    def pack(self, data: Mapping[str, Any]) -> tuple[Any, ...]:
        """The packed tuple of the stored Datums *data* (column -> Datum)."""
        out: list[Any] = [self]
        for name, _kind, shape, _key, _value in self._columns:
            datum = data.get(name)
            out.append(None if datum is None else _pack_datum(shape, datum))
        out.append(None)  # where slots() puts a column the table lacks
        return tuple(out)

    def replace(self, packed: tuple[Any, ...], data: Mapping[str, Any]) -> tuple[Any, ...]:
        """*packed* with the columns in *data* (column -> Datum) stored anew."""
        out = list(packed)
        for name, datum in data.items():
            at = self._index[name]
            out[at] = _pack_datum(self._columns[at - 1][2], datum)
        return tuple(out)

    def apply_diff(
        self, packed: tuple[Any, ...], row_diff: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """*packed* with an ``update2`` modify (*row_diff*: column -> JSON
        diff) applied, and the changed columns' old values as new Datums;
        ``None`` if a diff does not parse here (nothing is applied then).

        The same steps as ``ovs.db.idl``'s, on plain values: a column whose
        type holds at most one value and that holds one now takes the diff
        as its new value; any other takes each of the diff's elements out if
        it holds it (a map: with the same value), in otherwise. A column
        whose values change is stored, even if it ends at its default (as a
        stored Datum changed in place stays stored); one whose values do not
        is left as it was. Keys keep their places, new ones come last, as in
        the Datum's dict.
        """
        parsers = self._parsers
        columns = self._columns
        diffs = []
        for name, json in row_diff.items():
            at, parse, default, _alert = parsers[name]
            diff = parse(json)
            if diff is _BAD:
                return None
            diffs.append((name, at, diff, default))
        out = list(packed)
        old = {}
        for name, at, diff, default in diffs:
            current = packed[at]
            old[name] = self.datum(packed, name)
            _name, kind, shape, _key, _value = columns[at - 1]
            base = _plain_values(shape, default if current is None else current)
            changes = _plain_values(shape, diff)
            if kind.n_max > 1 or not base:
                result = dict(base)
                for key, value in changes.items():
                    if key in result and result[key] == value:
                        del result[key]
                    else:
                        result[key] = value
            else:
                result = changes
            if result != base:
                out[at] = _packed_from_plain(shape, result)
        return tuple(out), old

    def datum(self, packed: tuple[Any, ...], name: str) -> Any:
        """A new ``Datum`` of column *name* (the default when not stored)."""
        import ovs.db.data

        at = self._index[name]
        value = packed[at]
        if value is None:
            return ovs.db.data.Datum.default(self._columns[at - 1][1])
        return self._datum(at - 1, value)

    def unpack(self, packed: tuple[Any, ...]) -> Any:
        """A new ``_data`` (``ColumnDefaultDict``) with the Datums of *packed*."""
        import ovs.db.data
        import ovs.db.idl

        data = ovs.db.idl.ColumnDefaultDict(self.table)
        for at, column in enumerate(self._columns):
            value = packed[at + 1]
            if value is not None:
                data[column[0]] = self._datum(at, value)
        return data

    def _datum(self, at: int, value: Any) -> Any:
        import ovs.db.data

        atom_class = ovs.db.data.Atom
        _name, kind, shape, key_type, value_type = self._columns[at]
        values: dict[Any, Any]
        if shape == _SCALAR:
            values = {} if value is STORED_EMPTY else {atom_class(key_type, value): None}
        elif shape == _SET:
            values = {atom_class(key_type, v): None for v in value}
        else:
            values = {}
            for i in range(0, len(value), 2):
                key = value[i]
                atom = _SHARED_KEYS.get(key) if type(key) is str else None
                if atom is None:
                    atom = atom_class(key_type, key)
                values[atom] = atom_class(value_type, value[i + 1])
        return ovs.db.data.Datum(kind, values)


def _plain_values(shape: int, value: Any) -> dict[Any, Any]:
    """A packed value (not ``None``) as the keys and values of its Datum's
    dict (``None`` values for a set or scalar)."""
    if shape == _SCALAR:
        return {} if value is STORED_EMPTY else {value: None}
    if shape == _SET:
        return dict.fromkeys(value)
    return dict(zip(value[0::2], value[1::2], strict=True))


def _packed_from_plain(shape: int, values: dict[Any, Any]) -> Any:
    """The packed value of a Datum's keys and values (:func:`_plain_values`)."""
    if shape == _SCALAR:
        return next(iter(values)) if values else STORED_EMPTY
    if shape == _SET:
        return tuple(values)
    return tuple(x for pair in values.items() for x in pair)


def packed_scalar(value: Any, default: Any) -> Any:
    """A scalar column's packed *value* as the column's value: *default*
    when it is not stored or stored empty."""
    return default if value is None or value is STORED_EMPTY else value


def packed_members(value: Any) -> tuple[Any, ...]:
    """A set (or optional scalar) column's packed *value* as a tuple of its values."""
    if value is None or value is STORED_EMPTY:
        return ()
    return value if type(value) is tuple else (value,)


def _packer(kind: Any) -> Any:
    """A parser for a column value of type *kind* straight to its packed
    value (:class:`PackedLayout`), taking exactly what :func:`datum_parser`
    takes, or :data:`_BAD`; ``None`` for a type it does not handle."""
    key = _value_parser(kind.key, SHARED)
    value = _value_parser(kind.value, SHARED) if kind.is_map() else None
    if key is None or (kind.is_map() and value is None):
        return None
    walk = _elements_parser(kind, key, value)
    shape = _MAP if kind.is_map() else _SCALAR if kind.n_max == 1 else _SET

    def parse(json: Any) -> Any:
        if shape == _SCALAR and type(json) is not list:
            return key(json)  # a plain string, integer or boolean
        pairs = walk(json)
        if pairs is None:
            return _BAD
        if len(pairs) > 1 and len({k for k, _ in pairs}) != len(pairs):
            return _BAD  # a duplicate
        if shape == _SCALAR:
            return pairs[0][0] if pairs else STORED_EMPTY
        if shape == _SET:
            return tuple(k for k, _ in pairs)
        return tuple(x for pair in pairs for x in pair)

    return parse


def _pack_datum(shape: int, datum: Any) -> Any:
    values = datum.values
    if shape == _SCALAR:
        return _shared(next(iter(values)).value) if values else STORED_EMPTY
    if shape == _SET:
        return tuple(_shared(atom.value) for atom in values)
    flat = []
    for key, value in values.items():
        flat.append(_shared(key.value))
        flat.append(_shared(value.value))
    return tuple(flat)


def _shared(value: Any) -> Any:
    """*value* as :data:`SHARED` keeps it, if it is a string or a UUID."""
    kind = type(value)
    return SHARED(value) if kind is str or kind is uuid_module.UUID else value


#: The per-transaction dicts of an ``ovs.db.idl.Row``, empty in a row no
#: transaction touches.
_TXN_STATE = ("_changes", "_mutations", "_prereqs")


def _lazy_dict(name: str) -> property:
    """A row attribute kept in the row's ``__dict__`` under *name* (where
    ``ovs.db.idl`` also writes it directly), an empty dict made there on the
    first read."""

    def get(row: Any) -> Any:
        state = row.__dict__
        if name in state:
            return state[name]
        value: dict[Any, Any] = {}
        state[name] = value
        return value

    return property(get)


@functools.cache
def _packed_row_class() -> Any:
    import ovs.db.idl

    class PackedRow(ovs.db.idl.Row):  # type: ignore[misc]
        """An ``ovs.db.idl.Row`` whose committed values are packed
        (:class:`PackedLayout`) until something reads ``_data``, and whose
        ``_changes``, ``_mutations`` and ``_prereqs`` (three empty dicts in
        every row that no transaction touches) exist once something reads
        them."""

        _changes = _lazy_dict("_changes")
        _mutations = _lazy_dict("_mutations")
        _prereqs = _lazy_dict("_prereqs")

        @property
        def _data(self) -> Any:
            state = self.__dict__
            packed = state.get(_PACKED)
            if packed is not None:
                del state[_PACKED]
                state["_data"] = packed[0].unpack(packed)
                unpacked = getattr(state["_idl"], "_ovn_vif_unpacked", None)
                if unpacked is not None:
                    unpacked.append(self)
            return state.get("_data")

    return PackedRow


@functools.cache
def _quick_insert_idl() -> Any:
    import ovs.db.data
    import ovs.db.error
    import ovs.db.idl

    process_update2 = ovs.db.idl.Idl._Idl__process_update2
    apply_diff = ovs.db.idl.Idl._Idl__apply_diff
    packed_row = _packed_row_class()

    class QuickInsertIdl(ovs.db.idl.Idl):  # type: ignore[misc]
        """``ovs.db.idl.Idl``, applying inserted rows in a third to a half of the time.

        For each row an ``update2``/``update3`` notification inserts (or a
        monitor reply lists as ``initial``), ``ovs.db.idl`` parses the JSON of
        a default value for each omitted required scalar column, then compares
        each column's new ``Datum`` with a default ``Datum`` built afresh for
        the comparison, and stores the columns that differ. This class does
        the same in one pass, keeping per table the parsed defaults and the
        ``Datum`` each comparison is made with, and parses values with
        :func:`datum_parser`, so it stores exactly the same values (copies,
        never shared between rows) and makes the same ``notify()`` calls and
        ``change_seqno`` moves. Anything unusual (a
        delete, a modify, an insert of a row already present, an unknown
        column, a value or default that does not parse) goes to the parent's
        own code, warnings and all. A modified row is applied by the
        parent's steps too, on its packed values
        (:meth:`PackedLayout.apply_diff`) while it is packed, else with the
        same parsers for the changed values.
        ``tests/ovn_vif/test_quick_insert_idl.py`` compares the two on the same
        databases.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._ovn_vif_tables: dict[str, tuple[Any, dict[str, Any], list[Any], Any, Any]] = {}
            #: Packed rows that something unpacked (``row._data``) since the last run().
            self._ovn_vif_unpacked: list[Any] = []
            super().__init__(*args, **kwargs)
            for name in PACKED_TABLES:
                table = self.tables.get(name)
                if table is not None and not table.rows and not table.rows.indexes:
                    table.rows = PlainRows(table)

        def run(self) -> Any:
            if self._ovn_vif_unpacked:
                self._ovn_vif_repack()
            return super().run()

        def _ovn_vif_repack(self) -> None:
            """Pack again the rows whose ``_data`` was read, unless a
            transaction has business with them (they wait for the next run)."""
            waiting = []
            for row in self._ovn_vif_unpacked:
                state = row.__dict__
                data = state.get("_data")
                if _PACKED in state or not isinstance(data, dict):
                    continue
                table = state["_table"]
                if table_rows(self, table.name).get(state["uuid"]) is not row:
                    continue  # deleted, or the cache was cleared
                if any(state.get(name, {}) != {} for name in _TXN_STATE):
                    waiting.append(row)
                    continue
                layout = self._ovn_vif_table(table)[4]
                if layout is None:
                    continue
                state[_PACKED] = layout.pack(data)
                del state["_data"]
                for name in _TXN_STATE:
                    state.pop(name, None)
                for name in [n for n in state if n.startswith(_REFS)]:
                    del state[name]  # ref_set reads a packed row's own values
            self._ovn_vif_unpacked = waiting

        def _ovn_vif_table(self, table: Any) -> tuple[Any, dict[str, Any], list[Any], Any, Any]:
            cached = self._ovn_vif_tables.get(table.name)
            if cached is not None and cached[0] is table:
                return cached
            compare: dict[str, Any] = {}
            parsers: dict[str, Any] = {}
            fill: list[Any] = []
            readonly = self.readonly.get(table.name, ())
            for column in table.columns.values():
                compare[column.name] = ovs.db.data.Datum.default(column.type)
                parsers[column.name] = datum_parser(column.type)
                kind = column.type
                if kind.n_min != 0 and not kind.is_map() and column.name not in readonly:
                    try:
                        json = self._Idl__column_name(column)
                        datum = ovs.db.data.Datum.from_json(kind, json)
                    except ovs.db.error.Error:
                        datum = None
                    fill.append((column.name, datum, column.alert))
            layout = (
                PackedLayout(table)
                if table.name in PACKED_TABLES and PackedLayout.fits(table)
                else None
            )
            cached = self._ovn_vif_tables[table.name] = (table, compare, fill, parsers, layout)
            return cached

        def _Idl__process_update2(self, table: Any, uuid: Any, row_update: Any) -> Any:
            if "delete" in row_update:
                return process_update2(self, table, uuid, row_update)
            if "insert" in row_update:
                new = row_update["insert"]
            elif "initial" in row_update:
                new = row_update["initial"]
            else:
                return process_update2(self, table, uuid, row_update)
            columns = table.columns
            rows = table.rows
            known = uuid in (rows.data if type(getattr(rows, "data", None)) is dict else rows)
            if not isinstance(new, dict) or known or not columns.keys() >= new.keys():
                return process_update2(self, table, uuid, row_update)
            _, compare, fill, parsers, layout = self._ovn_vif_table(table)
            packable = layout is not None and not getattr(rows, "indexes", None)
            if packable:
                uuid = SHARED(uuid)  # other rows' references to it are the same object
                parsed = layout.parse(new, fill)
                if parsed is not None:
                    return self._ovn_vif_insert_packed(table, uuid, *parsed)
            values = []
            for name, json in new.items():
                column = columns[name]
                parse = parsers[name]
                datum = None if parse is None else parse(json)
                if datum is None:
                    try:
                        datum = ovs.db.data.Datum.from_json(column.type, json)
                    except ovs.db.error.Error:
                        return process_update2(self, table, uuid, row_update)
                if datum != compare[name]:
                    values.append((name, datum, column.alert))
            for name, default, alert in fill:
                if name not in new:
                    if default is None:
                        return process_update2(self, table, uuid, row_update)
                    if default != compare[name]:
                        values.append((name, default.copy(), alert))
            changed = any(alert for _name, _datum, alert in values)
            if packable:
                # A value only the stock parser takes: packed from its Datums.
                stored = {name: datum for name, datum, _alert in values}
                return self._ovn_vif_insert_packed(table, uuid, layout.pack(stored), changed)
            row = self._Idl__create_row(table, uuid)
            data = row._data
            for name, datum, _alert in values:
                data[name] = datum
            table.rows[uuid] = row
            return ovs.db.idl.Notice(ovs.db.idl.ROW_CREATE, row) if changed else False

        def _ovn_vif_insert_packed(
            self, table: Any, uuid: Any, packed: tuple[Any, ...], changed: bool
        ) -> Any:
            # No index reads this table's rows: keep them packed.
            row = packed_row(self, table, uuid, None)
            state = row.__dict__
            del state["_data"]
            for name in _TXN_STATE:
                del state[name]
            state[_PACKED] = packed
            table.rows[uuid] = row
            return ovs.db.idl.Notice(ovs.db.idl.ROW_CREATE, row) if changed else False

        def _Idl__apply_diff(self, table: Any, row: Any, row_diff: Any) -> Any:
            # A modified row: the parent's steps, with the column parsers.
            # Every value is parsed before any is applied, so a value that
            # does not parse leaves the whole row to the parent (which
            # warns and applies the others) with nothing applied yet.
            columns = table.columns
            if not isinstance(row_diff, dict) or not columns.keys() >= row_diff.keys():
                return apply_diff(self, table, row, row_diff)
            packed = row.__dict__.get(_PACKED)
            if packed is not None:
                applied = packed[0].apply_diff(packed, row_diff)
                if applied is not None:
                    row.__dict__[_PACKED], old_row = applied
                    return old_row
            parsers = self._ovn_vif_table(table)[3]
            diffs = []
            for name, json in row_diff.items():
                parse = parsers[name]
                diff = None if parse is None else parse(json)
                if diff is None:
                    try:
                        diff = ovs.db.data.Datum.from_json(columns[name].type, json)
                    except ovs.db.error.Error:
                        return apply_diff(self, table, row, row_diff)
                diffs.append((name, diff))
            old_row = {}
            if packed is not None:
                # A value only the stock parser takes: the same steps on the
                # changed columns' Datums alone.
                layout = packed[0]
                stored = {}
                for name, diff in diffs:
                    current = layout.datum(packed, name)
                    old_row[name] = current.copy()
                    datum = current.diff(diff)
                    # Applied in place to a stored column, the parent's Datum
                    # would keep the change; otherwise it compares.
                    in_place = datum is current and layout.get(packed, name) is not None
                    if in_place or datum != layout.datum(packed, name):
                        stored[name] = datum
                row.__dict__[_PACKED] = layout.replace(packed, stored)
                return old_row
            data = row._data
            for name, diff in diffs:
                old_row[name] = data[name].copy()
                datum = data[name].diff(diff)
                if datum != data[name]:
                    data[name] = datum
            return old_row

    return QuickInsertIdl
