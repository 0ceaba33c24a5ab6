"""The agent's self-audit: what it believes, checked against the server.

A plugging agent that stops converging while it reports that all is well
is the worst failure it can have: a port is simply never plugged, and
nothing tells the operator. The agent therefore does not take its own
view on trust. After every (re)connection to the Southbound database, and
then every ``audit_interval`` seconds, it checks three things:

* **The Southbound view.** The ``Port_Binding`` rows requesting this chassis
  in the agent's copy (their UUID, ``logical_port`` and ``options``) are
  compared with what the member it is connected to answers to a direct
  ``select``, asked on a short connection of its own (never on the
  monitored one: python-ovs takes any unclaimed reply there for a
  condition-change acknowledgement). The two are read at slightly
  different moments, so a difference must be seen again ``confirm``
  seconds later, on the same rows, before it counts. A confirmed
  difference is a divergence: an ERROR saying what differs, and a fresh
  Southbound connection that reloads everything, followed by a full run.
* **The engine.** At the same moments the next run decides for every lport
  (as after ``ovn-vif appctl recompute``). The incremental runs should
  have left it nothing to do: if it plugs, unplugs, updates or replaces a
  port, the agent logs an ERROR naming the lports (the full run has
  already repaired them).
* **Condition changes.** A Southbound monitor condition that stays
  unacknowledged on a live connection for longer than the audit interval
  (30 s at most) means the exchange was lost somewhere: an ERROR, and a
  fresh connection. A server too busy to answer in time looks the same,
  and a fresh connection adds to its load, so each such reload doubles the
  wait before the next one (up to ten minutes), with up to a quarter
  more at random so that many chassis do not reload together; an
  acknowledged change brings it back to the interval.

Each audit's outcome goes to the agent's observers (``status``, metrics).
This module holds the checks, their bookkeeping and :class:`SelfAudit`,
which the agent's loop asks at fixed points whether a check is due; the
loop carries out the recovery it asks for.
"""

from __future__ import annotations

import errno
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream

from ovn_vif._contract.logsafe import log_safe
from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._engine.report import Outcome, ReconcileReport
from ovn_vif._engine.rows import read_binding
from ovn_vif._ovs_private import (
    conditions_pending,
    force_full_resync,
    session_name,
    table_rows,
)
from ovn_vif.agent import _resolve, _tls
from ovn_vif.agent._conditions import MONITORED, chassis_row
from ovn_vif.agent._connections import idl_connected

LOG = logging.getLogger(__name__)

#: Seconds between a difference and the second look that confirms it.
DEFAULT_CONFIRM = 2.0
#: How long one ``select`` may take before the audit gives up on it.
QUERY_TIMEOUT = 10.0
#: After a reload that did not cure a divergence, seconds before the next
#: one (doubling up to the maximum while the divergence stays).
RELOAD_BACKOFF_MIN = 30.0
RELOAD_BACKOFF_MAX = 600.0
#: The longest a condition change may stay unacknowledged before a reload,
#: however many reloads came before (see "Condition changes" above).
CONDITION_BOUND_MAX = 600.0
#: Lports named in one log line at most (the rest are counted).
_NAMED = 10
# What a run does to a port (as opposed to leaving it as it is).
_CHANGES = frozenset({Outcome.PLUGGED, Outcome.UNPLUGGED, Outcome.UPDATED, Outcome.REPLACED})

#: What the audit compares for each Port_Binding: (logical_port, options).
Rows = Mapping[uuid.UUID, tuple[str, Mapping[str, str]]]


