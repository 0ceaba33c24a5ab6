"""``status`` gives the age of each member's last TLS failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ovn_vif.agent import _loop_status, _tls
from ovn_vif.agent._loop_status import LoopStatus


@pytest.fixture
def failures(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    clock = [1000.0]
    monkeypatch.setattr("ovn_vif.agent._tls.time.monotonic", lambda: clock[0])
    _tls.record_failure("ssl:10.0.0.2:6642", "TLS handshake failed: certificate expired")
    clock[0] += 300.0
    _tls.record_failure("ssl:10.0.0.3:6642", "the server closed the connection")
    clock[0] += 12.0
    yield
    _tls.clear_failure("ssl:10.0.0.2:6642")
    _tls.clear_failure("ssl:10.0.0.3:6642")


@pytest.mark.usefixtures("failures")
def test_failure_ages_per_member() -> None:
    remote = "ssl:10.0.0.1:6642,ssl:10.0.0.2:6642,ssl:10.0.0.3:6642"
    assert _tls.failure_ages(remote) == {"ssl:10.0.0.2:6642": 312.0, "ssl:10.0.0.3:6642": 12.0}
    assert _tls.failure_ages("tcp:10.0.0.2:6642") == {}


@pytest.mark.usefixtures("failures")
def test_status_text_says_how_old_each_failure_is(monkeypatch: pytest.MonkeyPatch) -> None:
    remote = "ssl:10.0.0.1:6642,ssl:10.0.0.2:6642,ssl:10.0.0.3:6642"
    connection = {
        "remote": remote,
        "member": "ssl:10.0.0.1:6642",
        "connected": True,
        "in_sync": True,
        "tls_failures": _tls.failures(remote),
        "tls_failure_age_s": _tls.failure_ages(remote),
    }
    snapshot: dict[str, Any] = {
        "chassis": "hv1",
        "bridge": "br-int",
        "policy": "recommended",
        "providers": ["dummy"],
        "compatible_with": "OVN",
        "started": "now",
        "connections": {"local": {**connection, "tls_failures": {}}, "southbound": connection},
        "unplugging_enabled": True,
        "transaction_in_flight": False,
        "in_flight_lports": [],
        "last_reconcile": None,
        "last_commit": None,
        "plugged": [],
        "self_audit": {},
        "lports": [],
    }
    status = LoopStatus()
    monkeypatch.setattr(status, "snapshot", lambda agent: snapshot)
    monkeypatch.setattr(_loop_status, "audit_lines", lambda audit: [])
    agent: Any = None
    lines = [line.strip() for line in status.text(agent).splitlines()]
    assert (
        "last TLS failure on ssl:10.0.0.2:6642 (5 min ago): "
        "TLS handshake failed: certificate expired"
    ) in lines
    assert (
        "last TLS failure on ssl:10.0.0.3:6642 (12 s ago): the server closed the connection"
    ) in lines


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (119, "119 s"), (300, "5 min"), (7200, "2 h"), (3 * 86400, "3 d")],
)
def test_ages_for_people(seconds: float, text: str) -> None:
    assert _loop_status._age(seconds) == text
