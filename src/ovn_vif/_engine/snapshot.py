"""Plain, immutable copies of the rows the engine decides on.

``ovs.db.idl`` rows change under the caller's feet whenever the IDL runs,
and reading them is slow and untyped. The engine therefore copies what it
needs into the frozen values below once per run (:func:`read_ovs`,
:func:`read_sb`) and decides on those alone. The decision rules
(:mod:`ovn_vif._engine.rules`) never see an IDL, so they are tested with values
built by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any
from uuid import UUID

import attrs

from ovn_vif._contract.frozenmap import FrozenMap, freeze
from ovn_vif._engine.columns import (
    INDEX_CHASSIS_BY_NAME,
    OVS_COLUMNS,
    SB_COLUMNS,
)
from ovn_vif._ovs_private import committed_datums

#: Interface external-id naming the logical port bound to it.
IFACE_ID = "iface-id"
#: Interface external-id naming the plug type that plugged it.
OVN_PLUGGED = "ovn-plugged"


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


@attrs.frozen(slots=True, kw_only=True)
class IfaceView:
    """An OVS ``Interface`` row."""

    uuid: UUID = attrs.field(converter=_uuid)
    name: str
    type: str = ""
    options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    external_ids: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    #: ``None`` when the column is empty.
    mtu_request: int | None = None
    #: ``None`` when vswitchd has not assigned one (yet).
    ofport: int | None = None

    @property
    def iface_id(self) -> str | None:
        """``external_ids:iface-id``."""
        return self.external_ids.get(IFACE_ID)

    @property
    def plugged_by(self) -> str | None:
        """``external_ids:ovn-plugged``: the plug type that plugged it."""
        return self.external_ids.get(OVN_PLUGGED)

    @property
    def has_ofport(self) -> bool:
        """Whether vswitchd gave it a valid OpenFlow port (``ofport > 0``)."""
        return self.ofport is not None and self.ofport > 0


@attrs.frozen(slots=True, kw_only=True)
class PortView:
    """An OVS ``Port`` row."""

    uuid: UUID = attrs.field(converter=_uuid)
    name: str
    interfaces: tuple[UUID, ...] = ()


@attrs.frozen(slots=True, kw_only=True)
class BridgeView:
    """The integration bridge's ``Bridge`` row."""

    uuid: UUID = attrs.field(converter=_uuid)
    name: str
    ports: frozenset[UUID] = frozenset()


def _mapping(value: Mapping[UUID, Any]) -> Mapping[UUID, Any]:
    return MappingProxyType(dict(value))


class NameLookup:
    """Names of Ports and Interfaces outside the integration bridge.

    The engine asks only about the few names providers choose, so the real
    implementation (:class:`IdlNames`) looks them up in the IDL on demand;
    this base class holds a fixed set, for tests.
    """

    def __init__(self, names: Mapping[str, str] | Iterable[str] = ()) -> None:
        if isinstance(names, Mapping):
            self._names = dict(names)
        else:
            self._names = {n: "a row" for n in names}

    def describe(self, name: str) -> str | None:
        """Say what holds *name* (for a log line), or ``None`` if nothing."""
        return self._names.get(name)


class IdlNames(NameLookup):
    """:class:`NameLookup` over the local IDL's Port and Interface rows.

    The first question reads every row's name once (from the rows'
    committed Datums, which is cheap); the view it belongs to is only used
    while the IDL does not change.
    """

    def __init__(self, idl: Any) -> None:
        super().__init__()
        self._idl = idl
        self._held: dict[str, str] | None = None

    def describe(self, name: str) -> str | None:
        if self._held is None:
            held: dict[str, str] = {}
            for table in ("Port", "Interface"):
                for row in self._idl.tables[table].rows.values():
                    row_name = _column(row, "name", None)
                    if isinstance(row_name, str) and row_name not in held:
                        held[row_name] = f"a {table} named {row_name} exists (uuid {row.uuid})"
            self._held = held
        return self._held.get(name)


