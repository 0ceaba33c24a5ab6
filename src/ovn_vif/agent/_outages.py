"""Connection outages of the two databases, logged like ovn-controller's.

The ``ovs`` package logs each member's own events (``ovs.reconnect``:
``tcp:X: connection closed by peer``, ``connecting...``, ``connected``),
but the agent's view was one line, "a database is (re)connecting", naming
neither the database, the member nor the cause. This module adds, once per
outage and per database, what only the agent knows:

* when a database in sync loses its connection, a WARNING naming the
  database, the member it was using and the cause, and that unplugging is
  paused;
* when it is back in sync, an INFO line with the member it uses now, how
  long it was down, since when, and the cause of the loss (and of the last
  failed attempt, if different).

The cause of an ``ssl:`` or named member's failure is the TLS or name
resolution sentence when there is one, not the bare errno.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import attrs

from ovn_vif._ovs_private import last_disconnect, session_name, watch_disconnects
from ovn_vif.agent import _resolve, _tls
from ovn_vif.agent._connections import idl_synced

LOG = logging.getLogger(__name__)


@attrs.define
class _Outage:
    member: str
    cause: str
    since_wall: float
    since: float


def _cause(idl: Any) -> tuple[str, str]:
    """``(member, cause)`` of the last loss or failed attempt on *idl*'s session."""
    last = last_disconnect(idl)
    member, cause = last if last is not None else (session_name(idl) or "?", "unknown cause")
    better = _resolve.last_failure(member) or (
        _tls.last_failure(member) if member.startswith("ssl:") else None
    )
    return member, better or cause


class OutageLog:
    """Follow each database's connection and log its outages."""

    def __init__(self) -> None:
        self._up: dict[str, bool] = {}
        self._outages: dict[str, _Outage] = {}

    def outage(self, what: str) -> _Outage | None:
        return self._outages.get(what)

    def update(self, what: str, idl: Any) -> None:
        """Look at *idl* (after its ``run()``); *what* names the database in the log."""
        if idl is None:
            return
        watch_disconnects(idl)
        up = idl_synced(idl)
        was_up = self._up.get(what)
        self._up[what] = up
        if was_up is None or up == was_up:
            return
        if not up:
            member, cause = _cause(idl)
            self._outages[what] = _Outage(member, cause, time.time(), time.monotonic())
            LOG.warning(
                "%s: lost the connection to %s (%s): unplugging paused until it is back in sync",
                what,
                member,
                cause,
            )
            return
        outage = self._outages.pop(what, None)
        member = session_name(idl) or "?"
        latest = _cause(idl)
        # A connection that succeeded makes that member's old failures history.
        _tls.clear_failure(member)
        if outage is None:
            return
        extra = (
            ""
            if latest == (outage.member, outage.cause)
            else (f"; last failed attempt: {latest[0]}: {latest[1]}")
        )
        LOG.info(
            "%s: connected to %s again after %.1f s without a connection (lost %s at %s: %s%s)",
            what,
            member,
            time.monotonic() - outage.since,
            outage.member,
            time.strftime("%H:%M:%S", time.localtime(outage.since_wall)),
            outage.cause,
            extra,
        )
