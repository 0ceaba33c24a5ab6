"""The reference plugging agent's loop: the engine driven by real OVSDB connections.

:class:`Agent` does what ``ovn-controller``'s VIF plug code does, as a
standalone process (``ovn-vif agent``) or embedded in a program:

* it connects to the local ``Open_vSwitch`` database and reads, like
  ovn-controller, ``external_ids:system-id`` (the chassis name),
  ``external_ids:ovn-remote`` (the Southbound database, possibly several
  comma-separated cluster members) and ``external_ids:ovn-bridge`` from the
  ``Open_vSwitch`` row, each of which the configuration can override;
* it fetches both schemas from the servers and monitors only the columns the
  engine reads; in the Southbound database only this chassis's ``Chassis``
  row and the ``Port_Binding`` rows whose ``requested_chassis`` is this
  chassis (conditional monitoring), so its memory and traffic do not grow
  with other chassis' ports;
* it runs one event-driven loop over both connections and the providers'
  file descriptors and deadlines, calls :meth:`Registry.run_all` and then
  :meth:`Reconciler.reconcile` when something changed, commits without
  blocking and reports the outcome back to the engine;
* it unplugs nothing until both databases have delivered their full
  contents after the latest (re)connection (see :attr:`Agent.synced`);
* on :meth:`Agent.stop` it lets an in-flight transaction finish (or
  abandons it after a bound), destroys the providers it loaded and leaves
  every plugged port in place.

:class:`Agent` is the loop: it iterates, reconciles, commits and finishes
the transaction, blocks, stops and closes. It asks the modules beside it
for the rest: :mod:`~ovn_vif.agent._databases` for the connections,
:mod:`~ovn_vif.agent._settings` for the chassis settings,
:mod:`~ovn_vif.agent._conditions` for what the Southbound database sends,
:mod:`~ovn_vif.agent._sync` for the unplug gate,
:mod:`~ovn_vif.agent._retry` for when to try again,
:mod:`~ovn_vif.agent._audit` for the self-audit,
:mod:`~ovn_vif.agent._status_file` for the status file and
:mod:`~ovn_vif.agent._observers` for the service layer's hooks.

Embedding::

    agent = Agent(AgentConfig(ovs_remote="unix:/run/openvswitch/db.sock"))
    agent.start()          # raises AgentSetupError on a bad configuration
    try:
        agent.run()        # until agent.stop() (signal-safe)
    finally:
        agent.close()
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import attrs
import ovs.db.idl
import ovs.poller

from ovn_vif._contract.logsafe import log_safe
from ovn_vif._contract.ratelimit import BUDGET, RateLimitedLogger
from ovn_vif._contract.registry import Registry
from ovn_vif._engine.incremental import change_log
from ovn_vif._engine.reconciler import Reconciler
from ovn_vif._engine.report import Outcome, ReconcileReport
from ovn_vif._errors import AgentSetupError
from ovn_vif._ovs_private import route_ovs_logging
from ovn_vif.agent import _audit
from ovn_vif.agent import _json as ovsjson
from ovn_vif.agent._conditions import MONITORED, PluggedHere, SouthboundConditions, chassis_row
from ovn_vif.agent._config import AgentConfig
from ovn_vif.agent._connections import idl_connected, idl_synced
from ovn_vif.agent._databases import Databases
from ovn_vif.agent._held_lines import HeldLines
from ovn_vif.agent._observers import Observers
from ovn_vif.agent._outages import OutageLog
from ovn_vif.agent._providers import load_providers, require_providers
from ovn_vif.agent._retry import Backoff
from ovn_vif.agent._settings import ChassisSettings, follow_settings, read_settings
from ovn_vif.agent._status_file import StatusFile, default_status_file
from ovn_vif.agent._sync import SyncGate
from ovn_vif.agent._wakeup import WakePipe

LOG = logging.getLogger(__name__)

#: Characters kept from one message of the ``ovs`` package: its ``DEBUG``
#: lines quote whole JSON-RPC messages, and a log line stays bounded (at
#: most ten times this once escaped).
OVS_LOG_LIMIT = 1024

_TXN = ovs.db.idl.Transaction
#: Commits answered "try again" in a row that are retried at once; after
#: these, each retry waits for the pause that doubles (``_retry``), so that
#: a check that keeps failing cannot make the loop spin.
TRY_AGAIN_AT_ONCE = 3
#: Seconds a run waits, at most, for the Southbound's answer to a monitor
#: condition change (see ``Agent._answer_due``); the answer usually
#: takes one round trip.
ANSWER_WAIT = 0.25


class Agent:
    """Plug the VIFs requested for this chassis through the registered providers.

    :param config: what to connect to; see :class:`AgentConfig`.
    :param registry: providers to use. ``None`` makes the agent load them
        from entry points at :meth:`start` (``config.providers`` chooses
        which) and destroy them at :meth:`close`. A registry passed in stays
        the caller's: the agent neither loads into it nor destroys it.
    :param on_report: called after each commit with the engine's report and
        the commit status (for tests and embedders that want more than the
        log lines).
    """

    def __init__(
        self,
        config: AgentConfig | None = None,
        registry: Registry | None = None,
        *,
        on_report: Callable[[ReconcileReport, str], None] | None = None,
    ) -> None:
        self.config = config if config is not None else AgentConfig()
        self._owns_registry = registry is None
        self.registry = registry if registry is not None else Registry()
        self.reconciler = Reconciler(self.registry, policy=self.config.policy)
        self._on_report = on_report
        self._settings: ChassisSettings | None = None
        self._txn: Any = None
        self._txn_report: ReconcileReport | None = None
        self._stopping = False
        self._started = False
        self._closed = False
        self._wake = WakePipe()
        self._rl = RateLimitedLogger(LOG)
        # What the last reconcile saw, to reconcile only when it changed.
        self._seen: tuple[int, int, bool, str, str] | None = None
        self._dirty = True
        # Whether the next reconcile must decide for every lport (a provider
        # or a setting changed, a retry): otherwise, on IDLs the agent
        # tracks, the engine decides only for lports whose rows changed.
        self._full = True
        self._retry = Backoff()
        # Commits answered "try again" since the last one that went through.
        self._try_again = 0
        self._gate = SyncGate(LOG)
        self._outages = OutageLog()
        self._iterations = 0
        self._reconciles = 0
        self._txn_started = 0.0
        self._status = StatusFile(None, self._rl)
        self._conditions = SouthboundConditions(self.reconciler)
        self._db = Databases(
            lambda: self.config,
            self._conditions,
            self._rl,
            stopping=lambda: self._stopping,
            wake_fd=self._wake.fd,
            block=self._block,
            serve=lambda poller: self.observers.call("starting", self, poller),
        )
        # The self-audit decides when to check; the loop recovers.
        self._audit = _audit.SelfAudit(
            self.config.audit_interval,
            self._rl,
            reload=self._reload_sb,
            decide_all=self._decide_all,
            audited=self._audited,
        )
        #: Hooks of the service layer (control socket, metrics, systemd);
        #: see :mod:`ovn_vif.agent._observers`.
        self.observers = Observers()

    # -- life cycle --------------------------------------------------------

    def start(self, *, ovs_idl: Any = None, sb_idl: Any = None) -> None:
        """Load providers, connect to both databases and read the settings.

        Returns once the local database has been read and the Southbound
        connection is set up (its contents arrive in :meth:`run`).

        *ovs_idl* and *sb_idl* replace the connections the agent would make
        (to run it on :class:`ovn_vif.testing.FakeIdl`, or on IDLs the
        caller built): pass both; they stay the caller's to close. They
        need what :func:`prepare_ovs_helper` and :func:`prepare_sb_helper`
        register (the indexes of :func:`ovn_vif.create_sb_indexes` are
        used where they exist, not needed: the agent monitors only its own
        ``Chassis`` row); the agent sets the Southbound conditions itself.

        The ``ovs`` package's own log messages (reconnections, cluster
        member changes, ...) go to the standard loggers ``ovs.<module>``
        (``ovs.reconnect``, ``ovs.idl``, ...) from here on, unless the
        program called ``ovs.vlog.Vlog.init()``; no handler is added.

        :raises AgentSetupError: bad remote, no system-id or ovn-remote in
            the local database (and no override), unknown or no provider.
        """
        if self._started:
            raise AgentSetupError("the agent is already started")
        if (ovs_idl is None) != (sb_idl is None):
            raise AgentSetupError("pass both ovs_idl and sb_idl, or neither")
        self._started = True
        route_ovs_logging(escape=lambda text: log_safe(text, limit=OVS_LOG_LIMIT))
        if self.config.fast_json and ovsjson.install():
            LOG.debug("using the standard library's JSON decoder for OVSDB messages")
        if self._owns_registry:
            load_providers(self.registry, self.config.providers, LOG)
        require_providers(self.registry)
        self._db.open_local(ovs_idl)
        status_file = self.config.status_file
        if status_file is None and ovs_idl is None:
            status_file = default_status_file(self.config.ovs_remote)
        self._status = StatusFile(status_file or None, self._rl)
        self._settings = read_settings(self._db.ovs, self.config, need_remote=sb_idl is None)
        if sb_idl is None:
            self._db.tls.start([self.config.ovs_remote, self._settings.ovn_remote], self._db.ovs)
        LOG.info(
            "ovn-vif agent for chassis %s: local DB %s, Southbound %s, bridge %s, providers %s",
            log_safe(self._settings.chassis),
            self.config.ovs_remote if ovs_idl is None else "(given)",
            log_safe(self._settings.ovn_remote or "(given)"),
            log_safe(self._settings.bridge),
            ", ".join(self.registry.types()),
        )
        self._db.open_southbound(self._settings, sb_idl)

    def stop(self) -> None:
        """Ask :meth:`run` to return. Safe to call from a signal handler or a thread."""
        self._stopping = True
        self._wake.wake()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping

    def close(self) -> None:
        """Finish or abandon the in-flight transaction, destroy owned providers, disconnect.

        Plugged ports stay plugged. Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        self._audit.close()
        try:
            self._drain_txn()
        finally:
            if self._owns_registry:
                for provider_type, exc in self.registry.destroy_all().items():
                    LOG.warning("VIF plug provider %s failed to stop: %s", provider_type, exc)
            if self.observers:
                self.observers.call("close")
            self._db.close()
            self._wake.close()

    def _drain_txn(self) -> None:
        if self._txn is None:
            return
        deadline = time.monotonic() + self.config.shutdown_timeout
        while self._txn is not None:
            status = self._txn.commit()
            if status != _TXN.INCOMPLETE:
                self._finish_txn(status)
                return
            if time.monotonic() >= deadline or not idl_connected(self._db.ovs):
                break
            self._db.ovs.run()
            self._block([self._db.ovs], deadline, txn=self._txn, wake=False)
        if self._txn is not None:
            LOG.warning("abandoning a transaction still in flight at exit")
            self._txn.abort()
            self._finish_txn(_TXN.ABORTED)

    def __enter__(self) -> Agent:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- state -------------------------------------------------------------

    @property
    def settings(self) -> ChassisSettings:
        """Chassis name, Southbound remote and bridge in effect."""
        if self._settings is None:
            raise AgentSetupError("the agent is not started")
        return self._settings

    @property
    def synced(self) -> bool:
        """Whether unplugging is allowed.

        True once both databases delivered their full contents after the
        latest (re)connection: both sessions connected, both monitor
        replies processed, and the Southbound conditions (this chassis, its
        Port_Bindings) acknowledged by the server. Plugging does not wait
        for it.
        """
        return self._gate.synced

    @property
    def idle(self) -> bool:
        """Whether nothing is left to do until a database or provider changes."""
        return self._ready() and self._txn is None and not self._needs_reconcile(False)

    @property
    def ovs_idl(self) -> Any:
        """The local database's ``ovs.db.idl.Idl`` (read it only between iterations)."""
        return self._db.ovs

    @property
    def start_progress(self) -> dict[str, Any] | None:
        """While :meth:`start` waits for a database: ``{"database", "remote",
        "since", "errors": {member: last error}}``; otherwise ``None``."""
        connecting = self._db.connecting
        if connecting is None:
            return None
        return {**connecting, "errors": dict(connecting["errors"])}

    @property
    def plugged_here(self) -> PluggedHere | None:
        """The ports plugged on the integration bridge as the loop follows
        them from the changed local rows (as of the latest iteration);
        ``None`` on a local IDL given without change tracking."""
        return self._conditions.plugged

    @property
    def sb_idl(self) -> Any:
        """The Southbound database's ``ovs.db.idl.Idl``."""
        return self._db.sb

    # -- loop --------------------------------------------------------------

    def run(self) -> None:
        """Run the loop until :meth:`stop` is called."""
        self.run_until(lambda: False)

    def run_until(self, condition: Callable[[], bool], timeout: float | None = None) -> bool:
        """Run the loop until *condition* is true, :meth:`stop` or *timeout*.

        *condition* is checked after each iteration, before blocking (so a
        change made by the iteration itself is never waited for). Returns
        whether *condition* became true.
        """
        if self._db.ovs is None or self._db.sb is None:
            raise AgentSetupError("call start() before run()")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopping:
            self.iterate()
            if condition():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._block([self._db.ovs, self._db.sb], deadline, txn=self._txn)
        return condition()

    def iterate(self) -> None:
        """One loop iteration: read both databases, run providers, reconcile, commit."""
        self._iterations += 1
        self._db.run()
        provider_changed = self.registry.run_all()
        if provider_changed:
            self._decide_all()
        self._follow_settings()
        self._db.follow_tls(self.settings.ovn_remote)
        self._conditions.update(self._db.sb, self._db.ovs, self.settings)
        self._db.send_conditions()
        self._update_sync()
        self._audit.run(
            self._db.sb,
            self.settings.chassis,
            synced=self._gate.synced,
            quiet=lambda: self.idle and self._retry.at is None,
            observed=self._observed,
        )
        retry_later = False
        if self._txn is not None:
            status = self._txn.commit()
            if status != _TXN.INCOMPLETE:
                self._finish_txn(status)
                # Retry on the next iteration, after run() brought fresh data.
                retry_later = status == _TXN.TRY_AGAIN
        if self._txn is None and not retry_later and self._needs_reconcile(True):
            self._reconcile()
        if self.observers:
            self.observers.call("iteration", self)
        # How many warnings the shared budget suppressed, once it allows a line.
        BUDGET.report()

    @property
    def in_flight(self) -> bool:
        """Whether a transaction is in flight (committed, outcome not known yet)."""
        return self._txn is not None

    def recompute(self) -> None:
        """Reconcile from scratch on the next iteration (``ovn-vif appctl recompute``).

        The next run decides for every lport and asks every provider, as
        after a start; otherwise, on the connections the agent tracks, runs
        ask providers only about lports whose rows changed (see
        :doc:`/provider-contract`).
        """
        self.reconciler.recompute()
        self._decide_all()
        self._retry.clear()
        self.wake()

    def wake(self) -> None:
        """Make a blocked :meth:`run` do one more iteration. Signal- and thread-safe."""
        self._wake.wake()

    def _update_sync(self) -> None:
        """Recompute the unplug gate from the IDLs' state (see :attr:`synced`)."""
        self._outages.update("local Open_vSwitch database", self._db.ovs)
        self._outages.update("Southbound database", self._db.sb)
        change = self._gate.update(self._db.ovs, self._db.sb)
        if change.local_back and self._iterations > 1:
            # The local database came back: it may have lost or changed
            # rows meanwhile, so the providers hear again what is plugged.
            self.reconciler.resync()
        if change.link_down:
            self._audit.cancel()
        if change.reconnected:
            # After a (re)connection: decide for every lport, and check
            # the new view against the server.
            self._decide_all()
            self._audit.after_reconnection()

    def _follow_settings(self) -> None:
        """Pick up changes of system-id, ovn-remote and ovn-bridge at run time."""
        old = self.settings
        given = self._db.sb_given
        new = follow_settings(self._db.ovs, self.config, old, self._rl, need_remote=not given)
        if new == old:
            return
        self._settings = new
        if new.chassis != old.chassis:
            self._conditions.forget()
        switch = new.ovn_remote != old.ovn_remote and not given
        if switch and not self._db.switch_southbound(new, old.ovn_remote):
            self._settings = attrs.evolve(new, ovn_remote=old.ovn_remote)
            return
        self._decide_all()

    def _ready(self) -> bool:
        return self._db.ovs is not None and self._db.sb is not None and self._settings is not None

    def _needs_reconcile(self, log_waiting: bool) -> bool:
        # ovs.db.idl answers "try again" at once to a commit made before the
        # monitor reply of the current connection: wait for it instead.
        if not idl_synced(self._db.ovs):
            return False
        if chassis_row(self._db.sb, self.settings.chassis) is None:
            if log_waiting and idl_synced(self._db.sb, MONITORED):
                self._rl.info(
                    "no-chassis",
                    "waiting for the Chassis row %r in the Southbound database "
                    "(ovn-controller or the CMS creates it; this agent never does)",
                    self.settings.chassis,
                )
            return False
        now = time.monotonic()
        if self._answer_due(now) is not None:
            return False
        if self._dirty:
            return True
        if self._retry.due(now):
            return True
        if self._try_again > TRY_AGAIN_AT_ONCE and self._retry.at is not None:
            # Backing off commits that keep answering "try again": what
            # changes meanwhile (the agent's own commit among it) waits for
            # the pause; that run decides for every lport.
            return False
        return self._seen != self._observed()

    def _answer_due(self, now: float) -> float | None:
        """Until when runs wait for the Southbound's answer to the condition
        change just sent rather than decide; ``None`` when no answer is
        awaited, or once that time has passed without it.

        Such a change usually asks for bindings that left the view, and the
        gate keeps their ports plugged until the answer: a run now could only
        hold those unplugs, and the run after the answer would decide for
        them all again. The answer is one round trip away; past
        :data:`ANSWER_WAIT` the loop decides without it, as it does while a
        session is down."""
        since = self._gate.awaiting_since
        if since is None or now >= since + ANSWER_WAIT:
            return None
        return since + ANSWER_WAIT

    def _observed(self) -> tuple[int, int, bool, str, str]:
        s, db = self.settings, self._db
        return (db.ovs.change_seqno, db.sb.change_seqno, self.synced, s.chassis, s.bridge)

    def _reconcile(self) -> None:
        # The lines the engine logs as it decides (one per plug or unplug)
        # are written once the transaction is sent: they do not delay it.
        with HeldLines():
            sent = self._decide_and_commit()
        if sent is None:
            return
        status, count, deciding, committing = sent
        LOG.debug(
            "reconcile #%d: %d decision(s) in %.1f ms, commit() %s in %.1f ms",
            self._reconciles,
            count,
            deciding * 1000,
            status,
            committing * 1000,
        )
        if status != _TXN.INCOMPLETE:
            self._finish_txn(status)

    def _decide_and_commit(self) -> tuple[str, int, float, float] | None:
        """Reconcile and commit; the commit's status, the number of
        decisions and the seconds spent deciding and committing, or
        ``None`` if the engine failed."""
        s = self.settings
        self._seen = self._observed()
        # On IDLs the agent does not track (given to start()), every run is
        # a full one, as before incremental runs existed.
        full = (
            self._full
            or self._retry.at is not None
            or change_log(self._db.ovs) is None
            or change_log(self._db.sb) is None
        )
        # The engine check (see SelfAudit.run): a full run on databases that
        # did not change since the loop was idle must change nothing.
        engine_check = self._audit.take_engine_check(self._seen) and full
        self._dirty = False
        self._full = False
        self._retry.clear()
        self._reconciles += 1
        started = time.monotonic()
        txn = _TXN(self._db.ovs)
        try:
            report = self.reconciler.reconcile(
                self._db.ovs,
                self._db.sb,
                txn,
                chassis=s.chassis,
                bridge=s.bridge,
                can_unplug=self.synced,
                providers_changed=full,
            )
        except Exception as exc:
            txn.abort()
            # Releases whatever the engine may have reserved for this transaction.
            self.reconciler.complete(_TXN.ABORTED, txn=txn)
            self.reconciler.recompute()
            self._rl.exception("reconcile", "the plugging engine failed; retrying later", exc=exc)
            self._retry.schedule()
            return None
        if engine_check:
            self._audit.check_engine(report)
        if report.skipped is not None:
            self._rl.warning(("skipped", report.skipped), "nothing plugged: %s", report.skipped)
        if report.faults:
            # Lports skipped because something failed for them (logged by the
            # engine): decided again after a pause, growing while they fail,
            # even if nothing else changes.
            self._retry.schedule()
        self._txn = txn
        self._txn_report = report
        self._txn_started = started
        decided = time.monotonic()
        if self.observers:
            self.observers.call("reconciled", self, report, decided - started)
        status = txn.commit()
        return status, len(report), decided - started, time.monotonic() - decided

    # -- self-audit (see ovn_vif.agent._audit) ----------------------------------

    @property
    def last_audit(self) -> _audit.AuditResult | None:
        """The latest Southbound audit, if one finished."""
        return self._audit.last

    @property
    def divergences(self) -> dict[str, int]:
        """Divergences found by the self-audit since start, by check
        (``southbound``, ``engine``, ``conditions``)."""
        return self._audit.divergences

    @property
    def last_engine_check(self) -> tuple[float, tuple[str, ...]] | None:
        """The latest engine check: (``time.time()``, lports it had to change)."""
        return self._audit.last_engine_check

    def audit_now(self) -> None:
        """Run the self-audit at the next iteration (``ovn-vif appctl audit``)."""
        self._audit.check_now()
        self.wake()

    def _reload_sb(self) -> None:
        """The Southbound IDL reloads every row: send the conditions again, decide for all."""
        self._conditions.forget()
        self.reconciler.recompute()
        self._decide_all()

    def _decide_all(self) -> None:
        """Make the next run a full one: it decides for every lport."""
        self._full = self._dirty = True

    def _audited(self, result: _audit.AuditResult) -> None:
        if self.observers:
            self.observers.call("audited", self, result)
        if self._settings is not None:
            record = {**result.as_dict(), "divergences": dict(self.divergences)}
            self._status.audited(self._settings.chassis, record)

    def _finish_txn(self, status: str) -> None:
        txn, report = self._txn, self._txn_report
        self._txn = self._txn_report = None
        if report is not None and report.changed:
            LOG.debug(
                "transaction of reconcile #%d: %s after %.1f ms",
                self._reconciles,
                status,
                (time.monotonic() - self._txn_started) * 1000,
            )
        self.reconciler.complete(status, txn=txn)
        if status in (_TXN.SUCCESS, _TXN.UNCHANGED):
            self._try_again = 0
            if report is None or not report.faults:
                self._retry.reset()
        elif status == _TXN.TRY_AGAIN:
            self._try_again += 1
            if self._try_again <= TRY_AGAIN_AT_ONCE:
                # Retried on the next iteration, with whatever run() brought in.
                LOG.debug("transaction must be retried")
                self._decide_all()
            else:
                # Something the commit checks keeps changing, or keeps
                # looking changed: decide again after a growing pause.
                self._retry.schedule()
                self._rl.warning(
                    "try-again",
                    "the local database answered 'try again' to %d commits in a row; "
                    "deciding again in %.0f s",
                    self._try_again,
                    max(0.0, (self._retry.at or 0.0) - time.monotonic()),
                )
        elif status == _TXN.ABORTED:
            pass
        else:  # ERROR, NOT_LOCKED: the engine has logged it, naming the lports.
            detail = txn.get_error() if txn is not None else status
            LOG.debug("transaction failed (%s): %s; retrying later", status, detail)
            self._retry.schedule()
        if report is not None:
            self._log_report(report, status)
            if self._settings is not None:
                self._status.decided(self._settings.chassis, report)
            if report.retry_after is not None:
                # A provider declined and asked to be asked again by then.
                self._retry.sooner(time.monotonic() + report.retry_after)
            if self._on_report is not None:
                self._on_report(report, status)
            if self.observers:
                seconds = time.monotonic() - self._txn_started
                self.observers.call("committed", self, report, status, seconds)

    @property
    def status_file(self) -> str | None:
        """The file where the agent records why lports are not plugged, if any."""
        return self._status.path

    def _log_report(self, report: ReconcileReport, status: str) -> None:
        """Log the committed updates (the engine logs plugs and unplugs as it stages them)."""
        if status != _TXN.SUCCESS:
            if report.changed and status != _TXN.ABORTED:
                LOG.debug("not committed (%s): %s", status, log_safe(report.outcomes()))
            return
        for d in report.with_outcome(Outcome.UPDATED):
            LOG.info(
                "Updated port %s for lport %s on this chassis.", log_safe(d.port), log_safe(d.lport)
            )

    def _block(
        self,
        idls: Iterable[Any],
        deadline: float | None,
        *,
        txn: Any = None,
        wake: bool = True,
    ) -> None:
        poller = ovs.poller.Poller()
        for idl in idls:
            idl.wait(poller)
        if txn is not None:
            txn.wait(poller)
        poller.fd_wait(self._wake.fd, ovs.poller.POLLIN)
        if self._ready() and self._txn is None and self._needs_reconcile(False):
            poller.immediate_wake()
        now = time.monotonic()
        wakeups = [
            deadline,
            self._retry.at,
            self._answer_due(now),
            *self._audit.wakeups(),
            BUDGET.report_due(),
        ]
        self._audit.wait(poller)
        if self.observers:
            self.observers.call("wait", poller)
            wakeups.append(self.observers.next_wakeup())
        if wake:
            for provider in self.registry.providers():
                for fd in provider.wait_fds():
                    poller.fd_wait(fd, ovs.poller.POLLIN)
                wakeups.append(provider.next_wakeup())
        soonest = min((t for t in wakeups if t is not None), default=None)
        if soonest is not None:
            poller.timer_wait(max(0.0, (soonest - now) * 1000.0))
        poller.block()
        self._wake.drain()
