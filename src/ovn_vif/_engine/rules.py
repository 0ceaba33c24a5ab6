"""The decision rules: which lports to plug, update and unplug, and how.

:func:`decide` takes plain views (:mod:`ovn_vif._engine.views`), the provider
registry and the policy, asks the providers (``prepare_create``,
``prepare_remove``, ``maintained_iface_options``) and returns a
:class:`Plan`: the decisions to report, the row operations to stage
(:mod:`ovn_vif._engine.writes` values) and the provider calls that wait for the
commit. It never touches a database, so every rule is tested with
hand-built snapshots.

:attr:`Policy.OVN_COMPATIBLE` follows ``controller/vif-plug.c`` of OVN 23.03
step by step (pass A over interfaces, pass B over Port_Bindings requested
for this chassis, the "touched" rule, the local-binding rule
``iface-id`` + ``ofport > 0``, no by-name lookup). :attr:`Policy.RECOMMENDED`
decides per lport, using the OVN-plugged rows themselves rather than the
local binding, so that it can unplug withdrawn requests, replace a port
whose name changed and never create a port twice. Rules common to both
are in :class:`~ovn_vif._engine.decision.PolicyRun`; each policy has its
own module.
"""

from __future__ import annotations

from ovn_vif._contract.logsafe import log_safe
from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._contract.registry import Registry
from ovn_vif._engine.compatible import OvnCompatibleRun
from ovn_vif._engine.decision import LOG, Plan
from ovn_vif._engine.recommended import RecommendedRun
from ovn_vif._engine.report import Policy
from ovn_vif._engine.views import (
    OvsView,
    SbView,
)

# decide()'s interface: what it returns, and the logger it logs to (a caller
# passing its own ``log`` wraps this one).
__all__ = ["LOG", "Plan", "decide"]


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
    run_cls = RecommendedRun if policy is Policy.RECOMMENDED else OvnCompatibleRun
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
    try:
        run.run()
    except Exception:
        # An engine bug outside any one lport's decision (each lport's is
        # confined by PolicyRun.isolated): the caller aborts this run and
        # logs the traceback.
        LOG.error(
            "The plugging engine failed while deciding lport %s",
            "(none)" if run.current is None else log_safe(run.current),
        )
        raise
    return run.plan()
