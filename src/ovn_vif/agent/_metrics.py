"""Prometheus metrics of the agent (``--metrics-address``), through ``prometheus_client``.

``prometheus_client`` is an optional dependency (``pip install
'ovn-vif[metrics]'``). The metrics are updated from the agent's loop (this
observer's hooks); the HTTP server of ``prometheus_client`` answers scrapes
from its own thread and only reads them.
"""

from __future__ import annotations

import logging
import platform
import time
from typing import TYPE_CHECKING, Any

from ovn_vif._engine.report import Outcome, Reason
from ovn_vif._engine.rows import read_iface
from ovn_vif._errors import AgentSetupError
from ovn_vif.agent._connections import idl_connected
from ovn_vif.agent._observers import Observer
from ovn_vif.agent._status_file import not_plugged

if TYPE_CHECKING:
    from ovn_vif._engine.report import ReconcileReport
    from ovn_vif.agent._audit import AuditResult
    from ovn_vif.agent._loop import Agent

LOG = logging.getLogger(__name__)

_CHANGES = {
    Outcome.PLUGGED: "plug",
    Outcome.UPDATED: "update",
    Outcome.UNPLUGGED: "unplug",
    Outcome.REPLACED: "replace",
}
_NOT_DONE = (Outcome.DECLINED, Outcome.VETOED, Outcome.DEFERRED, Outcome.REFUSED)
_PLUGS = (Outcome.PLUGGED, Outcome.REPLACED)
#: Plug latency buckets: one loop iteration to a vswitchd that takes seconds.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
#: How long a plug waits for its ofport before it is no longer followed.
_OFPORT_PATIENCE = 300.0