@attrs.frozen
class Divergence:
    """How the agent's Southbound view differs from the server's."""

    #: Lports requesting this chassis on the server, absent from the view.
    missing: tuple[str, ...] = ()
    #: Lports in the view (requesting this chassis) the server does not have so.
    extra: tuple[str, ...] = ()
    #: Lports whose options differ.
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.changed)

    def __and__(self, other: Divergence) -> Divergence:
        """What both differences have in common (a confirmed difference)."""
        return Divergence(
            missing=tuple(x for x in self.missing if x in other.missing),
            extra=tuple(x for x in self.extra if x in other.extra),
            changed=tuple(x for x in self.changed if x in other.changed),
        )

    def describe(self) -> str:
        parts = []
        for label, names in (
            ("missing from the agent's view", self.missing),
            ("in the agent's view but not on the server", self.extra),
            ("with other options in the agent's view", self.changed),
        ):
            if names:
                shown = ", ".join(log_safe(n) for n in names[:_NAMED])
                more = f" and {len(names) - _NAMED} more" if len(names) > _NAMED else ""
                parts.append(f"{len(names)} {label} ({shown}{more})")
        return "; ".join(parts) or "no difference"

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "missing": list(self.missing),
            "extra": list(self.extra),
            "changed": list(self.changed),
        }


def compare(view: Rows, server: Rows) -> Divergence:
    """The difference between the agent's *view* and the *server*'s rows."""
    missing = sorted(server[u][0] for u in server.keys() - view.keys())
    extra = sorted(view[u][0] for u in view.keys() - server.keys())
    changed = sorted(
        server[u][0] for u in server.keys() & view.keys() if dict(server[u][1]) != dict(view[u][1])
    )
    return Divergence(tuple(missing), tuple(extra), tuple(changed))


def view_rows(sb_idl: Any, chassis_uuid: uuid.UUID) -> dict[uuid.UUID, tuple[str, dict[str, str]]]:
    """The Port_Bindings requesting *chassis_uuid* in *sb_idl*'s copy."""
    rows: dict[uuid.UUID, tuple[str, dict[str, str]]] = {}
    chassis = table_rows(sb_idl, "Chassis")
    for row in sb_idl.tables["Port_Binding"].rows.values():
        # Read as the engine reads it (without unpacking a packed row); a
        # dangling reference is not a request for this chassis.
        binding = read_binding(row, chassis)
        if binding.requested_chassis == chassis_uuid:
            rows[row.uuid] = (binding.logical_port, dict(binding.options))
    return rows


def _parse_rows(result: Any) -> dict[uuid.UUID, tuple[str, dict[str, str]]]:
    """The rows of a ``select``'s reply; :class:`ValueError` if it is not one."""
    if not isinstance(result, list) or not result or not isinstance(result[0], dict):
        raise ValueError(f"unexpected reply {str(result)[:200]}")
    first = result[0]
    if "error" in first:
        raise ValueError(f"{first.get('error')}: {first.get('details', '')}")
    rows: dict[uuid.UUID, tuple[str, dict[str, str]]] = {}
    for row in first.get("rows", ()):
        kind, value = row["_uuid"]
        if kind != "uuid":
            raise ValueError(f"bad _uuid {row['_uuid']!r}")
        options = row.get("options", ["map", []])
        if options[0] != "map":
            raise ValueError(f"bad options {options!r}")
        rows[uuid.UUID(value)] = (str(row["logical_port"]), {str(k): str(v) for k, v in options[1]})
    return rows


