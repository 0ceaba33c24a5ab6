"""``ovn-vif agent`` logging as a service: log file and its reopening, SIGHUP, levels, journald."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import ovs.reconnect
import ovs.vlog
import pytest
from tests.support import wait_for
from tests.support.agent import (
    TIMEOUT,
    AgentProcess,
    add_lsps,
    ovn_vif_command,
    run_agent,
    wait_plugged,
)
from tests.support.cluster import SouthboundCluster
from tests.support.fake_agent import World

from ovn_vif._ovs_private import unroute_ovs_logging
from ovn_vif.cli._logging import parse_verbosity
from ovn_vif.sandbox import Sandbox, SandboxDir


def test_parse_verbosity_rejects_nonsense() -> None:
    assert parse_verbosity("ovn_vif._engine:off")[2] > 50
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        parse_verbosity("ovn_vif:loud")
    with pytest.raises(ValueError, match="DESTINATION:LEVEL"):
        parse_verbosity("a:console:info")


@pytest.mark.daemons
def test_log_file_is_reopened_on_sighup(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    log_file = tmp_path / "agent.log"
    ctl = tmp_path / "agent.ctl"
    agent = start_agent(
        ovn_stack, "--log-file", str(log_file), "-v", "console:off", "--unixctl", str(ctl)
    )
    wait_for(lambda: log_file.exists() and "both databases in sync" in log_file.read_text(), "sync")
    rotated = tmp_path / "agent.log.1"
    log_file.rename(rotated)
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: log_file.exists() and "SIGHUP: reopened" in log_file.read_text(), "reopen")
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    wait_for(lambda: "Plugging port lsp1" in log_file.read_text(), "the plug in the new file")
    assert "Plugging port lsp1" not in rotated.read_text()
    assert agent.proc.poll() is None
    # logrotate's other way: the control socket.
    log_file.rename(tmp_path / "agent.log.2")
    reopen = subprocess.run(
        [*ovn_vif_command(), "appctl", "-t", str(ctl), "vlog/reopen"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert reopen.returncode == 0, reopen.stderr
    wait_for(
        lambda: (
            log_file.exists()
            and "reopened the log file through the control socket" in log_file.read_text()
        ),
        "the second reopen",
    )
    assert agent.stop() == 0
    # -v console:off: nothing on stderr.
    assert agent.log() == ""


@pytest.mark.daemons
def test_sighup_without_log_file_is_not_fatal(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(ovn_stack)
    wait_for(lambda: "both databases in sync" in agent.log(), "sync")
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP: no log file to reopen; ignored" in agent.log(), "the SIGHUP line")
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    assert agent.stop() == 0


@pytest.mark.daemons
def test_per_module_levels(ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]) -> None:
    agent = start_agent(ovn_stack, "--log-level", "warning", "-v", "ovn_vif.agent._loop:debug")
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    wait_for(lambda: "|DEBUG|ovn_vif.agent._loop|reconcile #" in agent.log(), "a debug line")
    assert agent.stop() == 0
    log = agent.log()
    # The engine's INFO line about the plug is below the global level.
    assert "Plugging port lsp1" not in log
    assert "|INFO|ovn_vif.agent._loop|" in log


@pytest.mark.daemons
def test_configuration_error_is_printed_once(ovn_stack: Sandbox, tmp_path: Path) -> None:
    ovn_stack.vsctl("remove", "Open_vSwitch", ".", "external_ids", "system-id")
    log_file = tmp_path / "agent.log"
    result = run_agent("--ovs-remote", ovn_stack.ovs_remote, "--log-file", str(log_file))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "system-id is not set" in line]
    assert len(lines) == 1
    assert lines[0].startswith("ovn-vif agent: error: cannot read the chassis name")
    # The log file has it too, once.
    assert log_file.read_text().count("system-id is not set") == 1


def test_unwritable_log_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_agent("--log-file", str(tmp_path / "no" / "such" / "dir.log"))
    assert result.returncode == 2
    assert result.stderr.startswith("ovn-vif agent: error: cannot open the log file")
    assert "Traceback" not in result.stderr


def test_journal_format_when_stderr_is_the_journal(tmp_path: Path) -> None:
    err_path = tmp_path / "stderr"
    with err_path.open("wb") as err:
        st = os.fstat(err.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        remote = f"unix:{tmp_path}/none.sock"
        code = subprocess.run(
            [*ovn_vif_command(), "status", "--ovs-remote", remote, "--timeout", "0.3"],
            stderr=err,
            stdout=subprocess.DEVNULL,
            env=env,
            timeout=TIMEOUT,
            check=False,
        ).returncode
    assert code == 2
    lines = err_path.read_text().splitlines()
    assert (
        f"<4>ovn_vif.agent._connections: cannot reach the local Open_vSwitch DB at {remote}"
        in (lines[0])
    )


@pytest.mark.daemons
def test_syslog_destination(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    path = tmp_path / "log.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(TIMEOUT)
        agent = start_agent(
            ovn_stack, "--syslog-method", f"unix:{path}", "-v", "syslog:info", "-v", "console:off"
        )
        add_lsps(ovn_stack, "lsp1")
        wait_plugged(ovn_stack, "lsp1")
        pid = agent.proc.pid
        # Facility daemon (3) * 8 + info (6) = 30; the tag is ovn-vif[PID].
        wanted = f"<30>ovn-vif[{pid}]: ovn_vif._engine.decision|Plugging port lsp1 into br-int"
        lines: list[str] = []
        while not any(line.startswith(wanted) for line in lines):
            lines.append(sock.recv(65536).decode())
        assert not any(line.startswith("<31>") for line in lines)  # debug is filtered out
        assert agent.stop() == 0
    assert agent.log() == ""


def test_bad_syslog_method_is_a_usage_error() -> None:
    result = run_agent("--syslog-method", "tcp:1.2.3.4:514")
    assert result.returncode == 2
    assert result.stderr == (
        "ovn-vif agent: error: --syslog-method 'tcp:1.2.3.4:514': use unix:PATH or udp:HOST:PORT\n"
    )


def _sb_with_an_unreachable_member(stack: Sandbox) -> tuple[str, str]:
    """A Southbound remote listing a member nothing listens on, then the real server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unreachable = f"tcp:127.0.0.1:{port}"
    return unreachable, f"{unreachable},{stack.sb_remote}"


