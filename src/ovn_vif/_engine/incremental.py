"""Incremental reconciliation: decide only for the lports whose inputs changed.

A full run copies every row the engine reads and asks the provider about
every plugged lport, so one change among N plugged ports costs O(N). With
change tracking (:func:`track_changes` on both IDLs) the engine keeps its
own copy of the rows up to date from the rows the IDLs report changed, and
decides only for:

* the lports whose inputs changed: their Port_Binding, or an integration
  bridge Interface with their ``iface-id`` (or the Port holding it);
* the lports that were not *settled* last time: decided with an outcome
  (declined, refused, deferred, vetoed, provider error), written (until
  the written rows come back as expected) or in flight.

An lport is settled when its decision found it in sync (nothing to write,
nothing to report). Its decision then depends only on its own inputs (the
:class:`LportKey`), this chassis, the bridge and the provider's state (it
has nothing to unplug, so ``can_unplug`` does not matter; deferred lports
are not settled); the engine decides again when any of those may have
changed. Anything it cannot explain from the changed rows (a reconnection,
a Chassis or Bridge rename, an IDL without tracking) makes it fall back to
a full run, which also rebuilds its copy.

:class:`Incremental` keeps all of this for the
:class:`~ovn_vif._engine.reconciler.Reconciler`; :class:`RowCopy` is its
copy of the rows, read through :mod:`ovn_vif._engine.rows`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from types import MappingProxyType
from typing import Any
from uuid import UUID

import attrs

from ovn_vif._contract.frozenmap import FrozenMap
from ovn_vif._engine.decision import Plan
from ovn_vif._engine.report import Outcome
from ovn_vif._engine.rows import bridge_ports, column, read_binding, read_iface, read_port
from ovn_vif._engine.views import (
    OVN_PLUGGED,
    BindingView,
    BridgeView,
    ChassisView,
    IfaceView,
    NameLookup,
    OvsView,
    PortView,
    SbView,
)
from ovn_vif._engine.writes import IfaceUpdate
from ovn_vif._ovs_private import ref_set, table_rows

LOG = logging.getLogger(__name__)

#: Attribute under which :func:`track_changes` hangs the log on an IDL.
_ATTR = "ovn_vif_changes"


class ChangeLog:
    """The rows an ``ovs.db.idl.Idl`` changed since the engine last looked.

    Filled by the IDL's ``notify()`` hook (see :func:`track_changes`).
    ``ovs.db.idl`` bumps ``change_seqno`` once per notice it delivers, and
    otherwise only for events that have no notice (a monitor reply after a
    (re)connection, a lock); :meth:`take` therefore returns the changed row
    uuids only when they explain every bump since the previous call, and
    ``None`` (decide everything) otherwise.
    """

    def __init__(self, columns: Mapping[str, AbstractSet[str]] | None = None) -> None:
        self._rows: set[UUID] = set()
        self._notices = 0
        self._seqno: int | None = None
        #: Per table, the columns its reader reads: an update of a row of
        #: that table that changed none of them is counted, not recorded.
        self._columns = columns

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        """Record one ``notify()`` notice of the IDL."""
        self._notices += 1
        row_uuid = getattr(row, "uuid", None)
        if not isinstance(row_uuid, UUID):
            return
        if self._columns is not None and event == "update":
            table = getattr(getattr(row, "_table", None), "name", None)
            read = self._columns.get(table) if isinstance(table, str) else None
            # ``updates`` holds the old values of the columns that changed.
            old = getattr(updates, "__dict__", {}).get("_data")
            if read is not None and isinstance(old, dict) and read.isdisjoint(old):
                return
        self._rows.add(row_uuid)

    def take(self, idl: Any) -> frozenset[UUID] | None:
        """The rows changed since the last call, or ``None`` if unknown."""
        seqno = getattr(idl, "change_seqno", None)
        explained = (
            self._seqno is not None
            and isinstance(seqno, int)
            and seqno - self._seqno == self._notices
        )
        rows = frozenset(self._rows) if explained else None
        self._rows = set()
        self._notices = 0
        self._seqno = seqno if isinstance(seqno, int) else None
        return rows


def track_changes(idl: Any) -> ChangeLog:
    """Make *idl* record the rows it changes, for the incremental engine.

    Wraps the instance's ``notify()`` (an override in the IDL's class keeps
    being called) and returns the log; calling it again returns the same
    log. Do it before the IDL's first ``run()``, or the first reconcile
    after it is a full one (as after every reconnection).
    """
    return _attach(idl, _ATTR)


def watch_changes(
    idl: Any, reader: str, columns: Mapping[str, AbstractSet[str]] | None = None
) -> ChangeLog:
    """Another :class:`ChangeLog` on *idl*, for a *reader* other than the engine.

    Each log is emptied by its own :meth:`ChangeLog.take`, so a reader (the
    agent's Southbound conditions, for one) follows the changed rows without
    taking them from the engine. Calling it again with the same *reader*
    returns the same log; its first :meth:`~ChangeLog.take` answers ``None``.
    With *columns* (table -> the columns the reader reads), the log leaves
    out a row of such a table that only changed other columns (an
    ``ofport`` set by ``ovs-vswitchd``, for a reader of names).
    """
    return _attach(idl, f"{_ATTR}_{reader}", columns)


def _attach(
    idl: Any, attr: str, columns: Mapping[str, AbstractSet[str]] | None = None
) -> ChangeLog:
    log = getattr(idl, attr, None)
    if isinstance(log, ChangeLog):
        return log
    log = ChangeLog(columns)
    previous = idl.notify

    def notify(event: str, row: Any, updates: Any = None) -> None:
        log.notify(event, row, updates)
        previous(event, row, updates)

    idl.notify = notify
    setattr(idl, attr, log)
    return log


def change_log(idl: Any) -> ChangeLog | None:
    """The log :func:`track_changes` attached to *idl*, if any."""
    log = getattr(idl, _ATTR, None)
    return log if isinstance(log, ChangeLog) else None


@attrs.frozen(slots=True)
class IfaceKey:
    """What the recommended policy reads of one of an lport's interfaces."""

    name: str
    type: str
    options: FrozenMap
    external_ids: FrozenMap
    mtu_request: int | None
    #: ``has_ofport`` of an interface not plugged by OVN (the local-binding
    #: rule); ``None`` for OVN-plugged ones, whose ofport is never read.
    foreign_ofport: bool | None
    #: Whether its Port on the bridge holds it alone.
    sole: bool


#: An lport's inputs: its Port_Binding and its bridge interfaces (by name).
LportKey = tuple[BindingView | None, tuple[IfaceKey, ...]]


def iface_key(iface: IfaceView, sole: bool) -> IfaceKey:
    return IfaceKey(
        name=iface.name,
        type=iface.type,
        options=iface.options,
        external_ids=iface.external_ids,
        mtu_request=iface.mtu_request,
        foreign_ofport=None if iface.plugged_by is not None else iface.has_ofport,
        sole=sole,
    )


class NameIndex:
    """The name of every ``Port`` and ``Interface`` row of a change-tracked
    IDL, kept up to date from the rows it changed.

    What :class:`~ovn_vif._engine.rows.IdlNames` finds by reading every row
    once per run, for the incremental runs: it reads every row once, on the
    first question after it was made or after its change log could not
    explain a change (a reconnection), and then only the changed rows.
    """

    def __init__(self) -> None:
        self._idl: Any = None
        #: (table, uuid) -> name, and name -> {table: uuid}.
        self._name_of: dict[tuple[str, UUID], str] = {}
        self._held: dict[str, dict[str, UUID]] = {}

    def lookup(self, idl: Any) -> NameLookup:
        """A :class:`NameLookup` over *idl* as it is when asked."""
        return _IndexedNames(self, idl)

    def sync(self, idl: Any) -> None:
        """Bring the names up to date with *idl*'s changed rows."""
        rows = watch_changes(idl, "names", _NAME_COLUMNS).take(idl)
        if idl is not self._idl or rows is None:
            self._idl = idl
            self._name_of, self._held = {}, {}
            for table in _NAMED:
                for row in table_rows(idl, table).values():
                    self._set(table, row.uuid, column(row, "name", None))
        else:
            named = [(table, table_rows(idl, table)) for table in _NAMED]
            for row_uuid in rows:
                for table, table_map in named:
                    row = table_map.get(row_uuid)
                    self._set(table, row_uuid, None if row is None else column(row, "name", None))

    def holder(self, name: str) -> str | None:
        """What holds *name*, as of the latest :meth:`sync`."""
        holders = self._held.get(name)
        if not holders:
            return None
        for table in _NAMED:
            holder = holders.get(table)
            if holder is not None:
                return f"a {table} named {name} exists (uuid {holder})"
        return None  # pragma: no cover - holders is never an empty dict

    def _set(self, table: str, row_uuid: UUID, name: object) -> None:
        key = (table, row_uuid)
        old = self._name_of.pop(key, None)
        if old is not None:
            holders = self._held[old]
            if holders.get(table) == row_uuid:
                del holders[table]
            if not holders:
                del self._held[old]
        if isinstance(name, str):
            self._name_of[key] = name
            self._held.setdefault(name, {})[table] = row_uuid


#: The tables whose rows' names a provider's choice may collide with, in
#: the order a full read reports them.
_NAMED = ("Port", "Interface")
#: What :class:`NameIndex` reads of them.
_NAME_COLUMNS = {table: frozenset({"name"}) for table in _NAMED}


class _IndexedNames(NameLookup):
    """The index as of the first question: like :class:`IdlNames
    <ovn_vif._engine.rows.IdlNames>`, it belongs to a view used only while
    the IDL does not change, so one run's questions (one per port it
    plugs) read the changed rows once."""

    def __init__(self, index: NameIndex, idl: Any) -> None:
        super().__init__()
        self._index = index
        self._idl = idl
        self._synced = False

    def describe(self, name: str) -> str | None:
        if not self._synced:
            self._index.sync(self._idl)
            self._synced = True
        return self._index.holder(name)


def _bridge_ports(row: Any, ports_t: Any, known: frozenset[UUID]) -> frozenset[UUID]:
    """The Ports of the bridge *row* that are in *ports_t*, *known* being
    those it had: only the ones it gained are looked up (a Port row cannot
    leave the cache while the bridge still refers to it)."""
    refs = ref_set(row, "ports")
    if refs is None:
        return frozenset(bridge_ports(row, ports_t))
    missing = [p for p in refs.difference(known) if p not in ports_t]
    return refs.difference(missing) if missing else refs


class RowCopy:
    """The engine's own copy of the rows, kept up to date from changed rows."""

    def __init__(self, chassis: ChassisView, bridge: BridgeView) -> None:
        self.chassis = chassis
        self.bridge = bridge
        self.ports: dict[UUID, PortView] = {}
        self.ifaces: dict[UUID, IfaceView] = {}
        self.port_of_iface: dict[UUID, UUID] = {}
        self.iface_by_name: dict[str, IfaceView] = {}
        self.port_by_name: dict[str, PortView] = {}
        #: lport -> its interfaces in the view, in the order they came (a
        #: tuple, as there is almost always one).
        self.lport_ifaces: dict[str, tuple[IfaceView, ...]] = {}
        #: Every Port_Binding row of the SB IDL: uuid <-> logical_port.
        self.pb_lport: dict[UUID, str] = {}
        self.lport_pb: dict[str, UUID] = {}
        self._bindings: dict[UUID, BindingView] = {}
        #: The names of every Port and Interface (set by the Incremental).
        self.names = NameIndex()

    # --- building ---------------------------------------------------------

    @classmethod
    def from_views(cls, ovs: OvsView, sb: SbView, sb_idl: Any) -> RowCopy:
        """Start from the views of a full run (and every Port_Binding's name)."""
        assert ovs.bridge is not None
        assert sb.chassis is not None
        state = cls(sb.chassis, ovs.bridge)
        for port in ovs.ports.values():
            state._add_port(port)
        for iface in ovs.ifaces.values():
            state._add_iface(iface)
        for row in table_rows(sb_idl, "Port_Binding").values():
            state._set_pb(row.uuid, column(row, "logical_port", None))
        # The full run's copies of the bindings it read are exact: reuse them.
        for lport, binding in sb.bindings.items():
            pb_uuid = state.lport_pb.get(lport)
            if pb_uuid is not None:
                state._bindings[pb_uuid] = binding
        return state

    def _add_port(self, port: PortView) -> None:
        self.ports[port.uuid] = port
        self.port_by_name[port.name] = port
        for iface_uuid in port.interfaces:
            self.port_of_iface.setdefault(iface_uuid, port.uuid)

    def _drop_port(self, port_uuid: UUID) -> PortView | None:
        port = self.ports.pop(port_uuid, None)
        if port is None:
            return None
        if self.port_by_name.get(port.name) is port:
            del self.port_by_name[port.name]
        for iface_uuid in port.interfaces:
            if self.port_of_iface.get(iface_uuid) == port_uuid:
                del self.port_of_iface[iface_uuid]
        return port

    def _add_iface(self, iface: IfaceView) -> None:
        self.ifaces[iface.uuid] = iface
        self.iface_by_name[iface.name] = iface
        if iface.iface_id is not None:
            group = self.lport_ifaces.get(iface.iface_id, ())
            if any(i.uuid == iface.uuid for i in group):
                group = tuple(iface if i.uuid == iface.uuid else i for i in group)
            else:
                group = (*group, iface)
            self.lport_ifaces[iface.iface_id] = group

    def _drop_iface(self, iface_uuid: UUID) -> IfaceView | None:
        iface = self.ifaces.pop(iface_uuid, None)
        if iface is None:
            return None
        if self.iface_by_name.get(iface.name) is iface:
            del self.iface_by_name[iface.name]
        if iface.iface_id is not None:
            group = self.lport_ifaces.get(iface.iface_id)
            if group is not None:
                left = tuple(i for i in group if i.uuid != iface_uuid)
                if left:
                    self.lport_ifaces[iface.iface_id] = left
                else:
                    del self.lport_ifaces[iface.iface_id]
        return iface

    def _set_pb(self, pb_uuid: UUID, lport: object) -> None:
        old = self.pb_lport.pop(pb_uuid, None)
        if old is not None and self.lport_pb.get(old) == pb_uuid:
            del self.lport_pb[old]
        self._bindings.pop(pb_uuid, None)
        if isinstance(lport, str):
            self.pb_lport[pb_uuid] = lport
            self.lport_pb[lport] = pb_uuid

    # --- applying changes -------------------------------------------------

    def apply_ovs(self, idl: Any, rows: Iterable[UUID], bridge_name: str) -> set[str] | None:
        """Apply changed local rows; return the lports they touch, or
        ``None`` when only a full run can tell (the bridge went or was
        renamed)."""
        bridges, ports_t, ifaces_t = (
            table_rows(idl, "Bridge"),
            table_rows(idl, "Port"),
            table_rows(idl, "Interface"),
        )
        touched: set[str] = set()
        changed = set(rows)
        ports_changed: set[UUID] = set()
        for row_uuid in changed:
            if row_uuid == self.bridge.uuid:
                row = bridges.get(row_uuid)
                if row is None or column(row, "name", None) != bridge_name:
                    return None
                new_ports = _bridge_ports(row, ports_t, self.bridge.ports)
                for gone in self.bridge.ports - new_ports:
                    ports_changed.add(gone)
                ports_changed.update(new_ports - self.bridge.ports)
                self.bridge = BridgeView(uuid=row.uuid, name=bridge_name, ports=new_ports)
            elif row_uuid in bridges:
                if column(bridges[row_uuid], "name", None) == bridge_name:
                    return None  # another row took the bridge's name
            elif row_uuid in ports_t or row_uuid in self.ports:
                ports_changed.add(row_uuid)
        for port_uuid in ports_changed:
            old = self._drop_port(port_uuid)
            old_ifaces = old.interfaces if old is not None else ()
            row = ports_t.get(port_uuid)
            new = None
            if row is not None and port_uuid in self.bridge.ports:
                new = read_port(row, ifaces_t)
                self._add_port(new)
            changed.update(old_ifaces)
            if new is not None:
                changed.update(new.interfaces)
        for row_uuid in changed:
            if row_uuid not in ifaces_t and row_uuid not in self.ifaces:
                continue
            old_iface = self._drop_iface(row_uuid)
            if old_iface is not None and old_iface.iface_id is not None:
                touched.add(old_iface.iface_id)
            row = ifaces_t.get(row_uuid)
            if row is not None and row_uuid in self.port_of_iface:
                new_iface = read_iface(row, like=old_iface)
                self._add_iface(new_iface)
                if new_iface.iface_id is not None:
                    touched.add(new_iface.iface_id)
        return touched

    def apply_sb(self, idl: Any, rows: Iterable[UUID]) -> set[str] | None:
        """Apply changed Southbound rows; ``None`` when a Chassis changed."""
        chassis_t = table_rows(idl, "Chassis")
        pbs = table_rows(idl, "Port_Binding")
        touched: set[str] = set()
        for row_uuid in rows:
            if row_uuid in chassis_t or row_uuid == self.chassis.uuid:
                return None
            old = self.pb_lport.get(row_uuid)
            if old is not None:
                touched.add(old)
            row = pbs.get(row_uuid)
            lport = column(row, "logical_port", None) if row is not None else None
            self._set_pb(row_uuid, lport)
            if isinstance(lport, str):
                touched.add(lport)
        return touched

    # --- reading ----------------------------------------------------------

    def binding(self, idl: Any, lport: str) -> BindingView | None:
        """The lport's Port_Binding as the full snapshot would have it."""
        pb_uuid = self.lport_pb.get(lport)
        if pb_uuid is None:
            return None
        view = self._bindings.get(pb_uuid)
        if view is None:
            row = table_rows(idl, "Port_Binding").get(pb_uuid)
            if row is None:
                return None
            view = read_binding(row, idl.tables["Chassis"].rows)
            self._bindings[pb_uuid] = view
        if view.requested_chassis == self.chassis.uuid or any(
            i.plugged_by is not None for i in self.lport_ifaces.get(lport, ())
        ):
            return view
        return None

    def bridge_ifaces(self, lport: str) -> tuple[IfaceView, ...]:
        """The lport's interfaces on the bridge's ports (not the bridge's
        own), in the order of a full snapshot."""
        found = []
        for iface in self.lport_ifaces.get(lport, ()):
            port_uuid = self.port_of_iface.get(iface.uuid)
            port = None if port_uuid is None else self.ports.get(port_uuid)
            if port is not None and port.name != self.bridge.name:
                found.append((port.uuid, iface.uuid, iface))
        found.sort(key=lambda t: (t[0], t[1]))
        return tuple(i for _, _, i in found)

    def key(self, idl: Any, lport: str) -> LportKey:
        """The lport's inputs now (compared with those it was settled on)."""
        keys = sorted(
            (self.iface_key(i) for i in self.bridge_ifaces(lport)),
            key=lambda k: (k.name, k.type),
        )
        return (self.binding(idl, lport), tuple(keys))

    def iface_key(self, iface: IfaceView) -> IfaceKey:
        port_uuid = self.port_of_iface.get(iface.uuid)
        port = None if port_uuid is None else self.ports.get(port_uuid)
        return iface_key(iface, port is not None and port.interfaces == (iface.uuid,))

    def views(self, ovs_idl: Any, sb_idl: Any, lports: Iterable[str]) -> tuple[OvsView, SbView]:
        """Views restricted to *lports* for the rules, over the full lookups."""
        by_lport: dict[str, tuple[IfaceView, ...]] = {}
        bindings: dict[str, BindingView] = {}
        for lport in lports:
            ifaces = self.bridge_ifaces(lport)
            if ifaces:
                by_lport[lport] = ifaces
            binding = self.binding(sb_idl, lport)
            if binding is not None:
                bindings[lport] = binding
        ovs = OvsView.assemble(
            bridge=self.bridge,
            ports=MappingProxyType(self.ports),
            ifaces=MappingProxyType(self.ifaces),
            others=self.names.lookup(ovs_idl),
            port_of_iface=MappingProxyType(self.port_of_iface),
            iface_by_name=MappingProxyType(self.iface_by_name),
            port_by_name=MappingProxyType(self.port_by_name),
            bridge_ifaces_by_lport=by_lport,
        )
        return ovs, SbView(chassis=self.chassis, bindings=bindings)


#: The inputs of an lport that has neither a binding nor an interface.
_NOTHING: LportKey = (None, ())


@attrs.frozen(slots=True)
class Changes:
    """What an incremental run decides on: the lports to decide again and
    views restricted to them (``None`` when there are none)."""

    copy: RowCopy
    lports: frozenset[str]
    in_flight: frozenset[str]
    ovs: OvsView | None = None
    sb: SbView | None = None


class Incremental:
    """The incremental runs' state: the engine's copy of the rows and which
    lports are settled on which inputs.

    The :class:`~ovn_vif._engine.reconciler.Reconciler` asks it, on each
    run, for the lports to decide (:meth:`changes`; ``None`` asks for a
    full run), tells it what each run decided (:meth:`decided`; after a
    full run it rebuilds the copy) and how each transaction ended
    (:meth:`committed`).

    :param enabled: whether incremental runs are allowed at all (only the
        recommended policy may skip an lport).
    """

    def __init__(self, *, enabled: bool) -> None:
        self._enabled = enabled
        # The engine's own copy of the rows and the inputs it was built for.
        self._copy: RowCopy | None = None
        self._inputs: tuple[Any, ...] | None = None
        # The lports found in sync with the inputs they were decided on,
        # those to decide again whatever changes, and what the rows of
        # written lports should look like once committed (by transaction,
        # then once committed).
        self._settled: dict[str, LportKey] = {}
        self._unsettled: set[str] = set()
        self._expect: dict[int, dict[str, LportKey]] = {}
        self._confirm: dict[str, LportKey] = {}
        self._recompute = True
        self._names = NameIndex()

    def recompute(self) -> None:
        """Make the next run a full one."""
        self._recompute = True

    def drop(self) -> None:
        """Forget the copy: the next run is a full one, which rebuilds it."""
        self._copy = None
        self._recompute = True

    def changes(
        self,
        ovs_idl: Any,
        sb_idl: Any,
        *,
        inputs: tuple[Any, ...],
        bridge: str,
        providers_changed: bool,
        why_full: str | None,
        in_flight: frozenset[str],
    ) -> Changes | None:
        """Apply the rows the IDLs changed and say which lports to decide;
        ``None`` when a full run is needed (*why_full* says so from the
        caller's side: no provider, a provider to restore)."""
        ovs_log, sb_log = change_log(ovs_idl), change_log(sb_idl)
        ovs_rows = None if ovs_log is None else ovs_log.take(ovs_idl)
        sb_rows = None if sb_log is None else sb_log.take(sb_idl)
        copy = self._copy
        why = (
            "no change tracking or not the recommended policy"
            if not self._enabled or ovs_log is None or sb_log is None
            else "first run or recompute requested"
            if copy is None or self._recompute
            else "a provider changed"
            if providers_changed
            else "local changes not explained by the change log"
            if ovs_rows is None
            else "Southbound changes not explained by the change log"
            if sb_rows is None
            else "chassis or bridge changed"
            if self._inputs != inputs
            else why_full
        )
        if why is not None or copy is None or ovs_rows is None or sb_rows is None:
            LOG.debug("full run: %s", why)
            self.drop()
            return None
        touched_ovs = copy.apply_ovs(ovs_idl, ovs_rows, bridge)
        touched_sb = None if touched_ovs is None else copy.apply_sb(sb_idl, sb_rows)
        if touched_ovs is None or touched_sb is None:
            self.drop()
            return None
        dirty: set[str] = set()
        confirmed: set[str] = set()
        for lport in self._unsettled:
            expected = self._confirm.pop(lport, None)
            current = None if expected is None else copy.key(sb_idl, lport)
            if lport not in in_flight and expected is not None and expected == current:
                confirmed.add(lport)
                if expected != _NOTHING:
                    # The equal key read from the copy: it shares the maps of
                    # the copy's views, where the expected one has its own.
                    self._settled[lport] = current
            else:
                dirty.add(lport)
        self._unsettled -= confirmed
        for lport in touched_ovs | touched_sb:
            if lport in dirty:
                continue
            settled = self._settled.get(lport)
            if settled is None or settled != copy.key(sb_idl, lport):
                dirty.add(lport)
        if not dirty:
            return Changes(copy=copy, lports=frozenset(), in_flight=in_flight)
        for lport in dirty:
            self._settled.pop(lport, None)
        ovs_view, sb_view = copy.views(ovs_idl, sb_idl, sorted(dirty))
        return Changes(
            copy=copy, lports=frozenset(dirty), in_flight=in_flight, ovs=ovs_view, sb=sb_view
        )

    def decided(
        self,
        changes: Changes | None,
        ovs_idl: Any,
        sb_idl: Any,
        *,
        inputs: tuple[Any, ...],
        views: tuple[OvsView, SbView],
        txn: Any,
        plan: Plan,
        in_flight: frozenset[str],
    ) -> None:
        """After a run decided *plan* (staged in *txn*): note which lports
        are in sync. After a full run (*changes* is ``None``) the copy is
        rebuilt from its *views* first, with change tracking on both IDLs
        (*in_flight*: the lports in flight once the run is over)."""
        if changes is None:
            if not self._enabled or change_log(ovs_idl) is None or change_log(sb_idl) is None:
                return
            ovs_view, sb_view = views
            copy = RowCopy.from_views(ovs_view, sb_view, sb_idl)
            # Kept across full runs: it reads every name again only when
            # its change log cannot explain a change.
            copy.names = self._names
            self._copy = copy
            # Read now, in a run that is O(N) anyway, what the first
            # incremental run would otherwise read in full: every name.
            self._names.sync(ovs_idl)
            self._inputs = inputs
            self._settled = {}
            self._unsettled = set()
            self._confirm = {}
            self._recompute = False
            lports = frozenset(sb_view.bindings) | frozenset(copy.lport_ifaces)
            changes = Changes(copy=copy, lports=lports, in_flight=in_flight, sb=sb_view)
        self._settle(changes, sb_idl, txn, plan)

    def _settle(self, changes: Changes, sb_idl: Any, txn: Any, plan: Plan) -> None:
        """Note which of the decided lports are in sync, and what the
        written ones should look like once *txn* is committed."""
        copy = changes.copy
        acted = {d.lport for d in plan.decisions}
        acted.update(c.lport for c in plan.pending)
        written = {c.lport for c in plan.creates} | {r.lport for r in plan.removes}
        written.update(u.lport for u in plan.updates)
        acted |= written
        for lport in changes.lports:
            if lport in changes.in_flight or lport in acted:
                self._settled.pop(lport, None)
                self._unsettled.add(lport)
            else:
                key = copy.key(sb_idl, lport)
                # An lport with neither binding nor interface (deleted) is
                # forgotten: anything that appears for it is a change.
                if key == _NOTHING:
                    self._settled.pop(lport, None)
                else:
                    self._settled[lport] = key
                self._unsettled.discard(lport)
        assert changes.sb is not None
        expected = _expected(copy, plan, changes.sb)
        if expected:
            self._expect[id(txn)] = expected

    def committed(self, txn: Any, *, finished: bool) -> None:
        """*txn* ended (*finished*: its writes are in the database); the
        rows it wrote are checked against what was expected on a later run."""
        expected = self._expect.pop(id(txn), None)
        if expected is not None and finished:
            self._confirm.update(expected)


def _expected(copy: RowCopy, plan: Plan, sb_view: SbView) -> dict[str, LportKey]:
    """What the inputs of the lports this plan plugs or unplugs will be
    once it is committed (lports with other outcomes are decided again
    instead)."""
    if not plan.changed:
        return {}
    simple = {Outcome.PLUGGED, Outcome.UNPLUGGED, Outcome.REPLACED, Outcome.UPDATED}
    other = {d.lport for d in plan.decisions if d.outcome not in simple}
    removed: dict[str, set[UUID]] = {}
    for remove in plan.removes:
        removed.setdefault(remove.lport, set()).update(remove.ifaces)
    created = {c.lport: c for c in plan.creates}
    updated = {u.iface: u for u in plan.updates}
    expected: dict[str, LportKey] = {}
    written = set(removed) | set(created) | {u.lport for u in plan.updates}
    for lport in written - other:
        gone = removed.get(lport, set())
        keys = [
            _updated(copy.iface_key(i), updated.get(i.uuid))
            for i in copy.bridge_ifaces(lport)
            if i.uuid not in gone
        ]
        create = created.get(lport)
        if create is not None:
            keys.append(
                IfaceKey(
                    name=create.name,
                    type=create.type or "",
                    options=create.options,
                    external_ids=create.external_ids,
                    mtu_request=create.mtu_request,
                    foreign_ofport=None,
                    sole=True,
                )
            )
        binding = sb_view.bindings.get(lport)
        plugged = any(k.external_ids.get(OVN_PLUGGED) is not None for k in keys)
        if binding is not None and not (binding.requested_chassis == copy.chassis.uuid or plugged):
            binding = None
        expected[lport] = (binding, tuple(sorted(keys, key=lambda k: (k.name, k.type))))
    return expected


def _updated(key: IfaceKey, update: IfaceUpdate | None) -> IfaceKey:
    """*key* as it will be once *update* is committed."""
    if update is None:
        return key
    options = {k: v for k, v in key.options.items() if k not in update.del_options}
    options.update(update.set_options)
    mtu = key.mtu_request
    if update.set_mtu_request is not None:
        mtu = update.set_mtu_request
    elif update.clear_mtu_request:
        mtu = None
    return attrs.evolve(
        key,
        type=key.type if update.set_type is None else update.set_type,
        options=FrozenMap(options),
        external_ids=FrozenMap({**key.external_ids, **update.set_external_ids}),
        mtu_request=mtu,
    )
