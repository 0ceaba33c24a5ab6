"""The agent's self-audit finds a divergence it was never told about, says so, and recovers.

Each case plants a failure that nothing else would report: a Southbound
update lost on the way (the agent's copy silently lacks a row), a condition
change whose answer never comes (the agent waits forever with unplugging
paused), and an engine whose incremental runs miss a change. With the audit
the agent logs an ERROR naming what differs and converges on its own; the
same case with the audit switched off shows the failure is real (nothing
converges).
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from tests.support import cpu_seconds, wait_for
from tests.support.agent import AgentProcess, add_lsps, ovn_vif_command, plugged
from tests.support.faultproxy import FaultProxy

from ovn_vif.agent import Agent, AgentConfig
from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons

IN_SYNC = "both databases in sync: unplugging enabled"
# How long the control cases wait to show that, without the audit, the
# planted failure is not repaired by anything else.
CONTROL_WAIT = 6.0


class Audited:
    """An ``ovn-vif agent`` behind a fault proxy on the Southbound connection."""

    def __init__(self, stack: Sandbox, tmp_path: Path, interval: float) -> None:
        self.stack = stack
        self.log = tmp_path / "agent.log"
        self.ctl = tmp_path / "agent.ctl"
        self.proxy = FaultProxy(tmp_path / "sb.sock", stack.sb.socket_path).start()
        self.agent = AgentProcess(
            stack,
            self.log,
            "--provider",
            "dummy",
            "--ovn-remote",
            self.proxy.remote,
            "--audit-interval",
            str(interval),
            "--unixctl",
            str(self.ctl),
        )
        wait_for(lambda: IN_SYNC in self.text(), "the agent in sync")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def appctl_status(self) -> dict[str, Any]:
        out = subprocess.run(
            [*ovn_vif_command(), "appctl", "-t", str(self.ctl), "status", "--json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        status: dict[str, Any] = json.loads(out)
        return status

    def close(self) -> None:
        self.agent.kill()
        self.proxy.close()


@pytest.fixture
def audited(ovn_stack: Sandbox, tmp_path: Path) -> Iterator[Any]:
    made: list[Audited] = []

    def make(interval: float) -> Audited:
        a = Audited(ovn_stack, tmp_path, interval)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def _is_plugged(stack: Sandbox, lport: str) -> bool:
    return lport in plugged(stack)


@pytest.mark.parametrize("interval", [1.0, 0.0], ids=["audit", "no-audit"])
def test_a_lost_southbound_update_is_found_and_repaired(
    ovn_stack: Sandbox, audited: Any, interval: float
) -> None:
    a = audited(interval)
    add_lsps(ovn_stack, "lsp1")
    wait_for(lambda: _is_plugged(ovn_stack, "lsp1"), "lsp1 plugged")
    # The update that brings lsp2's Port_Binding never reaches the agent;
    # the connection stays up, so nothing in python-ovs notices.
    rule = a.proxy.on("to_client", "update3", "discard", contains='"lsp2"')
    add_lsps(ovn_stack, "lsp2")
    wait_for(lambda: rule.fired, "the lost update")
    if not interval:
        time.sleep(CONTROL_WAIT)
        assert not _is_plugged(ovn_stack, "lsp2"), "the planted loss did not stick"
        return
    wait_for(lambda: _is_plugged(ovn_stack, "lsp2"), "lsp2 plugged after the audit", timeout=30)
    log = a.text()
    assert "|ERROR|ovn_vif.agent._loop|self-audit: the Southbound view differs" in log
    assert "1 missing from the agent's view (lsp2)" in log
    audit = a.appctl_status()["self_audit"]
    assert audit["divergences"]["southbound"] >= 1
    assert audit["interval"] == 1.0
    # ovn-vif status (read from the status file) says when it last ran.
    out = subprocess.run(
        [*ovn_vif_command(), "status", "--ovs-remote", ovn_stack.ovs_remote],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "self-audit: last at" in out
    # And the view is whole again: later changes are followed.
    add_lsps(ovn_stack, "lsp3")
    ovn_stack.nbctl("lsp-del", "lsp1")
    wait_for(lambda: set(plugged(ovn_stack)) == {"lsp2", "lsp3"}, "lsp3 plugged, lsp1 unplugged")


@pytest.mark.parametrize("interval", [1.0, 0.0], ids=["audit", "no-audit"])
def test_a_condition_change_never_acknowledged_is_found_and_repaired(
    ovn_stack: Sandbox, audited: Any, interval: float
) -> None:
    a = audited(interval)
    add_lsps(ovn_stack, "lsp1")
    wait_for(lambda: _is_plugged(ovn_stack, "lsp1"), "lsp1 plugged")
    # lsp1's binding leaves the view: the agent asks for it by name before
    # unplugging, and the answer to that condition change is lost.
    rule = a.proxy.on("to_client", "monitor_cond_change", "discard")
    ovn_stack.nbctl("lsp-del", "lsp1")
    wait_for(lambda: rule.fired, "the lost acknowledgement")
    # The loop waits for the answer a bounded time only: plugging goes on.
    add_lsps(ovn_stack, "lsp2")
    wait_for(lambda: _is_plugged(ovn_stack, "lsp2"), "lsp2 plugged while the answer is lost")
    # Unplugging waits for acknowledged conditions.
    if not interval:
        used = cpu_seconds(a.agent.proc.pid)
        time.sleep(CONTROL_WAIT)
        assert _is_plugged(ovn_stack, "lsp1"), "the planted loss did not stick"
        # Waiting for the answer, the loop blocks: a loop that wakes at once
        # would use about a core for all that time.
        assert cpu_seconds(a.agent.proc.pid) - used < CONTROL_WAIT / 4
        return
    wait_for(lambda: not _is_plugged(ovn_stack, "lsp1"), "lsp1 unplugged", timeout=30)
    assert "monitor condition change has not been acknowledged" in a.text()
    assert a.appctl_status()["self_audit"]["divergences"]["conditions"] >= 1


def _plugged_in(agent: Agent, lport: str) -> bool:
    return any(
        row.external_ids.get("iface-id") == lport and "ovn-plugged" in row.external_ids
        for row in agent.ovs_idl.tables["Interface"].rows.values()
    )


@pytest.mark.parametrize("interval", [1.0, 0.0], ids=["audit", "no-audit"])
def test_an_engine_that_misses_a_change_is_found_by_the_full_run(
    ovn_stack: Sandbox,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    interval: float,
) -> None:
    config = AgentConfig(
        ovs_remote=ovn_stack.ovs_remote, providers=["dummy"], audit_interval=interval
    )
    with Agent(config) as agent:
        assert agent.run_until(lambda: agent.synced and agent.idle, timeout=30)
        # The planted engine bug: incremental runs find nothing to decide
        # (full runs are left alone).
        incremental = agent.reconciler._incremental
        real = incremental.changes

        def misses_changes(*args: Any, **kwargs: Any) -> Any:
            changes = real(*args, **kwargs)
            if changes is None:
                return None
            return attrs.evolve(changes, lports=frozenset(), ovs=None, sb=None)

        monkeypatch.setattr(incremental, "changes", misses_changes)
        add_lsps(ovn_stack, "lsp1")
        caplog.set_level(logging.DEBUG, logger="ovn_vif")
        done = agent.run_until(
            lambda: _plugged_in(agent, "lsp1"), timeout=20 if interval else CONTROL_WAIT
        )
        if not interval:
            assert not done, "the planted engine bug did not stick"
            return
        assert done
        assert agent.divergences["engine"] == 1
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any("a full run had to change 1 lport(s)" in m and "(lsp1)" in m for m in errors), (
            errors
        )


def test_a_divergence_a_reload_does_not_cure_is_not_reloaded_in_a_loop(
    ovn_stack: Sandbox,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ovn_vif.agent import _audit

    add_lsps(ovn_stack, "lsp1")
    config = AgentConfig(ovs_remote=ovn_stack.ovs_remote, providers=["dummy"], audit_interval=1)
    with Agent(config) as agent:
        assert agent.run_until(lambda: _plugged_in(agent, "lsp1") and agent.synced, timeout=30)
        # The planted divergence survives every reload: the view always lacks lsp1.
        real = _audit.view_rows

        def without_lsp1(sb_idl: Any, chassis_uuid: Any) -> Any:
            return {u: r for u, r in real(sb_idl, chassis_uuid).items() if r[0] != "lsp1"}

        monkeypatch.setattr(_audit, "view_rows", without_lsp1)
        caplog.set_level(logging.INFO, logger="ovn_vif")
        agent.run_until(lambda: agent.divergences["southbound"] >= 3, timeout=20)
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        reloads = [m for m in errors if "reloading the Southbound database and deciding" in m]
        later = [m for m in errors if "still differs" in m and "reloading again in" in m]
        assert agent.divergences["southbound"] >= 3, errors
        assert len(reloads) == 1, errors
        assert later, errors
        assert all("1 missing from the agent's view (lsp1)" in m for m in reloads + later)


def test_a_due_audit_does_not_spin_the_loop_while_the_southbound_is_down(
    ovn_stack: Sandbox,
) -> None:
    config = AgentConfig(ovs_remote=ovn_stack.ovs_remote, providers=["dummy"], audit_interval=1)
    with Agent(config) as agent:
        assert agent.run_until(lambda: agent.synced and agent.idle, timeout=30)
        ovn_stack.sb.stop()
        try:
            iterations = [0]

            def count() -> bool:
                iterations[0] += 1
                return False

            # Audits fall due while the Southbound is away; the loop must
            # sleep until something happens (reconnection attempts with
            # their back-off), not wake at once over and over.
            agent.run_until(count, timeout=CONTROL_WAIT)
            assert iterations[0] < 200, iterations[0]
        finally:
            ovn_stack.sb.start()
        assert agent.run_until(lambda: agent.synced, timeout=30)
