"""``ovn-vif agent`` runs on the C library's malloc (``ovn_vif.cli._allocator``).

The agent started as a program executes itself again, once, with
``PYTHONMALLOC=malloc``: same pid, same command line, an operator's own
``PYTHONMALLOC`` kept; never from Python (``main([...])``), never where
Python ignores the environment (it would execute itself for ever).
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from tests.support import wait_for
from tests.support.agent import AgentProcess, add_lsps, wait_plugged

from ovn_vif.cli import _allocator, _commands
from ovn_vif.sandbox import Sandbox


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(): v.decode(errors="replace") for k, v in pairs}


@pytest.mark.daemons
@pytest.mark.parametrize("chosen", [None, "pymalloc"])
def test_the_agent_runs_on_malloc_unless_the_operator_chose(
    ovn_stack: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chosen: str | None
) -> None:
    if chosen is None:
        monkeypatch.delenv("PYTHONMALLOC", raising=False)
    else:
        monkeypatch.setenv("PYTHONMALLOC", chosen)
    agent = AgentProcess(ovn_stack, tmp_path / "agent.log")
    try:
        add_lsps(ovn_stack, "lsp-alloc")
        wait_plugged(ovn_stack, "lsp-alloc")
        # The same process (systemd and pid files know this pid), now on malloc.
        assert _environ(agent.proc.pid).get("PYTHONMALLOC") == (chosen or "malloc")
        wanted = f"Python objects allocated by {chosen or 'malloc'}"
        wait_for(lambda: wanted in agent.log(), wanted)
        assert agent.log().count("ovn-vif agent for chassis") == 1  # started once
    finally:
        assert agent.stop() == 0, agent.log()


def test_main_called_from_python_never_executes_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    assert _allocator.should_reexec()  # as a program, it would

    def execve(*args: Any) -> None:
        raise AssertionError(f"executed {args[:2]}")

    ran: list[str] = []

    def cmd_agent(args: Any) -> int:
        ran.append(args.command)
        return 0

    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.setattr(_commands, "_cmd_agent", cmd_agent)
    assert _commands.main(["agent", "--ovs-remote", "unix:/nonexistent/db.sock"]) == 0
    assert ran == ["agent"]


def test_executes_itself_only_where_it_helps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    assert _allocator.should_reexec()
    assert not _allocator.should_reexec({"PYTHONMALLOC": "pymalloc"})
    assert not _allocator.should_reexec({"PYTHONMALLOC": ""})  # set, even empty
    cases: list[tuple[str, Any]] = [
        ("flags", types.SimpleNamespace(ignore_environment=1)),  # -E, -I: it would loop
        ("implementation", types.SimpleNamespace(name="pypy")),
        ("executable", ""),
        ("orig_argv", [sys.executable]),
    ]
    for name, value in cases:
        with monkeypatch.context() as patch:
            patch.setattr(sys, name, value)
            assert not _allocator.should_reexec(), name
    with monkeypatch.context() as patch:
        patch.setattr(os, "confstr", lambda name: None)  # not glibc
        assert not _allocator.should_reexec()


def test_a_failed_exec_runs_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    seen: list[tuple[str, list[str], dict[str, str]]] = []

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        seen.append((path, argv, env))
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "execve", execve)
    _allocator.reexec_with_malloc()  # returns
    ((path, argv, env),) = seen
    assert path == sys.executable
    assert argv == [sys.executable, *sys.orig_argv[1:]]
    assert env["PYTHONMALLOC"] == "malloc"
    assert "PYTHONMALLOC" not in os.environ
