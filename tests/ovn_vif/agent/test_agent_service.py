"""``ovn-vif agent`` as a service: control socket, pidfile, systemd notifications, metrics.

Against real daemons; the agent runs as a subprocess, as systemd would start it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support import REPO, missing, wait_for
from tests.support.agent import (
    TIMEOUT,
    AgentProcess,
    add_lsps,
    appctl,
    free_port,
    ovn_vif_command,
    run_agent,
    serve_sb,
    wait_plugged,
    wait_unplugged,
)

from ovn_vif._engine.compatible import COMPATIBLE_WITH
from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons

AGENT_PAGE = REPO / "docs" / "agent.rst"


def _documented_status() -> list[str]:
    """The example output of ``status`` on docs/agent.rst (its indented block)."""
    page = AGENT_PAGE.read_text()
    block = page.split("        chassis: hv1", 1)[1].split("\n\n    ``--json``", 1)[0]
    return ("        chassis: hv1" + block).splitlines()


def test_control_socket_and_pidfile(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    ctl, pidfile = tmp_path / "agent.ctl", tmp_path / "agent.pid"
    agent = start_agent(ovn_stack, "--unixctl", str(ctl), "--pidfile", str(pidfile))
    add_lsps(ovn_stack, "lsp1")
    ovn_stack.nbctl(
        "lsp-add", "sw0", "odd", "--",
        "lsp-set-options", "odd", "requested-chassis=hv1", "vif-plug-type=bogus",
    )  # fmt: skip
    wait_plugged(ovn_stack, "lsp1")
    wait_for(ctl.is_socket, "the control socket")
    assert pidfile.read_text().strip() == str(agent.proc.pid)

    def status() -> dict[str, object]:
        result = appctl(ctl, "status", "--json")
        assert result.returncode == 0, result.stderr
        data: dict[str, object] = json.loads(result.stdout)
        return data

    def decided() -> dict[str, object] | None:
        data = status()
        lports = {e["lport"]: e for e in data["lports"]}  # type: ignore[attr-defined]
        return data if {"lsp1", "odd"} <= set(lports) and data["unplugging_enabled"] else None

    data = wait_for(decided, "both decisions in the status")
    lports = {e["lport"]: e for e in data["lports"]}
    assert lports["lsp1"]["outcome"] == "plugged"
    assert lports["lsp1"]["commit"] == "success"
    assert lports["odd"]["outcome"] == "refused"
    assert lports["odd"]["reason"] == "unknown-plug-type"
    assert data["plugged"] == ["lsp1"]
    assert data["connections"]["southbound"]["connected"] is True
    assert data["last_reconcile"]["seconds"] >= 0
    assert data["compatible_with"] == COMPATIBLE_WITH

    text = appctl(ctl, "status").stdout
    assert re.search(r"^odd\s+refused\s+bogus\s+-\s+unknown-plug-type", text, re.M), text

    # The page shows the same lines (labels, columns) as the real output.
    def top_labels(block: list[str]) -> list[str]:
        # Indented lines (TLS failures, the self-audit's checks) come and go.
        head = block[: block.index("")]
        return [ln.split(":", 1)[0] for ln in head if not ln.startswith("  ")]

    documented = [line[8:] for line in _documented_status()]
    lines = text.splitlines()
    assert top_labels(lines) == top_labels(documented)
    header = documented[documented.index("") + 1].split()
    assert lines[lines.index("") + 1].split() == header
    assert "unplugging: enabled" in text
    # ovs-appctl speaks the same protocol.
    assert appctl(ctl, "status", tool="ovs-appctl").stdout == appctl(ctl, "status").stdout
    commands = appctl(ctl, "help", tool="ovs-appctl").stdout
    page = AGENT_PAGE.read_text()
    for name in (
        "status", "connection-status", "recompute", "coverage/show", "memory/show",
        "vlog/set", "vlog/list", "vlog/reopen", "version", "exit",
    ):  # fmt: skip
        assert re.search(rf"^  {re.escape(name)}\b", commands, re.M), name
        assert f"``{name}" in page, name
    assert appctl(ctl, "connection-status").stdout == "connected\n"
    coverage = appctl(ctl, "coverage/show").stdout
    assert re.search(r"^lport_plugged\s.*total: 1$", coverage, re.M), coverage

    assert appctl(ctl, "vlog/set", "ovn_vif.agent._loop:debug").returncode == 0
    assert re.search(r"^ovn_vif\.agent\._loop\s+DEBUG$", appctl(ctl, "vlog/list").stdout, re.M)
    no_file = appctl(ctl, "vlog/reopen")
    assert no_file.returncode == 2
    assert "there is no log file to reopen" in no_file.stderr
    bad = appctl(ctl, "vlog/set", "x:loud")
    assert bad.returncode == 2
    assert "unknown log level 'loud'" in bad.stderr

    assert appctl(ctl, "recompute").returncode == 0
    wait_for(lambda: "recompute requested" in agent.log(), "the recompute")
    wait_for(lambda: "|DEBUG|ovn_vif.agent._loop|reconcile #" in agent.log(), "a reconcile")

    # A second agent with the same pidfile refuses to start.
    second = run_agent(
        "--ovs-remote", ovn_stack.ovs_remote, "--pidfile", str(pidfile), "--unixctl", "none"
    )
    assert second.returncode == 2
    assert f"locked by another process (pid {agent.proc.pid})" in second.stderr

    assert appctl(ctl, "exit").returncode == 0
    assert agent.proc.wait(timeout=TIMEOUT) == 0
    assert not ctl.exists()
    assert not pidfile.exists()
    assert "exit requested through the control socket" in agent.log()
    assert "lsp1" in ovn_stack.vsctl("list-ports", "br-int")


def test_appctl_without_agent(tmp_path: Path) -> None:
    result = appctl(tmp_path / "none.ctl", "status")
    assert result.returncode == 1
    assert result.stderr.startswith(f"ovn-vif appctl: cannot connect to {tmp_path}/none.ctl")


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, Path]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(TIMEOUT)
    yield sock, path
    sock.close()


def test_systemd_ready_and_watchdog(
    ovn_stack: Sandbox, notify_socket: tuple[socket.socket, Path], tmp_path: Path
) -> None:
    sock, path = notify_socket
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_PID", "JOURNAL_STREAM")}
    env.update(NOTIFY_SOCKET=str(path), WATCHDOG_USEC="400000")
    log = (tmp_path / "agent.log").open("wb")
    proc = subprocess.Popen(
        [*ovn_vif_command(), "agent", "--ovs-remote", ovn_stack.ovs_remote, "--unixctl", "none"],
        stdout=log,
        stderr=log,
        env=env,
    )
    try:
        messages: list[str] = []

        def receive_until(predicate: Callable[[], bool]) -> None:
            while not predicate():
                messages.extend(sock.recv(4096).decode().splitlines())

        receive_until(lambda: "READY=1" in messages)
        ready_at = messages.index("READY=1")
        assert "STATUS=both databases in sync" in messages
        # The loop keeps pinging while idle.
        receive_until(lambda: messages[ready_at:].count("WATCHDOG=1") >= 3)
        add_lsps(ovn_stack, "lsp1")
        wait_plugged(ovn_stack, "lsp1")
        proc.send_signal(signal.SIGTERM)
        receive_until(lambda: "STOPPING=1" in messages)
        assert proc.wait(timeout=TIMEOUT) == 0
        assert messages.count("READY=1") == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return str(response.read().decode())


def test_metrics_are_scraped(ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    agent = start_agent(ovn_stack, "--metrics-address", f"127.0.0.1:{port}", "--unixctl", "none")
    url = f"http://127.0.0.1:{port}/metrics"
    add_lsps(ovn_stack, "lsp1", "lsp2")
    ovn_stack.nbctl(
        "lsp-add", "sw0", "odd", "--",
        "lsp-set-options", "odd", "requested-chassis=hv1", "vif-plug-type=bogus",
    )  # fmt: skip
    wait_plugged(ovn_stack, "lsp1", "lsp2")
    ovn_stack.nbctl("lsp-del", "lsp2")
    wait_unplugged(ovn_stack, "lsp2")

    def metrics() -> str | None:
        text = _scrape(url)
        wanted = [
            'ovn_vif_port_changes_total{action="plug",provider="dummy"} 2.0',
            'ovn_vif_port_changes_total{action="unplug",provider="dummy"} 1.0',
            'ovn_vif_plugged_ports{provider="dummy"} 1.0',
            'ovn_vif_lports_not_plugged_total{outcome="refused",provider="other",'
            'reason="unknown-plug-type"}',
            # In sync again once the unplug's update came back (a scrape
            # between the commit and that update reads 0).
            "ovn_vif_in_sync 1.0",
        ]
        return text if all(w in text for w in wanted) else None

    text = wait_for(metrics, "the metrics")
    # Every metric the docs name is served.
    for name in set(re.findall(r"\bovn_vif_[a-z_]+", AGENT_PAGE.read_text())):
        assert re.search(rf"^{name}(_bucket|_count)?[{{ ]", text, re.M), name
    assert 'ovn_vif_database_connected{database="southbound"} 1.0' in text
    assert re.search(r'^ovn_vif_commits_total\{status="success"\} [1-9]', text, re.M)
    count = re.search(r"^ovn_vif_reconcile_duration_seconds_count ([0-9.]+)$", text, re.M)
    assert count is not None
    assert float(count.group(1)) >= 2
    # What pages someone: the lports not plugged *now* (the counter grows every reconcile).
    assert 'ovn_vif_not_plugged_lports{outcome="refused",provider="other"} 1.0' in text
    for stage in ("interface", "ofport"):
        latency = re.search(
            rf'^ovn_vif_plug_latency_seconds_count{{stage="{stage}"}} ([0-9.]+)$', text, re.M
        )
        assert latency is not None, stage
        assert float(latency.group(1)) >= 2, stage
    assert 'ovn_vif_provider_errors_total{provider="dummy"} 0.0' in text
    assert 'ovn_vif_database_reconnects_total{database="southbound"} 0.0' in text
    assert "ovn_vif_tls_failures_total 0.0" in text
    assert re.search(r'^ovn_vif_build_info\{python="[0-9.]+",version="[^"]+"\} 1.0$', text, re.M)
    assert re.search(r"^process_resident_memory_bytes [0-9.e+]+$", text, re.M)
    assert re.search(r"^python_info\{", text, re.M)
    _check_exposition(text)
    assert agent.stop() == 0


def _check_exposition(text: str) -> None:
    """Names, units and types by Prometheus' conventions: ``promtool check metrics``
    where it is installed (Debian: prometheus), else prometheus_client's parser."""
    promtool = shutil.which("promtool")
    if promtool is not None:
        result = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout + result.stderr == "", result.stdout + result.stderr
        return
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        assert family.documentation, family.name
        if family.type == "counter":
            assert not family.name.endswith("_total"), family.name
        assert "_total" not in family.name or family.type == "counter", family.name


