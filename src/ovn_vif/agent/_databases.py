"""The agent's two database connections: made, waited for, read, and switched.

:class:`Databases` holds the IDLs of the local ``Open_vSwitch`` database and
of the Southbound database. It fetches each schema from its server (never
from a file), registers what the engine reads, waits for the local
database's contents at start-up, connects to a new Southbound remote when
``external_ids:ovn-remote`` changes, and follows the TLS files of ``ssl:``
remotes. The primitives it uses (remote names, ``get_schema``, session
state) are in :mod:`ovn_vif.agent._connections`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ovs.db.idl
import ovs.poller

from ovn_vif._contract.logsafe import log_safe
from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._engine.columns import register_ovs_columns, register_sb_columns
from ovn_vif._engine.incremental import track_changes
from ovn_vif._errors import AgentSetupError, RemoteError
from ovn_vif._ovs_private import QuickInsertIdl, session_name
from ovn_vif.agent import _resolve, _tls
from ovn_vif.agent._conditions import SouthboundConditions
from ovn_vif.agent._config import AgentConfig
from ovn_vif.agent._connections import fetch_schema, idl_connected, idl_synced
from ovn_vif.agent._settings import ChassisSettings

# Seconds before trying again a new Southbound remote that failed.
_SWITCH_RETRY = 30.0
# A failure this much older than the moment a connection is seen down may
# still be the one that brought it down (seconds).
_OUTAGE_SLACK = 5.0
# Reading the IDLs for longer than this (seconds) is worth a debug line.
_SLOW_READ = 0.02
#: ``Agent.start_progress["database"]`` while the agent waits for the Southbound.
SOUTHBOUND = "Southbound database"


def prepare_ovs_helper(helper: Any) -> None:
    """Register in an ``Open_vSwitch`` ``SchemaHelper`` what the agent reads."""
    register_ovs_columns(helper)
    helper.register_columns("Open_vSwitch", ["external_ids"])


def prepare_sb_helper(helper: Any) -> None:
    """Register in an ``OVN_Southbound`` ``SchemaHelper`` what the agent reads."""
    register_sb_columns(helper)


class Databases:
    """The local and Southbound IDLs of one agent.

    :param config: the agent's configuration, read when it is needed.
    :param conditions: set on every Southbound IDL made here or given.
    :param log: the agent's (rate-limited) logger.
    :param stopping: whether the agent was asked to stop (a wait gives up).
    :param wake_fd: readable when the agent is woken (a wait looks again).
    :param block: waits for the IDLs given until the deadline or a wake-up.
    """

    def __init__(
        self,
        config: Callable[[], AgentConfig],
        conditions: SouthboundConditions,
        log: RateLimitedLogger,
        *,
        stopping: Callable[[], bool],
        wake_fd: int,
        block: Callable[[list[Any], float], None],
        serve: Callable[[Any], None] | None = None,
    ) -> None:
        self._config = config
        self._conditions = conditions
        self._rl = log
        # What -> when its connection was first seen down (monotonic).
        self._down_since: dict[str, float] = {}
        self._stopping = stopping
        self._wake_fd = wake_fd
        self._block = block
        self._serve = serve
        #: While a schema is being fetched at start-up: what, where, since
        #: when, and each member's last error (``status`` shows it).
        self.connecting: dict[str, Any] | None = None
        #: The local database's IDL, once :meth:`open_local` returned.
        self.ovs: Any = None
        #: The Southbound database's IDL, once :meth:`open_southbound` returned.
        self.sb: Any = None
        #: Whether the IDLs were made here (and are closed here).
        self.owned = True
        #: Whether the Southbound IDL was given (its remote is not followed).
        self.sb_given = False
        self._switch_failed: tuple[str, float] | None = None
        cfg = config()
        self.tls = _tls.TlsSettings(_tls.TlsFiles(cfg.private_key, cfg.certificate, cfg.ca_cert))

    # -- start-up ------------------------------------------------------------

    def open_local(self, given: Any = None) -> None:
        """Connect to the local database (or take *given*) and wait for its contents.

        :raises AgentSetupError: it did not answer, or sent nothing, in time.
        """
        config = self._config()
        self.owned = given is None
        # ssl: remotes fail with a reason instead of raising from Idl.run().
        _tls.install_stream()
        if given is None and _tls.uses_tls(config.ovs_remote):
            self.tls.start([config.ovs_remote], None)
        self.ovs = self._wait_local(given) if given is not None else self._connect_local()

    def open_southbound(self, settings: ChassisSettings, given: Any = None) -> None:
        """Connect to the Southbound database (or take *given*) and set its conditions.

        Returns once the connection is set up; its contents arrive later.

        :raises AgentSetupError: no member of the remote answered in time.
        """
        if given is not None:
            self.sb_given = True
            self.sb = given
            self._conditions.update(given, self.ovs, settings)
        else:
            schema = self._fetch(settings.ovn_remote, "OVN_Southbound", SOUTHBOUND)
            self.sb = self._new_sb_idl(settings, schema)

    def _fetch(self, remote: str, database: str, what: str) -> dict[str, Any]:
        errors: dict[str, str] = {}
        self.connecting = {
            "database": what,
            "remote": remote,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "errors": errors,
        }
        try:
            return fetch_schema(
                remote,
                database,
                timeout=self._config().connect_timeout,
                what=what,
                stop=self._stopping,
                wake_fd=self._wake_fd,
                serve=self._serve,
                failed=errors.__setitem__,
            )
        except RemoteError as exc:
            raise AgentSetupError(str(exc)) from exc
        finally:
            self.connecting = None

    def _connect_local(self) -> Any:
        remote = self._config().ovs_remote
        schema = self._fetch(remote, "Open_vSwitch", "local Open_vSwitch database")
        helper = ovs.db.idl.SchemaHelper(schema_json=schema)
        prepare_ovs_helper(helper)
        if "SSL" in schema.get("tables", {}):
            # Where ovn-controller takes its TLS files from (ovs-vsctl set-ssl).
            helper.register_columns("Open_vSwitch", ["ssl"])
            helper.register_columns("SSL", list(_tls.SSL_COLUMNS))
        idl = QuickInsertIdl(remote, helper)
        track_changes(idl)
        try:
            return self._wait_local(idl)
        except AgentSetupError:
            idl.close()
            raise

    def _wait_local(self, idl: Any) -> Any:
        config = self._config()
        deadline = time.monotonic() + config.connect_timeout
        while True:
            idl.run()
            if idl_synced(idl):
                return idl
            if self._stopping() or time.monotonic() >= deadline:
                raise AgentSetupError(
                    f"the local Open_vSwitch database at {config.ovs_remote} "
                    "did not send its contents"
                )
            if self._serve is not None:
                # Answer the control socket; _block waits on its descriptors.
                self._serve(ovs.poller.Poller())
            self._block([idl], deadline)

    def _new_sb_idl(self, settings: ChassisSettings, schema: dict[str, Any]) -> Any:
        helper = ovs.db.idl.SchemaHelper(schema_json=schema)
        prepare_sb_helper(helper)
        # Any cluster member will do: the agent only reads the Southbound DB.
        idl = QuickInsertIdl(settings.ovn_remote, helper, leader_only=False)
        # No index: the agent monitors only its own Chassis row (a scan finds
        # it), and an index would load sortedcontainers (import_ovs_idl).
        track_changes(idl)
        self._conditions.forget()
        self._conditions.update(idl, self.ovs, settings)
        return idl

    # -- at run time ---------------------------------------------------------

    def run(self) -> None:
        """Read what both servers sent (``Idl.run()``), the local database first."""
        started = time.monotonic()
        self.ovs.run()
        read_ovs = time.monotonic()
        self.sb.run()
        read_sb = time.monotonic()
        if read_sb - started > _SLOW_READ:
            self._rl.logger.debug(
                "read the databases in %.1f ms (local %.1f ms, Southbound %.1f ms: %d bindings)",
                (read_sb - started) * 1000,
                (read_ovs - started) * 1000,
                (read_sb - read_ovs) * 1000,
                len(self.sb.tables["Port_Binding"].rows),
            )

    def send_conditions(self) -> None:
        """Send a Southbound monitor condition changed in this iteration now.

        ``Idl.run()`` would send it at the start of the next iteration, after
        this one has decided and committed; sent now, the server works on
        it meanwhile and its answer is usually there when the next
        iteration reads. The answer opens the unplug gate again (see
        :mod:`ovn_vif.agent._conditions`), so a port whose binding went
        away is unplugged that much sooner.
        """
        if self.sb.cond_changed:
            self.sb.send_cond_change()

    def switch_southbound(self, settings: ChassisSettings, old_remote: str) -> bool:
        """Connect to the new Southbound remote of *settings*; ``False`` (staying on
        the old one) on failure.

        The schema fetch blocks the loop, so it is short, and a remote that
        failed is tried again only after a pause.
        """
        remote = settings.ovn_remote
        now = time.monotonic()
        failed = self._switch_failed
        if failed is not None and failed[0] == remote and now < failed[1]:
            return False
        log = self._rl.logger
        log.info("Southbound remote changed to %s: reconnecting", log_safe(remote))
        try:
            schema = fetch_schema(
                remote,
                "OVN_Southbound",
                timeout=min(2.0, self._config().connect_timeout),
                what="Southbound database",
                stop=self._stopping,
                wake_fd=self._wake_fd,
            )
        except RemoteError as exc:
            log.error("%s; staying on %s for now", log_safe(exc), log_safe(old_remote))  # noqa: TRY400
            self._switch_failed = (remote, now + _SWITCH_RETRY)
            return False
        self._switch_failed = None
        sb = self._new_sb_idl(settings, schema)
        self.sb.close()
        self.sb = sb
        return True

    def follow_tls(self, ovn_remote: str) -> None:
        """Follow the local ``SSL`` table; say (rate-limited) why an ``ssl:`` remote fails."""
        if self.owned:
            self.tls.follow(self.ovs, self._rl)
        for what, idl, remote in (
            ("local Open_vSwitch database", self.ovs, self._config().ovs_remote),
            ("Southbound database", self.sb, ovn_remote),
        ):
            if not remote:
                continue
            if idl_synced(idl):
                # The member in use answers: its past failure is history.
                _tls.clear_failure(session_name(idl) or "")
                self._down_since.pop(what, None)
                continue
            if idl_connected(idl):
                continue
            # Only failures of this outage are news: another member's failure
            # from before (fixed since, or never tried again) is not current.
            since = self._down_since.setdefault(what, time.monotonic() - _OUTAGE_SLACK)
            problems = _resolve.failures(remote) | _tls.failures(remote, since=since)
            for member, reason in problems.items():
                self._rl.warning(
                    ("tls-down", member, reason),
                    "cannot connect to the %s at %s: %s; retrying",
                    what,
                    member,
                    reason,
                )

    def close(self) -> None:
        """Close the IDLs made here (given ones stay the caller's)."""
        if self.owned:
            for idl in (self.sb, self.ovs):
                if idl is not None:
                    idl.close()
