"""Helpers shared by the test suite: daemon fixtures, an engine driver and rule worlds."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

#: The repository's root (the checkout the tests run from).
REPO = Path(__file__).resolve().parents[2]


def missing(why: str) -> NoReturn:
    """A tool a test needs is not here: skip on a developer's machine, fail in
    CI (``CI`` set), where ``scripts/test`` installs it, so that a missing
    install step cannot hide behind a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must have it)")
    pytest.skip(why)


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll *predicate* every 50 ms until it returns something true, and
    return that; fail the test after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
