"""Hand-built snapshots and a recording provider for the pure rule tests."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping

import attrs

from ovn_vif import (
    OpType,
    PlugSpec,
    Policy,
    PortContext,
    Registry,
    VifPlugProvider,
    truncate_netdev_name,
)
from ovn_vif._engine.rules import Plan, decide
from ovn_vif._engine.views import (
    BindingView,
    BridgeView,
    ChassisView,
    IfaceView,
    OvsView,
    PortView,
    SbView,
)

_counter = itertools.count(1)


def new_uuid() -> uuid.UUID:
    return uuid.UUID(int=next(_counter))


class Recorder(VifPlugProvider):
    """Like the dummy provider, recording every call; knobs per lport."""

    type = "dummy"

    def __init__(self, plug_type: str = "dummy") -> None:
        self.type = plug_type
        self.calls: list[tuple[str, str]] = []
        self.names: dict[str, str] = {}
        self.decline: set[str] = set()
        self.veto: set[str] = set()
        self.raise_in: dict[str, str] = {}
        self.invalid: dict[str, object] = {}
        self.maintained: frozenset[str] | None = frozenset({"vif-plug-dummy-option"})

    def maintained_iface_options(self) -> frozenset[str] | None:
        return self.maintained

    def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
        self.calls.append(("prepare_create", ctx.lport_name))
        if self.raise_in.get(ctx.lport_name) == "prepare_create":
            raise RuntimeError("boom")
        if ctx.lport_name in self.decline:
            return None
        if ctx.lport_name in self.invalid:
            return self.invalid[ctx.lport_name]  # type: ignore[return-value]
        name = self.names.get(ctx.lport_name, truncate_netdev_name(ctx.lport_name))
        return PlugSpec(name=name, type="internal", options={"vif-plug-dummy-option": "value"})

    def prepare_remove(self, ctx: PortContext) -> bool:
        self.calls.append(("prepare_remove", ctx.lport_name))
        if self.raise_in.get(ctx.lport_name) == "prepare_remove":
            raise RuntimeError("boom")
        return ctx.lport_name not in self.veto

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        self.calls.append(("finish", ctx.lport_name))
        if self.raise_in.get(ctx.lport_name) == "finish":
            raise RuntimeError("boom")

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        assert ctx.op_type is OpType.CREATE
        self.calls.append(("release", ctx.lport_name))

    def count(self, hook: str, lport: str | None = None) -> int:
        return sum(1 for h, lp in self.calls if h == hook and (lport is None or lp == lport))


HV1 = ChassisView(uuid=uuid.UUID(int=10**6 + 1), name="hv1", hostname="host1")
HV2 = ChassisView(uuid=uuid.UUID(int=10**6 + 2), name="hv2", hostname="host2")


@attrs.define
class World:
    """A mutable description of both databases, frozen into views on demand."""

    chassis: ChassisView | None = HV1
    bridge_name: str = "br-int"
    bridge_uuid: uuid.UUID = attrs.field(factory=new_uuid)
    has_bridge: bool = True
    ports: dict[uuid.UUID, PortView] = attrs.field(factory=dict)
    ifaces: dict[uuid.UUID, IfaceView] = attrs.field(factory=dict)
    bridge_ports: set[uuid.UUID] = attrs.field(factory=set)
    others: dict[str, str] = attrs.field(factory=dict)
    bindings: dict[str, BindingView] = attrs.field(factory=dict)

    # --- OVS side ---
    def add_iface(
        self,
        name: str,
        *,
        iface_id: str | None = None,
        plugged: str | None = None,
        ofport: int | None = 1,
        type: str = "",
        options: Mapping[str, str] | None = None,
        external_ids: Mapping[str, str] | None = None,
        mtu: int | None = None,
        on_bridge: bool = True,
    ) -> IfaceView:
        ext = dict(external_ids or {})
        if iface_id is not None:
            ext["iface-id"] = iface_id
        if plugged is not None:
            ext["ovn-plugged"] = plugged
        iface = IfaceView(
            uuid=new_uuid(),
            name=name,
            type=type,
            options=options or {},
            external_ids=ext,
            mtu_request=mtu,
            ofport=ofport,
        )
        port = PortView(uuid=new_uuid(), name=name, interfaces=(iface.uuid,))
        if on_bridge:
            self.ifaces[iface.uuid] = iface
            self.ports[port.uuid] = port
            self.bridge_ports.add(port.uuid)
        else:
            self.others[name] = f"a Port named {name} exists on br-other"
        return iface

    def plugged(self, lport: str, name: str | None = None, **kw: object) -> IfaceView:
        """An interface as the dummy provider plugs it."""
        return self.add_iface(
            name or truncate_netdev_name(lport),
            iface_id=lport,
            plugged=str(kw.pop("plugged", "dummy")),
            type="internal",
            options={"vif-plug-dummy-option": "value"},
            **kw,  # type: ignore[arg-type]
        )

    def remove_iface(self, iface: IfaceView) -> None:
        del self.ifaces[iface.uuid]
        for port in list(self.ports.values()):
            if iface.uuid in port.interfaces:
                del self.ports[port.uuid]
                self.bridge_ports.discard(port.uuid)

    def replace_iface(self, iface: IfaceView, **changes: object) -> IfaceView:
        new = attrs.evolve(iface, **changes)  # type: ignore[arg-type]
        self.ifaces[iface.uuid] = new
        return new

    # --- SB side ---
    def lsp(
        self,
        name: str,
        *,
        chassis: ChassisView | None = HV1,
        requested: str | None = None,
        plug_type: str | None = "dummy",
        type: str = "",
        parent: str | None = None,
        additional: tuple[ChassisView, ...] = (),
        **options: str,
    ) -> BindingView:
        opts = {k.replace("_", "-"): v for k, v in options.items()}
        if requested is None and chassis is not None:
            requested = chassis.name
        if requested is not None:
            opts["requested-chassis"] = requested
        if plug_type is not None:
            opts["vif-plug-type"] = plug_type
        binding = BindingView(
            logical_port=name,
            type=type,
            parent_port=parent,
            options=opts,
            requested_chassis=chassis.uuid if chassis is not None else None,
            requested_additional_chassis=frozenset(c.uuid for c in additional),
        )
        self.bindings[name] = binding
        return binding

    def views(self) -> tuple[OvsView, SbView]:
        bridge = (
            BridgeView(
                uuid=self.bridge_uuid, name=self.bridge_name, ports=frozenset(self.bridge_ports)
            )
            if self.has_bridge
            else None
        )
        ovs = OvsView.build(bridge, self.ports.values(), self.ifaces.values(), others=self.others)
        sb = SbView.build(self.chassis, self.bindings.values())
        return ovs, sb

    def decide(
        self,
        registry: Registry,
        policy: Policy,
        *,
        can_unplug: bool = True,
        in_flight: frozenset[str] = frozenset(),
    ) -> Plan:
        ovs, sb = self.views()
        return decide(
            ovs=ovs,
            sb=sb,
            registry=registry,
            policy=policy,
            can_unplug=can_unplug,
            in_flight=in_flight,
        )

    def apply(self, plan: Plan) -> None:
        """Apply a plan as a successful commit plus vswitchd would."""
        for remove in plan.removes:
            for iface_uuid in remove.ifaces:
                self.ifaces.pop(iface_uuid, None)
            self.ports.pop(remove.port, None)
            self.bridge_ports.discard(remove.port)
        for update in plan.updates:
            old = self.ifaces[update.iface]
            ext = dict(old.external_ids) | dict(update.set_external_ids)
            opts = {k: v for k, v in old.options.items() if k not in update.del_options}
            opts |= dict(update.set_options)
            mtu = old.mtu_request
            if update.set_mtu_request is not None:
                mtu = update.set_mtu_request
            elif update.clear_mtu_request:
                mtu = None
            self.ifaces[update.iface] = attrs.evolve(
                old,
                type=update.set_type if update.set_type is not None else old.type,
                external_ids=ext,
                options=opts,
                mtu_request=mtu,
            )
        for create in plan.creates:
            self.add_iface(
                create.name,
                type=create.type or "",
                options=create.options,
                external_ids=create.external_ids,
                mtu=create.mtu_request,
            )


BOTH = (Policy.OVN_COMPATIBLE, Policy.RECOMMENDED)
