"""The agent's memory reports, made the way OVS daemons make theirs.

``ovs-vswitchd``, ``ovsdb-server``, ``ovn-northd`` and ``ovn-controller``
log their peak resident set size (``getrusage``'s ``ru_maxrss``) once, ten
seconds after they start, then each time it has grown by half since the last
report, every report followed by one line of ``name:count`` figures of what
they hold; ``memory/show`` on their control socket answers that line.
Operators grep their logs for ``peak resident set size`` to find a process
that grows: :class:`MemoryReport` logs the same two messages, word for word
where they carry numbers, and the agent's control socket answers
``memory/show``. The figures (:func:`usage`):

``idl-cells-<database>``
    rows times monitored columns of each IDL the agent reads (as
    ``ovn-controller``'s ``idl-cells-OVN_Southbound``);
``shared-values``
    distinct strings and UUIDs its packed rows share
    (:class:`ovn_vif._ovs_private.SharedValues`);
``status-lports``
    lports whose latest decision ``status`` keeps.

The check runs at most every :data:`CHECK_INTERVAL` seconds, from the
agent's loop; the loop wakes up for the first one only, so an idle agent
still uses no CPU (a later report waits for the loop's next iteration).
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ovn_vif._ovs_private import SHARED, idl_schema_name
from ovn_vif.agent._observers import Observer

if TYPE_CHECKING:
    from ovn_vif.agent._loop import Agent
    from ovn_vif.agent._loop_status import LoopStatus

LOG = logging.getLogger(__name__)

#: Seconds between two checks of the peak resident set size (and from the
#: start to the first report).
CHECK_INTERVAL = 10.0
#: How much the peak must have grown since the last report for another.
GROWTH = 1.5


def peak_rss_kb() -> int:
    """The process's peak resident set size, in kB (``ru_maxrss`` on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def usage(agent: Agent, status: LoopStatus | None = None) -> dict[str, int]:
    """What the agent holds, by name (see the module)."""
    figures: dict[str, int] = {}
    for idl in (agent.ovs_idl, agent.sb_idl):
        if idl is None:
            continue  # not connected yet
        cells = sum(len(t.rows) * len(t.columns) for t in idl.tables.values())
        figures[f"idl-cells-{idl_schema_name(idl)}"] = cells
    figures["shared-values"] = len(SHARED)
    if status is not None:
        figures["status-lports"] = len(status.lports)
    return figures


def usage_line(figures: dict[str, int]) -> str:
    """*figures* as OVS daemons print them: ``name:count`` pairs by name."""
    return " ".join(f"{name}:{count}" for name, count in sorted(figures.items()))


class MemoryReport(Observer):
    """Logs the peak resident set size and :func:`usage` (see the module)."""

    def __init__(
        self,
        status: LoopStatus | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        peak: Callable[[], int] = peak_rss_kb,
    ) -> None:
        self._status = status
        self._clock = clock
        self._peak = peak
        self._started = clock()
        self._next_check = self._started + CHECK_INTERVAL
        #: The peak (kB) at the last report, 0 before the first; and when.
        self.reported_kb = 0
        self._reported_at = self._started

    def next_wakeup(self) -> float | None:
        # The first report is due ten seconds after the start, even if
        # nothing happens by then; later checks ride on other iterations.
        return self._next_check if not self.reported_kb else None

    def iteration(self, agent: Agent) -> None:
        now = self._clock()
        if now < self._next_check:
            return
        self._next_check = now + CHECK_INTERVAL
        peak = self._peak()
        if not self.reported_kb:
            LOG.info("%d kB peak resident set size after %.1f seconds", peak, now - self._started)
        elif peak >= self.reported_kb * GROWTH:
            LOG.info(
                "peak resident set size grew %.0f%% in last %.1f seconds, from %d kB to %d kB",
                (peak / self.reported_kb - 1) * 100,
                now - self._reported_at,
                self.reported_kb,
                peak,
            )
        else:
            return
        self.reported_kb, self._reported_at = peak, now
        LOG.info("%s", usage_line(usage(agent, self._status)))
