"""The full copy: every row the engine reads, copied into views once per run.

A full run decides on a copy of the whole integration bridge and of the
Port_Bindings of this chassis (:func:`read_ovs`, :func:`read_sb`, made of
the views of :mod:`ovn_vif._engine.views` by :mod:`ovn_vif._engine.rows`).
:class:`Snapshots` keeps the latest copy of each database and makes a new
one only when its IDL changed; :class:`RowMemo` spares reading again the
rows that did not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

import attrs

from ovn_vif._engine.columns import OVS_COLUMNS, SB_COLUMNS
from ovn_vif._engine.rows import (
    IdlNames,
    chassis_rows,
    read_binding,
    read_chassis,
    read_iface,
    read_port,
    requested_chassis,
    scan,
)
from ovn_vif._engine.views import BindingView, BridgeView, IfaceView, OvsView, PortView, SbView
from ovn_vif._ovs_private import committed_datums, packed_values, table_rows

__all__ = ["Copy", "RowMemo", "Snapshots", "read_ovs", "read_sb"]

#: Columns each copy is made from (what the memo watches).
IFACE_COLUMNS = tuple(OVS_COLUMNS["Interface"])
PORT_COLUMNS = tuple(OVS_COLUMNS["Port"])
BINDING_COLUMNS = tuple(SB_COLUMNS["Port_Binding"])


class RowMemo:
    """Reuses the copy of a row whose columns did not change since it was made.

    Reading a column of an ``ovs.db.idl`` row costs tens of microseconds (it
    converts the stored value, resolves references, applies staged writes);
    copying every row again whenever anything changed would make each
    iteration cost O(rows) of that. The memo keeps, with each copy, a copy of
    the row's committed column values (``ovs.db.data.Datum``) it was made
    from, and reuses the copy while they compare equal, which is several
    times cheaper than a fresh read. Rows with writes staged in an open
    transaction, and rows of IDL-like objects without that data, are always
    read afresh, so the result is the same as without the memo.

    The values are kept as one flat tuple per row (:func:`_fingerprint`)
    holding the row's own atoms, not as ``Datum`` copies: a copy of each
    column's ``Datum`` and its dict cost about 2 kB per Interface row, the
    tuple a tenth of that.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, UUID], tuple[tuple[object, ...], Any]] = {}
        self._used: set[tuple[str, UUID]] = set()
        #: Copies made / reused so far (for tests and benchmarks).
        self.built = 0
        self.reused = 0

    def copy(
        self, table: str, row: Any, columns: tuple[str, ...], build: Callable[[Any], Any]
    ) -> Any:
        """``build(row)``, or the copy made last time if still exact."""
        # A packed row's tuple is its own fingerprint: every change makes a
        # new one, and it compares by value.
        values: tuple[object, ...] | None = packed_values(row)
        if values is None:
            data = committed_datums(row)
            if data is None:
                self.built += 1
                return build(row)
            values = _fingerprint(data, columns)
        key = (table, row.uuid)
        self._used.add(key)
        entry = self._entries.get(key)
        # Compare values, not identities: ovs.db.idl applies map and set
        # diffs to the stored Datum in place.
        if entry is not None and entry[0] == values:
            self.reused += 1
            return entry[1]
        self.built += 1
        view = build(row)
        self._entries[key] = (values, view)
        return view

    def sweep(self, tables: Iterable[str]) -> None:
        """Forget the copies of rows of *tables* not asked for since the last sweep."""
        names = set(tables)
        self._entries = {
            k: v for k, v in self._entries.items() if k[0] not in names or k in self._used
        }
        self._used = {k for k in self._used if k[0] not in names}


def _fingerprint(data: Mapping[str, Any], columns: tuple[str, ...]) -> tuple[object, ...]:
    """The values of *columns* in one flat tuple that compares equal exactly
    when every column's ``Datum`` does.

    For each column: ``None`` when it has no ``Datum``, else its number of
    atoms followed by each key atom and its value atom (``None`` in a set).
    The atoms are the row's own, not copies: ``ovs.db.idl`` replaces a
    changed atom in the Datum's dict rather than changing it, so the tuple
    keeps the values it was made from. Two dicts with the same items in
    another order make different tuples: the row is then only read again.
    """
    flat: list[object] = []
    for name in columns:
        datum = data.get(name)
        if datum is None:
            flat.append(None)
            continue
        values = datum.values
        flat.append(len(values))
        for item in values.items():
            flat.extend(item)
    return tuple(flat)


def _copy(
    memo: RowMemo | None,
    table: str,
    row: Any,
    columns: tuple[str, ...],
    build: Callable[[Any], Any],
) -> Any:
    return build(row) if memo is None else memo.copy(table, row, columns, build)


