"""The decision rules: which lports to plug, update and unplug, and how.

:func:`decide` takes plain snapshots (:mod:`ovn_vif.snapshot`), the provider
registry and the policy, asks the providers (``prepare_create``,
``prepare_remove``, ``maintained_iface_options``) and returns a
:class:`Plan`: the decisions to report, the row operations to stage
(:mod:`ovn_vif.ovsport` values) and the provider calls that wait for the
commit. It never touches a database, so every rule is tested with
hand-built snapshots.

:attr:`Policy.OVN_COMPATIBLE` follows ``controller/vif-plug.c`` of OVN 23.03
step by step (pass A over interfaces, pass B over Port_Bindings requested
for this chassis, the "touched" rule, the local-binding rule
``iface-id`` + ``ofport > 0``, no by-name lookup). :attr:`Policy.RECOMMENDED`
decides per lport, using the OVN-plugged rows themselves rather than the
local binding, so that it can unplug withdrawn requests, replace a port
whose name changed and never create a port twice. Rules common to both
are in :class:`_Run`.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Mapping

import attrs

from ovn_vif.frozenmap import FrozenMap
from ovn_vif.netdev import netdev_name_problem
from ovn_vif.ovsport import CreatePort, IfaceUpdate, RemovePort, plan_iface_update
from ovn_vif.provider import OpType, PlugSpec, PortContext, VifPlugProvider
from ovn_vif.ratelimit import RateLimitedLogger
from ovn_vif.registry import Registry
from ovn_vif.report import Decision, Outcome, Policy, Reason
from ovn_vif.snapshot import (
    IFACE_ID,
    OVN_PLUGGED,
    BindingView,
    ChassisView,
    IfaceView,
    OvsView,
    SbView,
)

__all__ = [
    "MTU_REQUEST_OPTION",
    "PLUG_TYPE_OPTION",
    "REQUESTED_CHASSIS_OPTION",
    "CanBind",
    "PendingCall",
    "Plan",
    "can_bind",
    "decide",
    "parse_mtu_request",
]

LOG = logging.getLogger(__name__)

#: LSP/Port_Binding option naming the plug type.
PLUG_TYPE_OPTION = "vif-plug-type"
#: LSP/Port_Binding option asking for an MTU.
MTU_REQUEST_OPTION = "vif-plug-mtu-request"
#: LSP/Port_Binding option listing the chassis (comma separated).
REQUESTED_CHASSIS_OPTION = "requested-chassis"

_INT_MIN = -(2**31)
_INT_MAX = 2**31 - 1


class CanBind(enum.IntEnum):
    """Result of :func:`can_bind` (OVN ``enum can_bind``)."""

    CANNOT = 0
    MAIN = 1
    ADDITIONAL = 2


def can_bind(chassis: ChassisView, binding: BindingView) -> CanBind:
    """Whether *binding* may be bound on *chassis* (OVN ``lport.c``).

    MAIN if ``requested_chassis`` is this chassis, ADDITIONAL if
    ``requested_additional_chassis`` lists it; otherwise the
    ``requested-chassis`` option decides: absent or empty means MAIN, else
    the first comma-separated token matching the chassis name or hostname
    gives MAIN, a later one ADDITIONAL, none CANNOT.
    """
    if binding.requested_chassis == chassis.uuid:
        return CanBind.MAIN
    if chassis.uuid in binding.requested_additional_chassis:
        return CanBind.ADDITIONAL
    option = binding.options.get(REQUESTED_CHASSIS_OPTION)
    if not option:
        return CanBind.MAIN
    verdict = CanBind.MAIN
    for token in option.split(","):
        if not token:  # strtok() skips empty tokens
            continue
        if token in (chassis.name, chassis.hostname):
            return verdict
        verdict = CanBind.ADDITIONAL
    return CanBind.CANNOT


def parse_mtu_request(options: Mapping[str, str]) -> tuple[int, str | None]:
    """Return (MTU, problem) from ``vif-plug-mtu-request``.

    Parsed like OVS ``str_to_int`` (base 10, optional leading whitespace
    and sign, nothing after the digits, within ``int``). A value that does
    not parse gives ``(0, "why")``; 0 means "no request", as does any value
    ≤ 0.

    >>> parse_mtu_request({"vif-plug-mtu-request": "9000"})
    (9000, None)
    >>> parse_mtu_request({"vif-plug-mtu-request": "9k"})
    (0, "'9k' is not an integer")
    """
    raw = options.get(MTU_REQUEST_OPTION)
    if raw is None:
        return 0, None
    text = raw.lstrip(" \t\n\v\f\r")
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return 0, f"{raw!r} is not an integer"
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        return 0, f"{raw!r} is out of range"
    return max(value, 0), None


@attrs.frozen(slots=True, kw_only=True)
class PendingCall:
    """A provider call that waits for the transaction's outcome.

    ``spec`` is the :class:`PlugSpec` of a create or update (``finish``
    then ``release`` on success, ``release`` alone on failure), ``None``
    for a removal (``finish`` on success, nothing on failure).
    """

    lport: str
    provider: VifPlugProvider = attrs.field(eq=False)
    ctx: PortContext
    spec: PlugSpec | None


@attrs.frozen(slots=True, kw_only=True)
class Plan:
    """Output of :func:`decide`."""

    decisions: tuple[Decision, ...] = ()
    creates: tuple[CreatePort, ...] = ()
    updates: tuple[IfaceUpdate, ...] = ()
    removes: tuple[RemovePort, ...] = ()
    #: Provider calls to make once the commit status is known.
    pending: tuple[PendingCall, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the plan writes anything."""
        return bool(self.creates or self.updates or self.removes)


