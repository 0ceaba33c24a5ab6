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
  fresh connection.

Each audit's outcome goes to the agent's observers (``status``, metrics).
This module holds the checks and their bookkeeping; the agent's loop
decides when to call them and carries out the recovery.
"""

from __future__ import annotations

import errno
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import ovs.jsonrpc
import ovs.poller
import ovs.stream

from ovn_vif._contract.logsafe import log_safe
from ovn_vif.agent import _tls

LOG = logging.getLogger(__name__)

#: Default seconds between two audits (``--audit-interval``).
DEFAULT_INTERVAL = 60.0
#: Seconds between a difference and the second look that confirms it.
DEFAULT_CONFIRM = 2.0
#: How long one ``select`` may take before the audit gives up on it.
QUERY_TIMEOUT = 10.0
#: Lports named in one log line at most (the rest are counted).
_NAMED = 10

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
    for row in sb_idl.tables["Port_Binding"].rows.values():
        requested = getattr(row, "requested_chassis", [])
        if any(getattr(r, "uuid", None) == chassis_uuid for r in requested or ()):
            rows[row.uuid] = (str(row.logical_port), dict(row.options))
        # A dangling reference reads as an empty list: not requested here.
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
            self._fail(_tls.last_failure(member) or _strerror(err))

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
            self._next = now + min(self.interval, 10.0)
            result = AuditResult(
                time=time.time(), member=query.member, outcome="failed", error=query.error
            )
        else:
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
