"""Run the plugging engine inside ovsdbapp (Neutron and OpenStack agents).

ovsdbapp runs each ``ovs.db.idl.Idl`` in a thread of its own and commits
in that thread: a command's ``run_idl(txn)`` stages writes in a fresh
``ovs.db.idl.Transaction``, ``commit_block()`` sends it, a ``try again``
starts over with a new transaction, and only a ``success`` reaches the
commands' ``post_commit``. :meth:`ovn_vif.Reconciler.complete` needs the
outcome of *every* transaction :meth:`~ovn_vif.Reconciler.reconcile` staged
into, or its lports stay in flight. This module closes that gap:

* :class:`ReconcileCommand` -- an ovsdbapp command whose ``run_idl`` first
  completes the earlier attempts whose outcome is known (the ``try again``
  that made ovsdbapp retry, an ``unchanged`` or failed commit of an earlier
  transaction), then runs the providers' ``run`` and ``reconcile()``;
  its ``post_commit`` completes a ``success``.
* :class:`OvsdbappEngine` -- owns the :class:`~ovn_vif.Reconciler` and
  commits a :class:`ReconcileCommand` through ovsdbapp's own transaction
  queue (:meth:`~OvsdbappEngine.run_once`), completing every attempt exactly
  once in ovsdbapp's thread, whatever the transaction ended with: success,
  ``try again`` and its retries, ``unchanged``, ``error``, ``not locked``,
  an exception, a timeout. :meth:`~OvsdbappEngine.wait` sleeps until a
  watched table changes, a provider's :meth:`~ovn_vif.VifPlugProvider.wait_fds`
  is readable or its :meth:`~ovn_vif.VifPlugProvider.next_wakeup` is due;
  :meth:`~OvsdbappEngine.start` runs both in a thread.
* :class:`NotifyingIdl` -- an ovsdbapp ``OvsdbIdl`` that dispatches row
  events (as Neutron's IDLs do) and creates the engine's Southbound index.

Every provider hook runs in the thread of the local database's ovsdbapp
connection, under its lock; the Southbound IDL is read under its
connection's lock.

Install with ``pip install ovn-vif[ovsdbapp]``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
from ovsdbapp import exceptions as _ovsdbapp_exceptions
from ovsdbapp.backend.ovs_idl import command as _command
from ovsdbapp.backend.ovs_idl import connection as _connection
from ovsdbapp.backend.ovs_idl import event as _event
from ovsdbapp.backend.ovs_idl import transaction as _transaction

from ovn_vif._contract.registry import Registry
from ovn_vif._engine.columns import create_sb_indexes
from ovn_vif._engine.reconciler import COMMIT_FAILED, COMMIT_FINISHED, COMMIT_PENDING, Reconciler
from ovn_vif._engine.report import CompletionReport, Policy, ReconcileReport

__all__ = [
    "Attempt",
    "EngineRun",
    "NotifyingIdl",
    "OvsdbappEngine",
    "ReconcileCommand",
]

LOG = logging.getLogger(__name__)

#: Tables whose changes can change a decision (see ``register_*_columns``).
OVS_TABLES = ("Bridge", "Port", "Interface")
SB_TABLES = ("Chassis", "Port_Binding")

_UNCOMMITTED = "uncommitted"
_KNOWN = COMMIT_FINISHED | COMMIT_FAILED | {COMMIT_PENDING, _UNCOMMITTED}


def _status(txn: Any) -> str:
    """The status of an ``ovs.db.idl.Transaction``, without committing it.

    ``get_error()`` names the status, except after an ``error``, where it
    gives the server's details instead.
    """
    text = txn.get_error()
    return text if text in _KNOWN else "error"


@attrs.frozen
class Attempt:
    """One ``ovs.db.idl`` transaction the engine staged into, and how it ended."""

    #: What :meth:`~ovn_vif.Reconciler.reconcile` decided in it.
    report: ReconcileReport
    #: Its final status (``success``, ``unchanged``, ``try again``, ``error``,
    #: ``not locked`` or ``aborted``).
    status: str
    #: What :meth:`~ovn_vif.Reconciler.complete` told the providers.
    completion: CompletionReport


@attrs.frozen
class EngineRun:
    """What one :meth:`OvsdbappEngine.run_once` did."""

    #: Every attempt ovsdbapp made, in order (a ``try again`` is followed by
    #: its retry). Empty if the transaction never ran in time.
    attempts: tuple[Attempt, ...] = ()
    #: ovsdbapp gave up waiting (its timeout); attempts that run later are
    #: still completed, in ovsdbapp's thread.
    timed_out: bool = False

    @property
    def status(self) -> str | None:
        """The last attempt's status (``None`` without attempts)."""
        return self.attempts[-1].status if self.attempts else None

    @property
    def changed(self) -> bool:
        """Whether the last attempt staged a change that was committed."""
        return bool(self.attempts and self.attempts[-1].report.changed and self.status == "success")

    @property
    def failed(self) -> bool:
        """Whether the run ended without its writes in the database (an
        ``error``, ``not locked``, ``aborted``, ``try again`` at the
        timeout, or no attempt in time): worth retrying later."""
        return self.timed_out or self.status in COMMIT_FAILED


