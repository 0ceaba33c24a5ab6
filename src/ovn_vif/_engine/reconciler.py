"""The plugging engine: one call per loop iteration plugs, updates and
unplugs the VIFs requested for this chassis.

How a caller drives it::

    from ovn_vif import Reconciler, Policy
    import ovn_vif

    # before the first idl.run() of each IDL:
    ovn_vif.register_ovs_columns(ovs_schema_helper)
    ovn_vif.register_sb_columns(sb_schema_helper)
    ovs_idl = ovs.db.idl.Idl(ovs_remote, ovs_schema_helper)
    sb_idl = ovs.db.idl.Idl(sb_remote, sb_schema_helper)
    ovn_vif.create_sb_indexes(sb_idl)

    rec = Reconciler(registry, policy=Policy.RECOMMENDED)   # or OVN_COMPATIBLE
    # each iteration, after ovs_idl.run() and sb_idl.run():
    changed = registry.run_all()
    txn = ovs.db.idl.Transaction(ovs_idl)
    report = rec.reconcile(ovs_idl, sb_idl, txn, chassis="hv1",
                           bridge="br-int", can_unplug=True,
                           providers_changed=changed)   # optional
    status = txn.commit()               # or txn.commit_block()
    rec.complete(status)                # -> CompletionReport
    # while status == "incomplete": later, rec.complete(txn.commit())
    # (pass txn=... to complete() if another reconcile() ran in between)

* :meth:`Reconciler.reconcile` ``(ovs_idl, sb_idl, txn, *, chassis: str,
  bridge: str = "br-int", can_unplug: bool, providers_changed: bool = True)
  -> ReconcileReport``
* :meth:`Reconciler.complete` ``(status: str, *, txn=None) -> CompletionReport``
* :meth:`Reconciler.recompute` ``()``: the next run decides for every lport
  (with change-tracked IDLs, see :func:`ovn_vif.track_changes`, runs
  otherwise decide only for lports whose inputs changed)
* :attr:`Reconciler.in_flight` (``bool``) and
  :attr:`Reconciler.in_flight_lports` (``frozenset[str]``)
* :attr:`Reconciler.policy`, :attr:`Reconciler.registry`
* :meth:`Reconciler.resync` ``()``: tell the providers again what is plugged
  (:meth:`VifPlugProvider.restore`) before the next run

``complete()`` maps every ``ovs.db.idl.Transaction`` status explicitly:

===============================================  ==========================================
status                                           providers of the transaction's lports
===============================================  ==========================================
``success``, ``unchanged``                       creates/updates: ``finish`` then ``release``;
                                                 removals: ``finish``; lports leave flight
``try again``, ``error``, ``not locked``,        creates/updates: ``release`` only;
``aborted``                                      removals: nothing; lports leave flight
``incomplete``                                   nothing yet; lports stay in flight and are
                                                 left alone by ``reconcile()``
``uncommitted``                                  :class:`TransactionNotCommittedError`
                                                 (``complete()`` before ``commit()``)
anything else                                    :class:`ValueError`
===============================================  ==========================================

The engine never blocks and does no I/O besides reading the two IDLs'
caches and staging writes in the caller's transaction.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs

from ovn_vif._contract.provider import RestoredPort, VifPlugProvider
from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._contract.registry import Registry, default_registry
from ovn_vif._engine.decision import LOG as DECISION_LOG
from ovn_vif._engine.decision import PendingCall, Plan
from ovn_vif._engine.incremental import Incremental
from ovn_vif._engine.report import (
    CompletionReport,
    Decision,
    Outcome,
    Policy,
    Reason,
    ReconcileReport,
)
from ovn_vif._engine.rules import decide
from ovn_vif._engine.snapshot import Copy, Snapshots
from ovn_vif._engine.views import OvsView, SbView
from ovn_vif._engine.writes import stage
from ovn_vif._errors import StaleRowError, TransactionNotCommittedError
from ovn_vif._ovs_private import table_rows

LOG = logging.getLogger(__name__)

#: Commit statuses after which the change is in the database (or there was
#: nothing to change): providers get ``finish`` (and ``release``).
COMMIT_FINISHED = frozenset({"success", "unchanged"})
#: Commit statuses after which nothing was written: providers of creates and
#: updates get ``release``.
COMMIT_FAILED = frozenset({"try again", "error", "not locked", "aborted"})
#: The commit is still in progress.
COMMIT_PENDING = "incomplete"
_UNCOMMITTED = "uncommitted"


@attrs.define
class _Batch:
    """The provider calls that wait for one transaction."""

    txn: Any
    calls: tuple[PendingCall, ...]


class Reconciler:
    """Reconcile the local switch with the VIF plug requests of the SB DB.

    :param registry: the providers to plug with (default:
        :data:`ovn_vif.default_registry`).
    :param policy: :attr:`Policy.RECOMMENDED` (default) or
        :attr:`Policy.OVN_COMPATIBLE`.

    A Reconciler keeps only the provider calls waiting for a commit; all
    other state is rebuilt from the databases on each run (the
    ``ovn-plugged`` and ``iface-id`` external-ids of the interfaces), so a
    restarted agent picks up where it left off.

    Not thread-safe: call it from the thread that runs the IDLs.
    """

    def __init__(
        self, registry: Registry | None = None, policy: Policy = Policy.RECOMMENDED
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError(f"policy must be a Policy, got {policy!r}")
        self._registry = registry if registry is not None else default_registry
        self._policy = policy
        self._batches: list[_Batch] = []
        self._last_txn: Any = None
        # Decisions are logged by ovn_vif._engine.decision, commits by
        # ovn_vif._engine.reconciler; the limiters live here so that limits
        # hold across runs.
        self._rules_log = RateLimitedLogger(DECISION_LOG)
        self._log = RateLimitedLogger(LOG)
        self._snapshots = Snapshots()
        # The latest full run that found everything in sync: its
        # (chassis, bridge, can_unplug) and the copies of the two databases
        # it decided on, else None. A later run may be skipped only while
        # the copies in use are still those very copies (snapshot() makes
        # new ones when an IDL changed, whoever calls it).
        self._quiet: tuple[tuple[str, str, bool], Copy, Copy] | None = None
        # Providers told what is plugged (VifPlugProvider.restore) since the
        # start or the latest resync().
        self._restored: list[VifPlugProvider] = []
        # What incremental runs need (see ovn_vif._engine.incremental).
        self._incremental = Incremental(enabled=policy is Policy.RECOMMENDED)
        #: Runs that decided for every lport / only for changed ones
        #: (for tests and benchmarks).
        self.full_runs = 0
        self.incremental_runs = 0

    @property
    def policy(self) -> Policy:
        """The decision rules in use."""
        return self._policy

    @property
    def registry(self) -> Registry:
        """The providers plugged with."""
        return self._registry

    def recompute(self) -> None:
        """Make the next :meth:`reconcile` decide for every lport.

        Only useful with change tracking (:func:`ovn_vif.track_changes`),
        where the engine otherwise decides only for lports whose inputs
        changed: for instance after a provider's state changed in a way its
        ``run()`` did not report. Safe to call at any time between runs.
        """
        self._incremental.recompute()
        self._quiet = None

    @property
    def in_flight(self) -> bool:
        """Whether some transaction's outcome has not been given to
        :meth:`complete` yet."""
        return bool(self._batches)

    @property
    def in_flight_lports(self) -> frozenset[str]:
        """Lports left alone until their transaction is completed."""
        return frozenset(c.lport for b in self._batches for c in b.calls)

    # --- reconcile ------------------------------------------------------------

    def snapshot(
        self, ovs_idl: Any, sb_idl: Any, *, chassis: str, bridge: str
    ) -> tuple[OvsView, SbView]:
        """Copy what the engine reads from the two IDLs (reused while an
        IDL's ``change_seqno`` does not move)."""
        return self._snapshots.take(ovs_idl, sb_idl, chassis=chassis, bridge=bridge)

    def reconcile(
        self,
        ovs_idl: Any,
        sb_idl: Any,
        txn: Any,
        *,
        chassis: str,
        bridge: str = "br-int",
        can_unplug: bool,
        providers_changed: bool = True,
    ) -> ReconcileReport:
        """Decide, and stage the resulting writes in *txn*.

        :param ovs_idl: ``ovs.db.idl.Idl`` of the local Open_vSwitch DB.
        :param sb_idl: ``ovs.db.idl.Idl`` of the OVN Southbound DB.
        :param txn: an open ``ovs.db.idl.Transaction`` on *ovs_idl*.
        :param chassis: this chassis' name (SB ``Chassis.name``, the
            ``system-id``).
        :param bridge: the integration bridge.
        :param can_unplug: whether unplugging is allowed yet. Pass ``False``
            until the SB data is complete after start-up (OVN's start-up
            delay): otherwise ports whose Port_Binding has not arrived yet
            would be unplugged.
        :param providers_changed: pass what :meth:`Registry.run_all`
            returned to let :attr:`Policy.RECOMMENDED` skip a run in which
            nothing can have changed: neither IDL changed, no provider
            reported a change, and the previous run found every lport in
            sync (nothing written, declined, refused, deferred or in
            flight). The default, ``True``, never skips; neither does
            :attr:`Policy.OVN_COMPATIBLE` (OVN asks every provider on every
            iteration). With IDLs given to :func:`ovn_vif.track_changes`,
            ``False`` also lets :attr:`Policy.RECOMMENDED` decide only for
            the lports whose inputs changed; ``True`` makes a full run.
        :returns: what was decided; ``report.changed`` tells whether
            anything was staged.

        Call :meth:`complete` with the commit status afterwards, even when
        nothing was staged.
        """
        if getattr(ovs_idl, "txn", txn) is not txn:
            raise ValueError("txn must be the open transaction of ovs_idl")
        self._last_txn = txn
        in_flight = self.in_flight_lports
        inputs = (id(ovs_idl), id(sb_idl), chassis, bridge)
        changes = self._incremental.changes(
            ovs_idl,
            sb_idl,
            inputs=inputs,
            bridge=bridge,
            providers_changed=providers_changed,
            why_full=self._why_full(),
            in_flight=in_flight,
        )
        if changes is None:
            ovs_view, sb_view = self._snapshots.take(
                ovs_idl, sb_idl, chassis=chassis, bridge=bridge
            )
            skipped = self._skip_full_run(
                ovs_view,
                sb_view,
                chassis=chassis,
                bridge=bridge,
                can_unplug=can_unplug,
                providers_changed=providers_changed,
            )
            if skipped is not None:
                return skipped
            self._restore(ovs_view, sb_view)
            self.full_runs += 1
        else:
            self.incremental_runs += 1
            if changes.ovs is None or changes.sb is None:
                return ReconcileReport()
            # Whatever this run decides, the latest full run's "all in sync"
            # no longer describes the chassis.
            self._quiet = None
            ovs_view, sb_view = changes.ovs, changes.sb
        plan = self._decide_and_stage(
            ovs_idl, txn, ovs_view, sb_view, can_unplug=can_unplug, in_flight=in_flight
        )
        if isinstance(plan, ReconcileReport):
            return plan
        if changes is None:
            ovs_copy, sb_copy = self._snapshots.ovs, self._snapshots.sb
            if ovs_copy is None or sb_copy is None:
                # A stale row was found (see _drop_stale): the copies are
                # read afresh next time, nothing is remembered.
                return ReconcileReport(decisions=plan.decisions, changed=plan.changed)
            if not plan.pending and not plan.decisions and not plan.changed:
                self._quiet = ((chassis, bridge, can_unplug), ovs_copy, sb_copy)
        self._incremental.decided(
            changes,
            ovs_idl,
            sb_idl,
            inputs=inputs,
            views=(ovs_view, sb_view),
            txn=txn,
            plan=plan,
            in_flight=self.in_flight_lports,
        )
        return ReconcileReport(decisions=plan.decisions, changed=plan.changed)

    def _skip_full_run(
        self,
        ovs_view: OvsView,
        sb_view: SbView,
        *,
        chassis: str,
        bridge: str,
        can_unplug: bool,
        providers_changed: bool,
    ) -> ReconcileReport | None:
        """The report of a full run that decides nothing (quiet, or no
        chassis, bridge or provider), else ``None`` (and the latest quiet
        run is forgotten: this one decides)."""
        quiet = self._quiet
        if (
            not providers_changed
            and self._policy is Policy.RECOMMENDED
            and quiet is not None
            and quiet[0] == (chassis, bridge, can_unplug)
            and quiet[1] is self._snapshots.ovs
            and quiet[2] is self._snapshots.sb
            and not self._batches
        ):
            return ReconcileReport()
        self._quiet = None
        if sb_view.chassis is None:
            return ReconcileReport(skipped=f"chassis {chassis} has no Chassis row in the SB DB")
        if ovs_view.bridge is None:
            return ReconcileReport(skipped=f"bridge {bridge} does not exist")
        if not self._registry.has_providers():
            return ReconcileReport(skipped="no VIF plug provider is registered")
        return None

    def _decide_and_stage(
        self,
        ovs_idl: Any,
        txn: Any,
        ovs_view: OvsView,
        sb_view: SbView,
        *,
        can_unplug: bool,
        in_flight: frozenset[str],
    ) -> Plan | ReconcileReport:
        """Decide on the views, leave out the lports whose rows went, stage
        the writes in *txn*; the plan staged, or the report of an aborted run."""
        plan = decide(
            ovs=ovs_view,
            sb=sb_view,
            registry=self._registry,
            policy=self._policy,
            can_unplug=can_unplug,
            in_flight=in_flight,
            log=self._rules_log,
        )
        plan = self._drop_stale(ovs_idl, ovs_view, plan)
        aborted = self._stage_or_abort(ovs_idl, txn, ovs_view, plan)
        if aborted is not None:
            return aborted
        if plan.pending:
            self._batches.append(_Batch(txn=txn, calls=plan.pending))
        return plan

    def resync(self) -> None:
        """Tell every provider again which Interfaces it plugged
        (:meth:`VifPlugProvider.restore`) at the start of the next
        :meth:`reconcile`.

        Call it when the connection to the local database came back after
        a loss: the rows may have changed while it was down (the agent does
        this). A new Reconciler, and a provider registered after the last
        run, get the call anyway.
        """
        self._restored.clear()
        self._quiet = None
        self._incremental.recompute()

    def _why_full(self) -> str | None:
        """Why the next run must be a full one, as far as the providers go."""
        if not self._registry.has_providers():
            return "no provider is registered"
        if any(not any(p is done for done in self._restored) for p in self._registry.providers()):
            return "a provider is to be told what it plugged"
        return None

    def _restore(self, ovs_view: OvsView, sb_view: SbView) -> None:
        current = self._registry.providers()
        self._restored = [p for p in self._restored if any(p is q for q in current)]
        todo = [p for p in current if not any(p is done for done in self._restored)]
        if not todo:
            return
        by_type = restored_ports(ovs_view, sb_view)
        for provider in todo:
            self._restored.append(provider)
            ports = by_type.get(provider.type, ())
            try:
                provider.restore(ports)
            except Exception as exc:
                self._log.log(
                    logging.ERROR,
                    ("provider-error", provider.type, "restore"),
                    "VIF plug provider %s raised in restore() (%d plugged port(s))",
                    provider.type,
                    len(ports),
                    exc_info=exc,
                )

    def _forget_views(self) -> None:
        self._snapshots.forget()
        self._quiet = None
        self._incremental.drop()

    def _release(self, calls: Any) -> None:
        for call in calls:
            if call.spec is not None:
                self._call(call, "release")

    def _stale_decision(self, lport: str, plug_type: str | None) -> Decision:
        return Decision(
            lport=lport,
            outcome=Outcome.REFUSED,
            reason=Reason.STALE_ROW,
            plug_type=plug_type,
            detail=f"a row lport {lport} needs left the local database before its writes "
            "were staged; it is decided again on the next run",
        )

    def _drop_stale(self, idl: Any, ovs_view: OvsView, plan: Plan) -> Plan:
        """Leave out the lports whose rows are no longer in the IDL's cache.

        Decisions are made on a snapshot that can be reused while the IDL's
        ``change_seqno`` does not move; a row it names that is gone anyway
        would make staging raise :class:`StaleRowError`. Those lports are
        skipped (their specs released, a :attr:`Reason.STALE_ROW` decision
        reported) and the snapshot is read afresh on the next run.
        """
        stale: set[str] = set()
        assert ovs_view.bridge is not None
        if (plan.creates or plan.removes) and ovs_view.bridge.uuid not in table_rows(idl, "Bridge"):
            stale.update(c.lport for c in plan.creates)
            stale.update(r.lport for r in plan.removes)
        ports = table_rows(idl, "Port")
        ifaces = table_rows(idl, "Interface")
        for remove in plan.removes:
            if remove.port not in ports:
                stale.add(remove.lport)
        for update in plan.updates:
            if update and update.iface not in ifaces:
                stale.add(update.lport)
        if not stale:
            return plan
        self._forget_views()
        self._release(c for c in plan.pending if c.lport in stale)
        self._log.warning(
            ("stale-rows",),
            "rows of lport(s) %s left the local database before their writes were staged; "
            "deciding them again on the next run",
            ", ".join(sorted(stale)),
        )
        plug_types = {d.lport: d.plug_type for d in plan.decisions}
        return Plan(
            decisions=(
                *(d for d in plan.decisions if d.lport not in stale),
                *(self._stale_decision(lport, plug_types.get(lport)) for lport in sorted(stale)),
            ),
            creates=tuple(c for c in plan.creates if c.lport not in stale),
            updates=tuple(u for u in plan.updates if u.lport not in stale),
            removes=tuple(r for r in plan.removes if r.lport not in stale),
            pending=tuple(c for c in plan.pending if c.lport not in stale),
        )

    def _stage_or_abort(
        self, idl: Any, txn: Any, ovs_view: OvsView, plan: Plan
    ) -> ReconcileReport | None:
        """Stage *plan*; if a row vanishes while staging, abort the whole run.

        :meth:`_drop_stale` checked every row first, so this takes a row
        vanishing while staging: nothing of this run is kept (the
        transaction is aborted: its ``commit()`` answers "aborted"), and the
        report says which lports are decided again on the next run.
        """
        assert ovs_view.bridge is not None
        try:
            stage(
                idl,
                txn,
                ovs_view.bridge.uuid,
                removes=plan.removes,
                updates=plan.updates,
                creates=plan.creates,
            )
        except StaleRowError as exc:
            txn.abort()
            self._forget_views()
            self._release(plan.pending)
            self._log.warning(
                ("stale-rows",),
                "rows changed while staging (%s); deciding again on the next run",
                exc,
            )
            return ReconcileReport(
                decisions=tuple(
                    self._stale_decision(lport, None)
                    for lport in sorted({d.lport for d in plan.decisions})
                ),
            )
        return None

    # --- complete ---------------------------------------------------------

    def complete(self, status: str, *, txn: Any = None) -> CompletionReport:
        """Tell the providers how the transaction ended (see the module
        docstring for the status table).

        :param status: what ``txn.commit()`` (or ``commit_block()``) returned.
        :param txn: the transaction; defaults to the one given to the latest
            :meth:`reconcile`.
        :raises TransactionNotCommittedError: *status* is ``uncommitted``.
        :raises ValueError: *status* is not an ``ovs.db.idl`` status.
        """
        if status == _UNCOMMITTED:
            raise TransactionNotCommittedError(
                "complete() got 'uncommitted': call txn.commit() before complete()"
            )
        if (
            status not in COMMIT_FINISHED
            and status not in COMMIT_FAILED
            and status != COMMIT_PENDING
        ):
            raise ValueError(f"unknown transaction status {status!r}")
        txn = self._last_txn if txn is None else txn
        if status != COMMIT_PENDING:
            self._incremental.committed(txn, finished=status in COMMIT_FINISHED)
        batch = next((b for b in self._batches if b.txn is txn), None)
        if batch is None:
            return CompletionReport(status=status, pending=status == COMMIT_PENDING)
        if status == COMMIT_PENDING:
            return CompletionReport(status=status, pending=True)
        self._batches.remove(batch)
        if status in COMMIT_FAILED and status != "aborted":
            error = txn.get_error() if hasattr(txn, "get_error") else status
            self._log.warning(
                ("commit-failed", status),
                "VIF plug transaction failed (%s): %s; lports %s will be retried",
                status,
                error,
                ", ".join(sorted({c.lport for c in batch.calls})),
            )
        finished: list[str] = []
        released: list[str] = []
        # Removals first, like OVN (finish_deleted before finish_changed).
        ordered = [c for c in batch.calls if c.spec is None] + [
            c for c in batch.calls if c.spec is not None
        ]
        for call in ordered:
            if status in COMMIT_FINISHED:
                if self._call(call, "finish"):
                    finished.append(call.lport)
                if call.spec is not None:
                    self._call(call, "release")
            elif call.spec is not None:
                self._call(call, "release")
                released.append(call.lport)
        return CompletionReport(status=status, finished=tuple(finished), released=tuple(released))

    def _call(self, call: PendingCall, hook: str) -> bool:
        try:
            if hook == "finish":
                call.provider.finish(call.ctx, call.spec)
            else:
                assert call.spec is not None
                call.provider.release(call.ctx, call.spec)
        except Exception as exc:
            self._log.log(
                logging.ERROR,
                ("provider-error", call.provider.type, hook, call.lport),
                "VIF plug provider %s raised in %s() for lport %s",
                call.provider.type,
                hook,
                call.lport,
                exc_info=exc,
            )
            return False
        return True


def restored_ports(ovs_view: OvsView, sb_view: SbView) -> dict[str, tuple[RestoredPort, ...]]:
    """What :meth:`VifPlugProvider.restore` gets, by plug type: the
    OVN-plugged Interfaces on the bridge, sorted by lport and name."""
    by_type: dict[str, list[RestoredPort]] = {}
    for iface in ovs_view.bridge_ifaces:
        plug_type, lport = iface.plugged_by, iface.iface_id
        if plug_type is None or lport is None:
            continue
        binding = sb_view.bindings.get(lport)
        by_type.setdefault(plug_type, []).append(
            RestoredPort(
                lport_name=lport,
                lport_options=None if binding is None else binding.options,
                name=iface.name,
                type=iface.type,
                options=iface.options,
                external_ids=iface.external_ids,
                mtu_request=iface.mtu_request,
                ofport=iface.ofport,
            )
        )
    return {
        plug_type: tuple(sorted(ports, key=lambda p: (p.lport_name, p.name)))
        for plug_type, ports in by_type.items()
    }
