"""Shared pytest configuration for the ovn-vif test suite."""

from __future__ import annotations

pytest_plugins = ["pytester", "tests.support.daemons"]
