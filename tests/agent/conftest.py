"""Fixtures shared by the agent's tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ovn_vif._ovs_private import unroute_ovs_logging
from ovn_vif.agent._json import uninstall


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
