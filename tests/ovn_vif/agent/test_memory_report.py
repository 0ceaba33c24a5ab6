"""Memory reports as OVS daemons make them (``ovn_vif.agent._memory``).

The sequence (ten seconds after the start, then on half growth, checked at
most every ten seconds) on a fake clock; the log lines and ``memory/show``
of a real agent against those of the real ``ovn-controller`` in the same
run: the same forms, so that the same ``grep`` finds both.
"""

from __future__ import annotations

import logging
import re
import types
from pathlib import Path
from typing import Any

import pytest
from tests.support import Clock, wait_for
from tests.support.agent import AgentProcess, add_lsps, appctl, wait_plugged

from ovn_vif._ovs_private import SHARED
from ovn_vif.agent import _memory
from ovn_vif.agent._memory import MemoryReport, usage_line
from ovn_vif.sandbox import Sandbox

LOGGER = "ovn_vif.agent._memory"
#: The two report lines, and the figures line, as ovn-controller writes them.
FIRST = re.compile(r"^(\d+) kB peak resident set size after (\d+\.\d) seconds$")
GREW = re.compile(
    r"^peak resident set size grew (\d+)% in last (\d+\.\d) seconds, from (\d+) kB to (\d+) kB$"
)
FIGURES = re.compile(r"^[A-Za-z0-9_.-]+:\d+( [A-Za-z0-9_.-]+:\d+)*$")


def test_reports_after_ten_seconds_then_on_half_growth(caplog: pytest.LogCaptureFixture) -> None:
    clock, peaks = Clock(), [20000]
    looked: list[float] = []

    def peak() -> int:
        looked.append(clock.now)
        return peaks[0]

    report = MemoryReport(clock=clock, peak=peak)
    agent: Any = types.SimpleNamespace(ovs_idl=None, sb_idl=None)
    caplog.set_level(logging.INFO, logger=LOGGER)

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == LOGGER]

    assert report.next_wakeup() == 110.0  # the loop wakes up for the first one
    clock.now = 109.9
    report.iteration(agent)
    assert lines() == []
    clock.now = 110.0
    report.iteration(agent)
    assert lines() == [
        "20000 kB peak resident set size after 10.0 seconds",
        f"shared-values:{len(SHARED)}",
    ]
    assert report.next_wakeup() is None  # later checks ride on other iterations
    peaks[0] = 29999  # below half as much again: nothing
    clock.now = 125.0
    report.iteration(agent)
    peaks[0] = 30000
    clock.now = 130.0  # checked at 125: the next check is not before 135
    report.iteration(agent)
    assert len(lines()) == 2
    clock.now = 135.0
    report.iteration(agent)
    assert lines()[2:] == [
        "peak resident set size grew 50% in last 25.0 seconds, from 20000 kB to 30000 kB",
        f"shared-values:{len(SHARED)}",
    ]
    assert looked == [110.0, 125.0, 135.0]
    for line in lines():
        assert FIRST.match(line) or GREW.match(line) or FIGURES.match(line), line


def test_peak_is_the_process_peak_in_kilobytes() -> None:
    status = Path("/proc/self/status").read_text()
    hwm = int(re.search(r"^VmHWM:\s+(\d+) kB$", status, re.M).group(1))  # type: ignore[union-attr]
    # The kernel keeps the two from counters it syncs at different times
    # (they differed by 160 kB in one run): the same figure within a few
    # percent, and in kB (bytes would be 1024 times it, pages a quarter).
    assert hwm > 1000
    assert abs(_memory.peak_rss_kb() - hwm) <= hwm * 0.05


def _messages(log: str, marker: str) -> list[str]:
    return [line.split(marker, 1)[1] for line in log.splitlines() if marker in line]


@pytest.mark.daemons
def test_the_agent_reports_as_ovn_controller_does(tmp_path: Path) -> None:
    """The real ovn-controller and the agent side by side, in one sandbox:
    each logs its peak after about ten seconds and its figures, and answers
    ``memory/show`` with the same kind of line."""
    stack = Sandbox("hv1", controller=True, ignore_startup_delay=True)
    with stack:
        assert stack.controller is not None
        ctl = tmp_path / "agent.ctl"
        agent = AgentProcess(stack, tmp_path / "agent.log", "--unixctl", str(ctl))
        try:
            controller_log = stack.logs()["ovn-controller"]
            ours_marker, theirs_marker = f"|{LOGGER}|", "|memory|INFO|"

            def reported() -> bool:
                ours = _messages(agent.log(), ours_marker)
                theirs = _messages(controller_log.read_text(errors="replace"), theirs_marker)
                return len(ours) >= 2 and len(theirs) >= 2

            wait_for(reported, "both memory reports", timeout=60)
            ours = _messages(agent.log(), ours_marker)
            theirs = _messages(controller_log.read_text(errors="replace"), theirs_marker)
            for lines in (ours, theirs):
                first = FIRST.match(lines[0])
                assert first is not None, lines
                assert 10.0 <= float(first.group(2)) < 30.0, lines
                assert FIGURES.match(lines[1]), lines
            theirs_show = stack.dir.run(
                "ovn-appctl", "-t", str(stack.controller.ctl_path), "memory/show"
            ).strip()
            ours_show = appctl(ctl, "memory/show", tool="ovs-appctl").stdout.strip()
            for line in (ours_show, theirs_show):
                assert FIGURES.match(line), line
                names = dict(pair.split(":") for pair in line.split())
                assert int(names["idl-cells-OVN_Southbound"]) > 0, line
                assert int(names["idl-cells-Open_vSwitch"]) > 0, line
        finally:
            assert agent.stop() == 0, agent.log()


@pytest.mark.daemons
def test_memory_show_counts_what_the_agent_holds(ovn_stack: Sandbox, tmp_path: Path) -> None:
    ctl = tmp_path / "agent.ctl"
    agent = AgentProcess(ovn_stack, tmp_path / "agent.log", "--unixctl", str(ctl))
    try:
        wait_for(ctl.is_socket, "the control socket")

        def figures() -> dict[str, int]:
            reply = appctl(ctl, "memory/show")
            assert reply.returncode == 0, reply.stderr
            assert FIGURES.match(reply.stdout.strip()), reply.stdout
            found = {k: int(v) for k, v in (p.split(":") for p in reply.stdout.split())}
            assert reply.stdout == usage_line(found) + "\n"  # by name, as OVS daemons
            return found

        before = wait_for(
            lambda: (f := figures()).get("idl-cells-OVN_Southbound") and f, "a Southbound IDL"
        )
        add_lsps(ovn_stack, "lsp-m1", "lsp-m2")
        wait_plugged(ovn_stack, "lsp-m1", "lsp-m2")
        after = wait_for(lambda: (f := figures())["status-lports"] >= 2 and f, "two decisions")
        for db in ("OVN_Southbound", "Open_vSwitch"):
            assert after[f"idl-cells-{db}"] > before[f"idl-cells-{db}"], (before, after)
        assert after["shared-values"] > 0
    finally:
        assert agent.stop() == 0, agent.log()
