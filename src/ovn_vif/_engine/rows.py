"""Reading one IDL row into its view (:mod:`ovn_vif._engine.views`).

``ovs.db.idl`` is untyped; this module is the only place that reads its
rows, for the full copy (:mod:`ovn_vif._engine.snapshot`) and the
incremental one (:mod:`ovn_vif._engine.incremental`) alike. Each
``read_*`` takes the row's committed column values (``ovs.db.data.Datum``)
when it can, which is several times faster than ``Row`` attribute reads
and gives the same view; rows with writes staged in an open transaction,
and rows of IDL-like objects without that data, are read through their
attributes. There, optional columns read as lists, maps as dicts and
references as Row objects (or None when the target is not in the cache).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

import attrs

from ovn_vif._contract.frozenmap import FrozenMap, freeze
from ovn_vif._engine.columns import INDEX_CHASSIS_BY_NAME, OVS_COLUMNS, SB_COLUMNS
from ovn_vif._engine.views import (
    BindingView,
    ChassisView,
    IfaceView,
    NameLookup,
    PortView,
)
from ovn_vif._ovs_private import committed_datums, packed_members, packed_scalar, packed_values


def read_iface(row: Any, like: IfaceView | None = None) -> IfaceView:
    """Copy one ``Interface`` row; its maps are *like*'s where they are
    equal (a row changed in another column, e.g. its ofport, keeps sharing
    them with the views and keys made from its earlier copy)."""
    packed = packed_values(row)
    if packed is not None:
        return _iface_from_packed(row.uuid, packed, like)
    data = committed_datums(row)
    view = _iface_from_attrs(row) if data is None else _iface_from_datums(row.uuid, data)
    if like is None:
        return view
    options, external_ids = view.options, view.external_ids
    if options == like.options:
        options = like.options
    if external_ids == like.external_ids:
        external_ids = like.external_ids
    if options is view.options and external_ids is view.external_ids:
        return view
    return attrs.evolve(view, options=options, external_ids=external_ids)


def read_port(row: Any, iface_rows: Mapping[UUID, Any]) -> PortView:
    """Copy one ``Port`` row; its interfaces are those in *iface_rows*."""
    packed = packed_values(row)
    if packed is not None:
        layout = packed[0]
        members = layout.members(packed, "interfaces")
        return PortView(
            uuid=row.uuid,
            name=layout.first(packed, "name", ""),
            interfaces=tuple(sorted(u for u in members if u in iface_rows)),
        )
    data = committed_datums(row)
    if data is None:
        return _port_from_attrs(row)
    return PortView(
        uuid=row.uuid,
        name=_datum_first(data.get("name"), ""),
        interfaces=tuple(sorted(_datum_refs(data.get("interfaces"), iface_rows))),
    )


def read_binding(row: Any, chassis_rows: Mapping[UUID, Any]) -> BindingView:
    """Copy one ``Port_Binding`` row; its chassis are those in *chassis_rows*."""
    packed = packed_values(row)
    if packed is not None:
        return _binding_from_packed(packed, chassis_rows)
    data = committed_datums(row)
    if data is None:
        return _binding_from_attrs(row)
    return _binding_from_datums(data, chassis_rows)


def read_chassis(row: Any) -> ChassisView:
    """Copy one ``Chassis`` row."""
    return ChassisView(uuid=row.uuid, name=row.name, hostname=_get(row, "hostname", ""))


def requested_chassis(row: Any, chassis_rows: Mapping[UUID, Any]) -> UUID | None:
    """A ``Port_Binding``'s ``requested_chassis``, the one column read of
    the Port_Bindings of other chassis."""
    packed = packed_values(row)
    if packed is not None:
        for ref in packed[0].members(packed, "requested_chassis"):
            if ref in chassis_rows:
                return ref  # type: ignore[no-any-return]
        return None
    data = committed_datums(row)
    if data is None:
        return _ref_uuid(_optional(_get(row, "requested_chassis", [])))
    refs = _datum_refs(data.get("requested_chassis"), chassis_rows)
    return refs[0] if refs else None


def bridge_ports(row: Any, port_rows: Mapping[UUID, Any]) -> list[UUID]:
    """The Ports of one ``Bridge`` row that are in *port_rows*."""
    data = committed_datums(row)
    if data is not None:
        return _datum_refs(data.get("ports"), port_rows)
    return [p.uuid for p in row.ports if p is not None]


def column(row: Any, name: str, default: Any) -> Any:
    """A scalar column's value, from the committed Datum when possible."""
    packed = packed_values(row)
    if packed is not None:
        return packed[0].first(packed, name, default)
    data = committed_datums(row)
    if data is not None:
        return _datum_first(data.get(name), default)
    return _get(row, name, default)


def scan(idl: Any, table: str, name: str, values: Iterable[str]) -> list[Any]:
    """Rows of *table* whose column *name* (a string) is one of *values*: one scan."""
    wanted = set(values)
    if not wanted:
        return []
    return [row for row in idl.tables[table].rows.values() if column(row, name, None) in wanted]


def chassis_rows(idl: Any, name: str) -> list[Any]:
    """The Chassis rows named *name*, through the engine's index where it exists.

    :func:`ovn_vif.create_sb_indexes` creates the index; without it (a
    caller that did not call it), one scan.
    """
    rows = idl.tables["Chassis"].rows
    indexes = getattr(rows, "indexes", None)
    entry_cls = getattr(rows, "IndexEntry", None)
    if indexes is not None and INDEX_CHASSIS_BY_NAME in indexes and entry_cls is not None:
        return list(idl.index_equal("Chassis", INDEX_CHASSIS_BY_NAME, entry_cls(name=name)))
    return scan(idl, "Chassis", "name", [name])


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
                    row_name = column(row, "name", None)
                    if isinstance(row_name, str) and row_name not in held:
                        held[row_name] = f"a {table} named {row_name} exists (uuid {row.uuid})"
            self._held = held
        return self._held.get(name)