def _make_the_agent_try_every_member(stack: Sandbox, log_file: Path) -> None:
    # The session tries the members in a random order, and moves on to the
    # next one when the connection drops: after a restart of the real
    # server, it has tried the unreachable member in either order.
    wait_for(
        lambda: log_file.exists() and log_file.read_text().count("both databases in sync") == 1,
        "sync",
    )
    stack.sb.restart()
    wait_for(lambda: log_file.read_text().count("both databases in sync") == 2, "resync")


@pytest.mark.daemons
def test_ovs_reconnect_messages_reach_the_log(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    unreachable, remote = _sb_with_an_unreachable_member(ovn_stack)
    log_file = tmp_path / "agent.log"
    ctl = tmp_path / "agent.ctl"
    agent = start_agent(
        ovn_stack,
        *("--ovn-remote", remote, "--log-level", "info", "--log-file", str(log_file)),
        *("-v", "console:off", "--unixctl", str(ctl)),
    )
    _make_the_agent_try_every_member(ovn_stack, log_file)
    log = log_file.read_text()
    assert (
        f"|WARNING|ovs.reconnect|{unreachable}: connection attempt failed (Connection refused)"
        in log
    )
    assert f"|INFO|ovs.reconnect|{ovn_stack.sb_remote}: connected" in log
    # Nothing per message at INFO.
    assert "|ovs.jsonrpc|" not in log
    assert "|ovs.poller|" not in log
    listing = subprocess.run(
        [*ovn_vif_command(), "appctl", "-t", str(ctl), "vlog/list"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    ).stdout
    assert any(line.split() == ["ovs.reconnect", "INFO"] for line in listing.splitlines())
    assert any(line.split() == ["ovs.jsonrpc", "INFO"] for line in listing.splitlines())
    # Per module at run time, as for the agent's own modules.
    changed = subprocess.run(
        [*ovn_vif_command(), "appctl", "-t", str(ctl), "vlog/set", "ovs.jsonrpc:dbg"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    ).stdout
    assert changed == "ovs.jsonrpc: DEBUG\n"
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    wait_for(lambda: "|DEBUG|ovs.jsonrpc|" in log_file.read_text(), "a JSON-RPC message dump")
    assert "|DEBUG|ovs.reconnect|" not in log_file.read_text()
    assert agent.stop() == 0


@pytest.mark.daemons
@pytest.mark.parametrize("spec", ["ovs:off", "ovs.reconnect:off"])
def test_ovs_messages_can_be_silenced(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path, spec: str
) -> None:
    _, remote = _sb_with_an_unreachable_member(ovn_stack)
    log_file = tmp_path / "agent.log"
    agent = start_agent(
        ovn_stack,
        *("--ovn-remote", remote, "--log-file", str(log_file), "-v", "console:off", "-v", spec),
    )
    _make_the_agent_try_every_member(ovn_stack, log_file)
    assert agent.stop() == 0
    log = log_file.read_text()
    assert "|ovs.reconnect|" not in log
    if spec == "ovs.reconnect:off":
        # The other ovs modules still log (at debug, the agent's level here).
        assert "|DEBUG|ovs.jsonrpc|" in log
    else:
        assert "|ovs." not in log


@pytest.mark.daemons
def test_a_member_out_of_its_cluster_is_logged(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    log_file = tmp_path / "agent.log"
    with SandboxDir.create() as sandbox_dir:
        cluster = SouthboundCluster(sandbox_dir)
        cluster.start()
        agent = start_agent(
            ovn_stack,
            *("--ovn-remote", cluster.remote, "--log-level", "info"),
            *("--log-file", str(log_file), "-v", "console:off"),
        )
        wait_for(
            lambda: log_file.exists() and "both databases in sync" in log_file.read_text(),
            "sync",
        )
        *stopped, survivor = cluster.members
        for member in stopped:
            member.stop()
        # The survivor loses its quorum; the agent's session leaves it.
        line = (
            f"|INFO|ovs.idl|{survivor.remote}: clustered database server is disconnected "
            "from cluster; trying another server"
        )
        wait_for(lambda: line in log_file.read_text(), "the idl's line about the survivor")
        assert agent.stop() == 0


def test_an_embedded_agent_routes_ovs_logging_at_start(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    unroute_ovs_logging()  # whatever ran before in this process
    ovs.reconnect.vlog.warn("dropped before start()")
    world = World()
    try:
        ovs.reconnect.vlog.warn("tcp:192.0.2.1:6642: connection attempt failed (Refused)")
        ovs.reconnect.vlog.warn("x\nFORGED" + "y" * 5000)
    finally:
        world.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "ovs.reconnect"]
    assert messages == [
        "tcp:192.0.2.1:6642: connection attempt failed (Refused)",
        "x\\nFORGED" + "y" * 1016 + "...(3984 more characters)",
    ]
    assert not ovs.vlog.Vlog._Vlog__inited


@pytest.mark.daemons
def test_vlog_and_list_commands_behave_as_in_ovs(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    log_file = tmp_path / "agent.log"
    ctl = tmp_path / "agent.ctl"
    agent = start_agent(
        ovn_stack,
        *("--log-level", "info", "--log-file", str(log_file), "--unixctl", str(ctl)),
    )

    def appctl(*argv: str, tool: str = "ovn-vif") -> subprocess.CompletedProcess[str]:
        cmd = ["ovs-appctl"] if tool == "ovs-appctl" else [*ovn_vif_command(), "appctl"]
        return subprocess.run(
            [*cmd, "-t", str(ctl), *argv],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    wait_for(ctl.is_socket, "the control socket")
    # ovs-appctl's list-commands, in OVS's format, same as help.
    listed = appctl("list-commands", tool="ovs-appctl")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("The available commands are:\n")
    assert "\n  list-commands\n" in listed.stdout
    assert re.search(r"^  vlog/set {16}\S", listed.stdout, re.M)
    assert listed.stdout == appctl("help").stdout

    # An unknown module is an error naming it.
    bad = appctl("vlog/set", "nosuchmodule:dbg")
    assert bad.returncode == 2
    assert 'no destination, level, or module "nosuchmodule"' in bad.stderr

    def level_of(module: str) -> str:
        for line in appctl("vlog/list").stdout.splitlines():
            if line.split()[:1] == [module]:
                return line.split()[1]
        raise AssertionError(module)

    # "vlog/set info" sets every module, including one raised to DEBUG before.
    assert appctl("vlog/set", "ovn_vif.agent._loop:dbg").returncode == 0
    assert level_of("ovn_vif.agent._loop") == "DEBUG"
    assert appctl("vlog/set", "info").returncode == 0
    assert level_of("ovn_vif.agent._loop") == "INFO"
    mark = len(log_file.read_text())
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    assert "|DEBUG|" not in log_file.read_text()[mark:]

    # ANY:file:dbg: every module's debug messages to the file, not the console.
    assert appctl("vlog/set", "ANY:file:dbg").returncode == 0
    mark, console = len(log_file.read_text()), len(agent.log())
    add_lsps(ovn_stack, "lsp2")
    wait_plugged(ovn_stack, "lsp2")
    wait_for(lambda: "|DEBUG|ovn_vif" in log_file.read_text()[mark:], "debug lines in the file")
    assert "|DEBUG|" not in agent.log()[console:]
    assert agent.stop() == 0
