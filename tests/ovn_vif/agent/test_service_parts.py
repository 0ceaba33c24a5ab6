"""The service parts of the agent, one at a time, without daemons (the agent on the fake IDL)."""

from __future__ import annotations

import logging
import os
import platform
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ovn_vif import (
    Decision,
    Outcome,
    Reason,
    ReconcileReport,
    Registry,
    __version__,
    create_sb_indexes,
)
from ovn_vif.agent import Agent, AgentConfig, AgentSetupError, prepare_ovs_helper, prepare_sb_helper
from ovn_vif.agent import _tls as tls
from ovn_vif.agent._json import uninstall
from ovn_vif.agent._loop_status import LoopStatus, printable
from ovn_vif.agent._metrics import Metrics, parse_address
from ovn_vif.agent._notify import SystemdNotifier, watchdog_interval
from ovn_vif.agent._observers import Observer
from ovn_vif.cli._daemon import Pidfile
from ovn_vif.cli._logging import JournalFormatter
from ovn_vif.testing import PortBindingFactory, connect, ovs_database, sb_database
from ovn_vif_dummy import DummyProvider


@pytest.fixture
def fake_agent() -> Iterator[tuple[Agent, PortBindingFactory]]:
    ovs_idl = connect(ovs_database(system_id="hv1"), prepare_ovs_helper)
    sb_db = sb_database(chassis="hv1")
    sb_idl = connect(sb_db, prepare_sb_helper, before_connect=create_sb_indexes)
    registry = Registry()
    registry.register(DummyProvider())
    agent = Agent(AgentConfig(), registry)
    agent.start(ovs_idl=ovs_idl, sb_idl=sb_idl)
    yield agent, PortBindingFactory(sb_db, chassis="hv1")
    agent.close()
    registry.destroy_all()
    ovs_idl.close()
    sb_idl.close()
    uninstall()


class Broken(Observer):
    calls = 0

    def iteration(self, agent: Agent) -> None:
        self.calls += 1
        raise RuntimeError("observer bug")


def test_a_failing_observer_never_stops_the_loop(
    fake_agent: tuple[Agent, PortBindingFactory], caplog: pytest.LogCaptureFixture
) -> None:
    agent, bindings = fake_agent
    broken, status = Broken(), LoopStatus()
    agent.observers.add(broken)
    agent.observers.add(status)
    bindings("vm1", plug_type="dummy")
    bindings("odd\x1b[2J", plug_type="bogus")
    assert agent.run_until(lambda: "vm1" in status.lports and agent.synced, timeout=10)
    assert broken.calls > 1
    failures = [r for r in caplog.records if "Broken.iteration failed" in r.getMessage()]
    assert len(failures) == 1  # rate-limited
    snapshot = status.snapshot(agent)
    lports = {e["lport"]: e for e in snapshot["lports"]}
    assert lports["vm1"]["outcome"] == "plugged"
    assert lports["odd\x1b[2J"]["reason"] == "unknown-plug-type"
    assert snapshot["plugged"] == ["vm1"]
    # Control characters from the database are escaped in the text.
    text = status.text(agent)
    assert "\x1b" not in text
    assert "odd\\x1b[2J" in text
    assert status.counters["lport_plugged"] == 1


def test_printable() -> None:
    assert printable("lsp1") == "lsp1"
    assert printable("a\nb\tc") == "a\\nb\\tc"


def test_journal_formatter_priorities() -> None:
    fmt = JournalFormatter()
    for level, prio in ((logging.DEBUG, 7), (logging.INFO, 6), (logging.WARNING, 4)):
        record = logging.LogRecord("ovn_vif.x", level, __file__, 1, "hello %s", ("you",), None)
        assert fmt.format(record) == f"<{prio}>ovn_vif.x: hello you"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "m", None, None)
    assert fmt.format(record) == "<3>x: m"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9476", ("127.0.0.1", 9476)), (":80", ("0.0.0.0", 80)), ("[::]:1", ("::", 1))],
)
def test_parse_metrics_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["9476", "host:", "host:99999", "host:http"])
def test_parse_metrics_address_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="use HOST:PORT"):
        parse_address(text)


