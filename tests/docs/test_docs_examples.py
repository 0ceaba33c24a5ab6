"""The examples the documentation shows run and print what the docs say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_vendor_provider_example_prints_what_the_docs_show() -> None:
    proc = subprocess.run(
        [sys.executable, str(DOCS / "examples" / "vendor_provider.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    page = (DOCS / "provider-contract.rst").read_text()
    assert proc.stdout.strip()
    for line in proc.stdout.splitlines():
        assert f"    {line}\n" in page, line
    assert "bad vif-plug:acme:port='nine'" in proc.stdout


def test_incremental_engine_example_prints_what_the_engine_page_shows() -> None:
    proc = subprocess.run(
        [sys.executable, str(DOCS / "examples" / "incremental_engine.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    page = (DOCS / "engine.rst").read_text()
    assert "provider asked 1 time(s)" in proc.stdout
    for line in proc.stdout.splitlines():
        assert f"    {line}\n" in page, line