class Select:
    """One ``select`` of this chassis's Port_Bindings, on a connection of its own.

    Non-blocking: :meth:`run` advances it and returns whether it finished;
    then :attr:`rows` or :attr:`error` holds the answer. :meth:`wait`
    registers what it waits for with a poller.
    """

    def __init__(self, member: str, chassis_uuid: uuid.UUID, timeout: float = QUERY_TIMEOUT):
        self.member = member
        self.deadline = time.monotonic() + timeout
        self.rows: dict[uuid.UUID, tuple[str, dict[str, str]]] | None = None
        self.error: str | None = None
        self._conn: Any = None
        self._request: Any = None
        self._params = [
            "OVN_Southbound",
            {
                "op": "select",
                "table": "Port_Binding",
                "where": [["requested_chassis", "==", ["uuid", str(chassis_uuid)]]],
                "columns": ["_uuid", "logical_port", "options"],
            },
        ]
        err, self._stream = ovs.stream.Stream.open(member)
        if err:
            self._fail(_resolve.last_failure(member) or _tls.last_failure(member) or _strerror(err))

    @property
    def done(self) -> bool:
        return self.rows is not None or self.error is not None

    def _fail(self, reason: str) -> None:
        self.error = reason
        self.close()

    def run(self) -> bool:
        if self.done:
            return True
        if time.monotonic() >= self.deadline:
            self._fail("no answer in time")
            return True
        if self._conn is None:
            err = self._stream.connect()
            if err == errno.EAGAIN:
                return False
            if err:
                self._fail(_tls.last_failure(self.member) or _strerror(err))
                return True
            self._conn = ovs.jsonrpc.Connection(self._stream)
            self._request = ovs.jsonrpc.Message.create_request("transact", self._params)
            err = self._conn.send(self._request)
            if err:
                self._fail(_strerror(err))
                return True
        self._conn.run()
        while True:
            err, msg = self._conn.recv()
            if err == errno.EAGAIN:
                return False
            if err:
                self._fail(_strerror(err) if err > 0 else "connection closed")
                return True
            if msg.id != self._request.id:
                continue
            if msg.type == ovs.jsonrpc.Message.T_ERROR:
                self._fail(f"server answered {msg.error!r}")
                return True
            try:
                self.rows = _parse_rows(msg.result)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                self._fail(f"cannot read the answer: {exc}")
                return True
            self.close()
            return True

    def wait(self, poller: Any) -> None:
        if self.done:
            poller.immediate_wake()
            return
        if self._conn is None:
            self._stream.run_wait(poller)
            self._stream.connect_wait(poller)
        else:
            self._conn.wait(poller)
            self._conn.recv_wait(poller)
        poller.timer_wait(max(0.0, (self.deadline - time.monotonic()) * 1000.0))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        elif self._stream is not None:
            self._stream.close()
        self._stream = None


def _strerror(err: int) -> str:
    import os

    try:
        return os.strerror(err)
    except ValueError:
        return f"error {err}"


@attrs.frozen(kw_only=True)
class AuditResult:
    """The outcome of one audit (for ``status`` and the metrics)."""

    #: ``time.time()`` when it finished.
    time: float
    #: The member asked.
    member: str
    #: ``"ok"``, ``"diverged"``, ``"unconfirmed"`` (a difference not seen
    #: again) or ``"failed"`` (the server could not be asked).
    outcome: str
    #: Port_Bindings requesting this chassis on the server.
    rows: int = 0
    divergence: Divergence = Divergence()
    error: str | None = None
    #: For ``"failed"``: how many audits in a row could not ask the server
    #: (the first is often a connection going down under the audit).
    failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "member": self.member,
            "outcome": self.outcome,
            "rows": self.rows,
            "differences": self.divergence.as_dict(),
            "error": self.error,
        }

    def describe(self) -> str:
        if self.outcome == "failed":
            return f"could not ask {log_safe(self.member)}: {log_safe(self.error)}"
        if self.outcome == "ok":
            return f"{self.rows} Port_Binding(s) requesting this chassis, as in the agent's view"
        return f"{self.outcome}: {self.divergence.describe()}"


