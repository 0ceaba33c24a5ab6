"""Hooks through which the service layer follows the agent's loop.

The control socket (:mod:`ovn_vif.agent._control`), the systemd
notifications (:mod:`ovn_vif.agent._notify`) and the metrics
(:mod:`ovn_vif.agent._metrics`) are :class:`Observer` objects added to
``Agent.observers``. The loop calls them at a few fixed points and knows
nothing else about them; an observer that raises is logged (rate-limited)
and never stops the loop.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ovn_vif._contract.ratelimit import RateLimitedLogger

if TYPE_CHECKING:
    from ovn_vif._engine.report import ReconcileReport
    from ovn_vif.agent._audit import AuditResult
    from ovn_vif.agent._loop import Agent

LOG = logging.getLogger(__name__)


class Observer:
    """Base class: every hook does nothing."""

    def wait(self, poller: Any) -> None:
        """Add this observer's file descriptors and timers to the loop's *poller*."""

    def next_wakeup(self) -> float | None:
        """When (``time.monotonic()``) the loop must wake up for this observer, if ever."""
        return None

    def iteration(self, agent: Agent) -> None:
        """Called at the end of every loop iteration (after any reconcile)."""

    def starting(self, agent: Agent, poller: Any) -> None:
        """:meth:`Agent.start` waits for a database: do what must not wait for
        it (answer the control socket) and add file descriptors to *poller*."""

    def reconciled(self, agent: Agent, report: ReconcileReport, seconds: float) -> None:
        """The engine decided (*seconds*: time spent in ``reconcile()``)."""

    def committed(self, agent: Agent, report: ReconcileReport, status: str, seconds: float) -> None:
        """The transaction of *report* ended with *status* after *seconds*."""

    def audited(self, agent: Agent, result: AuditResult) -> None:
        """A self-audit of the Southbound view finished (see :mod:`ovn_vif.agent._audit`)."""

    def close(self) -> None:
        """The agent is closing."""


class Observers:
    """The observers of one agent, called in the order they were added."""

    def __init__(self) -> None:
        self._items: list[Observer] = []
        self._rl = RateLimitedLogger(LOG)

    def add(self, observer: Observer) -> None:
        self._items.append(observer)

    def __iter__(self) -> Any:
        return iter(tuple(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def call(self, hook: str, *args: Any) -> None:
        for observer in tuple(self._items):
            try:
                getattr(observer, hook)(*args)
            except Exception as exc:
                self._rl.exception(
                    ("observer", type(observer).__name__, hook),
                    "%s.%s failed; the agent goes on",
                    type(observer).__name__,
                    hook,
                    exc=exc,
                )

    def next_wakeup(self) -> float | None:
        times = []
        for observer in self._items:
            try:
                t = observer.next_wakeup()
            except Exception as exc:
                name = type(observer).__name__
                self._rl.exception(("observer", name), "%s.next_wakeup failed", name, exc=exc)
                continue
            if t is not None:
                times.append(t)
        return min(times, default=None)
