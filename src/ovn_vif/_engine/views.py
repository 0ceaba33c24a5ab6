"""Plain, immutable copies of the rows the engine decides on.

``ovs.db.idl`` rows change under the caller's feet whenever the IDL runs,
and reading them is slow and untyped. The engine therefore decides on the
frozen values below alone: :mod:`ovn_vif._engine.rows` makes them from
rows, :mod:`ovn_vif._engine.snapshot` (every row, once per full run) and
:mod:`ovn_vif._engine.incremental` (the changed rows) gather them. The
decision rules (:mod:`ovn_vif._engine.rules`) never see an IDL, so they
are tested with values built by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any
from uuid import UUID

import attrs

from ovn_vif._contract.frozenmap import FrozenMap, freeze

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