def test_watchdog_interval() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    pid = str(os.getpid())
    assert watchdog_interval({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": pid}) == 1.0
    assert watchdog_interval({"WATCHDOG_USEC": "x"}) is None
    assert watchdog_interval({}) is None


def test_notifier_speaks_to_an_abstract_socket() -> None:
    name = f"ovn-vif-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.enabled
        assert notifier.send("READY=1", "STATUS=ok")
        assert sock.recv(100) == b"READY=1\nSTATUS=ok"
        notifier.close()
    assert not SystemdNotifier({}).enabled
    assert not SystemdNotifier({"NOTIFY_SOCKET": "relative"}).enabled


def test_pidfile_is_locked_and_a_stale_one_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "agent.pid"
    path.write_text("999999\n")  # left by a crash: no lock held
    first = Pidfile(str(path))
    # The lock is per process (fcntl): a child tries to take it. (Reading
    # the file here first would drop the lock: closing any descriptor of a
    # file releases the process's POSIX locks on it.)
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        try:
            Pidfile(str(path))
        except AgentSetupError as exc:
            os._exit(0 if f"locked by another process (pid {os.getppid()})" in str(exc) else 1)
        os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert path.read_text() == f"{os.getpid()}\n"
    first.close()
    assert not path.exists()


def test_pidfile_in_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(AgentSetupError, match="cannot create the pidfile"):
        Pidfile(str(tmp_path / "no" / "agent.pid"))


class _Types:
    def types(self) -> tuple[str, ...]:
        return ("dummy",)


class _Session:
    def __init__(self) -> None:
        self.seqno = 0

    def get_seqno(self) -> int:
        return self.seqno


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_metrics_not_plugged_now_provider_errors_and_latency() -> None:
    """The gauge follows the latest reconcile (the counter only grows); a provider
    error is counted; a committed plug observes the interface stage of the latency."""
    metrics = Metrics()
    agent: Any = SimpleNamespace(registry=_Types())
    declined = Decision(
        lport="lsp1", outcome=Outcome.DECLINED, reason=Reason.PROVIDER_DECLINED, plug_type="dummy"
    )
    failed = Decision(
        lport="lsp2", outcome=Outcome.REFUSED, reason=Reason.PROVIDER_ERROR, plug_type="dummy"
    )
    plugged = Decision(lport="lsp3", outcome=Outcome.PLUGGED, plug_type="dummy")
    report = ReconcileReport(decisions=(declined, failed, plugged), changed=True)
    metrics.reconciled(agent, report, 0.01)
    metrics.committed(agent, report, "success", 0.02)
    assert _value(metrics, "ovn_vif_not_plugged_lports", outcome="declined", provider="dummy") == 1
    assert _value(metrics, "ovn_vif_not_plugged_lports", outcome="refused", provider="dummy") == 1
    assert _value(metrics, "ovn_vif_provider_errors_total", provider="dummy") == 1
    assert _value(metrics, "ovn_vif_plug_latency_seconds_count", stage="interface") == 1
    assert _value(metrics, "ovn_vif_plug_latency_seconds_count", stage="ofport") == 0
    # Next reconcile: lsp1 is plugged after all; lsp2 still fails.
    again = ReconcileReport(decisions=(failed,))
    metrics.reconciled(agent, again, 0.01)
    metrics.committed(agent, again, "unchanged", 0.0)
    assert _value(metrics, "ovn_vif_not_plugged_lports", outcome="declined", provider="dummy") == 0
    assert _value(metrics, "ovn_vif_provider_errors_total", provider="dummy") == 2
    assert _value(metrics, "ovn_vif_lports_not_plugged_total", outcome="declined",
                  reason="provider-declined", provider="dummy") == 1  # fmt: skip
    metrics.close()


def test_metrics_count_reconnects_and_tls_failures() -> None:
    metrics = Metrics()
    session = _Session()
    idl = SimpleNamespace(_session=session)
    metrics._count_reconnects("southbound", idl, connected=True)
    session.seqno = 2  # disconnected, connected again
    metrics._count_reconnects("southbound", idl, connected=True)
    session.seqno = 3  # disconnected: not a reconnection yet
    metrics._count_reconnects("southbound", idl, connected=False)
    assert _value(metrics, "ovn_vif_database_reconnects_total", database="southbound") == 1
    assert _value(metrics, "ovn_vif_build_info", version=__version__,
                  python=platform.python_version()) == 1  # fmt: skip
    assert _value(metrics, "process_resident_memory_bytes") is not None
    before = _value(metrics, "ovn_vif_tls_failures_total")
    try:
        tls.record_failure("ssl:192.0.2.1:6642", "certificate verify failed")
        metrics._count_tls_failures()
        metrics._count_tls_failures()  # the same failure counts once
        assert _value(metrics, "ovn_vif_tls_failures_total") == (before or 0) + 1
    finally:
        tls.clear_failure("ssl:192.0.2.1:6642")
    metrics.close()
