"""``ovn-vif agent`` as a child process, and reading what it plugged.

The helpers the agent's end-to-end tests share (the same as those of
``tests/agent/test_agent_e2e.py``, which predates this module): tests under
``tests/ovn_vif/`` import them from here, never from another test module.

A *stack* is anything with ``ovs_remote``, ``nbctl(*args)`` and
``vsctl(*args)``: an :class:`ovn_vif.sandbox.Sandbox`, or a test's own
assembly of daemons.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

#: Seconds any wait of these helpers gives up after, unless told.
TIMEOUT = 60.0

#: The options that make an LSP plugged by the ``dummy`` provider on ``hv1``.
PLUG = ("requested-chassis=hv1", "vif-plug-type=dummy")


class Stack(Protocol):
    @property
    def ovs_remote(self) -> str: ...

    def nbctl(self, *args: str) -> str: ...

    def vsctl(self, *args: str) -> str: ...


def ovn_vif_command() -> list[str]:
    """The ``ovn-vif`` console script of this environment (or ``python -m``)."""
    script = Path(sys.executable).with_name("ovn-vif")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ovn_vif.cli"]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll *predicate* until it returns something true; fail after *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class AgentProcess:
    """``ovn-vif agent --log-level debug`` as a child process, logging to a file."""

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

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def plugged(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Interfaces the agent plugged in the local database, by lport (a list,
    to catch duplicates)."""
    out = stack.vsctl("--format=json", "--data=json", "--columns=name,external_ids", "list",
                      "Interface")  # fmt: skip
    table = json.loads(out)
    result: dict[str, list[dict[str, Any]]] = {}
    for values in table["data"]:
        row = dict(zip(table["headings"], values, strict=True))
        ids = dict(row["external_ids"][1])
        row["external_ids"] = ids
        if "ovn-plugged" in ids:
            result.setdefault(ids.get("iface-id", ""), []).append(row)
    return result


def converged(stack: Stack, want: set[str]) -> Callable[[], bool]:
    """A predicate: exactly the lports *want* are plugged, each once."""

    def check() -> bool:
        rows = plugged(stack)
        return set(rows) == want and all(len(r) == 1 for r in rows.values())

    return check


def add_lsps(stack: Stack, *names: str, switch: str = "sw0") -> None:
    """Create LSPs on *switch* (created if missing) for the dummy provider on ``hv1``."""
    argv = ["--may-exist", "ls-add", switch]
    for name in names:
        argv += ["--", "lsp-add", switch, name, "--", "lsp-set-options", name, *PLUG]
    stack.nbctl(*argv)
