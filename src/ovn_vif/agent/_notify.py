"""systemd notifications (``Type=notify``, ``WatchdogSec=``), without a dependency.

The protocol of ``sd_notify(3)``: datagrams of ``KEY=VALUE`` lines sent to
the unix socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` means the
abstract namespace). The agent sends ``READY=1`` once both databases are in
sync, ``WATCHDOG=1`` at half the ``$WATCHDOG_USEC`` interval for as long as
its loop runs, ``STATUS=`` when its state changes and ``STOPPING=1`` on the
way out.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ovn_vif.agent._connections import idl_connected
from ovn_vif.agent._observers import Observer

if TYPE_CHECKING:
    from ovn_vif.agent._loop import Agent

LOG = logging.getLogger(__name__)


def _address(value: str) -> str | None:
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings (half of ``$WATCHDOG_USEC``), if systemd wants them."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 2e6


class SystemdNotifier(Observer):
    """Tell systemd about readiness, liveness and state (no-op without ``$NOTIFY_SOCKET``)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.interval = watchdog_interval(env) if self.address else None
        self._sock: socket.socket | None = None
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.ready = False
        self._status = ""
        self._next_ping = time.monotonic()

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *lines: str) -> bool:
        if self._sock is None or self.address is None:
            return False
        try:
            self._sock.sendto("\n".join(lines).encode(), self.address)
        except OSError as exc:
            LOG.debug("cannot notify systemd at %r: %s", self.address, exc)
            return False
        return True

    def next_wakeup(self) -> float | None:
        return self._next_ping if self.interval is not None else None

    def iteration(self, agent: Agent) -> None:
        if self._sock is None:
            return
        status = self._describe(agent)
        lines = []
        if agent.synced and not self.ready:
            self.ready = True
            lines.append("READY=1")
        if status != self._status:
            self._status = status
            lines.append(f"STATUS={status}")
        now = time.monotonic()
        if self.interval is not None and now >= self._next_ping:
            lines.append("WATCHDOG=1")
            self._next_ping = now + self.interval
        if lines:
            self.send(*lines)

    @staticmethod
    def _describe(agent: Agent) -> str:
        if agent.synced:
            return "both databases in sync"
        if not idl_connected(agent.ovs_idl):
            return "connecting to the local database"
        if not idl_connected(agent.sb_idl):
            return "connecting to the Southbound database"
        return "waiting for the databases' contents"

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