def test_alerting_rules_are_valid() -> None:
    """contrib/prometheus's example rules load in Prometheus and use served metrics."""
    rules = REPO / "contrib" / "prometheus" / "ovn-vif-agent.rules.yml"
    promtool = shutil.which("promtool")
    if promtool is None:
        missing("promtool is not installed (Debian: prometheus)")
    result = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    documented = set(re.findall(r"\bovn_vif_[a-z_]+", AGENT_PAGE.read_text()))
    for name in set(re.findall(r"\bovn_vif_[a-z_]+", rules.read_text())):
        assert re.sub(r"_bucket$", "", name) in documented, name


def test_metrics_address_in_use_exits_2(ovn_stack: Sandbox) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = run_agent(
            "--ovs-remote", ovn_stack.ovs_remote, "--metrics-address", f"127.0.0.1:{port}"
        )
    assert result.returncode == 2
    assert f"ovn-vif agent: error: cannot serve metrics on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_control_socket_that_cannot_be_created_exits_2(ovn_stack: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "agent.ctl"
    result = run_agent("--ovs-remote", ovn_stack.ovs_remote, "--unixctl", str(path))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "control socket" in line]
    assert lines == [
        f"ovn-vif agent: error: cannot create the control socket {path}: No such file or directory"
    ]