@attrs.frozen(slots=True, kw_only=True)
class OvsView:
    """The part of the local Open_vSwitch database the engine reads."""

    #: The integration bridge, or ``None`` if it does not exist.
    bridge: BridgeView | None
    #: Every Port row, by uuid.
    ports: Mapping[UUID, PortView] = attrs.field(factory=dict, converter=_mapping)
    #: Every Interface row, by uuid (in the IDL's order).
    ifaces: Mapping[UUID, IfaceView] = attrs.field(factory=dict, converter=_mapping)
    #: Names held by rows not in :attr:`ports` / :attr:`ifaces`.
    others: NameLookup = attrs.field(factory=NameLookup, eq=False, repr=False)
    # Derived lookups, computed once.
    port_of_iface: Mapping[UUID, UUID] = attrs.field(init=False, eq=False, repr=False)
    iface_by_name: Mapping[str, IfaceView] = attrs.field(init=False, eq=False, repr=False)
    port_by_name: Mapping[str, PortView] = attrs.field(init=False, eq=False, repr=False)
    #: Interfaces on the bridge's ports (not the bridge's own), in order.
    bridge_ifaces: tuple[IfaceView, ...] = attrs.field(init=False, eq=False, repr=False)
    #: :attr:`bridge_ifaces` by ``iface-id``.
    bridge_ifaces_by_lport: Mapping[str, tuple[IfaceView, ...]] = attrs.field(
        init=False, eq=False, repr=False
    )
    #: The ``iface-id`` of every OVN-plugged interface of the view.
    plugged_lports: frozenset[str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        port_of_iface: dict[UUID, UUID] = {}
        for port in self.ports.values():
            for iface_uuid in port.interfaces:
                port_of_iface.setdefault(iface_uuid, port.uuid)
        object.__setattr__(self, "port_of_iface", MappingProxyType(port_of_iface))
        object.__setattr__(
            self,
            "iface_by_name",
            MappingProxyType({i.name: i for i in self.ifaces.values()}),
        )
        object.__setattr__(
            self, "port_by_name", MappingProxyType({p.name: p for p in self.ports.values()})
        )
        on_bridge = tuple(i for i in self.ifaces.values() if self.on_bridge(i))
        by_lport: dict[str, list[IfaceView]] = {}
        for iface in on_bridge:
            if iface.iface_id is not None:
                by_lport.setdefault(iface.iface_id, []).append(iface)
        object.__setattr__(self, "bridge_ifaces", on_bridge)
        object.__setattr__(
            self,
            "plugged_lports",
            frozenset(
                i.iface_id
                for i in self.ifaces.values()
                if i.iface_id is not None and i.plugged_by is not None
            ),
        )
        object.__setattr__(
            self,
            "bridge_ifaces_by_lport",
            MappingProxyType({k: tuple(v) for k, v in by_lport.items()}),
        )

    @classmethod
    def build(
        cls,
        bridge: BridgeView | None,
        ports: Iterable[PortView] = (),
        ifaces: Iterable[IfaceView] = (),
        others: Mapping[str, str] | Iterable[str] = (),
    ) -> OvsView:
        """Build a view from rows (a convenience for tests and tools)."""
        return cls(
            bridge=bridge,
            ports={p.uuid: p for p in ports},
            ifaces={i.uuid: i for i in ifaces},
            others=NameLookup(others),
        )

    @classmethod
    def assemble(
        cls,
        *,
        bridge: BridgeView,
        ports: Mapping[UUID, PortView],
        ifaces: Mapping[UUID, IfaceView],
        others: NameLookup,
        port_of_iface: Mapping[UUID, UUID],
        iface_by_name: Mapping[str, IfaceView],
        port_by_name: Mapping[str, PortView],
        bridge_ifaces_by_lport: Mapping[str, tuple[IfaceView, ...]],
    ) -> OvsView:
        """A view over lookups the caller already holds (no copy, no pass
        over the rows): the incremental engine's, valid while it decides.

        :attr:`bridge_ifaces` and :attr:`plugged_lports` cover only the
        lports of *bridge_ifaces_by_lport*.
        """
        view = object.__new__(cls)
        on_bridge = tuple(i for group in bridge_ifaces_by_lport.values() for i in group)
        for name, value in (
            ("bridge", bridge),
            ("ports", ports),
            ("ifaces", ifaces),
            ("others", others),
            ("port_of_iface", port_of_iface),
            ("iface_by_name", iface_by_name),
            ("port_by_name", port_by_name),
            ("bridge_ifaces", on_bridge),
            ("bridge_ifaces_by_lport", bridge_ifaces_by_lport),
            (
                "plugged_lports",
                frozenset(i.iface_id for i in on_bridge if i.iface_id and i.plugged_by),
            ),
        ):
            object.__setattr__(view, name, value)
        return view

    def port_for(self, iface: IfaceView) -> PortView | None:
        """The Port holding *iface*, if any."""
        port_uuid = self.port_of_iface.get(iface.uuid)
        return None if port_uuid is None else self.ports.get(port_uuid)

    def on_bridge(self, iface: IfaceView) -> bool:
        """Whether *iface* belongs to a port of the integration bridge other
        than the bridge's own internal port."""
        port = self.port_for(iface)
        return (
            port is not None
            and self.bridge is not None
            and port.uuid in self.bridge.ports
            and port.name != self.bridge.name
        )

    def sole_port(self, iface: IfaceView) -> PortView | None:
        """The integration-bridge Port whose only interface is *iface*.

        This is the Port that unplugging *iface* removes (OVN looks the
        Port up by its exact set of interfaces).
        """
        port = self.port_for(iface)
        if (
            port is None
            or self.bridge is None
            or port.uuid not in self.bridge.ports
            or port.interfaces != (iface.uuid,)
        ):
            return None
        return port


@attrs.frozen(slots=True, kw_only=True)
class ChassisView:
    """This chassis' SB ``Chassis`` row."""

    uuid: UUID = attrs.field(converter=_uuid)
    name: str
    hostname: str = ""


@attrs.frozen(slots=True, kw_only=True)
class BindingView:
    """An SB ``Port_Binding`` row."""

    logical_port: str
    #: ``""`` for a plain VIF.
    type: str = ""
    parent_port: str | None = None
    options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    #: uuid of the Chassis in ``requested_chassis`` (``None`` if empty).
    requested_chassis: UUID | None = None
    requested_additional_chassis: frozenset[UUID] = frozenset()

    @property
    def is_plain_vif(self) -> bool:
        """Only plain VIF lports are plugged: no type, no parent port."""
        return self.type == "" and not self.parent_port


def _bindings(value: Mapping[str, BindingView]) -> Mapping[str, BindingView]:
    return MappingProxyType(dict(value))


@attrs.frozen(slots=True, kw_only=True)
class SbView:
    """The part of the OVN Southbound database the engine reads."""

    #: This chassis, or ``None`` if it has no Chassis row (yet).
    chassis: ChassisView | None
    #: Every Port_Binding, by logical port name.
    bindings: Mapping[str, BindingView] = attrs.field(factory=dict, converter=_bindings)

    @classmethod
    def build(cls, chassis: ChassisView | None, bindings: Iterable[BindingView] = ()) -> SbView:
        """Build a view from rows (a convenience for tests and tools)."""
        return cls(chassis=chassis, bindings={b.logical_port: b for b in bindings})


# --- reading the IDLs -------------------------------------------------------
#
# ovs.db.idl is untyped; these functions are the only place that touches its
# rows for reading. Optional columns read as lists, maps as dicts and
# references as Row objects (or None when the target is not in the cache).


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
        data = committed_datums(row)
        if data is None:
            self.built += 1
            return build(row)
        key = (table, row.uuid)
        self._used.add(key)
        datums = tuple(data.get(c) for c in columns)
        entry = self._entries.get(key)
        # Compare values, not identities: ovs.db.idl applies map and set
        # diffs to the stored Datum in place.
        if entry is not None and entry[0] == datums:
            self.reused += 1
            return entry[1]
        self.built += 1
        view = build(row)
        copies = tuple(None if d is None else d.copy() for d in datums)
        self._entries[key] = (copies, view)
        return view

    def sweep(self, tables: Iterable[str]) -> None:
        """Forget the copies of rows of *tables* not asked for since the last sweep."""
        names = set(tables)
        self._entries = {
            k: v for k, v in self._entries.items() if k[0] not in names or k in self._used
        }
        self._used = {k for k in self._used if k[0] not in names}


def _copy(
    memo: RowMemo | None,
    table: str,
    row: Any,
    columns: tuple[str, ...],
    build: Callable[[Any], Any],
) -> Any:
    return build(row) if memo is None else memo.copy(table, row, columns, build)


def _optional(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _get(row: Any, column: str, default: Any) -> Any:
    try:
        return getattr(row, column)
    except AttributeError:  # column not registered by the caller
        return default


def _ref_uuid(value: Any) -> UUID | None:
    if value is None:
        return None
    ref = getattr(value, "uuid", value)
    return ref if isinstance(ref, UUID) else None


def _str_map(value: Any) -> FrozenMap:
    if not value:
        return FrozenMap()
    return FrozenMap({str(k): str(v) for k, v in value.items()})


def read_iface(row: Any) -> IfaceView:
    """Copy one ``Interface`` row."""
    mtu = _optional(_get(row, "mtu_request", []))
    ofport = _optional(_get(row, "ofport", []))
    return IfaceView(
        uuid=row.uuid,
        name=row.name,
        type=_get(row, "type", ""),
        options=_str_map(_get(row, "options", {})),
        external_ids=_str_map(_get(row, "external_ids", {})),
        mtu_request=None if mtu is None else int(mtu),
        ofport=None if ofport is None else int(ofport),
    )


def _column(row: Any, column: str, default: Any) -> Any:
    """A scalar column's value, from the committed Datum when possible."""
    data = committed_datums(row)
    if data is not None:
        return _datum_first(data.get(column), default)
    return _get(row, column, default)


def _scan(idl: Any, table: str, column: str, values: Iterable[str]) -> list[Any]:
    """Rows of *table* whose *column* (a string) is one of *values*: one scan."""
    wanted = set(values)
    if not wanted:
        return []
    return [row for row in idl.tables[table].rows.values() if _column(row, column, None) in wanted]


def _chassis_rows(idl: Any, name: str) -> list[Any]:
    """The Chassis rows named *name*, through the engine's index where it exists.

    :func:`ovn_vif.create_sb_indexes` creates the index; without it (a
    caller that did not call it), one scan.
    """
    rows = idl.tables["Chassis"].rows
    indexes = getattr(rows, "indexes", None)
    entry_cls = getattr(rows, "IndexEntry", None)
    if indexes is not None and INDEX_CHASSIS_BY_NAME in indexes and entry_cls is not None:
        return list(idl.index_equal("Chassis", INDEX_CHASSIS_BY_NAME, entry_cls(name=name)))
    return _scan(idl, "Chassis", "name", [name])


def read_port(row: Any) -> PortView:
    """Copy one ``Port`` row."""
    members = tuple(u for u in (_ref_uuid(i) for i in row.interfaces) if u is not None)
    return PortView(uuid=row.uuid, name=row.name, interfaces=members)


def read_ovs(idl: Any, bridge: str, memo: RowMemo | None = None) -> OvsView:
    """Copy the rows of the local Open_vSwitch database the engine needs.

    That is the integration bridge, its ports and their interfaces; other
    names are looked up on demand (:class:`IdlNames`). *idl* is an
    ``ovs.db.idl.Idl`` (or a compatible fake) that monitors at least the
    columns :func:`ovn_vif.register_ovs_columns` registers. With a *memo*,
    rows that did not change since the previous read are not read again.
    """
    bridge_view = None
    ports: dict[UUID, PortView] = {}
    ifaces: dict[UUID, IfaceView] = {}

    iface_rows = idl.tables["Interface"].rows

    def add_port(row: Any) -> None:
        port = _copy(memo, "Port", row, PORT_COLUMNS, read_port)
        ports[port.uuid] = port
        for iface_uuid in port.interfaces:
            iface = iface_rows.get(iface_uuid)
            if iface is not None and iface_uuid not in ifaces:
                ifaces[iface_uuid] = _copy(memo, "Interface", iface, IFACE_COLUMNS, read_iface)

    for row in _scan(idl, "Bridge", "name", [bridge]):
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


def _datum_first(datum: Any, default: Any) -> Any:
    """The single (or first) value of a scalar or optional column's Datum."""
    if datum is None:
        return default
    for atom in datum.values:
        return atom.value
    return default


def _datum_refs(datum: Any, rows: Mapping[UUID, Any]) -> list[UUID]:
    """The uuids a reference column holds, as the IDL resolves them: only
    those whose row is in the cache."""
    if datum is None:
        return []
    return [atom.value for atom in datum.values if atom.value in rows]


def _datum_str_map(datum: Any) -> FrozenMap:
    if datum is None or not datum.values:
        return FrozenMap()
    return FrozenMap({str(k.value): str(v.value) for k, v in datum.values.items()})


def _requested(row: Any) -> UUID | None:
    return _ref_uuid(_optional(_get(row, "requested_chassis", [])))


def read_binding(row: Any) -> BindingView:
    """Copy one ``Port_Binding`` row."""
    additional = _get(row, "requested_additional_chassis", [])
    return BindingView(
        logical_port=row.logical_port,
        type=_get(row, "type", ""),
        parent_port=_optional(_get(row, "parent_port", [])) or None,
        options=_str_map(_get(row, "options", {})),
        requested_chassis=_ref_uuid(_optional(_get(row, "requested_chassis", []))),
        requested_additional_chassis=frozenset(
            u for u in (_ref_uuid(c) for c in additional) if u is not None
        ),
    )


def _binding_from(data: Mapping[str, Any], chassis_rows: Mapping[UUID, Any]) -> BindingView:
    """:func:`read_binding` from the row's Datums, without ``Row`` attribute
    reads (several times faster; same result)."""
    requested = _datum_refs(data.get("requested_chassis"), chassis_rows)
    return BindingView(
        logical_port=_datum_first(data.get("logical_port"), ""),
        type=_datum_first(data.get("type"), ""),
        parent_port=_datum_first(data.get("parent_port"), None) or None,
        options=_datum_str_map(data.get("options")),
        requested_chassis=requested[0] if requested else None,
        requested_additional_chassis=frozenset(
            _datum_refs(data.get("requested_additional_chassis"), chassis_rows)
        ),
    )


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
    for row in _chassis_rows(idl, chassis):
        chassis_view = ChassisView(uuid=row.uuid, name=row.name, hostname=_get(row, "hostname", ""))
        break
    bindings: dict[str, BindingView] = {}
    chassis_rows = idl.tables["Chassis"].rows

    def read(row: Any) -> BindingView:
        data = committed_datums(row)
        if data is None:
            return read_binding(row)
        return _binding_from(data, chassis_rows)

    if chassis_view is not None:
        me = chassis_view.uuid
        for row in idl.tables["Port_Binding"].rows.values():
            # Only requested_chassis is read for the Port_Bindings of other
            # chassis: copying every column of every Port_Binding of the
            # cloud would be wasteful.
            data = committed_datums(row)
            if data is None:
                requested = _requested(row)
            else:
                refs = _datum_refs(data.get("requested_chassis"), chassis_rows)
                requested = refs[0] if refs else None
            if requested == me:
                view = _copy(memo, "Port_Binding", row, BINDING_COLUMNS, read)
                bindings[view.logical_port] = view
    missing = set(lports) - set(bindings)
    for row in _scan(idl, "Port_Binding", "logical_port", missing):
        view = _copy(memo, "Port_Binding", row, BINDING_COLUMNS, read)
        bindings[view.logical_port] = view
    if memo is not None:
        memo.sweep(("Port_Binding",))
    return SbView(chassis=chassis_view, bindings=bindings)
