"""What the running agent is doing: its status and counters, for the control socket.

:class:`LoopStatus` is an :class:`~ovn_vif.agent._observers.Observer`: it
counts what the loop does (``coverage/show``) and keeps the latest decision
about each lport with its commit outcome (``status``). It only reads the
agent and the engine's reports; it never changes anything.
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any

from ovn_vif._contract.logsafe import log_safe
from ovn_vif._engine.compatible import COMPATIBLE_WITH
from ovn_vif._engine.rows import column
from ovn_vif._ovs_private import session_name
from ovn_vif.agent import _tls
from ovn_vif.agent._connections import idl_connected, idl_synced
from ovn_vif.agent._observers import Observer

if TYPE_CHECKING:
    from ovn_vif._engine.report import Decision, ReconcileReport
    from ovn_vif.agent._audit import AuditResult
    from ovn_vif.agent._loop import Agent

#: Lports whose latest decision is kept (the oldest are forgotten first).
MAX_LPORTS = 10_000
#: How long the decision of an lport that left the Southbound view (deleted,
#: or no longer requesting this chassis) stays in the status (seconds).
FORGET_AFTER = 600.0
#: How often the status looks for such lports (seconds).
SWEEP_EVERY = 60.0


def lports_in_view(sb_idl: Any) -> set[str] | None:
    """The ``logical_port`` of every Port_Binding the agent sees, or ``None``."""
    table = getattr(sb_idl, "tables", {}).get("Port_Binding")
    if table is None:
        return None
    # Read as the engine reads it: an attribute read would unpack a packed row.
    return {str(column(row, "logical_port", "")) for row in table.rows.values()}


def _stamp(wall: float | None) -> str | None:
    if wall is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall % 1 * 1000):03d}Z"


def printable(text: object) -> str:
    """*text* escaped and bounded (:func:`log_safe`): DB-sourced names cannot forge lines."""
    return log_safe(text)


def audit_status(agent: Agent) -> dict[str, Any]:
    """What the self-audit found so far, as plain data (``status --json``)."""
    last = agent.last_audit
    engine = agent.last_engine_check
    return {
        "interval": agent.config.audit_interval,
        "divergences": dict(agent.divergences),
        "last": None if last is None else {**last.as_dict(), "time": _stamp(last.time)},
        "last_engine_check": None
        if engine is None
        else {"time": _stamp(engine[0]), "changed": list(engine[1])},
    }


def audit_lines(audit: dict[str, Any]) -> list[str]:
    """The self-audit in the text status."""
    if audit["interval"] <= 0:
        return ["self-audit: disabled"]
    found = audit["divergences"]
    total = sum(found.values())
    counts = ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
    lines = [f"self-audit: every {audit['interval']:g} s; divergences found: {total} ({counts})"]
    last = audit["last"]
    if last is None:
        lines.append("  last Southbound check: none yet")
    else:
        d = last["differences"]
        if last["outcome"] == "failed":
            what = f"could not ask: {printable(last['error'])}"
        elif last["outcome"] == "ok":
            what = f"ok, {last['rows']} Port_Binding(s) requesting this chassis"
        else:
            what = (
                f"{last['outcome']}: {len(d['missing'])} missing, {len(d['extra'])} extra, "
                f"{len(d['changed'])} changed"
            )
        via = printable(last["member"])
        lines.append(f"  last Southbound check: {last['time']} via {via}: {what}")
    engine = audit["last_engine_check"]
    if engine is not None:
        changed = engine["changed"]
        what = "nothing to change" if not changed else f"had to change {len(changed)} lport(s)"
        lines.append(f"  last engine check: {engine['time']}: {what}")
    return lines


class LoopStatus(Observer):
    """Counters and the latest decision per lport, fed by the agent's loop."""

    def __init__(
        self, *, forget_after: float = FORGET_AFTER, sweep_every: float = SWEEP_EVERY
    ) -> None:
        self.forget_after = forget_after
        self.sweep_every = sweep_every
        self._next_sweep = time.monotonic() + sweep_every
        self.started = time.time()
        self.counters: collections.Counter[str] = collections.Counter()
        self.last_reconcile: dict[str, Any] | None = None
        self.last_commit: dict[str, Any] | None = None
        #: Per lport, its latest decision, that commit's status and when
        #: (kept as they came: a dict per lport would be twice the size).
        self.lports: collections.OrderedDict[str, tuple[Decision, str, float]] = (
            collections.OrderedDict()
        )

    # -- observer hooks ------------------------------------------------------

    def iteration(self, agent: Agent) -> None:
        self.counters["loop_iterations"] += 1
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_every
            self.forget_gone(agent)

    def next_wakeup(self) -> float | None:
        return self._next_sweep if self.lports else None

    def forget_gone(self, agent: Agent) -> None:
        """Drop the entries of lports gone from the Southbound view for a while."""
        if not agent.synced:
            return  # a partial view would make every lport look gone
        known = lports_in_view(agent.sb_idl)
        if known is None:
            return
        cutoff = time.time() - self.forget_after
        for lport in [n for n, e in self.lports.items() if n not in known and e[2] < cutoff]:
            del self.lports[lport]

    def reconciled(self, agent: Agent, report: ReconcileReport, seconds: float) -> None:
        self.counters["reconciles"] += 1
        self.last_reconcile = {
            "time": time.time(),
            "seconds": seconds,
            "decisions": len(report),
            "changed": report.changed,
            "skipped": report.skipped,
        }
        if report.skipped is not None:
            self.counters["reconciles_skipped"] += 1

    def committed(self, agent: Agent, report: ReconcileReport, status: str, seconds: float) -> None:
        now = time.time()
        key = status.replace(" ", "_")
        self.counters[f"commit_{key}"] += 1
        if report.changed:
            self.last_commit = {"time": now, "seconds": seconds, "status": status}
        for d in report:
            self.counters[f"lport_{d.outcome.value}"] += 1
            if d.reason is not None:
                self.counters[f"lport_{d.outcome.value}_{d.reason.value}"] += 1
            self._remember(d, status, now)

    def audited(self, agent: Agent, result: AuditResult) -> None:
        self.counters["audits"] += 1
        self.counters[f"audit_{result.outcome}"] += 1

    def _remember(self, d: Decision, status: str, now: float) -> None:
        self.lports.pop(d.lport, None)
        self.lports[d.lport] = (d, status, now)
        while len(self.lports) > MAX_LPORTS:
            self.lports.popitem(last=False)

    @staticmethod
    def entry(remembered: tuple[Decision, str, float]) -> dict[str, Any]:
        """One lport's entry in the status (``time`` as seconds since the epoch)."""
        d, status, when = remembered
        return {
            "lport": d.lport,
            "outcome": d.outcome.value,
            "plug_type": d.plug_type,
            "port": d.port,
            "reason": None if d.reason is None else d.reason.value,
            # A provider's own words for a decline or a veto, if it gave any.
            "provider_reason": getattr(d, "provider_reason", None),
            "detail": d.detail,
            "commit": status,
            "time": when,
        }

    # -- views ---------------------------------------------------------------

    def snapshot(self, agent: Agent) -> dict[str, Any]:
        """The status as plain data (``status --json``)."""
        settings = agent.settings
        connections = {}
        for name, idl, remote in (
            ("local", agent.ovs_idl, agent.config.ovs_remote),
            ("southbound", agent.sb_idl, settings.ovn_remote),
        ):
            connections[name] = {
                "remote": remote,
                "member": session_name(idl),
                "connected": idl_connected(idl),
                "in_sync": idl_synced(idl),
                "tls_failures": _tls.failures(remote or ""),
                "tls_failure_age_s": _tls.failure_ages(remote or ""),
            }
        reconciler = agent.reconciler
        in_flight = sorted(reconciler.in_flight_lports)
        try:
            ovs_view, _ = reconciler.snapshot(
                agent.ovs_idl, agent.sb_idl, chassis=settings.chassis, bridge=settings.bridge
            )
            plugged = sorted(ovs_view.plugged_lports)
        except Exception:
            plugged = []

        def stamped(entry: dict[str, Any] | None) -> dict[str, Any] | None:
            return None if entry is None else {**entry, "time": _stamp(entry["time"])}

        return {
            "chassis": settings.chassis,
            "bridge": settings.bridge,
            "providers": list(agent.registry.types()),
            "policy": agent.config.policy.value,
            "compatible_with": COMPATIBLE_WITH,
            "started": _stamp(self.started),
            "connections": connections,
            "unplugging_enabled": agent.synced,
            "transaction_in_flight": agent.in_flight,
            "in_flight_lports": in_flight,
            "last_reconcile": stamped(self.last_reconcile),
            "last_commit": stamped(self.last_commit),
            "plugged": plugged,
            "self_audit": audit_status(agent),
            "lports": [stamped(self.entry(e)) for e in self.lports.values()],
        }

    def text(self, agent: Agent) -> str:
        """The status for people (``status``)."""
        s = self.snapshot(agent)
        p = printable
        lines = [
            f"chassis: {p(s['chassis'])}   bridge: {p(s['bridge'])}   "
            f"policy: {s['policy']}   providers: {', '.join(s['providers'])}",
            f"compatible policy follows: {s['compatible_with']}",
            f"running since: {s['started']}",
        ]
        for name, label in (("local", "local database"), ("southbound", "Southbound")):
            c = s["connections"][name]
            state = "connected" if c["connected"] else "NOT connected"
            if c["connected"]:
                state += ", in sync" if c["in_sync"] else ", syncing"
            via = c["member"]
            member = f" (via {p(via)})" if via and via != c["remote"] else ""
            lines.append(f"{label}: {p(c['remote'])}{member}: {state}")
            ages = c.get("tls_failure_age_s") or {}
            for member_name, reason in c["tls_failures"].items():
                age = ages.get(member_name)
                when = "" if age is None else f" ({_age(age)} ago)"
                lines.append(f"  last TLS failure on {p(member_name)}{when}: {p(reason)}")
        lines.append(
            "unplugging: "
            + ("enabled" if s["unplugging_enabled"] else "paused until both databases are in sync")
        )
        if s["transaction_in_flight"]:
            lports = ", ".join(p(x) for x in s["in_flight_lports"]) or "-"
            lines.append(f"transaction in flight: yes (lports: {lports})")
        else:
            lines.append("transaction in flight: no")
        r = s["last_reconcile"]
        if r is None:
            lines.append("last reconcile: none yet")
        else:
            extra = f", skipped: {p(r['skipped'])}" if r["skipped"] else ""
            lines.append(
                f"last reconcile: {r['time']}, {r['seconds'] * 1000:.1f} ms, "
                f"{r['decisions']} decision(s){extra}"
            )
        c = s["last_commit"]
        if c is not None:
            lines.append(
                f"last commit with changes: {c['time']}, {c['status']} after "
                f"{c['seconds'] * 1000:.1f} ms"
            )
        lines.append(f"plugged here: {len(s['plugged'])}")
        lines += audit_lines(s["self_audit"])
        lines.append("")
        if not s["lports"]:
            lines.append("no decision yet")
            return "\n".join(lines) + "\n"
        rows = [["LPORT", "OUTCOME", "TYPE", "PORT", "REASON", "COMMIT", "WHEN"]]
        for e in s["lports"]:
            rows.append(
                [
                    p(e["lport"]),
                    e["outcome"],
                    p(e["plug_type"] or "-"),
                    p(e["port"] or "-"),
                    e["reason"] or "-",
                    e["commit"],
                    e["time"],
                ]
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        details = [
            (e["lport"], e["detail"] or e["provider_reason"])
            for e in s["lports"]
            if e["detail"] or e["provider_reason"]
        ]
        if details:
            lines.append("")
            lines += [f"{p(lport)}: {p(detail)}" for lport, detail in details]
        return "\n".join(lines) + "\n"

    def coverage(self) -> str:
        """Counters since start, like OVS's ``coverage/show``."""
        elapsed = max(time.time() - self.started, 1e-9)
        lines = [f"Event counters since start ({elapsed:.0f} s ago):"]
        for name in sorted(self.counters):
            n = self.counters[name]
            lines.append(f"{name:<40} {n / elapsed:10.1f}/sec   total: {n}")
        return "\n".join(lines) + "\n"


def _age(seconds: float) -> str:
    """*seconds* for a person: ``12 s``, ``5 min``, ``3 h``, ``2 d``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"
