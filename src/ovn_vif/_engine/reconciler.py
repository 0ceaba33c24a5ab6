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
from uuid import UUID

import attrs

from ovn_vif._contract.frozenmap import FrozenMap
from ovn_vif._contract.provider import RestoredPort, VifPlugProvider
from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._contract.registry import Registry, default_registry
from ovn_vif._engine.decision import LOG as RULES_LOG
from ovn_vif._engine.decision import PendingCall, Plan
from ovn_vif._engine.incremental import (
    IfaceKey,
    IncrementalState,
    LportKey,
    change_log,
)
from ovn_vif._engine.report import (
    CompletionReport,
    Decision,
    Outcome,
    Policy,
    Reason,
    ReconcileReport,
)
from ovn_vif._engine.rules import decide
from ovn_vif._engine.snapshot import RowMemo, read_ovs, read_sb
from ovn_vif._engine.views import OVN_PLUGGED, OvsView, SbView
from ovn_vif._engine.writes import IfaceUpdate, stage
from ovn_vif._errors import StaleRowError, TransactionNotCommittedError

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
#: The inputs of an lport that has neither a binding nor an interface.
_NOTHING: LportKey = (None, ())


@attrs.define
class _Batch:
    """The provider calls that wait for one transaction."""

    txn: Any
    calls: tuple[PendingCall, ...]


