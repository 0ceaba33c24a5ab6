"""The agent page's example runs and prints what the page shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_embed_agent_example_prints_what_the_page_shows() -> None:
    proc = subprocess.run(
        [sys.executable, str(DOCS / "examples" / "embed_agent.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    page = (DOCS / "agent.rst").read_text()
    lines = proc.stdout.splitlines()
    assert lines == ["vm1-eth0: port vm1-eth0 on br-int, type internal", "unplugging allowed: True"]
    for line in lines:
        assert f"    {line}\n" in page, line
