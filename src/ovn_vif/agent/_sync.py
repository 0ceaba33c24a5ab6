"""When the agent may unplug: both databases in sync after the latest (re)connection.

Unplugging on a partial view would remove ports whose rows simply have not
arrived yet, so :class:`SyncGate` opens only when both sessions are
connected, both monitor replies have been processed and the Southbound
conditions are acknowledged, and closes again at every reconnection (see
"Start-up and reconnection gating" in ``docs/agent.rst``). Plugging does not
wait for it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import attrs

from ovn_vif.agent._conditions import MONITORED
from ovn_vif.agent._connections import idl_synced


@attrs.frozen
class SyncChange:
    """What one look at the connections found, for the loop to act on."""

    #: The local database is in sync again after it was not.
    local_back: bool
    #: A session is down or not monitoring yet.
    link_down: bool
    #: The gate opened after a start or a reconnection (not after a mere
    #: acknowledged condition change).
    reconnected: bool


class SyncGate:
    """The unplug gate of one agent, recomputed from the IDLs' state."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        #: Whether unplugging is allowed.
        self.synced = False
        # Both sessions connected and monitoring (conditions aside), and
        # whether the next "in sync" is worth an INFO line (after a start or
        # a reconnection, not after each acknowledged condition change).
        self._link_up = False
        self._announce = True
        self._ovs_was_up = False
        #: Since when (``time.monotonic()``) the gate has been closed only
        #: because the Southbound has not answered a monitor condition change
        #: yet (both sessions up and monitoring); ``None`` otherwise.
        self.awaiting_since: float | None = None

    def update(self, ovs_idl: Any, sb_idl: Any) -> SyncChange:
        """Look at both IDLs (after their ``run()``) and say what changed."""
        ovs_up = idl_synced(ovs_idl)
        local_back = ovs_up and not self._ovs_was_up
        self._ovs_was_up = ovs_up
        link_up = ovs_up and idl_synced(sb_idl)
        synced = link_up and idl_synced(sb_idl, MONITORED)
        if not link_up:
            if self._link_up:
                # Which database, which member and why: ovn_vif.agent._outages.
                self._log.debug(
                    "a database is (re)connecting: unplugging paused until it is in sync"
                )
            self._announce = True
        reconnected = False
        if synced and not self.synced:
            if self._announce:
                self._log.info("both databases in sync: unplugging enabled")
                self._announce = False
                reconnected = True
            else:
                self._log.debug(
                    "Southbound monitor conditions acknowledged: unplugging enabled again"
                )
        if not link_up or synced:
            self.awaiting_since = None
        elif self.awaiting_since is None:
            self.awaiting_since = time.monotonic()
        self._link_up = link_up
        self.synced = synced
        return SyncChange(local_back=local_back, link_down=not link_up, reconnected=reconnected)
