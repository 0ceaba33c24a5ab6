"""Fixtures shared by the tests of ``ovn_vif``: process-wide state the agent
changes put back, and agents started as child processes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.agent import AgentProcess

from ovn_vif._ovs_private import unroute_ovs_logging
from ovn_vif.agent._json import uninstall
from ovn_vif.sandbox import Sandbox


@pytest.fixture(autouse=True)
def _restore_ovs_json_parser() -> Iterator[None]:
    # In-process agents swap in ovn_vif.agent._json's parser process-wide.
    yield
    uninstall()


@pytest.fixture(autouse=True)
def _restore_ovs_logging() -> Iterator[None]:
    # In-process agents route the ovs package's logging process-wide.
    yield
    unroute_ovs_logging()


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger's handlers and level back (``main()`` sets them up,
    as the command does)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def start_agent(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """Start ``ovn-vif agent`` on a sandbox; every one started is killed at the end."""
    agents: list[AgentProcess] = []

    def start(stack: Sandbox, *extra: str) -> AgentProcess:
        agent = AgentProcess(stack, tmp_path / f"agent-{len(agents)}.log", *extra)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.kill()
