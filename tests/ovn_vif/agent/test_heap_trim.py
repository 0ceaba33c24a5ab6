"""The heap trim after a burst of work (ovn_vif.agent._trim)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support import Clock

from ovn_vif import ReconcileReport
from ovn_vif.agent import _trim
from ovn_vif.agent._trim import HeapTrim, malloc_trim


class FakeAgent:
    idle = True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("ovn_vif.agent._trim.time.monotonic", clock)
    return clock


def test_glibc_has_malloc_trim() -> None:
    trim = malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)


def test_trims_once_idle_after_a_reconcile(clock: Clock) -> None:
    calls: list[int] = []

    def fake(pad: int) -> int:
        calls.append(pad)
        return 1

    trim, agent = HeapTrim(fake), FakeAgent()
    agent_any: Any = agent
    trim.iteration(agent_any)
    assert (calls, trim.next_wakeup()) == ([], None)  # nothing happened yet
    trim.reconciled(agent_any, ReconcileReport(), 0.1)
    assert trim.next_wakeup() == 100.0 + _trim.SETTLE
    trim.iteration(agent_any)
    assert calls == []  # not settled yet
    clock.now += _trim.SETTLE
    agent.idle = False
    trim.iteration(agent_any)
    # Busy: no trim, and no wake-up time left in the past (the loop would spin).
    assert (calls, trim.next_wakeup()) == ([], None)
    agent.idle = True
    trim.committed(agent_any, ReconcileReport(), "success", 0.1)  # asks again
    assert trim.next_wakeup() == clock.now + _trim.SETTLE
    clock.now += _trim.SETTLE
    trim.iteration(agent_any)
    assert (calls, trim.next_wakeup(), trim.trims) == ([0], None, 1)
    trim.iteration(agent_any)
    assert calls == [0]  # once per burst
    # The next burst is trimmed no sooner than MIN_INTERVAL after the last trim.
    trim.reconciled(agent_any, ReconcileReport(), 0.1)
    assert trim.next_wakeup() == clock.now + _trim.MIN_INTERVAL
    clock.now += _trim.MIN_INTERVAL
    trim.iteration(agent_any)
    assert calls == [0, 0]


def test_does_nothing_without_malloc_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_trim, "malloc_trim", lambda: None)
    trim = HeapTrim()
    assert not trim.enabled
    agent: Any = FakeAgent()
    trim.reconciled(agent, ReconcileReport(), 0.1)
    trim.iteration(agent)
    assert trim.trims == 0
