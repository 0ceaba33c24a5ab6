"""What the agent asks the Southbound database for: its monitor conditions.

The agent monitors only this chassis's ``Chassis`` row and the
``Port_Binding`` rows that concern it (conditional monitoring), so that
its memory and traffic do not grow with other chassis' ports: those whose
``requested_chassis`` is this chassis, and, by name, those of ports plugged
here whose binding left that view (:class:`SouthboundConditions`).

A binding that leaves the view looks deleted, whether it was deleted or
only stopped matching the condition (its ``requested-chassis`` removed or
moved). So before the agent may unplug a port whose binding it no longer
sees, it asks for that binding by name and waits until the server has
acknowledged the request (the unplug gate stays closed meanwhile): if the
binding still exists it comes back, and only if it does not is the port
unplugged. Ports whose binding is in view cost no clause, so plugging one
more port leaves the condition alone however many are plugged.

The ports plugged here (:class:`PluggedHere`) and the bindings in view
(:class:`BindingNames`) are followed from the rows each IDL reports
changed, so that an iteration in which nothing changed costs nothing here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ovn_vif._engine.incremental import change_log, watch_changes
from ovn_vif._engine.rows import column, read_iface
from ovn_vif._ovs_private import ref_set, table_rows
from ovn_vif.agent._connections import idl_synced

if TYPE_CHECKING:
    from ovn_vif._engine.reconciler import Reconciler
    from ovn_vif.agent._settings import ChassisSettings

#: The Southbound tables the agent monitors, each under a condition.
MONITORED = ("Chassis", "Port_Binding")

#: What :class:`PluggedHere` reads of the local database's rows: a row
#: whose update changed none of these (an ``ofport`` set by
#: ``ovs-vswitchd``) is not read again.
_PLUGGED_COLUMNS = {
    "Bridge": frozenset({"name", "ports"}),
    "Port": frozenset({"interfaces"}),
    "Interface": frozenset({"external_ids"}),
}
#: What :class:`BindingNames` reads of a ``Port_Binding``.
_BINDING_COLUMNS = {"Port_Binding": frozenset({"logical_port"})}


def chassis_row(sb_idl: Any, chassis: str) -> Any | None:
    """The ``Chassis`` row named *chassis* in *sb_idl*, if it arrived."""
    for row in sb_idl.tables["Chassis"].rows.values():
        if row.name == chassis:
            return row
    return None


def _refs(row: Any, name: str) -> frozenset[UUID]:
    """The uuids a reference column of *row* holds (committed, followed at
    the cost of what changed; else as read)."""
    refs = ref_set(row, name)
    if refs is not None:
        return refs
    return frozenset(ref.uuid for ref in getattr(row, name, ()) if ref is not None)


class PluggedHere:
    """The ``iface-id`` of every ``ovn-plugged`` Interface held by a Port of
    the integration bridge (what the engine's copy calls ``plugged_lports``),
    kept up to date from the rows the local IDL changed.

    Works on an IDL given to :func:`ovn_vif.track_changes` (the agent's own);
    it follows the changes with a log of its own
    (:func:`~ovn_vif._engine.incremental.watch_changes`). Whatever that log
    cannot explain (the first look, a reconnection, a new IDL or bridge)
    makes it read the bridge again from the start.
    """

    def __init__(self) -> None:
        self._idl: Any = None
        self._bridge_name: str | None = None
        self._bridge: UUID | None = None
        #: The bridge's Ports and the Interfaces each refers to.
        self._ports: dict[UUID, tuple[UUID, ...]] = {}
        #: How many of the bridge's Ports hold each Interface.
        self._holders: dict[UUID, int] = {}
        #: The plugged Interfaces held by the bridge's Ports: their lport
        #: and plug type.
        self._lport_of: dict[UUID, tuple[str, str]] = {}
        #: Those Interfaces by lport (a tuple: almost always one, and a
        #: tuple of one is a quarter of a set's size), and how many there
        #: are of each plug type.
        self._ifaces_of: dict[str, tuple[UUID, ...]] = {}
        self._types: dict[str, int] = {}
        #: :attr:`lports`, made when asked for after a change.
        self._set: frozenset[str] | None = frozenset()
        self._keys_changed = False
        #: The lports added since :meth:`take_added`; ``None`` after a full read.
        self._added: set[str] | None = set()
        #: Bumped whenever :attr:`lports` may have changed.
        self.version = 0
        #: Reads of the whole bridge (for tests and benchmarks).
        self.full_reads = 0

    @property
    def lports(self) -> frozenset[str]:
        """The lports plugged on the bridge, as of the latest :meth:`update`."""
        if self._set is None:
            self._set = frozenset(self._ifaces_of)
        return self._set

    def __contains__(self, lport: object) -> bool:
        return lport in self._ifaces_of

    def take_added(self) -> set[str] | None:
        """The lports that became plugged since the previous call; ``None``
        when the bridge was read again from the start (any may be new)."""
        added, self._added = self._added, set()
        return added

    def by_type(self) -> dict[str, int]:
        """How many plugged Interfaces the bridge holds, by plug type."""
        return dict(self._types)

    def ifaces(self, lport: str) -> frozenset[UUID]:
        """The plugged Interfaces of *lport* on the bridge."""
        return frozenset(self._ifaces_of.get(lport, ()))

    def update(self, idl: Any, bridge: str) -> None:
        """Catch up with the rows *idl* changed since the previous call."""
        rows = watch_changes(idl, "plugged", _PLUGGED_COLUMNS).take(idl)
        known = idl is self._idl and bridge == self._bridge_name and rows is not None
        if not known or (rows and not self._apply(idl, rows)):
            self._read_all(idl, bridge)

    def _read_all(self, idl: Any, bridge: str) -> None:
        self.full_reads += 1
        self._idl, self._bridge_name, self._bridge = idl, bridge, None
        self._ports, self._holders, self._lport_of = {}, {}, {}
        self._ifaces_of, self._types = {}, {}
        self._keys_changed = True
        self._added = None
        for row in table_rows(idl, "Bridge").values():
            if column(row, "name", None) == bridge:
                self._bridge = row.uuid
                ports = _refs(row, "ports")
                self._refresh(idl, set(), ports, ports)
                break
        self._publish()

    def _apply(self, idl: Any, rows: Iterable[UUID]) -> bool:
        """Apply the changed *rows*; ``False`` when only a full read can tell."""
        bridges = table_rows(idl, "Bridge")
        changed = set(rows)
        ports: set[UUID] = set()
        on_bridge: AbstractSet[UUID] | None = None
        for row_uuid in changed:
            if row_uuid == self._bridge:
                row = bridges.get(row_uuid)
                if row is None or column(row, "name", None) != self._bridge_name:
                    return False
                on_bridge = _refs(row, "ports")
                ports.update(on_bridge.symmetric_difference(self._ports))
            elif row_uuid in bridges:
                if column(bridges[row_uuid], "name", None) == self._bridge_name:
                    return False  # the bridge appeared, or another row took its name
            elif row_uuid in self._ports:
                # A Port joins the bridge only with a change of the Bridge row.
                ports.add(row_uuid)
        if on_bridge is None:
            on_bridge = {p for p in ports if p in self._ports}
        self._refresh(idl, changed, ports, on_bridge)
        self._publish()
        return True

    def _refresh(
        self, idl: Any, ifaces: set[UUID], ports: Iterable[UUID], on_bridge: AbstractSet[UUID]
    ) -> None:
        """Read again the Ports *ports* (kept if in *on_bridge*), the
        Interfaces *ifaces* and those the Ports held or hold."""
        port_rows = table_rows(idl, "Port")
        for port_uuid in ports:
            for iface_uuid in self._ports.pop(port_uuid, ()):
                self._holders[iface_uuid] -= 1
                if not self._holders[iface_uuid]:
                    del self._holders[iface_uuid]
                ifaces.add(iface_uuid)
            row = port_rows.get(port_uuid)
            if row is None or port_uuid not in on_bridge:
                continue
            held = _refs(row, "interfaces")
            self._ports[port_uuid] = tuple(held)
            for iface_uuid in held:
                self._holders[iface_uuid] = self._holders.get(iface_uuid, 0) + 1
                ifaces.add(iface_uuid)
        iface_rows = table_rows(idl, "Interface")
        for iface_uuid in ifaces:
            old = self._lport_of.pop(iface_uuid, None)
            if old is not None:
                gone_lport, gone_type = old
                self._types[gone_type] -= 1
                if not self._types[gone_type]:
                    del self._types[gone_type]
                left = tuple(i for i in self._ifaces_of[gone_lport] if i != iface_uuid)
                if left:
                    self._ifaces_of[gone_lport] = left
                else:
                    del self._ifaces_of[gone_lport]
                    self._keys_changed = True
            row = iface_rows.get(iface_uuid)
            if row is None or iface_uuid not in self._holders:
                continue
            view = read_iface(row)
            lport, plug_type = view.iface_id, view.plugged_by
            if lport is not None and plug_type is not None:
                self._lport_of[iface_uuid] = (lport, plug_type)
                self._types[plug_type] = self._types.get(plug_type, 0) + 1
                same_lport = self._ifaces_of.get(lport)
                if same_lport is None:
                    self._ifaces_of[lport] = (iface_uuid,)
                    self._keys_changed = True
                    if self._added is not None:
                        self._added.add(lport)
                elif iface_uuid not in same_lport:
                    self._ifaces_of[lport] = (*same_lport, iface_uuid)

    def _publish(self) -> None:
        if self._keys_changed:
            self._keys_changed = False
            self._set = None
            self.version += 1


class BindingNames:
    """The ``logical_port`` of every ``Port_Binding`` row a Southbound IDL
    holds, kept up to date from the rows it reports changed (its own change
    log, :func:`~ovn_vif._engine.incremental.watch_changes`); whatever that
    log cannot explain (the first look, a reconnection, another IDL) makes
    it read the table again."""

    def __init__(self) -> None:
        self._idl: Any = None
        self._lport_of: dict[UUID, str] = {}
        #: How many rows bear each name.
        self._count: dict[str, int] = {}
        #: The names whose last row left since :meth:`take_gone`; ``None``
        #: after a full read (any may have).
        self._gone: set[str] | None = set()
        #: Reads of the whole table (for tests).
        self.full_reads = 0

    def __contains__(self, lport: object) -> bool:
        return lport in self._count

    def take_gone(self) -> set[str] | None:
        """The names whose last row left the view since the previous call;
        ``None`` when the table was read again from the start."""
        gone, self._gone = self._gone, set()
        return gone

    def update(self, idl: Any) -> None:
        """Catch up with the rows *idl* changed since the previous call."""
        rows = watch_changes(idl, "bindings", _BINDING_COLUMNS).take(idl)
        if idl is not self._idl or rows is None:
            self._read_all(idl)
        elif rows:
            self._apply(idl, rows)

    def _read_all(self, idl: Any) -> None:
        self.full_reads += 1
        self._idl, self._lport_of, self._count = idl, {}, {}
        self._apply(idl, table_rows(idl, "Port_Binding"))
        self._gone = None

    def _apply(self, idl: Any, rows: Iterable[UUID]) -> None:
        bindings = table_rows(idl, "Port_Binding")
        for row_uuid in rows:
            old = self._lport_of.pop(row_uuid, None)
            if old is not None:
                self._count[old] -= 1
                if not self._count[old]:
                    del self._count[old]
                    if self._gone is not None:
                        self._gone.add(old)
            row = bindings.get(row_uuid)
            if row is None:
                continue
            lport = column(row, "logical_port", None)
            if isinstance(lport, str):
                self._lport_of[row_uuid] = lport
                self._count[lport] = self._count.get(lport, 0) + 1


class SouthboundConditions:
    """The conditions of one agent, sent again only when they change."""

    def __init__(self, reconciler: Reconciler) -> None:
        self._reconciler = reconciler
        self._pb_condition: list[Any] | None = None
        # What the condition in use was made from.
        self._made_from: tuple[Any, ...] | None = None
        self._plugged = PluggedHere()
        self._bindings = BindingNames()
        #: The lports asked for by name, and a count bumped whenever they change.
        self._watched: frozenset[str] = frozenset()
        self._watched_version = 0
        #: The lports to check at the next complete view (``None``: all).
        self._suspects: set[str] | None = None
        #: What the plugged lports were when :attr:`watched` was last pruned.
        self._pruned_at: tuple[Any, ...] | None = None
        #: The plugged lports as last read from the engine's copy (an IDL
        #: without change tracking).
        self._last_read: frozenset[str] | None = None

    @property
    def plugged(self) -> PluggedHere | None:
        """What is plugged on the bridge, followed from the changed local rows
        as of the latest :meth:`update`; ``None`` on a local IDL without
        change tracking."""
        return self._plugged if self._plugged.full_reads else None

    @property
    def watched(self) -> frozenset[str]:
        """The lports whose ``Port_Binding`` is asked for by name."""
        return self._watched

    def forget(self) -> None:
        """Send the ``Port_Binding`` condition at the next :meth:`update`, even if unchanged.

        For a new IDL, a new chassis name, or a connection made to reload
        every row.
        """
        self._pb_condition = None
        self._made_from = None

    def update(self, sb_idl: Any, ovs_idl: Any | None, settings: ChassisSettings) -> None:
        """Monitor this chassis's row, the Port_Bindings requesting it and,
        by name, those of the ports plugged here that left that view.

        A plugged port (or one in a transaction in flight) whose binding is
        not in view once the server has answered every condition is asked
        for by name: the condition changes, and until the server
        acknowledges it the unplug gate stays closed (the gate is worked
        out after this, in the same iteration). A binding that still
        exists comes back (its ``requested-chassis`` was removed or moved:
        each policy decides as for any binding); one that does not is
        gone, and the port is unplugged. A port is asked for until it is
        no longer plugged nor in flight.
        """
        sb_idl.cond_change("Chassis", [["name", "==", settings.chassis]])
        chassis = chassis_row(sb_idl, settings.chassis)
        plugged, added, version = self._plugged_here(sb_idl, ovs_idl, settings)
        in_flight = self._reconciler.in_flight_lports
        self._bindings.update(sb_idl)
        gone = self._bindings.take_gone()
        if added is None or gone is None:
            self._suspects = None
        elif self._suspects is not None:
            self._suspects.update(added)
            self._suspects.update(gone)
        complete = chassis is not None and idl_synced(sb_idl, MONITORED)
        self._watch(plugged, (version, in_flight), in_flight, complete)
        made_from = (
            id(sb_idl),
            None if chassis is None else chassis.uuid,
            self._watched_version,
        )
        if self._pb_condition is not None and made_from == self._made_from:
            return
        clauses: list[Any] = []
        if chassis is not None:
            clauses.append(["requested_chassis", "==", ["uuid", str(chassis.uuid)]])
        clauses.extend(["logical_port", "==", lport] for lport in sorted(self._watched))
        condition: list[Any] = clauses or [False]
        self._made_from = made_from
        if condition != self._pb_condition:
            sb_idl.cond_change("Port_Binding", condition)
            self._pb_condition = condition

    def _watch(
        self,
        plugged: PluggedHere | frozenset[str],
        plugged_from: tuple[Any, ...],
        in_flight: frozenset[str],
        complete: bool,
    ) -> None:
        """Work out the lports to ask for by name, at the cost of what changed.

        The suspects are the lports that became plugged and the names that
        left the view since the last look (every plugged lport after a
        full read of either side), and those in flight. Only a complete
        view (every condition acknowledged) can tell a binding that left it
        from one that has not arrived yet, so suspects are checked only
        then. An lport is dropped once neither plugged nor in flight.
        """
        watched = self._watched
        if watched and plugged_from != self._pruned_at:
            self._pruned_at = plugged_from
            watched = frozenset(x for x in watched if x in plugged or x in in_flight)
        if complete and (self._suspects is None or self._suspects or in_flight):
            suspects: Iterable[str]
            if self._suspects is not None:
                suspects = self._suspects
            else:
                suspects = plugged.lports if isinstance(plugged, PluggedHere) else plugged
            self._suspects = set()
            missing = {
                x
                for x in itertools.chain(suspects, in_flight)
                if x not in self._bindings and (x in plugged or x in in_flight)
            }
            if not missing <= watched:
                watched = watched.union(missing)
        if watched != self._watched:
            self._watched = watched
            self._watched_version += 1

    def _plugged_here(
        self, sb_idl: Any, ovs_idl: Any | None, settings: ChassisSettings
    ) -> tuple[PluggedHere | frozenset[str], set[str] | None, Any]:
        """The ``iface-id`` of every ``ovn-plugged`` Interface on the
        integration bridge, those added since the previous call (``None``:
        any may be new) and a value that changes whenever they change.

        Followed from the changed rows on a change-tracked IDL (the
        agent's); on another IDL, read from the engine's copy of the
        databases, which the next ``reconcile()`` reuses while neither IDL
        changes.
        """
        if ovs_idl is None:
            return frozenset(), set(), None
        if change_log(ovs_idl) is not None:
            self._plugged.update(ovs_idl, settings.bridge)
            added = self._plugged.take_added()
            return self._plugged, added, (id(ovs_idl), self._plugged.version)
        ovs_view, _ = self._reconciler.snapshot(
            ovs_idl, sb_idl, chassis=settings.chassis, bridge=settings.bridge
        )
        lports, last = ovs_view.plugged_lports, self._last_read
        self._last_read = lports
        return lports, None if last is None else set(lports - last), lports
