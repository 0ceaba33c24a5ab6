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


class Clock:
    """A clock that stands still until a test moves it (``clock.now += 10``):
    pass it where a module takes ``clock=`` or patch it over
    ``time.monotonic``."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process *pid* used so far; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def missing(why: str) -> NoReturn:
    """A tool a test needs is not here: the test fails, naming it.

    ``scripts/test`` (the README's test command, and CI's) installs every
    tool the tests use, so a missing one is a missing install step, never a
    reason to skip. A developer without root can leave the tests that need
    it out by their marker (``-m "not systemd"``).
    """
    pytest.fail(f"{why}; scripts/test installs what the tests need")


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
