"""Give freed heap memory back to the system once the agent is idle again.

Plugging or unplugging many ports at once, or a resync, makes the agent
allocate and free many small objects; glibc's ``malloc`` keeps the freed
pages, so the resident size stays at its peak long after. :class:`HeapTrim`
calls glibc's ``malloc_trim(0)`` once the loop is idle :data:`SETTLE`
seconds after the last reconcile or commit, at most once every
:data:`MIN_INTERVAL` seconds (about 1 MB less resident with 1,000 plugged
ports, for a few milliseconds of CPU). Where ``malloc_trim`` does not exist
(not glibc), it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ovn_vif.agent._observers import Observer

if TYPE_CHECKING:
    from ovn_vif._engine.report import ReconcileReport
    from ovn_vif.agent._loop import Agent

LOG = logging.getLogger(__name__)

#: Seconds of quiet after the last reconcile before trimming.
SETTLE = 2.0
#: Fewest seconds between two trims.
MIN_INTERVAL = 10.0


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` where the C library has none."""
    try:
        # The symbols the interpreter was linked with, the C library's among them.
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    trim: Callable[[int], int] = function
    return trim


class HeapTrim(Observer):
    """Trims the heap once the loop is idle after a reconcile (see the module)."""

    def __init__(self, trim: Callable[[int], int] | None = None) -> None:
        self._trim = trim if trim is not None else malloc_trim()
        self._due: float | None = None
        self._last: float | None = None
        #: Trims done so far (for tests).
        self.trims = 0

    @property
    def enabled(self) -> bool:
        return self._trim is not None

    def reconciled(self, agent: Agent, report: ReconcileReport, seconds: float) -> None:
        self._schedule()

    def committed(self, agent: Agent, report: ReconcileReport, status: str, seconds: float) -> None:
        self._schedule()

    def _schedule(self) -> None:
        now = time.monotonic()
        due = now + SETTLE
        if self._last is not None:
            due = max(due, self._last + MIN_INTERVAL)
        self._due = due

    def next_wakeup(self) -> float | None:
        return self._due

    def iteration(self, agent: Agent) -> None:
        now = time.monotonic()
        if self._due is None or self._trim is None or now < self._due:
            return
        self._due = None
        if not agent.idle:
            # Busy, or a database is away: the next reconcile or commit asks
            # again (a wake-up time left in the past would keep the loop
            # from blocking).
            return
        self._last = time.monotonic()
        self._trim(0)
        self.trims += 1