class NotifyingIdl(_connection.OvsdbIdl):  # type: ignore[misc]
    """An ovsdbapp IDL that dispatches row events through ``notify_handler``.

    Build it like ovsdbapp's (``NotifyingIdl.from_server(remote,
    "OVN_Southbound")``) and hand it to an ovsdbapp ``Connection``. The
    engine's Southbound index is created before the first ``run()`` when the
    schema has a ``Chassis`` table. Neutron's IDLs already dispatch row
    events; they need no change.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notify_handler = _event.RowEventHandler()
        if "Chassis" in self.tables:
            create_sb_indexes(self)

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        self.notify_handler.notify(event, row, updates)


class _WakeOnChange(_event.RowEvent):  # type: ignore[misc]
    """Wake *engine* on any change of *table*."""

    event_name = "ovn_vif_wake"

    def __init__(self, engine: OvsdbappEngine, table: str) -> None:
        super().__init__((self.ROW_CREATE, self.ROW_UPDATE, self.ROW_DELETE), table, None)
        self._engine = engine

    @property
    def key(self) -> Any:
        return (self.__class__, self.table, tuple(self.events), id(self._engine))

    def run(self, event: str, row: Any, old: Any) -> None:
        self._engine.wake()


def _row_events(api: Any) -> Any:
    handler = getattr(api.idl, "notify_handler", None)
    if handler is None or not hasattr(handler, "watch_event"):
        raise TypeError(
            f"{type(api.idl).__name__} does not dispatch row events "
            "(no ovsdbapp notify_handler): build it as "
            "ovn_vif.ovsdbapp.NotifyingIdl, or pass watch=False and call wake()"
        )
    return handler


class ReconcileCommand(_command.BaseCommand):  # type: ignore[misc]
    """An ovsdbapp command running one reconciliation of *engine*.

    Add it to a transaction of the local database's ovsdbapp API, or let
    :meth:`OvsdbappEngine.run_once` do so. Its :attr:`result` is the tuple
    of :class:`Attempt` completed so far for this command. In a transaction
    of your own, ovsdbapp gives ``post_commit`` only a ``success``: the
    other outcomes are completed when the engine's next command runs (or
    use :meth:`OvsdbappEngine.run_once`, which completes them at once).
    """

    def __init__(self, engine: OvsdbappEngine, *, can_unplug: bool) -> None:
        super().__init__(engine.ovs_api)
        self.engine = engine
        self.can_unplug = can_unplug
        self.result: tuple[Attempt, ...] = ()

    def run_idl(self, txn: Any) -> None:
        self.engine._run_idl(self, txn)

    def post_commit(self, txn: Any) -> None:
        self.engine._settle(final=False)

    def __str__(self) -> str:
        return f"ReconcileCommand(can_unplug={self.can_unplug})"

    __repr__ = __str__


class _SettlingTransaction(_transaction.Transaction):  # type: ignore[misc]
    """ovsdbapp's transaction; whatever ``do_commit`` ends with, the engine
    completes every attempt before the result leaves ovsdbapp's thread."""

    def __init__(self, engine: OvsdbappEngine, timeout: float | None) -> None:
        api = engine.ovs_api
        super().__init__(api, api.ovsdb_connection, timeout, check_error=True, log_errors=False)
        self._engine = engine

    def do_commit(self) -> Any:
        try:
            return super().do_commit()
        finally:
            self._engine._settle(final=True)


