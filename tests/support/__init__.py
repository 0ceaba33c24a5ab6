"""Helpers shared by the test suite: daemon fixtures, an engine driver and rule worlds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

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
