"""Shared pytest configuration for the ovn-vif test suite."""

from __future__ import annotations

import pytest

from ovn_vif._contract import ratelimit

pytest_plugins = ["pytester", "tests.support.daemons"]


@pytest.fixture(autouse=True)
def _fresh_log_budget() -> None:
    # The process-wide budget of rate-limited warnings: each test starts
    # with it full, as a fresh agent process does.
    ratelimit.BUDGET.reset()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The tests of a tree's daemons need a reference that is a tree (the
    # side-by-side-25.03 session's); with the host's they are deselected, as
    # the kernel tier is outside its guest. A tree asked for but missing
    # fails (reference_tree()).
    # Imported here: pytest_plugins loads the module (and rewrites its asserts) first.
    from tests.support.daemons import host_reference

    if not host_reference():
        return
    tree = [item for item in items if item.get_closest_marker("reference_tree")]
    if tree:
        config.hook.pytest_deselected(items=tree)
        items[:] = [item for item in items if not item.get_closest_marker("reference_tree")]
