"""The agent as a user runs it: ``ovn-vif agent`` and ``ovn-vif appctl`` as
child processes against a *stack*, and what they plugged read back with
``ovs-vsctl``. A stack is anything with ``ovs_remote``, ``nbctl(*args)`` and
``vsctl(*args)`` (:class:`Stack`): an :class:`ovn_vif.sandbox.Sandbox`, or a
test's own assembly of daemons (a relay in front of a cluster, say).

The ``start_agent`` fixture (``tests/ovn_vif/conftest.py``) starts
:class:`AgentProcess` instances and kills what a test leaves running.
"""

from __future__ import annotations

import functools
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from tests.support import wait_for

from ovn_vif.sandbox import Sandbox


class Stack(Protocol):
    """What the helpers below need of the daemons a test runs."""

    @property
    def ovs_remote(self) -> str: ...

    def nbctl(self, *args: str) -> str: ...

    def vsctl(self, *args: str) -> str: ...


TIMEOUT = 60.0


PLUG = ("requested-chassis=hv1", "vif-plug-type=dummy")


def ovn_vif_command() -> list[str]:
    script = Path(sys.executable).with_name("ovn-vif")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ovn_vif.cli"]


class AgentProcess:
    """``ovn-vif agent`` as a child process, logging to a file."""

    def __init__(self, stack: Stack, log_path: Path, *extra: str) -> None:
        self.log_path = log_path
        argv = [
            *ovn_vif_command(),
            "agent",
            "--ovs-remote",
            stack.ovs_remote,
            "--log-level",
            "debug",
            *extra,
        ]
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=self._log)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def interfaces(stack: Stack) -> list[dict[str, Any]]:
    """Every Interface row of the local DB, as plain values."""
    out = stack.vsctl(
        "--format=json",
        "--data=json",
        "--columns=_uuid,name,type,options,external_ids,mtu_request",
        "list",
        "Interface",
    )
    table = json.loads(out)
    rows = []
    for values in table["data"]:
        row = dict(zip(table["headings"], values, strict=True))
        for key in ("options", "external_ids"):
            row[key] = dict(row[key][1])
        row["_uuid"] = row["_uuid"][1]
        mtu = row["mtu_request"]
        row["mtu_request"] = mtu if isinstance(mtu, int) else None
        rows.append(row)
    return rows


def plugged(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Plugged interfaces by lport (a list, to catch duplicates)."""
    result: dict[str, list[dict[str, Any]]] = {}
    for row in interfaces(stack):
        ids = row["external_ids"]
        if "ovn-plugged" in ids:
            result.setdefault(ids.get("iface-id", ""), []).append(row)
    return result


def bridge_ports(stack: Stack) -> list[str]:
    return stack.vsctl("list-ports", "br-int").split()


def add_lsps(stack: Stack, *names: str, extra: tuple[str, ...] = ()) -> None:
    argv = ["--may-exist", "ls-add", "sw0"]
    for name in names:
        argv += ["--", "lsp-add", "sw0", name, "--", "lsp-set-options", name, *PLUG, *extra]
    stack.nbctl(*argv)


def converged(stack: Stack, want: set[str]) -> Callable[[], bool]:
    """A predicate: exactly the lports *want* are plugged, each once."""

    def check() -> bool:
        rows = plugged(stack)
        return set(rows) == want and all(len(r) == 1 for r in rows.values())

    return check


def wait_plugged(stack: Stack, *names: str) -> dict[str, list[dict[str, Any]]]:
    def all_there() -> dict[str, list[dict[str, Any]]] | None:
        rows = plugged(stack)
        return rows if all(n in rows for n in names) else None

    result: dict[str, list[dict[str, Any]]] = wait_for(all_there, f"{names} plugged")
    return result


def wait_unplugged(stack: Stack, name: str) -> None:
    wait_for(lambda: name not in plugged(stack), f"{name} unplugged")


def run_agent(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ovn_vif_command(), "agent", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def appctl(ctl: Path, *argv: str, tool: str = "ovn-vif") -> subprocess.CompletedProcess[str]:
    if tool == "ovs-appctl":
        cmd = ["ovs-appctl", "-t", str(ctl), *argv]
    else:
        cmd = [*ovn_vif_command(), "appctl", "-t", str(ctl), *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def serve_sb(stack: Sandbox, *listeners: tuple[str, int]) -> None:
    """(Re)start the Southbound ovsdb-server with ``ptcp:`` remotes on *listeners*."""
    stack.sb.extra_args = tuple(
        f"--remote=ptcp:{port}:{f'[{host}]' if ':' in host else host}" for host, port in listeners
    )
    stack.sb.restart()
    for host, port in listeners:
        wait_for(functools.partial(listening, host, port), f"ovsdb-server on {host}:{port}")
