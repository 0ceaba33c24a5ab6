"""The agent's control socket: the unixctl protocol of OVS daemons, through ``ovs.unixctl``.

``ovs-appctl -t /run/ovn-vif/ovn-vif-agent.ctl status`` and
``ovn-vif appctl status`` talk to it. The ``ovs`` package keeps one command
table per process, like OVS's C library, so one control socket serves the
process at a time: each command is registered once, as a trampoline to the
:class:`ControlServer` currently open.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ovs.fatal_signal
import ovs.jsonrpc
import ovs.poller
import ovs.stream
import ovs.timeval
import ovs.unixctl
import ovs.unixctl.server

from ovn_vif._errors import AgentSetupError
from ovn_vif.agent._loop_status import LoopStatus
from ovn_vif.agent._observers import Observer

if TYPE_CHECKING:
    from ovn_vif.agent._loop import Agent

LOG = logging.getLogger(__name__)

#: Directory of the control socket and pidfile unless told otherwise
#: (``$OVN_VIF_RUNDIR``, else ``/var/run/ovn-vif``; systemd's
#: ``RuntimeDirectory=ovn-vif`` creates it).
DEFAULT_RUNDIR = "/var/run/ovn-vif"
PROGRAM = "ovn-vif-agent"

#: A command: takes the arguments, returns the reply text; ``ValueError``
#: is an error reply.
Command = Callable[[list[str]], str]

_ACTIVE: list[ControlServer] = []


def rundir() -> str:
    return os.environ.get("OVN_VIF_RUNDIR") or DEFAULT_RUNDIR


def default_socket() -> str:
    return os.path.join(rundir(), f"{PROGRAM}.ctl")


def _trampoline(conn: Any, argv: list[str], name: str) -> None:
    server = _ACTIVE[-1] if _ACTIVE else None
    command = None if server is None else server.commands.get(name)
    if command is None:
        conn.reply_error(f'"{name}" is not available')
        return
    try:
        reply = command[2](argv)
    except ValueError as exc:
        conn.reply_error(f"{exc}\n")
        return
    except Exception as exc:
        LOG.exception("control command %s failed", name)
        conn.reply_error(f"{name} failed: {type(exc).__name__}: {exc}\n")
        return
    conn.reply(reply)


#: The control socket's mode, as ovs-vswitchd's and ovsdb-server's.
SOCKET_MODE = 0o770


def starting_text(progress: dict[str, Any]) -> str:
    """``status`` while :meth:`Agent.start` waits for a database."""
    from ovn_vif.agent._loop_status import printable as p

    lines = [
        f"starting: connecting to the {progress['database']} at {p(progress['remote'])} "
        f"since {progress['since']}"
    ]
    for member, reason in progress["errors"].items():
        lines.append(f"  last error on {p(member)}: {p(reason)}")
    if not progress["errors"]:
        lines.append("  no error yet")
    return "\n".join(lines) + "\n"


def list_commands() -> str:
    """The reply of ``list-commands`` and ``help``, in OVS's format."""
    lines = ["The available commands are:"]
    for name in sorted(ovs.unixctl.commands):
        usage = ovs.unixctl.commands[name].usage
        lines.append(f"  {name:<23} {usage}" if usage else f"  {name}")
    return "\n".join(lines) + "\n"