@attrs.define
class _Cached:
    idl_id: int
    seqno: int
    key: Any
    view: Any


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
        # Decisions are logged by ovn_vif._engine.rules, commits by ovn_vif._engine.reconciler;
        # the limiters live here so that limits hold across runs.
        self._rules_log = RateLimitedLogger(RULES_LOG)
        self._log = RateLimitedLogger(LOG)
        self._ovs_cache: _Cached | None = None
        self._sb_cache: _Cached | None = None
        self._ovs_memo = RowMemo()
        # The latest full run that found everything in sync: its
        # (chassis, bridge, can_unplug) and the copies of the two databases
        # it decided on, else None. A later run may be skipped only while
        # the copies in use are still those very copies (snapshot() makes
        # new ones when an IDL changed, whoever calls it).
        self._quiet: tuple[tuple[str, str, bool], _Cached, _Cached] | None = None
        self._sb_memo = RowMemo()
        # Providers told what is plugged (VifPlugProvider.restore) since the
        # start or the latest resync().
        self._restored: list[VifPlugProvider] = []
        # Incremental runs (see ovn_vif._engine.incremental): the engine's
        # own copy of the rows, the inputs it was built for, the lports
        # found in sync with the inputs they were decided on, those to
        # decide again whatever changes, and what the rows of written
        # lports should look like once committed (by transaction, then
        # once committed).
        self._inc: IncrementalState | None = None
        self._inc_inputs: tuple[Any, ...] | None = None
        self._settled: dict[str, LportKey] = {}
        self._unsettled: set[str] = set()
        self._expect: dict[int, dict[str, LportKey]] = {}
        self._confirm: dict[str, LportKey] = {}
        self._recompute = True
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
        self._recompute = True
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

    def _view(self, cache: _Cached | None, idl: Any, key: Any, read: Any) -> _Cached:
        # The IDL bumps change_seqno on every change it applies (and on
        # reconnect); an unchanged seqno means an unchanged cache, so the
        # copy from the previous run is still exact. Otherwise the row memo
        # still spares reading the rows that did not change.
        seqno = getattr(idl, "change_seqno", None)
        if (
            cache is not None
            and isinstance(seqno, int)
            and cache.idl_id == id(idl)
            and cache.seqno == seqno
            and cache.key == key
        ):
            return cache
        return _Cached(
            idl_id=id(idl),
            seqno=seqno if isinstance(seqno, int) else -1,
            key=key,
            view=read(idl, key),
        )

    def snapshot(
        self, ovs_idl: Any, sb_idl: Any, *, chassis: str, bridge: str
    ) -> tuple[OvsView, SbView]:
        """Copy what the engine reads from the two IDLs (reused while an
        IDL's ``change_seqno`` does not move)."""
        self._ovs_cache = self._view(
            self._ovs_cache,
            ovs_idl,
            bridge,
            lambda idl, key: read_ovs(idl, key, self._ovs_memo),
        )
        ovs_view: OvsView = self._ovs_cache.view
        # The Port_Bindings of the local OVN-plugged interfaces are needed
        # too, wherever they are requested.
        lports = ovs_view.plugged_lports
        self._sb_cache = self._view(
            self._sb_cache,
            sb_idl,
            (chassis, lports),
            lambda idl, key: read_sb(idl, key[0], key[1], self._sb_memo),
        )
        sb_view: SbView = self._sb_cache.view
        return ovs_view, sb_view

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
        incremental = self._reconcile_changed(
            ovs_idl,
            sb_idl,
            txn,
            inputs=(id(ovs_idl), id(sb_idl), chassis, bridge),
            bridge=bridge,
            can_unplug=can_unplug,
            providers_changed=providers_changed,
        )
        if incremental is not None:
            return incremental
        ovs_view, sb_view = self.snapshot(ovs_idl, sb_idl, chassis=chassis, bridge=bridge)
        inputs = (chassis, bridge, can_unplug)
        quiet = self._quiet
        if (
            not providers_changed
            and self._policy is Policy.RECOMMENDED
            and quiet is not None
            and quiet[0] == inputs
            and quiet[1] is self._ovs_cache
            and quiet[2] is self._sb_cache
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
        self._restore(ovs_view, sb_view)
        plan = decide(
            ovs=ovs_view,
            sb=sb_view,
            registry=self._registry,
            policy=self._policy,
            can_unplug=can_unplug,
            in_flight=self.in_flight_lports,
            log=self._rules_log,
        )
        self.full_runs += 1
        plan = self._drop_stale(ovs_idl, ovs_view, plan)
        staged = self._stage_or_abort(ovs_idl, txn, ovs_view, plan)
        if isinstance(staged, ReconcileReport):
            return staged
        decisions = staged
        if plan.pending:
            self._batches.append(_Batch(txn=txn, calls=plan.pending))
        elif (
            not decisions
            and not plan.changed
            and self._ovs_cache is not None
            and self._sb_cache is not None
        ):
            self._quiet = (inputs, self._ovs_cache, self._sb_cache)
        if (
            self._policy is Policy.RECOMMENDED
            and change_log(ovs_idl) is not None
            and change_log(sb_idl) is not None
            and self._ovs_cache is not None  # no stale row found (see _drop_stale)
        ):
            self._settle_all(ovs_view, sb_view, sb_idl, txn, plan)
            self._inc_inputs = (id(ovs_idl), id(sb_idl), chassis, bridge)
        return ReconcileReport(decisions=decisions, changed=plan.changed)

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
        self._recompute = True

    def _unrestored(self) -> bool:
        """Whether a registered provider has not been given ``restore`` yet."""
        return any(
            not any(p is done for done in self._restored) for p in self._registry.providers()
        )

    def _restore(self, ovs_view: OvsView, sb_view: SbView) -> None:
        current = self._registry.providers()
        self._restored = [p for p in self._restored if any(p is q for q in current)]
        todo = [p for p in current if not any(p is done for done in self._restored)]
        if not todo:
            return
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
        for provider in todo:
            self._restored.append(provider)
            ports = sorted(by_type.get(provider.type, ()), key=lambda p: (p.lport_name, p.name))
            try:
                provider.restore(tuple(ports))
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
        self._ovs_cache = self._sb_cache = None
        self._quiet = None
        self._drop_incremental()

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
        tables = idl.tables
        stale: set[str] = set()
        assert ovs_view.bridge is not None
        if (plan.creates or plan.removes) and ovs_view.bridge.uuid not in tables["Bridge"].rows:
            stale.update(c.lport for c in plan.creates)
            stale.update(r.lport for r in plan.removes)
        ports = tables["Port"].rows
        ifaces = tables["Interface"].rows
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

    # --- incremental runs -------------------------------------------------

    def _reconcile_changed(
        self,
        ovs_idl: Any,
        sb_idl: Any,
        txn: Any,
        *,
        inputs: tuple[Any, ...],
        bridge: str,
        can_unplug: bool,
        providers_changed: bool,
    ) -> ReconcileReport | None:
        """Decide only for the lports whose inputs changed; ``None`` when a
        full run is needed."""
        ovs_log, sb_log = change_log(ovs_idl), change_log(sb_idl)
        ovs_rows = None if ovs_log is None else ovs_log.take(ovs_idl)
        sb_rows = None if sb_log is None else sb_log.take(sb_idl)
        state = self._inc
        why = (
            "no change tracking or not the recommended policy"
            if self._policy is not Policy.RECOMMENDED or ovs_log is None or sb_log is None
            else "first run or recompute requested"
            if state is None or self._recompute
            else "a provider changed"
            if providers_changed
            else "local changes not explained by the change log"
            if ovs_rows is None
            else "Southbound changes not explained by the change log"
            if sb_rows is None
            else "chassis or bridge changed"
            if self._inc_inputs != inputs
            else "no provider is registered"
            if not self._registry.has_providers()
            else "a provider is to be told what it plugged"
            if self._unrestored()
            else None
        )
        if why is not None or state is None or ovs_rows is None or sb_rows is None:
            LOG.debug("full run: %s", why)
            self._drop_incremental()
            return None
        touched_ovs = state.apply_ovs(ovs_idl, ovs_rows, bridge)
        touched_sb = None if touched_ovs is None else state.apply_sb(sb_idl, sb_rows)
        if touched_ovs is None or touched_sb is None:
            self._drop_incremental()
            return None
        in_flight = self.in_flight_lports
        dirty: set[str] = set()
        confirmed: set[str] = set()
        for lport in self._unsettled:
            expected = self._confirm.pop(lport, None)
            if (
                lport not in in_flight
                and expected is not None
                and expected == state.key(sb_idl, lport)
            ):
                confirmed.add(lport)
                if expected != _NOTHING:
                    self._settled[lport] = expected
            else:
                dirty.add(lport)
        self._unsettled -= confirmed
        for lport in touched_ovs | touched_sb:
            if lport in dirty:
                continue
            settled = self._settled.get(lport)
            if settled is None or settled != state.key(sb_idl, lport):
                dirty.add(lport)
        self.incremental_runs += 1
        if not dirty:
            return ReconcileReport()
        # Whatever this run decides, the latest full run's "all in sync"
        # no longer describes the chassis.
        self._quiet = None
        for lport in dirty:
            self._settled.pop(lport, None)
        ovs_view, sb_view = state.views(ovs_idl, sb_idl, sorted(dirty))
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
        staged = self._stage_or_abort(ovs_idl, txn, ovs_view, plan)
        if isinstance(staged, ReconcileReport):
            return staged
        decisions = staged
        if plan.pending:
            self._batches.append(_Batch(txn=txn, calls=plan.pending))
        self._settle(
            state=state,
            sb_idl=sb_idl,
            lports=dirty,
            in_flight=in_flight,
            txn=txn,
            plan=plan,
            sb_view=sb_view,
        )
        return ReconcileReport(decisions=decisions, changed=plan.changed)

    def _drop_incremental(self) -> None:
        self._inc = None
        self._recompute = True

    def _settle_all(
        self, ovs_view: OvsView, sb_view: SbView, sb_idl: Any, txn: Any, plan: Plan
    ) -> None:
        """After a full run: rebuild the engine's copy and note which lports
        are in sync."""
        state = IncrementalState.from_views(ovs_view, sb_view, sb_idl)
        self._inc = state
        self._settled = {}
        self._unsettled = set()
        self._confirm = {}
        self._recompute = False
        lports = set(sb_view.bindings) | set(state.lport_ifaces)
        self._settle(
            state=state,
            sb_idl=sb_idl,
            lports=lports,
            in_flight=self.in_flight_lports,
            txn=txn,
            plan=plan,
            sb_view=sb_view,
        )

    def _settle(
        self,
        *,
        state: IncrementalState,
        sb_idl: Any,
        lports: set[str],
        in_flight: frozenset[str],
        txn: Any,
        plan: Plan,
        sb_view: SbView,
    ) -> None:
        acted = {d.lport for d in plan.decisions}
        acted.update(c.lport for c in plan.pending)
        written = {c.lport for c in plan.creates} | {r.lport for r in plan.removes}
        written.update(u.lport for u in plan.updates)
        acted |= written
        for lport in lports:
            if lport in in_flight or lport in acted:
                self._settled.pop(lport, None)
                self._unsettled.add(lport)
            else:
                key = state.key(sb_idl, lport)
                # An lport with neither binding nor interface (deleted) is
                # forgotten: anything that appears for it is a change.
                if key == _NOTHING:
                    self._settled.pop(lport, None)
                else:
                    self._settled[lport] = key
                self._unsettled.discard(lport)
        expected = self._expected(state, plan, sb_view)
        if expected:
            self._expect[id(txn)] = expected

    def _expected(
        self, state: IncrementalState, plan: Plan, sb_view: SbView
    ) -> dict[str, LportKey]:
        """What the inputs of the lports this plan plugs or unplugs will be
        once it is committed (lports with other outcomes are decided again
        instead)."""
        if not plan.changed:
            return {}
        simple = {Outcome.PLUGGED, Outcome.UNPLUGGED, Outcome.REPLACED, Outcome.UPDATED}
        other = {d.lport for d in plan.decisions if d.outcome not in simple}
        removed: dict[str, set[UUID]] = {}
        for remove in plan.removes:
            removed.setdefault(remove.lport, set()).update(remove.ifaces)
        created = {c.lport: c for c in plan.creates}
        updated = {u.iface: u for u in plan.updates}
        expected: dict[str, LportKey] = {}
        written = set(removed) | set(created) | {u.lport for u in plan.updates}
        for lport in written - other:
            gone = removed.get(lport, set())
            keys = [
                _updated(state.iface_key(i), updated.get(i.uuid))
                for i in state.bridge_ifaces(lport)
                if i.uuid not in gone
            ]
            create = created.get(lport)
            if create is not None:
                keys.append(
                    IfaceKey(
                        name=create.name,
                        type=create.type or "",
                        options=create.options,
                        external_ids=create.external_ids,
                        mtu_request=create.mtu_request,
                        foreign_ofport=None,
                        sole=True,
                    )
                )
            binding = sb_view.bindings.get(lport)
            plugged = any(k.external_ids.get(OVN_PLUGGED) is not None for k in keys)
            if binding is not None and not (
                binding.requested_chassis == state.chassis.uuid or plugged
            ):
                binding = None
            expected[lport] = (binding, tuple(sorted(keys, key=lambda k: (k.name, k.type))))
        return expected

    def _stage_or_abort(
        self, idl: Any, txn: Any, ovs_view: OvsView, plan: Plan
    ) -> tuple[Decision, ...] | ReconcileReport:
        """Stage *plan*; if a row vanishes while staging, abort the whole run.

        :meth:`_drop_stale` checked every row first, so this takes a row
        vanishing while staging: nothing of this run is kept (the
        transaction is aborted: its ``commit()`` answers "aborted"), and the
        report says which lports are decided again on the next run.
        """
        try:
            return self._stage(idl, txn, ovs_view, plan)
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

    def _stage(self, idl: Any, txn: Any, ovs_view: OvsView, plan: Plan) -> tuple[Decision, ...]:
        assert ovs_view.bridge is not None
        stage(
            idl,
            txn,
            ovs_view.bridge.uuid,
            removes=plan.removes,
            updates=plan.updates,
            creates=plan.creates,
        )
        return plan.decisions

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
            expected = self._expect.pop(id(txn), None)
            if expected is not None and status in COMMIT_FINISHED:
                self._confirm.update(expected)
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


def _updated(key: IfaceKey, update: IfaceUpdate | None) -> IfaceKey:
    """*key* as it will be once *update* is committed."""
    if update is None:
        return key
    options = {k: v for k, v in key.options.items() if k not in update.del_options}
    options.update(update.set_options)
    mtu = key.mtu_request
    if update.set_mtu_request is not None:
        mtu = update.set_mtu_request
    elif update.clear_mtu_request:
        mtu = None
    return attrs.evolve(
        key,
        type=key.type if update.set_type is None else update.set_type,
        options=FrozenMap(options),
        external_ids=FrozenMap({**key.external_ids, **update.set_external_ids}),
        mtu_request=mtu,
    )