class SouthboundAudit:
    """When to audit, the query in flight and the difference awaiting confirmation."""

    def __init__(self, interval: float, confirm: float = DEFAULT_CONFIRM) -> None:
        #: Seconds between audits; 0 or less disables them.
        self.interval = interval
        self.confirm = confirm
        self._next: float | None = None
        self._query: Select | None = None
        self._suspect: Divergence | None = None
        self._failures = 0
        #: The latest finished audit.
        self.last: AuditResult | None = None

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    def soon(self) -> None:
        """Audit as soon as possible (after a (re)connection), forgetting any suspicion."""
        if not self.enabled:
            return
        self.cancel()
        self._suspect = None
        self._failures = 0
        self._next = time.monotonic()

    def cancel(self) -> None:
        """Drop the query in flight (the connection it checks went away)."""
        if self._query is not None:
            self._query.close()
            self._query = None

    def due(self, now: float) -> bool:
        return self.enabled and self._query is None and self._next is not None and now >= self._next

    def start(self, member: str, chassis_uuid: uuid.UUID) -> None:
        self._query = Select(member, chassis_uuid)

    @property
    def querying(self) -> bool:
        return self._query is not None

    def run(self, view: Callable[[], Rows]) -> AuditResult | None:
        """Advance the query in flight; when it finished, compare with *view*
        (called then) and return the result."""
        query = self._query
        if query is None or not query.run():
            return None
        self._query = None
        now = time.monotonic()
        if query.rows is None:
            self._failures += 1
            # The first failure is asked again soon: it is often the
            # connection going down under the audit, which the reconnection
            # then reports; later ones at the usual pace (10 s at most).
            retry = self.confirm if self._failures == 1 else min(self.interval, 10.0)
            self._next = now + retry
            result = AuditResult(
                time=time.time(),
                member=query.member,
                outcome="failed",
                error=query.error,
                failures=self._failures,
            )
        else:
            self._failures = 0
            found = compare(view(), query.rows)
            if not found:
                self._suspect = None
                outcome, divergence = "ok", Divergence()
                self._next = now + self.interval
            elif self._suspect is None:
                # Maybe an update on its way: look again shortly.
                self._suspect = found
                outcome, divergence = "unconfirmed", found
                self._next = now + self.confirm
            else:
                divergence = found & self._suspect
                self._suspect = None
                outcome = "diverged" if divergence else "unconfirmed"
                if not divergence:
                    divergence = found
                self._next = now + (self.interval if outcome == "diverged" else self.confirm)
                if outcome == "unconfirmed":
                    self._suspect = found
            result = AuditResult(
                time=time.time(),
                member=query.member,
                outcome=outcome,
                rows=len(query.rows),
                divergence=divergence,
            )
        self.last = result
        return result

    def wait(self, poller: Any) -> None:
        if self._query is not None:
            self._query.wait(poller)

    def next_wakeup(self) -> float | None:
        return None if self._query is not None else self._next

    def close(self) -> None:
        self.cancel()


