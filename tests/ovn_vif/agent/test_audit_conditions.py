"""The self-audit's bound on unacknowledged condition changes backs off.

A server too slow to acknowledge looks like a lost acknowledgement; the
reload that repairs a lost one is one more full resync for a busy server.
So each reload doubles the wait before the next one (with up to a quarter
more at random, so that chassis drift apart), and an acknowledgement on the
same connection brings it back to the audit interval. The checks run on a
stand-in Southbound session whose state the test sets.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import ovs.db.idl
import pytest
from tests.support import Clock

from ovn_vif import RateLimitedLogger
from ovn_vif.agent import _audit

INTERVAL = 1.0


class Session:
    """What the condition check reads of a Southbound IDL."""

    state = ovs.db.idl.Idl.IDL_S_MONITORING

    def __init__(self) -> None:
        self.connected = True
        self.pending = False
        self.reloads = 0


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Session:
    sb = Session()
    monkeypatch.setattr(_audit, "idl_connected", lambda idl: idl.connected)
    monkeypatch.setattr(_audit, "conditions_pending", lambda idl, tables: idl.pending)
    monkeypatch.setattr(_audit, "session_name", lambda idl: "tcp:192.0.2.1:6642")

    def reload(idl: Any) -> None:
        idl.reloads += 1
        idl.pending = False

    monkeypatch.setattr(_audit, "force_full_resync", reload)
    return sb


def _audit_with(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> _audit.SelfAudit:
    monkeypatch.setattr("ovn_vif.agent._audit.time.monotonic", clock)
    rl = RateLimitedLogger(logging.getLogger("ovn_vif.agent._loop"), clock=clock)
    return _audit.SelfAudit(
        INTERVAL, rl, reload=lambda: None, decide_all=lambda: None, audited=lambda r: None
    )


def _stuck_until_reload(audit: _audit.SelfAudit, sb: Session, clock: Clock) -> float:
    """Seconds a pending change waits before the audit reloads (0.1 s steps)."""
    sb.pending = True
    start, reloads = clock.now, sb.reloads
    while sb.reloads == reloads:
        audit.run(sb, "hv1", synced=False, quiet=lambda: True, observed=object)
        clock.now += 0.1
        assert clock.now - start < 2 * _audit.CONDITION_BOUND_MAX, "never reloaded"
    return clock.now - start


def test_each_reload_doubles_the_wait_and_an_acknowledgement_resets_it(
    session: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(1000.0)
    audit = _audit_with(clock, monkeypatch)
    waits = [_stuck_until_reload(audit, session, clock) for _ in range(12)]
    # About the interval first, then doubling with up to a quarter more.
    assert INTERVAL <= waits[0] < INTERVAL + 0.3
    for before, after in itertools.pairwise(waits):
        assert after >= min(2 * before * 0.8, _audit.CONDITION_BOUND_MAX) - 0.2
        assert after <= min(2 * before * 1.25, _audit.CONDITION_BOUND_MAX) * 1.25 + 0.2
    assert max(waits) <= _audit.CONDITION_BOUND_MAX * 1.25 + 0.2
    assert max(waits) >= _audit.CONDITION_BOUND_MAX * 0.9
    assert audit.divergences["conditions"] == 12
    assert "(the next reload for this waits" in caplog.text

    # A change acknowledged on the same connection: back to the interval.
    session.pending = True
    audit.run(session, "hv1", synced=False, quiet=lambda: True, observed=object)
    session.pending = False
    audit.run(session, "hv1", synced=False, quiet=lambda: True, observed=object)
    assert _stuck_until_reload(audit, session, clock) < INTERVAL + 0.3


def test_a_lost_connection_is_not_an_acknowledgement(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(1000.0)
    audit = _audit_with(clock, monkeypatch)
    first = _stuck_until_reload(audit, session, clock)
    # Pending again, then the connection drops: the longer wait stays.
    session.pending = True
    audit.run(session, "hv1", synced=False, quiet=lambda: True, observed=object)
    session.connected = False
    session.pending = False
    audit.run(session, "hv1", synced=False, quiet=lambda: True, observed=object)
    session.connected = True
    assert _stuck_until_reload(audit, session, clock) >= 2 * first * 0.8 - 0.2
