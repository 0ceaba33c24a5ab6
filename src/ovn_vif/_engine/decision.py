"""The decision base both policies share.

:class:`PolicyRun` holds one run's inputs and what it decided so far: the
provider calls (with their error handling), name-collision checks, the
staging of creates, updates and removals, and the report lines. A policy
subclasses it with its own ``run()``. :class:`Plan` is what a run returns.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

import attrs

from ovn_vif._contract.frozenmap import FrozenMap
from ovn_vif._contract.logsafe import log_safe
from ovn_vif._contract.netdev import netdev_name_problem
from ovn_vif._contract.provider import Decline, OpType, PlugSpec, PortContext, VifPlugProvider
from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._contract.registry import Registry
from ovn_vif._engine.eligibility import (
    MAX_NETDEV_MTU,
    MIN_NETDEV_MTU,
    MTU_REQUEST_OPTION,
    PLUG_TYPE_OPTION,
    parse_mtu_request,
    quote_option,
)
from ovn_vif._engine.report import Decision, Outcome, Policy, Reason
from ovn_vif._engine.views import (
    IFACE_ID,
    OVN_PLUGGED,
    BindingView,
    ChassisView,
    IfaceView,
    OvsView,
    SbView,
)
from ovn_vif._engine.writes import CreatePort, IfaceUpdate, RemovePort, plan_iface_update
from ovn_vif._errors import DeclineError

LOG = logging.getLogger(__name__)

#: Seconds a provider call may take before the engine warns that it blocks
#: the agent's loop (the conformance kit's ``DEFAULT_CALL_BOUND`` too).
CALL_BUDGET = 0.5


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


def _decline_of(exc: DeclineError) -> Decline:
    """The :class:`Decline` a raised :class:`DeclineError` stands for."""
    try:
        return Decline(str(exc.reason), retry_after=exc.retry_after)
    except (TypeError, ValueError):
        return Decline(f"{type(exc).__name__} without a usable reason")


class Refused(Exception):
    """Internal: stop working on one lport and report why."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.detail)
        self.decision = decision


