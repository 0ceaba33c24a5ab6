"""What the agent asks the Southbound database for: its monitor conditions.

The agent monitors only this chassis's ``Chassis`` row and the
``Port_Binding`` rows that concern it (conditional monitoring), so that
its memory and traffic do not grow with other chassis' ports: those whose
``requested_chassis`` is this chassis, and those of the ports plugged here.

The ports plugged here are followed from the rows the local IDL reports
changed (:class:`PluggedHere`), so that an iteration in which nothing
plugged or unplugged costs nothing here however many ports are plugged;
the condition is made again only when that set (or this chassis's row)
changes.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ovn_vif._engine.incremental import change_log, watch_changes
from ovn_vif._engine.rows import column, read_iface
from ovn_vif._ovs_private import ref_set, table_rows

if TYPE_CHECKING:
    from ovn_vif._engine.reconciler import Reconciler
    from ovn_vif.agent._settings import ChassisSettings

#: The Southbound tables the agent monitors, each under a condition.
MONITORED = ("Chassis", "Port_Binding")


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
        #: Those Interfaces by lport, and how many there are of each plug type.
        self._ifaces_of: dict[str, set[UUID]] = {}
        self._types: dict[str, int] = {}
        self._set: frozenset[str] = frozenset()
        self._keys_changed = False
        #: Bumped whenever :attr:`lports` changes.
        self.version = 0
        #: Reads of the whole bridge (for tests and benchmarks).
        self.full_reads = 0

    @property
    def lports(self) -> frozenset[str]:
        """The lports plugged on the bridge, as of the latest :meth:`update`."""
        return self._set

    def by_type(self) -> dict[str, int]:
        """How many plugged Interfaces the bridge holds, by plug type."""
        return dict(self._types)

    def ifaces(self, lport: str) -> frozenset[UUID]:
        """The plugged Interfaces of *lport* on the bridge."""
        return frozenset(self._ifaces_of.get(lport, ()))

    def update(self, idl: Any, bridge: str) -> None:
        """Catch up with the rows *idl* changed since the previous call."""
        rows = watch_changes(idl, "plugged").take(idl)
        known = idl is self._idl and bridge == self._bridge_name and rows is not None
        if not known or (rows and not self._apply(idl, rows)):
            self._read_all(idl, bridge)

    def _read_all(self, idl: Any, bridge: str) -> None:
        self.full_reads += 1
        self._idl, self._bridge_name, self._bridge = idl, bridge, None
        self._ports, self._holders, self._lport_of = {}, {}, {}
        self._ifaces_of, self._types = {}, {}
        self._keys_changed = True
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
                self._ifaces_of[gone_lport].discard(iface_uuid)
                if not self._ifaces_of[gone_lport]:
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
                if lport not in self._ifaces_of:
                    self._ifaces_of[lport] = set()
                    self._keys_changed = True
                self._ifaces_of[lport].add(iface_uuid)

    def _publish(self) -> None:
        if self._keys_changed:
            self._keys_changed = False
            lports = frozenset(self._ifaces_of)
            if lports != self._set:
                self._set = lports
                self.version += 1


class _LportClauses:
    """``["logical_port", "==", lport]`` for each lport of a set, sorted,
    kept from one set to the next at the cost of what changed."""

    def __init__(self) -> None:
        self._lports: frozenset[str] = frozenset()
        self._names: list[str] = []
        self._clauses: list[list[Any]] = []

    def update(self, lports: frozenset[str]) -> list[list[Any]]:
        """The clauses for *lports* (a new list; the clauses are shared)."""
        for lport in self._lports.difference(lports):
            at = bisect.bisect_left(self._names, lport)
            del self._names[at]
            del self._clauses[at]
        for lport in lports.difference(self._lports):
            at = bisect.bisect_left(self._names, lport)
            self._names.insert(at, lport)
            self._clauses.insert(at, ["logical_port", "==", lport])
        self._lports = lports
        return list(self._clauses)


class SouthboundConditions:
    """The conditions of one agent, sent again only when they change."""

    def __init__(self, reconciler: Reconciler) -> None:
        self._reconciler = reconciler
        self._pb_condition: list[Any] | None = None
        # What the condition in use was made from.
        self._made_from: tuple[Any, ...] | None = None
        self._plugged = PluggedHere()
        self._lport_clauses = _LportClauses()

    @property
    def plugged(self) -> PluggedHere | None:
        """What is plugged on the bridge, followed from the changed local rows
        as of the latest :meth:`update`; ``None`` on a local IDL without
        change tracking."""
        return self._plugged if self._plugged.full_reads else None

    def forget(self) -> None:
        """Send the ``Port_Binding`` condition at the next :meth:`update`, even if unchanged.

        For a new IDL, a new chassis name, or a connection made to reload
        every row.
        """
        self._pb_condition = None
        self._made_from = None

    def update(self, sb_idl: Any, ovs_idl: Any | None, settings: ChassisSettings) -> None:
        """Monitor this chassis's row, the Port_Bindings requesting it and
        those of the ports plugged here.

        The last clause keeps a plugged port's Port_Binding in view when
        its ``requested-chassis`` is removed: without it the binding would
        look deleted, and even the ``ovn-compatible`` policy (under which
        ovn-controller keeps such a port) would unplug it. The ports in a
        transaction in flight count as plugged until it ends.
        """
        sb_idl.cond_change("Chassis", [["name", "==", settings.chassis]])
        chassis = chassis_row(sb_idl, settings.chassis)
        plugged, version = self._plugged_here(sb_idl, ovs_idl, settings)
        in_flight = self._reconciler.in_flight_lports
        made_from = (
            id(sb_idl),
            None if chassis is None else chassis.uuid,
            version,
            in_flight - plugged,
        )
        if self._pb_condition is not None and made_from == self._made_from:
            return
        clauses: list[Any] = []
        if chassis is not None:
            clauses.append(["requested_chassis", "==", ["uuid", str(chassis.uuid)]])
        clauses.extend(self._lport_clauses.update(plugged | in_flight))
        condition: list[Any] = clauses or [False]
        self._made_from = made_from
        if condition != self._pb_condition:
            sb_idl.cond_change("Port_Binding", condition)
            self._pb_condition = condition

    def _plugged_here(
        self, sb_idl: Any, ovs_idl: Any | None, settings: ChassisSettings
    ) -> tuple[frozenset[str], Any]:
        """The ``iface-id`` of every ``ovn-plugged`` Interface on the
        integration bridge, and a value that changes whenever it does.

        Followed from the changed rows on a change-tracked IDL (the
        agent's); on another IDL, read from the engine's copy of the
        databases, which the next ``reconcile()`` reuses while neither IDL
        changes.
        """
        if ovs_idl is None:
            return frozenset(), None
        if change_log(ovs_idl) is not None:
            self._plugged.update(ovs_idl, settings.bridge)
            return self._plugged.lports, (id(ovs_idl), self._plugged.version)
        ovs_view, _ = self._reconciler.snapshot(
            ovs_idl, sb_idl, chassis=settings.chassis, bridge=settings.bridge
        )
        return ovs_view.plugged_lports, ovs_view.plugged_lports
