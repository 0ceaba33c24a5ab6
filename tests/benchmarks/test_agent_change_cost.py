"""benchmarks/agent_change_cost.py runs end to end at tiny sizes and prints its JSON
(no timing assertions: the figures depend on the machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.daemons

CHANGES = {"plug_one", "other_chassis_update", "local_unrelated_update"}


def test_agent_change_cost_reports_every_change_and_the_ratio() -> None:
    args = ["-n", "2", "-n", "4", "--reps", "1", "--only", "agent"]
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "agent_change_cost.py"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    doc = json.loads(proc.stdout)
    assert doc["sizes"] == [2, 4]
    assert set(doc["results"]) == {"agent"}
    by_n = doc["results"]["agent"]
    assert set(by_n) == {"2", "4", "ratio_largest_over_smallest"}
    for n in ("2", "4"):
        assert set(by_n[n]) >= CHANGES
        for change in CHANGES:
            entry = by_n[n][change]
            assert len(entry["runs"]) == 1
            assert entry["cpu_ms"] >= 0
            assert entry["cpu_ms_precise"] >= 0
    ratios = by_n["ratio_largest_over_smallest"]
    assert set(ratios) == CHANGES
    for change in CHANGES:
        assert set(ratios[change]) == {"cpu_ms", "cpu_ms_precise"}
    assert "loadavg_before" in doc["machine"]