class SelfAudit:
    """When the agent checks itself, what it found, and the recovery it asks for.

    The loop asks it at fixed points: :meth:`run` once an iteration has
    read the databases, :meth:`take_engine_check` and :meth:`check_engine`
    around each reconcile, :meth:`wakeups` and :meth:`wait` before blocking,
    :meth:`after_reconnection` and :meth:`cancel` as the Southbound
    connection comes and goes. The loop carries out the recovery through
    callbacks:

    :param interval: seconds between audits; 0 or less disables them.
    :param rl: the agent's (rate-limited) logger: the self-audit's lines
        are the agent's, under its logger.
    :param reload: the Southbound IDL was made to reload every row: the
        loop forgets the conditions it sent and decides for every lport.
    :param decide_all: the next run must be a full one (the engine check).
    :param audited: a Southbound audit finished (for the observers and the
        status file).
    """

    def __init__(
        self,
        interval: float,
        rl: RateLimitedLogger,
        *,
        reload: Callable[[], None],
        decide_all: Callable[[], None],
        audited: Callable[[AuditResult], None],
    ) -> None:
        #: The Southbound check.
        self.southbound = SouthboundAudit(interval)
        self._rl = rl
        self._reload = reload
        self._decide_all = decide_all
        self._audited = audited
        # Whether the next full run is the engine check (what the databases
        # looked like when it was armed), when to arm it, and since when a
        # condition change is unacknowledged.
        self._engine_check: object | None = None
        self._engine_check_at: float | None = None
        self._cond_pending_since: float | None = None
        # How long a condition change may stay unacknowledged; doubled by
        # each reload it causes, reset by an acknowledgement.
        self._cond_wait = self._cond_bound()
        # A reload that does not cure a divergence is not repeated at once:
        # the next one waits, twice as long each time (up to RELOAD_BACKOFF_MAX),
        # until a check finds the view whole again.
        self._reload_backoff = 0.0
        self._reload_not_before = 0.0
        #: Divergences found since start, by check (``southbound``,
        #: ``engine``, ``conditions``).
        self.divergences: dict[str, int] = {"southbound": 0, "engine": 0, "conditions": 0}
        #: The latest engine check: (``time.time()``, lports it had to change).
        self.last_engine_check: tuple[float, tuple[str, ...]] | None = None

    @property
    def last(self) -> AuditResult | None:
        """The latest Southbound audit, if one finished."""
        return self.southbound.last

    def check_now(self) -> None:
        """Every check at the next iteration (``ovn-vif appctl audit``)."""
        self.southbound.soon()
        self._engine_check_at = time.monotonic()

    def after_reconnection(self) -> None:
        """The databases are in sync after a (re)connection: check the new view."""
        self.southbound.soon()

    def cancel(self) -> None:
        """A database is (re)connecting: drop the query in flight."""
        self.southbound.cancel()

    def _cond_bound(self) -> float:
        return max(1.0, min(30.0, self.southbound.interval))

    def wakeups(self) -> list[float | None]:
        """When (``time.monotonic()``) the loop must wake up for a check.

        Only times still to come: a check already due waits for what it
        needs (the databases in sync, the loop idle), and whatever brings
        that about wakes the loop anyway; a past time here would make the
        loop spin until then (during a whole Southbound outage, say).
        """
        if not self.southbound.enabled:
            return []
        cond = self._cond_pending_since
        now = time.monotonic()
        times = [
            self.southbound.next_wakeup(),
            self._engine_check_at,
            None if cond is None else cond + self._cond_wait,
        ]
        return [t for t in times if t is not None and t > now]

    def wait(self, poller: Any) -> None:
        self.southbound.wait(poller)

    def run(
        self,
        sb_idl: Any,
        chassis: str,
        *,
        synced: bool,
        quiet: Callable[[], bool],
        observed: Callable[[], object],
    ) -> None:
        """Check the Southbound view, the engine and the condition changes when due.

        *synced* is the loop's unplug gate; *quiet* whether the loop is idle
        with no retry pending; *observed* what the databases look like now
        (as the loop compares them between runs).
        """
        audit = self.southbound
        if not audit.enabled or sb_idl is None:
            return
        now = time.monotonic()
        self._check_conditions(sb_idl, now)
        if not synced:
            return
        row = chassis_row(sb_idl, chassis)
        if row is None:
            return
        if audit.due(now):
            member = session_name(sb_idl)
            if member:
                audit.start(member, row.uuid)
                if self._engine_check_at is None:
                    self._engine_check_at = now
        if audit.querying:
            result = audit.run(lambda: view_rows(sb_idl, row.uuid))
            if result is not None:
                self._report(sb_idl, result)
        at = self._engine_check_at
        # Not while a retry is pending: the full run would retry early.
        if at is not None and now >= at and quiet():
            # The loop is idle: everything seen has been decided. The next
            # run is a full one; if the databases are still as they are
            # now, it must find nothing to do.
            self._engine_check_at = None
            self._engine_check = observed()
            self._decide_all()

    def _report(self, sb_idl: Any, result: AuditResult) -> None:
        log = self._rl.logger
        if result.outcome == "diverged":
            self.divergences["southbound"] += 1
            now = time.monotonic()
            if now < self._reload_not_before:
                self._rl.log(
                    logging.ERROR,
                    ("audit-diverged", result.member),
                    "self-audit: the Southbound view still differs from what %s answers after "
                    "a reload: %s; reloading again in %.0f s",
                    log_safe(result.member),
                    result.divergence.describe(),
                    self._reload_not_before - now,
                )
            else:
                log.error(
                    "self-audit: the Southbound view differs from what %s answers: %s; "
                    "reloading the Southbound database and deciding for every lport",
                    log_safe(result.member),
                    result.divergence.describe(),
                )
                self._reload_backoff = min(
                    RELOAD_BACKOFF_MAX, max(RELOAD_BACKOFF_MIN, self._reload_backoff * 2)
                )
                self._reload_not_before = now + self._reload_backoff
                self._resync(sb_idl)
        elif result.outcome == "failed" and result.failures < 2:
            log.debug("self-audit: %s; asking again shortly", result.describe())
        elif result.outcome == "failed":
            self._rl.warning(
                ("audit-failed", result.member),
                "self-audit: %s",
                result.describe(),
            )
        elif result.outcome == "ok":
            self._reload_backoff = 0.0
            self._reload_not_before = 0.0
            log.debug("self-audit via %s: %s", log_safe(result.member), result.describe())
        elif result.outcome == "unconfirmed":
            log.debug("self-audit: %s; looking again", result.divergence.describe())
        else:
            log.debug("self-audit via %s: %s", log_safe(result.member), result.describe())
        self._audited(result)

    def _check_conditions(self, sb_idl: Any, now: float) -> None:
        stuck = (
            idl_connected(sb_idl)
            and sb_idl.state == ovs.db.idl.Idl.IDL_S_MONITORING
            and conditions_pending(sb_idl, MONITORED)
        )
        if not stuck:
            if self._cond_pending_since is not None and idl_connected(sb_idl):
                # Acknowledged on the same connection: the server answers.
                self._cond_wait = self._cond_bound()
            self._cond_pending_since = None
            return
        if self._cond_pending_since is None:
            self._cond_pending_since = now
            return
        waited = now - self._cond_pending_since
        if waited < self._cond_wait:
            return
        self.divergences["conditions"] += 1
        longest = max(CONDITION_BOUND_MAX, self._cond_bound())
        self._cond_wait = min(longest, self._cond_wait * 2) * (1.0 + random.random() / 4)
        self._rl.logger.error(
            "self-audit: a Southbound monitor condition change has not been acknowledged by "
            "%s for %.0f s; reloading the Southbound database (the next reload for this "
            "waits %.0f s)",
            log_safe(session_name(sb_idl) or "the server"),
            waited,
            self._cond_wait,
        )
        self._resync(sb_idl)

    def take_engine_check(self, observed: object) -> bool:
        """Whether the run about to start is the engine check (the databases
        are as they were when it was armed); disarms it either way."""
        armed, self._engine_check = self._engine_check, None
        return armed is not None and armed == observed

    def check_engine(self, report: ReconcileReport) -> None:
        """The engine check's full run ended with *report*: it must have changed nothing."""
        changed = tuple(sorted(d.lport for d in report if d.outcome in _CHANGES))
        self.last_engine_check = (time.time(), changed)
        log = self._rl.logger
        if not changed:
            log.debug("self-audit: a full run found every lport as the incremental runs left it")
            return
        self.divergences["engine"] += 1
        shown = ", ".join(log_safe(x) for x in changed[:_NAMED])
        more = f" and {len(changed) - _NAMED} more" if len(changed) > _NAMED else ""
        log.error(
            "self-audit: a full run had to change %d lport(s) the incremental runs had left "
            "as they were (%s%s): an engine bug, or a provider whose answers changed without "
            "its run() reporting it; repaired by this run",
            len(changed),
            shown,
            more,
        )

    def _resync(self, sb_idl: Any) -> None:
        """A fresh Southbound connection that reloads every row, then a full run."""
        force_full_resync(sb_idl)
        self.southbound.cancel()
        self._cond_pending_since = None
        self._reload()

    def close(self) -> None:
        self.southbound.close()