def read_ovs(idl: Any, bridge: str, memo: RowMemo | None = None) -> OvsView:
    """Copy the rows of the local Open_vSwitch database the engine needs.

    That is the integration bridge, its ports and their interfaces; other
    names are looked up on demand (:class:`~ovn_vif._engine.rows.IdlNames`).
    *idl* is an ``ovs.db.idl.Idl`` (or a compatible fake) that monitors at
    least the columns :func:`ovn_vif.register_ovs_columns` registers. With
    a *memo*, rows that did not change since the previous read are not read
    again.
    """
    bridge_view = None
    ports: dict[UUID, PortView] = {}
    ifaces: dict[UUID, IfaceView] = {}

    iface_rows = table_rows(idl, "Interface")

    def add_port(row: Any) -> None:
        port = _copy(memo, "Port", row, PORT_COLUMNS, lambda r: read_port(r, iface_rows))
        ports[port.uuid] = port
        for iface_uuid in port.interfaces:
            iface = iface_rows.get(iface_uuid)
            if iface is not None and iface_uuid not in ifaces:
                ifaces[iface_uuid] = _copy(memo, "Interface", iface, IFACE_COLUMNS, read_iface)

    for row in scan(idl, "Bridge", "name", [bridge]):
        refs = [p for p in row.ports if p is not None]
        bridge_view = BridgeView(
            uuid=row.uuid, name=row.name, ports=frozenset(p.uuid for p in refs)
        )
        for port in refs:
            add_port(port)
        break
    if memo is not None:
        memo.sweep(("Port", "Interface"))
    return OvsView(bridge=bridge_view, ports=ports, ifaces=ifaces, others=IdlNames(idl))


def read_sb(
    idl: Any, chassis: str, lports: Iterable[str] = (), memo: RowMemo | None = None
) -> SbView:
    """Copy this chassis' row and the Port_Bindings the engine needs.

    Those are the Port_Bindings requested for this chassis and those named
    in *lports* (the ``iface-id`` of the local OVN-plugged interfaces).
    With a *memo*, rows that did not change since the previous read are not
    read again.
    """
    chassis_view = None
    for row in chassis_rows(idl, chassis):
        chassis_view = read_chassis(row)
        break
    bindings: dict[str, BindingView] = {}
    all_chassis = table_rows(idl, "Chassis")

    def read(row: Any) -> BindingView:
        return read_binding(row, all_chassis)

    if chassis_view is not None:
        me = chassis_view.uuid
        for row in table_rows(idl, "Port_Binding").values():
            # Only requested_chassis is read for the Port_Bindings of other
            # chassis: copying every column of every Port_Binding of the
            # cloud would be wasteful.
            if requested_chassis(row, all_chassis) == me:
                view = _copy(memo, "Port_Binding", row, BINDING_COLUMNS, read)
                bindings[view.logical_port] = view
    missing = set(lports) - set(bindings)
    for row in scan(idl, "Port_Binding", "logical_port", missing):
        view = _copy(memo, "Port_Binding", row, BINDING_COLUMNS, read)
        bindings[view.logical_port] = view
    if memo is not None:
        memo.sweep(("Port_Binding",))
    return SbView(chassis=chassis_view, bindings=bindings)


@attrs.define
class Copy:
    """One database's copy, and what it was made from."""

    idl_id: int
    seqno: int
    key: Any
    view: Any


class Snapshots:
    """The latest copy of each database, made again only when its IDL changed.

    The IDL bumps ``change_seqno`` on every change it applies (and on
    reconnect); an unchanged seqno means an unchanged cache, so the copy
    from the previous run is still exact. Otherwise the row memos still
    spare reading the rows that did not change.
    """

    def __init__(self) -> None:
        #: The copies in use (a new object whenever one is made again).
        self.ovs: Copy | None = None
        self.sb: Copy | None = None
        self._ovs_memo = RowMemo()
        self._sb_memo = RowMemo()

    def take(
        self, ovs_idl: Any, sb_idl: Any, *, chassis: str, bridge: str
    ) -> tuple[OvsView, SbView]:
        """The copies of the two databases, reused where still exact."""
        self.ovs = _reuse(
            self.ovs, ovs_idl, bridge, lambda idl, key: read_ovs(idl, key, self._ovs_memo)
        )
        ovs_view: OvsView = self.ovs.view
        # The Port_Bindings of the local OVN-plugged interfaces are needed
        # too, wherever they are requested.
        self.sb = _reuse(
            self.sb,
            sb_idl,
            (chassis, ovs_view.plugged_lports),
            lambda idl, key: read_sb(idl, key[0], key[1], self._sb_memo),
        )
        sb_view: SbView = self.sb.view
        return ovs_view, sb_view

    def forget(self) -> None:
        """Make the next :meth:`take` copy both databases again."""
        self.ovs = self.sb = None


def _reuse(copy: Copy | None, idl: Any, key: Any, read: Callable[[Any, Any], Any]) -> Copy:
    seqno = getattr(idl, "change_seqno", None)
    if (
        copy is not None
        and isinstance(seqno, int)
        and copy.idl_id == id(idl)
        and copy.seqno == seqno
        and copy.key == key
    ):
        return copy
    return Copy(
        idl_id=id(idl),
        seqno=seqno if isinstance(seqno, int) else -1,
        key=key,
        view=read(idl, key),
    )