class OvsdbappEngine:
    """The plugging engine, driven through ovsdbapp connections.

    :param ovs_api: the ovsdbapp API of the local ``Open_vSwitch``
        database (e.g. ``ovsdbapp.schema.open_vswitch.impl_idl.OvsdbIdl``);
        its IDL monitors at least what
        :func:`~ovn_vif.register_ovs_columns` registers (ovsdbapp's
        ``from_server`` monitors everything).
    :param sb_api: the ovsdbapp API of the OVN Southbound database.
    :param registry: the providers (default:
        :data:`ovn_vif.default_registry`).
    :param chassis: this chassis' name (the ``system-id``).
    :param bridge: the integration bridge.
    :param policy: the decision rules (:class:`~ovn_vif.Policy`).
    :param watch: wake :meth:`wait` on changes of the engine's tables; the
        IDLs must dispatch row events through an ovsdbapp
        ``notify_handler`` (:class:`NotifyingIdl`, Neutron's IDLs).
    :raises TypeError: *watch* and an IDL without ``notify_handler``.
    """

    def __init__(
        self,
        ovs_api: Any,
        sb_api: Any,
        registry: Registry | None = None,
        *,
        chassis: str,
        bridge: str = "br-int",
        policy: Policy = Policy.RECOMMENDED,
        watch: bool = True,
    ) -> None:
        # Checked first: a TypeError leaves nothing open.
        handlers = (
            [(_row_events(ovs_api), OVS_TABLES), (_row_events(sb_api), SB_TABLES)] if watch else []
        )
        self.ovs_api = ovs_api
        self.sb_api = sb_api
        self.chassis = chassis
        self.bridge = bridge
        self._reconciler = Reconciler(registry, policy=policy)
        # Touched only in the ovsdbapp thread of ovs_api (under its lock).
        self._staged: list[tuple[Any, ReconcileReport, ReconcileCommand]] = []
        self._lock = threading.Lock()
        self._fds: tuple[int, ...] = ()
        self._next_wakeup: float | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._watched: list[tuple[Any, _WakeOnChange]] = []
        for handler, tables in handlers:
            for table in tables:
                ev = _WakeOnChange(self, table)
                handler.watch_event(ev)
                self._watched.append((handler, ev))

    @property
    def reconciler(self) -> Reconciler:
        """The engine (its :attr:`~ovn_vif.Reconciler.in_flight` lports...).
        Call its methods only from ovsdbapp's thread."""
        return self._reconciler

    @property
    def registry(self) -> Registry:
        """The providers plugged with."""
        return self._reconciler.registry

    def command(self, *, can_unplug: bool) -> ReconcileCommand:
        """A :class:`ReconcileCommand` for a transaction of your own."""
        return ReconcileCommand(self, can_unplug=can_unplug)

    # --- in ovsdbapp's thread ---------------------------------------------

    def _run_idl(self, command: ReconcileCommand, txn: Any) -> None:
        # ovsdbapp retries a "try again" with a new transaction: complete
        # the failed one first, so that its lports are decided again now.
        self._settle(final=False)
        providers_changed = self.registry.run_all()
        with self.sb_api.ovsdb_connection.lock:
            report = self._reconciler.reconcile(
                self.ovs_api.idl,
                self.sb_api.idl,
                txn,
                chassis=self.chassis,
                bridge=self.bridge,
                can_unplug=command.can_unplug,
                providers_changed=providers_changed,
            )
        self._staged.append((txn, report, command))
        self._collect_wakeups()

    def _settle(self, *, final: bool) -> None:
        """Complete each staged transaction whose outcome is known; with
        *final*, abort and complete the others too (ovsdbapp is done)."""
        keep = []
        for txn, report, command in self._staged:
            status = _status(txn)
            if status in (_UNCOMMITTED, COMMIT_PENDING):
                if not final:
                    keep.append((txn, report, command))
                    continue
                # Interrupted by an exception: nothing will finish it.
                txn.abort()
                status = "aborted"
            completion = self._reconciler.complete(status, txn=txn)
            command.result = (*command.result, Attempt(report, status, completion))
        self._staged = keep

    def _collect_wakeups(self) -> None:
        fds: list[int] = []
        wakeup: float | None = None
        for provider in self.registry.providers():
            try:
                fds.extend(provider.wait_fds())
                at = provider.next_wakeup()
            except Exception:
                LOG.exception("VIF plug provider %s raised in wait_fds/next_wakeup", provider.type)
                continue
            if at is not None and (wakeup is None or at < wakeup):
                wakeup = at
        with self._lock:
            self._fds = tuple(fds)
            self._next_wakeup = wakeup

    # --- in the caller's thread -------------------------------------------

    def run_once(self, *, can_unplug: bool, timeout: float | None = None) -> EngineRun:
        """Reconcile once, in ovsdbapp's thread, and complete every attempt.

        :param can_unplug: see :meth:`ovn_vif.Reconciler.reconcile`.
        :param timeout: ovsdbapp's transaction timeout (default: the
            connection's).
        :returns: the attempts and their outcomes. Commit failures are
            outcomes, not exceptions; an exception raised while
            reconciling propagates.
        """
        txn = _SettlingTransaction(self, timeout)
        command = txn.add(self.command(can_unplug=can_unplug))
        timed_out = False
        try:
            txn.commit()
        except _ovsdbapp_exceptions.TimeoutException:
            timed_out = True
        except RuntimeError:
            # ovsdbapp raises for "error" and "not locked", and when its
            # timeout expires between retries; the attempts say which.
            last = command.result[-1].status if command.result else None
            if last not in COMMIT_FAILED:
                raise
            timed_out = last == "try again"
        return EngineRun(attempts=command.result, timed_out=timed_out)

    def wake(self) -> None:
        """Make :meth:`wait` return (thread-safe)."""
        with contextlib.suppress(BlockingIOError):  # a wake-up is already pending
            os.write(self._wake_w, b"!")

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until a watched table changed, :meth:`wake` was called, a
        provider's file descriptor is readable or its wake-up time came.

        :returns: ``False`` if *timeout* (seconds) expired first.
        """
        with self._lock:
            fds = self._fds
            wakeup = self._next_wakeup
        due = False
        if wakeup is not None:
            left = max(0.0, wakeup - time.monotonic())
            if timeout is None or left <= timeout:
                timeout, due = left, True
        readable: list[int] = []
        if not due or timeout:
            readable, _, _ = select.select([self._wake_r, *fds], [], [], timeout)
        self._drain()
        return bool(readable) or due

    def _drain(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def start(
        self,
        *,
        can_unplug: bool | Callable[[], bool] = True,
        retry_interval: float = 1.0,
        timeout: float | None = None,
    ) -> None:
        """Run :meth:`run_once` and :meth:`wait` in a daemon thread until
        :meth:`stop`.

        :param can_unplug: a bool, or a callable asked before each run.
        :param retry_interval: seconds before a failed run is retried when
            nothing else wakes the engine.
        """
        if self._thread is not None:
            raise RuntimeError("the engine is already running")
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._serve,
            args=(can_unplug, retry_interval, timeout),
            name="ovn-vif-engine",
            daemon=True,
        )
        self._thread.start()

    def _serve(
        self, can_unplug: bool | Callable[[], bool], retry_interval: float, timeout: float | None
    ) -> None:
        while not self._stopping.is_set():
            allowed = can_unplug() if callable(can_unplug) else can_unplug
            try:
                run = self.run_once(can_unplug=allowed, timeout=timeout)
            except Exception:
                LOG.exception("VIF plug engine run failed; retrying in %.1f s", retry_interval)
                self.wait(retry_interval)
                continue
            if self._stopping.is_set():
                break
            self.wait(retry_interval if run.failed else None)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread :meth:`start` started (waits for its current run)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self.wake()
        thread.join(timeout)

    def close(self) -> None:
        """:meth:`stop`, stop watching the tables and close the wake-up pipe."""
        self.stop()
        for handler, ev in self._watched:
            handler.unwatch_event(ev)
        self._watched.clear()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> OvsdbappEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