def _version() -> str:
    # As ovn_vif.__version__ (the package root is above the agent's layer).
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ovn-vif")
    except PackageNotFoundError:
        return "0+unknown"


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPV6]:PORT`` or ``:PORT`` (all addresses) -> (host, port).

    >>> parse_address("127.0.0.1:9476"), parse_address(":9476"), parse_address("[::1]:9476")
    (('127.0.0.1', 9476), ('0.0.0.0', 9476), ('::1', 9476))
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--metrics-address {text!r}: use HOST:PORT, [IPV6]:PORT or :PORT")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class Metrics(Observer):
    """The agent's metrics in a registry of their own, served over HTTP by :meth:`serve`."""

    def __init__(self) -> None:
        try:
            import prometheus_client as pc
        except ImportError as exc:
            raise AgentSetupError(
                "--metrics-address needs the prometheus_client package: "
                "pip install 'ovn-vif[metrics]'"
            ) from exc
        self._pc = pc
        self.registry = pc.CollectorRegistry()
        r = self.registry
        self.changes = pc.Counter(
            "ovn_vif_port_changes",
            "Committed port changes (plug, update, unplug, replace), per provider type",
            ["action", "provider"],
            registry=r,
        )
        self.declines = pc.Counter(
            "ovn_vif_lports_not_plugged",
            "Decisions that changed nothing, by outcome (declined, vetoed, deferred, refused) "
            "and reason",
            ["outcome", "reason", "provider"],
            registry=r,
        )
        self.commits = pc.Counter(
            "ovn_vif_commits", "Transactions by final status", ["status"], registry=r
        )
        self.reconcile_seconds = pc.Histogram(
            "ovn_vif_reconcile_duration_seconds",
            "Time the engine took to decide (one reconcile() call)",
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.commit_seconds = pc.Histogram(
            "ovn_vif_commit_duration_seconds",
            "Time from commit() to the transaction's final status",
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.plugged = pc.Gauge(
            "ovn_vif_plugged_ports",
            "Interfaces plugged on this chassis, per provider type (ovn-plugged)",
            ["provider"],
            registry=r,
        )
        self.connected = pc.Gauge(
            "ovn_vif_database_connected",
            "Whether the connection to a database is up",
            ["database"],
            registry=r,
        )
        self.in_sync = pc.Gauge(
            "ovn_vif_in_sync", "Whether both databases are in sync (unplugging enabled)", registry=r
        )
        self.in_flight = pc.Gauge(
            "ovn_vif_transaction_in_flight", "Whether a transaction is in flight", registry=r
        )
        self.last_reconcile = pc.Gauge(
            "ovn_vif_last_reconcile_timestamp_seconds",
            "When the engine last decided (Unix time)",
            registry=r,
        )
        self.iterations = pc.Counter(
            "ovn_vif_loop_iterations", "Iterations of the agent's loop", registry=r
        )
        self.audits = pc.Counter(
            "ovn_vif_self_audits",
            "Self-audits of the Southbound view, by outcome (ok, unconfirmed, diverged, failed)",
            ["outcome"],
            registry=r,
        )
        self.divergences = pc.Counter(
            "ovn_vif_self_audit_divergences",
            "Divergences the self-audit found and repaired, by check (southbound: the view "
            "differed from the server; engine: a full run had to change what incremental runs "
            "left; conditions: a monitor condition change was never acknowledged)",
            ["check"],
            registry=r,
        )
        for check in ("southbound", "engine", "conditions"):
            self.divergences.labels(check)
        self.not_plugged_now = pc.Gauge(
            "ovn_vif_not_plugged_lports",
            "Lports requested for this chassis that the latest reconcile left not plugged (or "
            "not unplugged), by outcome and provider: what ovn-vif status lists",
            ["outcome", "provider"],
            registry=r,
        )
        self.plug_latency = pc.Histogram(
            "ovn_vif_plug_latency_seconds",
            "Time from the reconcile that saw a Port_Binding to plug to its Interface being "
            "created (stage=interface, the commit's success) and to vswitchd assigning it an "
            "ofport (stage=ofport)",
            ["stage"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.provider_errors = pc.Counter(
            "ovn_vif_provider_errors",
            "Provider calls that raised (decisions with reason provider-error), per provider",
            ["provider"],
            registry=r,
        )
        self.reconnects = pc.Counter(
            "ovn_vif_database_reconnects",
            "Connections to a database made again after a first one (local, southbound)",
            ["database"],
            registry=r,
        )
        self.tls_failures = pc.Counter(
            "ovn_vif_tls_failures",
            "TLS connection failures (certificate, key, handshake) to ssl: remotes",
            registry=r,
        )
        build = pc.Gauge(
            "ovn_vif_build_info",
            "Version of ovn-vif and of the Python running it (always 1)",
            ["version", "python"],
            registry=r,
        )
        build.labels(_version(), platform.python_version()).set(1)
        # process_* (CPU, RSS, open fds, start time) and python_info, as the
        # default registry has them.
        pc.ProcessCollector(registry=r)
        pc.PlatformCollector(registry=r)
        for stage in ("interface", "ofport"):
            self.plug_latency.labels(stage)
        for database in ("local", "southbound"):
            self.reconnects.labels(database)
        self._sessions: dict[str, tuple[int, bool]] = {}
        self._tls_seen: dict[str, float] = {}
        # lport -> monotonic time the reconcile that decided its plug began,
        # until the commit; then until its Interface has an ofport.
        self._deciding: dict[str, float] = {}
        self._not_plugged_keys: set[tuple[str, str]] = set()
        self._awaiting_ofport: dict[str, float] = {}
        self._divergences: dict[str, int] = {}
        self._seen_seqno: int | None = None
        self._providers: set[str] = set()
        self._server: Any = None

    def serve(self, address: str) -> None:
        """Start the HTTP endpoint (``/metrics``) on *address*.

        :raises AgentSetupError: malformed address, or it cannot be bound.
        """
        try:
            host, port = parse_address(address)
            server, _thread = self._pc.start_http_server(port, addr=host, registry=self.registry)
        except ValueError as exc:
            raise AgentSetupError(str(exc)) from exc
        except OSError as exc:
            raise AgentSetupError(
                f"cannot serve metrics on {address}: {exc.strerror or exc}"
            ) from exc
        self._server = server
        LOG.info("metrics on http://%s/metrics", address)

    # -- observer hooks --------------------------------------------------------

    def iteration(self, agent: Agent) -> None:
        self.iterations.inc()
        for database, idl in (("local", agent.ovs_idl), ("southbound", agent.sb_idl)):
            connected = idl_connected(idl)
            self.connected.labels(database).set(connected)
            self._count_reconnects(database, idl, connected)
        self._count_tls_failures()
        self.in_sync.set(agent.synced)
        self.in_flight.set(agent.in_flight)
        for check, n in agent.divergences.items():
            new = n - self._divergences.get(check, 0)
            if new > 0:
                self.divergences.labels(check).inc(new)
            self._divergences[check] = n
        seqno = agent.ovs_idl.change_seqno
        if seqno != self._seen_seqno:
            self._seen_seqno = seqno
            self._count_plugged(agent)

    def _count_plugged(self, agent: Agent) -> None:
        """The plugged gauge and the ofport latencies, from what the agent
        follows of the local database (its cost is that of what changed),
        or else from the engine's view (cached while it is unchanged)."""
        tracker = agent.plugged_here
        by_type: dict[str, int]
        ofports: dict[str, bool] = {}
        if tracker is not None:
            by_type = tracker.by_type()
            rows = agent.ovs_idl.tables["Interface"].rows
            for lport in self._awaiting_ofport:
                for iface_uuid in tracker.ifaces(lport):
                    row = rows.get(iface_uuid)
                    if row is not None and read_iface(row).has_ofport:
                        ofports[lport] = True
        else:
            settings = agent.settings
            ovs_view, _ = agent.reconciler.snapshot(
                agent.ovs_idl, agent.sb_idl, chassis=settings.chassis, bridge=settings.bridge
            )
            by_type = {}
            for iface in ovs_view.ifaces.values():
                if iface.has_ofport and iface.iface_id is not None:
                    ofports[iface.iface_id] = True
                if iface.plugged_by is None or iface.iface_id is None:
                    continue
                by_type[iface.plugged_by] = by_type.get(iface.plugged_by, 0) + 1
        known = set(agent.registry.types())
        counts: dict[str, int] = {}
        for plug_type, n in by_type.items():
            provider = plug_type if plug_type in known else "other"
            counts[provider] = counts.get(provider, 0) + n
        for provider in self._providers | set(counts) | known:
            self.plugged.labels(provider).set(counts.get(provider, 0))
            if provider in known:
                self.provider_errors.labels(provider)  # served as 0 until one raises
        self._providers |= set(counts)
        if self._awaiting_ofport:
            now = time.monotonic()
            for lport, since in list(self._awaiting_ofport.items()):
                if ofports.get(lport):
                    self.plug_latency.labels("ofport").observe(now - since)
                    del self._awaiting_ofport[lport]
                elif now - since > _OFPORT_PATIENCE:
                    del self._awaiting_ofport[lport]

    def _count_reconnects(self, database: str, idl: Any, connected: bool) -> None:
        session = getattr(idl, "_session", None)
        seqno = session.get_seqno() if session is not None else 0
        previous = self._sessions.get(database)
        if previous is None:
            self._sessions[database] = (seqno, connected)
            return
        seen_seqno, ever = previous
        if seqno != seen_seqno and connected and ever:
            self.reconnects.labels(database).inc()
        self._sessions[database] = (seqno, ever or connected)

    def _count_tls_failures(self) -> None:
        from ovn_vif.agent import _tls

        for remote, when in _tls.failure_times().items():
            if self._tls_seen.get(remote) != when:
                self._tls_seen[remote] = when
                self.tls_failures.inc()

    def reconciled(self, agent: Agent, report: ReconcileReport, seconds: float) -> None:
        self.reconcile_seconds.observe(seconds)
        self.last_reconcile.set_to_current_time()
        began = time.monotonic() - seconds
        for d in report:
            if d.outcome in _PLUGS:
                self._deciding.setdefault(d.lport, began)

    def committed(self, agent: Agent, report: ReconcileReport, status: str, seconds: float) -> None:
        self.commits.labels(status.replace(" ", "_")).inc()
        if report.changed:
            self.commit_seconds.observe(seconds)
        known = set(agent.registry.types())
        now = time.monotonic()
        for d in report:
            # vif-plug-type comes from the CMS: bound the label's values.
            provider = d.plug_type if d.plug_type in known else "other"
            action = _CHANGES.get(d.outcome)
            if action is not None:
                if status == "success":
                    self.changes.labels(action, provider).inc()
                began = self._deciding.pop(d.lport, None)
                if began is not None and status == "success":
                    self.plug_latency.labels("interface").observe(now - began)
                    self._awaiting_ofport[d.lport] = began
            elif d.outcome in _NOT_DONE:
                reason = d.reason.value if d.reason is not None else d.outcome.value
                self.declines.labels(d.outcome.value, reason, provider).inc()
            if d.reason is Reason.PROVIDER_ERROR:
                self.provider_errors.labels(provider).inc()
        if report.skipped is None:
            current: dict[tuple[str, str], int] = {}
            for n in not_plugged(report.decisions):
                key = (n.outcome, n.plug_type if n.plug_type in known else "other")
                current[key] = current.get(key, 0) + 1
            for key in self._not_plugged_keys | set(current):
                self.not_plugged_now.labels(*key).set(current.get(key, 0))
            self._not_plugged_keys |= set(current)

    def audited(self, agent: Agent, result: AuditResult) -> None:
        self.audits.labels(result.outcome).inc()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