class ControlServer(Observer):
    """Serve the control socket at *path* from the agent's loop.

    :raises AgentSetupError: the socket cannot be created.
    """

    def __init__(self, path: str, agent: Agent, status: LoopStatus, version: str) -> None:
        self.path = os.path.abspath(path)
        self.agent = agent
        self.status = status
        self.commands: dict[str, tuple[str, tuple[int, int], Command]] = {}
        # A fixed mode whatever the process's umask, as OVS daemons have
        # (0770: owner and group may connect, hence send "exit"): the socket
        # is never reachable by others, not even between bind and chmod.
        old_umask = os.umask(0o077)
        try:
            error, listener = ovs.stream.PassiveStream.open(f"punix:{self.path}")
            if not error:
                try:
                    os.chmod(self.path, SOCKET_MODE)
                except OSError as exc:
                    listener.close()
                    error = exc.errno or errno.EPERM
        finally:
            os.umask(old_umask)
        if error:
            raise AgentSetupError(
                f"cannot create the control socket {self.path}: {os.strerror(error)}"
            )
        self._server = ovs.unixctl.server.UnixctlServer(listener)
        _ACTIVE.append(self)
        self.add("version", "", 0, 0, lambda argv: f"{PROGRAM} (ovn-vif) {version}\n")
        self.add("status", "[--json]", 0, 1, self._status)
        self.add("connection-status", "", 0, 0, self._connection_status)
        self.add("recompute", "", 0, 0, self._recompute)
        self.add("audit", "", 0, 0, self._audit)
        self.add("coverage/show", "", 0, 0, self._coverage)
        self.add("memory/show", "", 0, 0, self._memory)
        self.add("exit", "", 0, 0, self._exit)
        # OVS daemons answer list-commands (ovs-appctl's own way to ask), and
        # the ovs package only "help": the same reply under both names.
        self.add("list-commands", "", 0, 0, lambda argv: list_commands())
        LOG.info("control socket: %s", self.path)

    def add(self, name: str, usage: str, min_args: int, max_args: int, fn: Command) -> None:
        """Add (or replace) the command *name* of this socket."""
        self.commands[name] = (usage, (min_args, max_args), fn)
        ovs.unixctl.command_register(name, usage, min_args, max_args, _trampoline, name)

    # -- commands --------------------------------------------------------------

    def _status(self, argv: list[str]) -> str:
        if argv and argv[0] != "--json":
            raise ValueError(f"unknown option {argv[0]!r} (status [--json])")
        progress = self.agent.start_progress
        if progress is not None:
            if argv:
                return json.dumps({"starting": progress}, indent=2, sort_keys=True) + "\n"
            return starting_text(progress)
        if argv:
            return json.dumps(self.status.snapshot(self.agent), indent=2, sort_keys=True) + "\n"
        return self.status.text(self.agent)

    def _connection_status(self, argv: list[str]) -> str:
        from ovn_vif.agent._connections import idl_connected

        if self.agent.start_progress is not None:
            return "not connected\n"
        return ("connected" if idl_connected(self.agent.sb_idl) else "not connected") + "\n"

    def _recompute(self, argv: list[str]) -> str:
        self._require_started()
        LOG.info("recompute requested through the control socket")
        self.agent.recompute()
        return ""

    def _audit(self, argv: list[str]) -> str:
        self._require_started()
        LOG.info("self-audit requested through the control socket")
        self.agent.audit_now()
        return ""

    def _coverage(self, argv: list[str]) -> str:
        self._require_started()
        return self.status.coverage()

    def _memory(self, argv: list[str]) -> str:
        from ovn_vif.agent._memory import usage, usage_line

        return usage_line(usage(self.agent, self.status)) + "\n"

    def _require_started(self) -> None:
        progress = self.agent.start_progress
        if progress is not None:
            raise ValueError(
                f"the agent is starting (connecting to the {progress['database']}); try later"
            )

    def _exit(self, argv: list[str]) -> str:
        LOG.info("exit requested through the control socket: plugged ports stay plugged")
        self.agent.stop()
        return ""

    # -- observer hooks --------------------------------------------------------

    def wait(self, poller: Any) -> None:
        if self._server is not None:
            self._server.wait(poller)

    def iteration(self, agent: Agent) -> None:
        if self._server is not None:
            self._server.run()

    def starting(self, agent: Agent, poller: Any) -> None:
        # Answer (status, version, exit, vlog/*) while a database is awaited.
        if self._server is not None:
            self._server.run()
            self._server.wait(poller)

    def close(self) -> None:
        if self._server is None:
            return
        # Let a last reply (to "exit") go out before closing.
        self._server.run()
        self._server.close()
        self._server = None
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        # ovs.socket_util registered the path for unlinking at exit; done now.
        ovs.fatal_signal.remove_file_to_unlink(self.path)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            LOG.warning("cannot remove the control socket %s: %s", self.path, exc.strerror)


def call(target: str, command: str, args: list[str], timeout: float) -> tuple[int, str]:
    """Send one command to the control socket *target*; return (exit status, text).

    Exit statuses as ``ovs-appctl``: 0 with the reply, 2 with the server's
    error, 1 when the socket cannot be reached or does not answer within
    *timeout* seconds (the whole exchange, not each read).

    The reply is read with plain socket reads and decoded once by the
    standard library's JSON decoder: ``ovs.jsonrpc`` parses it character by
    character in Python (tens of seconds for the ``status --json`` of a
    busy chassis) and checked its deadline only between reads.
    """
    deadline = time.monotonic() + timeout
    late = f"{target}: no reply to {command!r} within {timeout:g} s"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(max(timeout, 0.001))
        try:
            sock.connect(target)
            sock.sendall(json.dumps({"method": command, "params": args, "id": 0}).encode())
        except TimeoutError:
            return 1, late
        except OSError as exc:
            return 1, f"cannot connect to {target}: {exc.strerror or exc}"
        buf = bytearray()
        decoder = json.JSONDecoder()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return 1, late
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(1 << 20)
            except TimeoutError:
                return 1, late
            except OSError as exc:
                return 1, f"{target}: {exc.strerror or exc}"
            if not chunk:
                return 1, f"{target}: connection closed"
            buf += chunk
            if not chunk.rstrip().endswith(b"}"):
                continue
            try:
                reply, end = decoder.raw_decode(buf.decode())
            except (ValueError, UnicodeDecodeError):
                continue  # a "}" inside the reply; more is coming
            if not isinstance(reply, dict) or reply.get("id") != 0:
                del buf[: len(buf.decode()[:end].encode())]
                continue
            if reply.get("error") is not None:
                return 2, str(reply["error"])
            return 0, str(reply.get("result"))
