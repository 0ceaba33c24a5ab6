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