class _Refused(Exception):
    """Internal: stop working on one lport and report why."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.detail)
        self.decision = decision


class _Run:
    """State of one :func:`decide` call (both policies)."""

    def __init__(
        self,
        *,
        ovs: OvsView,
        sb: SbView,
        chassis: ChassisView,
        registry: Registry,
        policy: Policy,
        can_unplug: bool,
        in_flight: frozenset[str],
        log: RateLimitedLogger,
    ) -> None:
        assert ovs.bridge is not None
        self.ovs = ovs
        self.sb = sb
        self.chassis = chassis
        self.bridge = ovs.bridge
        self.registry = registry
        self.policy = policy
        self.can_unplug = can_unplug
        self.log = log
        # OVN's changed_iface_ids/deleted_iface_ids keys: lports with a
        # transaction in flight, or acted on in this run.
        self.touched: set[str] = set(in_flight)
        self.decisions: list[Decision] = []
        self.creates: list[CreatePort] = []
        self.updates: list[IfaceUpdate] = []
        self.removes: list[RemovePort] = []
        self.pending: list[PendingCall] = []
        # Names of ports created / removed by this run.
        self.names_created: set[str] = set()
        self.names_removed: set[str] = set()
        self.ports_removed: set[uuid.UUID] = set()

    # --- small helpers ----------------------------------------------------

    def plan(self) -> Plan:
        return Plan(
            decisions=tuple(self.decisions),
            creates=tuple(self.creates),
            updates=tuple(self.updates),
            removes=tuple(self.removes),
            pending=tuple(self.pending),
        )

    def decide(self, decision: Decision) -> None:
        self.decisions.append(decision)

    def refuse(
        self,
        lport: str,
        reason: Reason,
        detail: str,
        *,
        plug_type: str | None = None,
        port: str | None = None,
    ) -> _Refused:
        return _Refused(
            Decision(
                lport=lport,
                outcome=Outcome.REFUSED,
                reason=reason,
                plug_type=plug_type,
                port=port,
                detail=detail,
            )
        )

    def provider_error(self, lport: str, plug_type: str, hook: str, exc: BaseException) -> _Refused:
        self.log.log(
            logging.ERROR,
            ("provider-error", plug_type, hook, lport),
            "VIF plug provider %s raised in %s() for lport %s",
            plug_type,
            hook,
            lport,
            exc_info=exc,
        )
        return self.refuse(
            lport,
            Reason.PROVIDER_ERROR,
            f"provider {plug_type} raised in {hook}(): {type(exc).__name__}: {exc}",
            plug_type=plug_type,
        )

    def release(
        self, lport: str, provider: VifPlugProvider, ctx: PortContext, spec: PlugSpec
    ) -> None:
        """Give a prepared spec back to its provider without writing it."""
        try:
            provider.release(ctx, spec)
        except Exception as exc:
            self.log.log(
                logging.ERROR,
                ("provider-error", provider.type, "release", lport),
                "VIF plug provider %s raised in release() for lport %s",
                provider.type,
                lport,
                exc_info=exc,
            )

    def mtu_for(self, binding: BindingView) -> int:
        mtu, problem = parse_mtu_request(binding.options)
        if problem is not None:
            self.log.warning(
                ("bad-mtu", binding.logical_port),
                "Ignoring %s of lport %s: %s",
                MTU_REQUEST_OPTION,
                binding.logical_port,
                problem,
            )
        return mtu

    def create_ctx(self, binding: BindingView) -> PortContext:
        return PortContext(
            op_type=OpType.CREATE,
            lport_name=binding.logical_port,
            lport_options=binding.options,
            bridge=self.bridge.name,
            chassis=self.chassis.name,
        )

    def local_binding(self, lport: str) -> IfaceView | None:
        """OVN's local binding: an integration-bridge interface with
        ``iface-id`` = *lport* and ``ofport > 0``.

        When several qualify, one lacking ``ovn-plugged`` wins (what the
        real ovn-controller ended up using in the observed cases, and the
        safe choice: the engine then refuses to touch anything).
        """
        found = [i for i in self.ovs.bridge_ifaces_by_lport.get(lport, ()) if i.has_ofport]
        for iface in found:
            if iface.plugged_by is None:
                return iface
        return found[0] if found else None

    def foreign_binding(self, lport: str) -> IfaceView | None:
        """An interface bound to *lport* that was not plugged by OVN."""
        iface = self.local_binding(lport)
        return iface if iface is not None and iface.plugged_by is None else None

    # --- provider calls -----------------------------------------------------

    def prepare_create(
        self, binding: BindingView, plug_type: str, provider: VifPlugProvider
    ) -> tuple[PortContext, PlugSpec] | None:
        """Ask the provider; ``None`` if it declined (reported). Raises
        :class:`_Refused` if it raised or returned something unusable."""
        lport = binding.logical_port
        ctx = self.create_ctx(binding)
        try:
            spec: object = provider.prepare_create(ctx)
        except Exception as exc:
            raise self.provider_error(lport, plug_type, "prepare_create", exc) from None
        if spec is None:
            self.log.info(
                ("declined", lport),
                "Not plugging/updating lport %s on direction from VIF plug provider.",
                lport,
            )
            self.decide(
                Decision(
                    lport=lport,
                    outcome=Outcome.DECLINED,
                    plug_type=plug_type,
                    detail=f"provider {plug_type} declined to plug lport {lport} for now",
                )
            )
            return None
        if not isinstance(spec, PlugSpec):
            detail = (
                f"provider {plug_type} returned a {type(spec).__name__} "
                f"instead of a PlugSpec for lport {lport}"
            )
            self.log.warning(("invalid-spec", lport), "%s", detail)
            raise self.refuse(lport, Reason.INVALID_SPEC, detail, plug_type=plug_type)
        # PlugSpec's converters already guarantee a str-or-None type and
        # str -> str options; the name is checked here.
        problem = netdev_name_problem(spec.name)
        if problem is not None:
            detail = (
                f"provider {plug_type} gave an unusable port name {spec.name!r} "
                f"for lport {lport}: it {problem}"
            )
            self.log.warning(
                ("invalid-spec", lport), "Refusing to plug lport %s: %s", lport, detail
            )
            self.release(lport, provider, ctx, spec)
            raise self.refuse(lport, Reason.INVALID_SPEC, detail, plug_type=plug_type)
        return ctx, spec

    def maintained(
        self, lport: str, plug_type: str, provider: VifPlugProvider
    ) -> frozenset[str] | None:
        try:
            keys = provider.maintained_iface_options()
        except Exception as exc:
            raise self.provider_error(lport, plug_type, "maintained_iface_options", exc) from None
        return None if keys is None else frozenset(keys)

    # --- name collisions (both policies) -----------------------------------

    def name_owner(self, name: str, lport: str) -> IfaceView | str | None:
        """Who holds *name* on this switch.

        Returns ``None`` if the name is free, the Interface if it is an
        OVN-plugged integration-bridge port of *lport* (a Port and an
        Interface of that name, the Port holding only it), or a sentence
        describing the foreign row otherwise.
        """
        if name in self.names_created:
            return f"another lport plugs a port named {name} in this transaction"
        port = self.ovs.port_by_name.get(name)
        iface = self.ovs.iface_by_name.get(name)
        if port is not None and port.uuid in self.ports_removed:
            port = None
        if iface is not None and iface.uuid in self.ovs.port_of_iface:
            owner = self.ovs.port_of_iface[iface.uuid]
            if owner in self.ports_removed:
                iface = None
        if port is None and iface is None:
            if name in self.names_removed:
                return None
            return self.ovs.others.describe(name)
        if (
            iface is not None
            and port is not None
            and iface.plugged_by is not None
            and iface.iface_id == lport
            and self.ovs.sole_port(iface) == port
        ):
            return iface
        if iface is not None:
            return (
                f"an Interface named {name} exists that was not plugged for lport {lport} "
                f"(iface-id={iface.iface_id}, ovn-plugged={iface.plugged_by})"
            )
        return f"a Port named {name} exists that was not plugged for lport {lport}"

    def check_name_free(self, binding: BindingView, plug_type: str, name: str) -> IfaceView | None:
        """Refuse (raise) if *name* is held by something not ours; return
        our own same-named interface, if any."""
        lport = binding.logical_port
        owner = self.name_owner(name, lport)
        if isinstance(owner, str):
            self.log.warning(
                ("name-collision", lport),
                "Not plugging lport %s as port %s: %s",
                lport,
                name,
                owner,
            )
            raise self.refuse(lport, Reason.NAME_COLLISION, owner, plug_type=plug_type, port=name)
        return owner

    # --- staging ------------------------------------------------------------

    def stage_create(
        self,
        *,
        binding: BindingView,
        plug_type: str,
        provider: VifPlugProvider,
        ctx: PortContext,
        spec: PlugSpec,
        mtu: int,
    ) -> None:
        lport = binding.logical_port
        self.touched.add(lport)
        self.names_created.add(spec.name)
        self.creates.append(
            CreatePort(
                lport=lport,
                name=spec.name,
                type=spec.type,
                external_ids={OVN_PLUGGED: plug_type, IFACE_ID: lport},
                options=spec.options,
                mtu_request=mtu if mtu > 0 else None,
            )
        )
        self.pending.append(PendingCall(lport=lport, provider=provider, ctx=ctx, spec=spec))

    def stage_update(
        self,
        *,
        binding: BindingView,
        plug_type: str,
        provider: VifPlugProvider,
        ctx: PortContext,
        spec: PlugSpec,
        iface: IfaceView,
        mtu: int,
    ) -> bool:
        """Stage the update of *iface*; return whether it writes anything."""
        lport = binding.logical_port
        try:
            maintained = self.maintained(lport, plug_type, provider)
        except _Refused:
            self.release(lport, provider, ctx, spec)
            raise
        update = plan_iface_update(
            lport,
            iface,
            type=spec.type,
            external_ids={OVN_PLUGGED: plug_type, IFACE_ID: lport},
            options=spec.options,
            maintained_options=maintained,
            mtu_request=mtu,
        )
        LOG.debug("updating iface for: %s", lport)
        self.touched.add(lport)
        if update:
            self.updates.append(update)
            self.decide(
                Decision(
                    lport=lport,
                    outcome=Outcome.UPDATED,
                    plug_type=plug_type,
                    port=iface.name,
                    detail=f"updated interface {iface.name} of lport {lport}",
                )
            )
        if update or self.policy is Policy.OVN_COMPATIBLE:
            # OVN records every update, written or not, and calls finish and
            # ctx_destroy once the (possibly empty) transaction is done.
            self.pending.append(PendingCall(lport=lport, provider=provider, ctx=ctx, spec=spec))
        else:
            # In sync: nothing to write, the spec goes straight back.
            self.release(lport, provider, ctx, spec)
        return bool(update)

    def prepare_unplug(
        self, iface: IfaceView, binding: BindingView | None
    ) -> tuple[VifPlugProvider, PortContext, RemovePort] | None:
        """Ask the provider named by ``ovn-plugged`` whether *iface* may go.

        Returns ``None`` when there is nothing to remove (reported when
        refused or vetoed). Never raises.
        """
        plug_type = iface.plugged_by
        iface_id = iface.iface_id
        port = self.ovs.sole_port(iface)
        if plug_type is None or iface_id is None or port is None:
            return None
        lport = binding.logical_port if binding is not None else iface_id
        provider = self.registry.get(plug_type)
        if provider is None:
            self.log.warning(
                ("unknown-plugged-type", iface.name),
                "Unable to open VIF plug provider for vif-plug-type %s iface-id %s",
                plug_type,
                iface_id,
            )
            self.decide(
                Decision(
                    lport=lport,
                    outcome=Outcome.REFUSED,
                    reason=Reason.UNKNOWN_PLUG_TYPE,
                    plug_type=plug_type,
                    port=port.name,
                    detail=f"no provider for ovn-plugged={plug_type}: cannot unplug {iface.name}",
                )
            )
            return None
        ctx = PortContext(
            op_type=OpType.REMOVE,
            lport_name=lport,
            lport_options=binding.options if binding is not None else FrozenMap(),
            bridge=self.bridge.name,
            chassis=self.chassis.name,
            iface_name=iface.name,
            iface_type=iface.type,
            iface_options=iface.options,
        )
        try:
            allowed = provider.prepare_remove(ctx)
        except Exception as exc:
            self.decide(self.provider_error(lport, plug_type, "prepare_remove", exc).decision)
            return None
        if not allowed:
            self.log.info(
                ("vetoed", iface.name),
                "Not unplugging iface %s (iface-id %s) on direction from VIF plug provider.",
                iface.name,
                iface_id,
            )
            self.decide(
                Decision(
                    lport=lport,
                    outcome=Outcome.VETOED,
                    plug_type=plug_type,
                    port=port.name,
                    detail=f"provider {plug_type} vetoed unplugging {iface.name}",
                )
            )
            return None
        return (
            provider,
            ctx,
            RemovePort(lport=lport, port=port.uuid, name=port.name, ifaces=port.interfaces),
        )

    def stage_remove(self, provider: VifPlugProvider, ctx: PortContext, remove: RemovePort) -> None:
        self.touched.add(remove.lport)
        self.removes.append(remove)
        self.ports_removed.add(remove.port)
        self.names_removed.add(remove.name)
        self.pending.append(PendingCall(lport=remove.lport, provider=provider, ctx=ctx, spec=None))

    def unplug(self, iface: IfaceView, binding: BindingView | None, why: str) -> None:
        """Unplug *iface* (both policies), honouring ``can_unplug``."""
        port = self.ovs.sole_port(iface)
        if port is None or iface.plugged_by is None or iface.iface_id is None:
            return
        lport = binding.logical_port if binding is not None else iface.iface_id
        if not self.can_unplug:
            LOG.debug(
                "will not unplug port %s in this iteration: unplugging not allowed yet", port.name
            )
            self.decide(
                Decision(
                    lport=lport,
                    outcome=Outcome.DEFERRED,
                    plug_type=iface.plugged_by,
                    port=port.name,
                    detail=f"{why}; unplugging is not allowed yet",
                )
            )
            return
        prepared = self.prepare_unplug(iface, binding)
        if prepared is None:
            return
        provider, ctx, remove = prepared
        self.stage_remove(provider, ctx, remove)
        self.report_unplugged(lport, iface.iface_id, iface.plugged_by, port.name, why)

    def plug_type_of(self, binding: BindingView) -> tuple[str, VifPlugProvider] | None:
        """The lport's plug type and its provider; ``None`` when it asks for
        no plugging; raises :class:`_Refused` for an unknown type."""
        plug_type = binding.options.get(PLUG_TYPE_OPTION)
        if plug_type is None:
            return None
        provider = self.registry.get(plug_type)
        if provider is None:
            self.log.warning(
                ("unknown-type", binding.logical_port),
                "Unable to open VIF plug provider for vif-plug-type: '%s' lport %s",
                plug_type,
                binding.logical_port,
            )
            raise self.refuse(
                binding.logical_port,
                Reason.UNKNOWN_PLUG_TYPE,
                f"no provider is registered for vif-plug-type {plug_type!r}",
                plug_type=plug_type,
            )
        return plug_type, provider

    def refuse_foreign(self, lport: str, plug_type: str, iface: IfaceView) -> _Refused:
        self.log.warning(
            ("not-plugged-by-ovn", lport),
            "CMS requested plugging of lport %s, but a port that is not maintained by OVN "
            "already exists in local vSwitch: %s (%s)",
            lport,
            iface.uuid,
            iface.name,
        )
        return self.refuse(
            lport,
            Reason.NOT_PLUGGED_BY_OVN,
            f"interface {iface.name} is bound to lport {lport} but lacks {OVN_PLUGGED}",
            plug_type=plug_type,
            port=iface.name,
        )

    def report_unplugged(
        self, lport: str, iface_id: str | None, plug_type: str | None, port: str, detail: str
    ) -> None:
        LOG.info(
            "Unplugging port %s from %s for iface-id %s on this chassis.",
            port,
            self.bridge.name,
            iface_id,
        )
        self.decide(
            Decision(
                lport=lport,
                outcome=Outcome.UNPLUGGED,
                plug_type=plug_type,
                port=port,
                detail=detail,
            )
        )

    def report_plugged(self, lport: str, plug_type: str, name: str) -> None:
        LOG.info(
            "Plugging port %s into %s for lport %s on this chassis.",
            name,
            self.bridge.name,
            lport,
        )
        self.decide(
            Decision(
                lport=lport,
                outcome=Outcome.PLUGGED,
                plug_type=plug_type,
                port=name,
                detail=f"plugged port {name} for lport {lport}",
            )
        )


# --- OVN_COMPATIBLE: controller/vif-plug.c of OVN 23.03 ---------------------


class _OvnCompatible(_Run):
    def run(self) -> None:
        # Pass A: every interface with ovn-plugged and iface-id.
        for iface in self.ovs.ifaces.values():
            if iface.plugged_by is None or iface.iface_id is None:
                continue
            if iface.iface_id in self.touched:
                continue
            lport = iface.iface_id
            lbinding = self.local_binding(lport)
            binding = self.sb.bindings.get(lport)
            verdict = can_bind(self.chassis, binding) if binding is not None else CanBind.CANNOT
            if binding is not None and lbinding is not None and verdict:
                self.consider_plug(binding, lbinding)
            elif verdict is CanBind.CANNOT and self.ovs.on_bridge(iface):
                # OVN also "unplugs" interfaces of other bridges, which
                # stages nothing (it only edits br-int); we skip them.
                self.unplug(iface, binding, self.unplug_reason(binding, lport))
        # Pass B: plain VIF Port_Bindings requested for this chassis.
        for binding in self.sb.bindings.values():
            if binding.requested_chassis != self.chassis.uuid or not binding.is_plain_vif:
                continue
            if binding.logical_port in self.touched:
                continue
            self.consider_plug(binding, self.local_binding(binding.logical_port))

    def unplug_reason(self, binding: BindingView | None, lport: str) -> str:
        if binding is None:
            return f"lport {lport} no longer exists"
        return f"lport {lport} cannot be bound on chassis {self.chassis.name}"

    def consider_plug(self, binding: BindingView, lbinding: IfaceView | None) -> None:
        try:
            self._consider_plug(binding, lbinding)
        except _Refused as refused:
            self.decide(refused.decision)

    def _consider_plug(self, binding: BindingView, lbinding: IfaceView | None) -> None:
        if not can_bind(self.chassis, binding) or binding.requested_chassis != self.chassis.uuid:
            return
        found = self.plug_type_of(binding)
        if found is None:
            return
        plug_type, provider = found
        lport = binding.logical_port
        mtu = self.mtu_for(binding)
        if lbinding is not None:
            if lbinding.plugged_by is None:
                raise self.refuse_foreign(lport, plug_type, lbinding)
            prepared = self.prepare_create(binding, plug_type, provider)
            if prepared is None:
                return
            ctx, spec = prepared
            if lbinding.name != spec.name:
                # Not rate-limited in OVN: logged on every run.
                LOG.warning(
                    "Attempt of incompatible change to existing port detected, "
                    "please recreate port: %s",
                    lport,
                )
                self.release(lport, provider, ctx, spec)
                raise self.refuse(
                    lport,
                    Reason.INCOMPATIBLE_CHANGE,
                    f"provider {plug_type} now names port {spec.name}, "
                    f"but {lbinding.name} is plugged",
                    plug_type=plug_type,
                    port=spec.name,
                )
            self.stage_update(
                binding=binding,
                plug_type=plug_type,
                provider=provider,
                ctx=ctx,
                spec=spec,
                iface=lbinding,
                mtu=mtu,
            )
            return
        prepared = self.prepare_create(binding, plug_type, provider)
        if prepared is None:
            return
        ctx, spec = prepared
        try:
            # OVN 23.03 has no by-name lookup: an OVN-plugged row of that
            # name without ofport yet is created again (and the commit fails
            # on the unique index). Foreign rows are never clobbered.
            self.check_name_free(binding, plug_type, spec.name)
        except _Refused:
            self.release(lport, provider, ctx, spec)
            raise
        self.report_plugged(lport, plug_type, spec.name)
        self.stage_create(
            binding=binding, plug_type=plug_type, provider=provider, ctx=ctx, spec=spec, mtu=mtu
        )


# --- RECOMMENDED -----------------------------------------------------------


class _Recommended(_Run):
    def run(self) -> None:
        ours: dict[str, list[IfaceView]] = {}
        for iface in self.ovs.bridge_ifaces:
            if (
                iface.plugged_by is not None
                and iface.iface_id is not None
                and self.ovs.sole_port(iface) is not None
            ):
                ours.setdefault(iface.iface_id, []).append(iface)
        wanted = {
            b.logical_port
            for b in self.sb.bindings.values()
            if b.requested_chassis == self.chassis.uuid
        }
        lports = sorted(set(ours) | wanted)
        # Unplugs first, so that names they free can be reused by plugs.
        to_plug = []
        for lport in lports:
            if lport in self.touched:
                continue
            binding = self.sb.bindings.get(lport)
            why = self.withdrawn(lport, binding)
            if why is not None:
                for iface in ours.get(lport, ()):
                    self.unplug(iface, binding, why)
                continue
            assert binding is not None
            if binding.requested_chassis == self.chassis.uuid and binding.is_plain_vif:
                to_plug.append(binding)
        for binding in to_plug:
            if binding.logical_port in self.touched:
                continue
            try:
                self.plug(binding, ours.get(binding.logical_port, []))
            except _Refused as refused:
                self.decide(refused.decision)

    def withdrawn(self, lport: str, binding: BindingView | None) -> str | None:
        """Why the plug of *lport* on this chassis is no longer wanted."""
        if binding is None:
            return f"lport {lport} no longer exists"
        if not can_bind(self.chassis, binding):
            return f"lport {lport} cannot be bound on chassis {self.chassis.name}"
        if PLUG_TYPE_OPTION not in binding.options:
            return f"lport {lport} no longer asks for plugging ({PLUG_TYPE_OPTION} removed)"
        if not binding.options.get(REQUESTED_CHASSIS_OPTION):
            return (
                f"lport {lport} no longer requests a chassis ({REQUESTED_CHASSIS_OPTION} removed)"
            )
        return None

    def plug(self, binding: BindingView, ours: list[IfaceView]) -> None:
        lport = binding.logical_port
        found = self.plug_type_of(binding)
        if found is None:  # withdrawn() already handled a missing type
            return
        plug_type, provider = found
        foreign = self.foreign_binding(lport)
        if foreign is not None:
            raise self.refuse_foreign(lport, plug_type, foreign)
        mtu = self.mtu_for(binding)
        prepared = self.prepare_create(binding, plug_type, provider)
        if prepared is None:
            return
        ctx, spec = prepared
        same = [i for i in ours if i.name == spec.name]
        stale = [i for i in ours if i.name != spec.name]
        if not same:
            try:
                self.check_name_free(binding, plug_type, spec.name)
            except _Refused:
                self.release(lport, provider, ctx, spec)
                raise
        if stale and not self.can_unplug:
            # Replacing or dropping a duplicate removes a port: it waits,
            # like every unplug, until unplugging is allowed.
            for iface in stale:
                self.decide(
                    Decision(
                        lport=lport,
                        outcome=Outcome.DEFERRED,
                        plug_type=iface.plugged_by,
                        port=iface.name,
                        detail=f"port {iface.name} of lport {lport} is to be replaced by "
                        f"{spec.name}; unplugging is not allowed yet",
                    )
                )
            if not same:
                self.release(lport, provider, ctx, spec)
                return
            stale = []
        removals = []
        for iface in stale:
            prepared_remove = self.prepare_unplug(iface, binding)
            if prepared_remove is None:
                # Vetoed or impossible (reported): keep everything as is.
                self.release(lport, provider, ctx, spec)
                return
            removals.append(prepared_remove)
        if same:
            # Releases the spec itself if it refuses.
            self.stage_update(
                binding=binding,
                plug_type=plug_type,
                provider=provider,
                ctx=ctx,
                spec=spec,
                iface=same[0],
                mtu=mtu,
            )
        else:
            self.stage_create(
                binding=binding,
                plug_type=plug_type,
                provider=provider,
                ctx=ctx,
                spec=spec,
                mtu=mtu,
            )
        for remove_provider, remove_ctx, remove in removals:
            self.stage_remove(remove_provider, remove_ctx, remove)
        old = ", ".join(r.name for _, _, r in removals)
        if same:
            for _, _, remove in removals:
                self.report_unplugged(
                    lport,
                    lport,
                    plug_type,
                    remove.name,
                    f"duplicate of port {spec.name} for lport {lport}",
                )
        elif removals:
            LOG.info(
                "Replacing port %s by %s on %s for lport %s on this chassis.",
                old,
                spec.name,
                self.bridge.name,
                lport,
            )
            self.decide(
                Decision(
                    lport=lport,
                    outcome=Outcome.REPLACED,
                    plug_type=plug_type,
                    port=spec.name,
                    old_port=old,
                    detail=f"provider {plug_type} now names port {spec.name} instead of {old}",
                )
            )
        else:
            self.report_plugged(lport, plug_type, spec.name)


def decide(
    *,
    ovs: OvsView,
    sb: SbView,
    registry: Registry,
    policy: Policy,
    can_unplug: bool,
    in_flight: frozenset[str] = frozenset(),
    log: RateLimitedLogger | None = None,
) -> Plan:
    """Decide what to plug, update and unplug; pure apart from provider calls.

    :param ovs: the local switch (its ``bridge`` must be set).
    :param sb: the Southbound view (its ``chassis`` must be set).
    :param in_flight: lports whose earlier transaction is not resolved yet;
        they are left alone.
    :param log: rate limiter for repeating log lines (one per engine, so
        that limits hold across runs).
    """
    if ovs.bridge is None:
        raise ValueError("decide() needs the integration bridge in the OVS view")
    if sb.chassis is None:
        raise ValueError("decide() needs this chassis in the SB view")
    run_cls = _Recommended if policy is Policy.RECOMMENDED else _OvnCompatible
    run = run_cls(
        ovs=ovs,
        sb=sb,
        chassis=sb.chassis,
        registry=registry,
        policy=policy,
        can_unplug=can_unplug,
        in_flight=in_flight,
        log=log if log is not None else RateLimitedLogger(LOG),
    )
    run.run()
    return run.plan()