def test_control_socket_mode_is_fixed_whatever_the_umask(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    # Under umask 0 the socket used to be 0777: anyone could send "exit".
    ctl = tmp_path / "agent.ctl"
    old = os.umask(0)
    try:
        agent = start_agent(ovn_stack, "--unixctl", str(ctl))
    finally:
        os.umask(old)
    wait_for(ctl.is_socket, "the control socket")
    # The mode ovs-vswitchd's and ovsdb-server's sockets have.
    assert stat.S_IMODE(ctl.stat().st_mode) == 0o770
    assert appctl(ctl, "version").returncode == 0
    assert agent.stop() == 0


def test_detach_monitor_and_pidfile_as_ovs_daemons(ovn_stack: Sandbox, tmp_path: Path) -> None:
    ctl, pidfile, log_file = tmp_path / "agent.ctl", tmp_path / "agent.pid", tmp_path / "agent.log"
    args = (
        "--ovs-remote", ovn_stack.ovs_remote, "--unixctl", str(ctl), "--pidfile", str(pidfile),
        "--log-file", str(log_file), "--detach", "--monitor",
    )  # fmt: skip
    # --detach returns once the agent is set up: pidfile and socket exist.
    started = run_agent(*args)
    assert started.returncode == 0, started.stderr
    assert ctl.is_socket()
    first = int(pidfile.read_text())
    try:
        assert appctl(ctl, "version").returncode == 0
        add_lsps(ovn_stack, "lsp1")
        wait_plugged(ovn_stack, "lsp1")
        # A crash: the monitor starts the agent again, which writes its pid.
        os.kill(first, signal.SIGSEGV)
        wait_for(
            lambda: pidfile.exists() and pidfile.read_text().strip() not in ("", str(first)),
            "a restarted agent",
        )
        second = int(pidfile.read_text())
        wait_for(lambda: appctl(ctl, "version").returncode == 0, "its control socket")
        crash = f"monitor: the agent (pid {first}) killed by signal 11 (SIGSEGV), restarting"
        assert crash in log_file.read_text()
        # "exit" is not a crash: the agent and its monitor end.
        assert appctl(ctl, "exit").returncode == 0
        wait_for(lambda: not pidfile.exists(), "the agent gone")
        wait_for(
            lambda: (
                f"monitor: the agent (pid {second}) exited with status 0; exiting"
                in log_file.read_text()
            ),
            "the monitor gone",
        )
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
    # A bad set-up is reported by the command itself, not restarted.
    bad = run_agent(*args, "--ovn-remote", "tcp:localhost")
    assert bad.returncode == 2, bad.stderr
    assert "has no port" in bad.stderr


def test_control_socket_answers_while_the_southbound_is_unreachable(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:

    port = free_port()
    member = f"tcp:127.0.0.1:{port}"
    ctl = tmp_path / "agent.ctl"
    agent = start_agent(
        ovn_stack, "--ovn-remote", member, "--unixctl", str(ctl), "--connect-timeout", "120"
    )
    wait_for(ctl.is_socket, "the control socket before any Southbound connection")

    def starting() -> str:
        out = appctl(ctl, "status").stdout
        return out if "last error" in out else ""

    text = wait_for(starting, "the start-up status")
    assert text.startswith(f"starting: connecting to the Southbound database at {member} since ")
    assert f"  last error on {member}: Connection refused" in text
    data = json.loads(appctl(ctl, "status", "--json").stdout)
    assert data["starting"]["errors"] == {member: "Connection refused"}
    assert appctl(ctl, "connection-status").stdout == "not connected\n"
    assert appctl(ctl, "version").returncode == 0
    assert appctl(ctl, "vlog/set", "info").returncode == 0
    busy = appctl(ctl, "recompute")
    assert busy.returncode == 2
    assert "the agent is starting" in busy.stderr
    # The Southbound comes up: the agent goes on as usual.
    serve_sb(ovn_stack, ("127.0.0.1", port))
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    wait_for(lambda: appctl(ctl, "connection-status").stdout == "connected\n", "connected")
    assert "starting" not in json.loads(appctl(ctl, "status", "--json").stdout)
    assert agent.stop() == 0


def test_exit_while_the_southbound_is_unreachable(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:

    ctl = tmp_path / "agent.ctl"
    agent = start_agent(
        ovn_stack,
        *("--ovn-remote", f"tcp:127.0.0.1:{free_port()}", "--unixctl", str(ctl)),
        *("--connect-timeout", "120"),
    )
    wait_for(ctl.is_socket, "the control socket")
    assert appctl(ctl, "exit").returncode == 0
    assert agent.proc.wait(timeout=30) == 0