class PolicyRun:
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
        # Names of ports created (and the lport each is for) / removed by this run.
        self.names_created: dict[str, str] = {}
        self.names_removed: set[str] = set()
        self.ports_removed: set[uuid.UUID] = set()
        # The lport being decided, for the log line of an engine failure.
        self.current: str | None = None
        # The spec prepared for it and neither staged nor released yet.
        self.prepared: PendingCall | None = None

    # --- small helpers ----------------------------------------------------

    def plan(self) -> Plan:
        return Plan(
            decisions=tuple(self.decisions),
            creates=tuple(self.creates),
            updates=tuple(self.updates),
            removes=tuple(self.removes),
            pending=tuple(self.pending),
        )

    def record(self, decision: Decision) -> None:
        self.decisions.append(decision)

    # --- per-lport fault isolation -------------------------------------------

    def isolated(
        self, lport: str, plug_type: str | None, step: Callable[..., None], *args: Any
    ) -> None:
        """Run one lport's decision *step*, confining any failure to it.

        A :class:`Refused` is recorded. Any other exception (an option or
        row the rules cannot handle, a provider answer they cannot use, a
        bug) drops whatever the step staged for the lport, gives back the
        specs it had prepared, marks the lport touched for this run and
        records one :attr:`Reason.DECISION_ERROR` decision with a
        rate-limited ERROR line naming the lport, the provider and the
        cause; the other lports are decided as usual.
        """
        self.current = lport
        self.prepared = None
        mark = (
            len(self.decisions),
            len(self.creates),
            len(self.updates),
            len(self.removes),
            len(self.pending),
        )
        try:
            step(*args)
        except Refused as refused:
            self.record(refused.decision)
        except Exception as exc:
            self.discard_since(mark)
            self.touched.add(lport)
            self.log.log(
                logging.ERROR,
                ("lport-failed", lport),
                "Skipping lport %s (VIF plug provider %s) in this iteration: %s: %s",
                lport,
                plug_type or "-",
                type(exc).__name__,
                exc,
                exc_info=exc,
            )
            self.record(
                Decision(
                    lport=lport,
                    outcome=Outcome.REFUSED,
                    reason=Reason.DECISION_ERROR,
                    plug_type=plug_type,
                    detail=f"deciding for lport {lport} failed: {type(exc).__name__}: {exc}",
                )
            )
        self.current = None

    def discard_since(self, mark: tuple[int, int, int, int, int]) -> None:
        """Drop what was decided and staged after *mark*; release its specs."""
        decisions, creates, updates, removes, pending = mark
        for create in self.creates[creates:]:
            self.names_created.pop(create.name, None)
        for remove in self.removes[removes:]:
            self.ports_removed.discard(remove.port)
            self.names_removed.discard(remove.name)
        calls = self.pending[pending:]
        if self.prepared is not None:
            calls.append(self.prepared)
            self.prepared = None
        del self.decisions[decisions:]
        del self.creates[creates:]
        del self.updates[updates:]
        del self.removes[removes:]
        del self.pending[pending:]
        for call in calls:
            if call.spec is not None:
                self.release(call.lport, call.provider, call.ctx, call.spec)

    def refuse(
        self,
        lport: str,
        reason: Reason,
        detail: str,
        *,
        plug_type: str | None = None,
        port: str | None = None,
    ) -> Refused:
        return Refused(
            Decision(
                lport=lport,
                outcome=Outcome.REFUSED,
                reason=reason,
                plug_type=plug_type,
                port=port,
                detail=detail,
            )
        )

    def provider_error(self, lport: str, plug_type: str, hook: str, exc: BaseException) -> Refused:
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
        if self.prepared is not None and self.prepared.spec is spec:
            self.prepared = None
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
        """The MTU to request for *binding* (0: none), with a rate-limited
        warning for a value that is not a usable MTU.

        Both policies parse like ovn-controller 23.03 and ignore what does
        not parse or is ≤ 0. A value outside what Linux netdevs accept
        (:data:`MIN_NETDEV_MTU` to :data:`MAX_NETDEV_MTU`) is written as is by
        :attr:`Policy.OVN_COMPATIBLE` (as 23.03 does; ovs-vswitchd then
        fails to apply it) and ignored by :attr:`Policy.RECOMMENDED`.
        """
        lport = binding.logical_port
        mtu, problem = parse_mtu_request(binding.options)
        if problem is not None:
            self.log.warning(
                ("bad-mtu", lport),
                "Ignoring %s of lport %s: %s",
                MTU_REQUEST_OPTION,
                lport,
                problem,
            )
            return mtu
        if mtu == 0:
            raw = binding.options.get(MTU_REQUEST_OPTION)
            if raw is not None:
                self.log.warning(
                    ("bad-mtu", lport),
                    "Ignoring %s of lport %s: %s is not a positive MTU (no MTU is requested)",
                    MTU_REQUEST_OPTION,
                    lport,
                    quote_option(raw),
                )
            return 0
        if MIN_NETDEV_MTU <= mtu <= MAX_NETDEV_MTU:
            return mtu
        if self.policy is Policy.OVN_COMPATIBLE:
            self.log.warning(
                ("bad-mtu", lport),
                "%s=%d of lport %s is outside what Linux netdevs accept (%d to %d): "
                "requested anyway, like ovn-controller 23.03; ovs-vswitchd will fail to apply it",
                MTU_REQUEST_OPTION,
                mtu,
                lport,
                MIN_NETDEV_MTU,
                MAX_NETDEV_MTU,
            )
            return mtu
        self.log.warning(
            ("bad-mtu", lport),
            "Ignoring %s of lport %s: %d is outside what Linux netdevs accept (%d to %d)",
            MTU_REQUEST_OPTION,
            lport,
            mtu,
            MIN_NETDEV_MTU,
            MAX_NETDEV_MTU,
        )
        return 0

    def create_ctx(self, binding: BindingView, current_port: str | None = None) -> PortContext:
        return PortContext(
            op_type=OpType.CREATE,
            lport_name=binding.logical_port,
            lport_options=binding.options,
            bridge=self.bridge.name,
            chassis=self.chassis.name,
            current_port=current_port,
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
        self,
        binding: BindingView,
        plug_type: str,
        provider: VifPlugProvider,
        current_port: str | None = None,
    ) -> tuple[PortContext, PlugSpec] | None:
        """Ask the provider; ``None`` if it declined (reported). Raises
        :class:`Refused` if it raised or returned something unusable.

        *current_port* is the name of the Interface already plugged for
        the lport, if any (:attr:`PortContext.current_port`)."""
        lport = binding.logical_port
        ctx = self.create_ctx(binding, current_port)
        started = time.monotonic()
        try:
            spec: object = provider.prepare_create(ctx)
        except DeclineError as exc:
            spec = _decline_of(exc)
        except Exception as exc:
            raise self.provider_error(lport, plug_type, "prepare_create", exc) from None
        finally:
            self.check_budget(plug_type, "prepare_create", lport, time.monotonic() - started)
        if spec is None or isinstance(spec, Decline):
            self.record_decline(lport, plug_type, spec)
            return None
        if not isinstance(spec, PlugSpec):
            detail = (
                f"provider {plug_type} returned a {type(spec).__name__} "
                f"instead of a PlugSpec, a Decline or None for lport {lport}"
            )
            self.log.warning(("invalid-spec", plug_type, lport), "%s", detail)
            raise self.refuse(lport, Reason.INVALID_SPEC, detail, plug_type=plug_type)
        self.prepared = PendingCall(lport=lport, provider=provider, ctx=ctx, spec=spec)
        # PlugSpec's converters already guarantee a str name, a str-or-None
        # type and str -> str options; the name is checked here.
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

    def check_budget(self, plug_type: str, hook: str, lport: str, elapsed: float) -> None:
        """Warn (rate-limited) about a provider call that took longer than
        :data:`CALL_BUDGET`: hooks run in the agent's loop."""
        if elapsed > CALL_BUDGET:
            self.log.warning(
                ("slow-provider", plug_type, hook),
                "VIF plug provider %s took %.2f s in %s() for lport %s (budget %.1f s): "
                "the agent's loop waited for it",
                plug_type,
                elapsed,
                hook,
                lport,
                CALL_BUDGET,
            )

    def record_decline(self, lport: str, plug_type: str, decline: Decline | None) -> None:
        """Log (rate-limited) and report a declined create/update."""
        if decline is None:
            self.log.info(
                ("declined", lport),
                "Not plugging/updating lport %s on direction from VIF plug provider.",
                lport,
            )
            detail = f"provider {plug_type} declined to plug lport {lport} for now"
        else:
            self.log.info(
                ("declined", lport, decline.reason),
                "Not plugging/updating lport %s on direction from VIF plug provider %s: %s",
                lport,
                plug_type,
                decline.reason,
            )
            detail = f"provider {plug_type} declined to plug lport {lport}: {decline.reason}"
        self.record(
            Decision(
                lport=lport,
                outcome=Outcome.DECLINED,
                reason=Reason.PROVIDER_DECLINED,
                plug_type=plug_type,
                detail=detail,
                retry_after=None if decline is None else decline.retry_after,
                provider_reason=None if decline is None else decline.reason,
            )
        )

    def maintained(
        self, lport: str, plug_type: str, provider: VifPlugProvider
    ) -> frozenset[str] | None:
        try:
            keys: object = provider.maintained_iface_options()
        except Exception as exc:
            raise self.provider_error(lport, plug_type, "maintained_iface_options", exc) from None
        if keys is None:
            return None
        if (
            isinstance(keys, (str, bytes))
            or not isinstance(keys, Collection)
            or not all(isinstance(k, str) for k in keys)
        ):
            detail = (
                f"provider {plug_type} returned a {type(keys).__name__} from "
                f"maintained_iface_options() ({keys!r:.80}) instead of a frozenset of option "
                f"keys or None; not updating lport {lport}"
            )
            self.log.warning(("invalid-maintained", plug_type), "%s", detail)
            raise self.refuse(lport, Reason.INVALID_SPEC, detail, plug_type=plug_type)
        return frozenset(keys)

    # --- name collisions (both policies) -----------------------------------

    def name_owner(self, name: str, lport: str) -> IfaceView | str | None:
        """Who holds *name* on this switch.

        Returns ``None`` if the name is free, the Interface if it is an
        OVN-plugged integration-bridge port of *lport* (a Port and an
        Interface of that name, the Port holding only it), or a sentence
        describing the foreign row otherwise.
        """
        holder = self.names_created.get(name)
        if holder is not None:
            return f"lport {holder} plugs a port named {name} in this transaction"
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
        if (
            iface is not None
            and iface.plugged_by is not None
            and iface.iface_id not in (None, lport)
        ):
            return (
                f"port {name} is plugged for lport {iface.iface_id} "
                f"(ovn-plugged={iface.plugged_by})"
            )
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
                "Not plugging lport %s as port %s for VIF plug provider %s: %s",
                lport,
                name,
                plug_type,
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
        self.names_created[spec.name] = lport
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
        self.prepared = None

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
        except Refused:
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
        LOG.debug("updating iface for: %s", log_safe(lport))
        self.touched.add(lport)
        if update:
            self.updates.append(update)
            self.record(
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
            self.prepared = None
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
            self.record(
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
        started = time.monotonic()
        try:
            allowed: object = provider.prepare_remove(ctx)
        except DeclineError as exc:
            allowed = _decline_of(exc)
        except Exception as exc:
            self.record(self.provider_error(lport, plug_type, "prepare_remove", exc).decision)
            return None
        finally:
            self.check_budget(plug_type, "prepare_remove", lport, time.monotonic() - started)
        if not isinstance(allowed, (bool, Decline)):
            detail = (
                f"provider {plug_type} returned a {type(allowed).__name__} from "
                f"prepare_remove() for lport {lport} instead of True, False or a Decline; "
                f"not unplugging {iface.name}"
            )
            self.log.warning(("invalid-remove", plug_type, lport), "%s", detail)
            self.record(
                Decision(
                    lport=lport,
                    outcome=Outcome.REFUSED,
                    reason=Reason.INVALID_SPEC,
                    plug_type=plug_type,
                    port=port.name,
                    detail=detail,
                )
            )
            return None
        if allowed is False or isinstance(allowed, Decline):
            decline = allowed if isinstance(allowed, Decline) else None
            if decline is None:
                self.log.info(
                    ("vetoed", iface.name),
                    "Not unplugging iface %s (iface-id %s) on direction from VIF plug provider.",
                    iface.name,
                    iface_id,
                )
                detail = f"provider {plug_type} vetoed unplugging {iface.name}"
            else:
                self.log.info(
                    ("vetoed", iface.name, decline.reason),
                    "Not unplugging iface %s (iface-id %s) on direction from VIF plug "
                    "provider %s: %s",
                    iface.name,
                    iface_id,
                    plug_type,
                    decline.reason,
                )
                detail = f"provider {plug_type} vetoed unplugging {iface.name}: {decline.reason}"
            self.record(
                Decision(
                    lport=lport,
                    outcome=Outcome.VETOED,
                    reason=Reason.PROVIDER_VETOED,
                    plug_type=plug_type,
                    port=port.name,
                    detail=detail,
                    retry_after=None if decline is None else decline.retry_after,
                    provider_reason=None if decline is None else decline.reason,
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
                "will not unplug port %s in this iteration: unplugging not allowed yet",
                log_safe(port.name),
            )
            self.record(
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
        no plugging; raises :class:`Refused` for an unknown type."""
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
                f"no provider is registered for vif-plug-type {quote_option(plug_type)}",
                plug_type=plug_type,
            )
        return plug_type, provider

    def refuse_foreign(self, lport: str, plug_type: str, iface: IfaceView) -> Refused:
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
            log_safe(port),
            log_safe(self.bridge.name),
            log_safe(iface_id),
        )
        self.record(
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
            log_safe(name),
            log_safe(self.bridge.name),
            log_safe(lport),
        )
        self.record(
            Decision(
                lport=lport,
                outcome=Outcome.PLUGGED,
                plug_type=plug_type,
                port=name,
                detail=f"plugged port {name} for lport {lport}",
            )
        )


# --- OVN_COMPATIBLE: controller/vif-plug.c of OVN 23.03 ---------------------