# --- from the row's attributes ------------------------------------------------

#: The one empty set of uuids: ``frozenset()`` of an empty iterable is a new
#: 216-byte object each time, and nearly every Port_Binding has one.
_NO_UUIDS: frozenset[UUID] = frozenset()


def _uuid_set(values: Iterable[UUID]) -> frozenset[UUID]:
    return frozenset(values) or _NO_UUIDS


def _optional(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _get(row: Any, name: str, default: Any) -> Any:
    try:
        return getattr(row, name)
    except AttributeError:  # column not registered by the caller
        return default


def _ref_uuid(value: Any) -> UUID | None:
    if value is None:
        return None
    ref = getattr(value, "uuid", value)
    return ref if isinstance(ref, UUID) else None


def _str_map(value: Any) -> dict[str, str]:
    if not value:
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _iface_from_attrs(row: Any) -> IfaceView:
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


def _port_from_attrs(row: Any) -> PortView:
    members = tuple(u for u in (_ref_uuid(i) for i in row.interfaces) if u is not None)
    return PortView(uuid=row.uuid, name=row.name, interfaces=members)


def _binding_from_attrs(row: Any) -> BindingView:
    additional = _get(row, "requested_additional_chassis", [])
    return BindingView(
        logical_port=row.logical_port,
        type=_get(row, "type", ""),
        parent_port=_optional(_get(row, "parent_port", [])) or None,
        options=_str_map(_get(row, "options", {})),
        requested_chassis=_ref_uuid(_optional(_get(row, "requested_chassis", []))),
        requested_additional_chassis=_uuid_set(
            u for u in (_ref_uuid(c) for c in additional) if u is not None
        ),
    )


# --- from the row's committed Datums ------------------------------------------


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


def _datum_str_map(datum: Any) -> dict[str, str]:
    if datum is None or not datum.values:
        return {}
    return {str(k.value): str(v.value) for k, v in datum.values.items()}


def _iface_from_datums(uuid: UUID, data: Mapping[str, Any]) -> IfaceView:
    mtu = _datum_first(data.get("mtu_request"), None)
    ofport = _datum_first(data.get("ofport"), None)
    return IfaceView(
        uuid=uuid,
        name=_datum_first(data.get("name"), ""),
        type=_datum_first(data.get("type"), ""),
        options=_datum_str_map(data.get("options")),
        external_ids=_datum_str_map(data.get("external_ids")),
        mtu_request=None if mtu is None else int(mtu),
        ofport=None if ofport is None else int(ofport),
    )


def _binding_from_datums(data: Mapping[str, Any], chassis_rows: Mapping[UUID, Any]) -> BindingView:
    requested = _datum_refs(data.get("requested_chassis"), chassis_rows)
    return BindingView(
        logical_port=_datum_first(data.get("logical_port"), ""),
        type=_datum_first(data.get("type"), ""),
        parent_port=_datum_first(data.get("parent_port"), None) or None,
        options=_datum_str_map(data.get("options")),
        requested_chassis=requested[0] if requested else None,
        requested_additional_chassis=_uuid_set(
            _datum_refs(data.get("requested_additional_chassis"), chassis_rows)
        ),
    )


# --- from a packed row (``ovs.db.idl`` rows the agent's IDLs keep packed) -----


#: The columns :func:`read_iface` and :func:`read_binding` read: those the
#: engine registers, in that order (the readers below unpack them so).
_IFACE_COLUMNS = tuple(OVS_COLUMNS["Interface"])
_BINDING_COLUMNS = tuple(SB_COLUMNS["Port_Binding"])


def _frozen(flat: tuple[str, ...] | None, like: FrozenMap | None) -> FrozenMap:
    """A packed ``string -> string`` map column as a FrozenMap: *like* when
    equal, the shared empty one when empty."""
    if not flat:
        return freeze(None)
    values = dict(zip(flat[::2], flat[1::2], strict=True))
    if like is not None and like == values:
        return like
    return FrozenMap._of(values)


def _iface_from_packed(uuid: UUID, packed: tuple[Any, ...], like: IfaceView | None) -> IfaceView:
    name, kind, options, external_ids, mtu, ofport = (
        packed[at] for at in packed[0].slots(_IFACE_COLUMNS)
    )
    mtu, ofport = packed_scalar(mtu, None), packed_scalar(ofport, None)
    return IfaceView(
        uuid=uuid,
        name=packed_scalar(name, ""),
        type=packed_scalar(kind, ""),
        options=_frozen(options, None if like is None else like.options),
        external_ids=_frozen(external_ids, None if like is None else like.external_ids),
        mtu_request=None if mtu is None else int(mtu),
        ofport=None if ofport is None else int(ofport),
    )


def _binding_from_packed(packed: tuple[Any, ...], chassis_rows: Mapping[UUID, Any]) -> BindingView:
    lport, kind, parent, options, requested, additional = (
        packed[at] for at in packed[0].slots(_BINDING_COLUMNS)
    )
    chassis = [u for u in packed_members(requested) if u in chassis_rows]
    also = _uuid_set(u for u in packed_members(additional) if u in chassis_rows)
    return BindingView(
        logical_port=packed_scalar(lport, ""),
        type=packed_scalar(kind, ""),
        parent_port=packed_scalar(parent, None) or None,
        options=_frozen(options, None),
        requested_chassis=chassis[0] if chassis else None,
        requested_additional_chassis=also,
    )
