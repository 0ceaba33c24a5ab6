"""benchmarks/reconcile_bench.py runs and reports every case (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "reconcile_bench.py"

pytestmark = pytest.mark.daemons


def test_reconcile_benchmark_prints_json_for_every_case() -> None:
    proc = subprocess.run(
        [
            *(sys.executable, str(BENCH), "--sizes", "20", "--repeat", "2"),
            *("--backend", "ovsdb", "--engine", "full"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    doc = json.loads(proc.stdout)
    assert doc["benchmark"] == "reconcile"
    by_policy = {r["policy"]: r for r in doc["results"]}
    assert set(by_policy) == {"recommended", "ovn-compatible"}
    for result in by_policy.values():
        assert result["plugged_ports"] == 20
        assert result["no_change"]["iterations_that_wrote"] == 0
        assert result["unrelated_change"]["iterations_that_wrote"] == 0
        # 1 % of 20 lports rounds up to one changed lport per iteration.
        assert result["one_percent_changed"]["iterations_that_wrote"] == 2
        assert result["no_change"]["prepare_calls"] == 20
    assert by_policy["recommended"]["no_change_idle"]["prepare_calls"] == 0
    assert by_policy["ovn-compatible"]["no_change_idle"]["prepare_calls"] == 20


def test_incremental_engine_asks_only_about_the_changed_lport() -> None:
    proc = subprocess.run(
        [
            *(sys.executable, str(BENCH), "--sizes", "20", "40", "--repeat", "2"),
            *("--backend", "ovsdb", "--engine", "incremental", "--policies", "recommended"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    doc = json.loads(proc.stdout)
    for result in doc["results"]:
        assert result["engine"] == "incremental"
        assert result["one_changed"]["iterations_that_wrote"] == 2
        assert result["one_changed"]["prepare_calls"] == 1
        assert result["unrelated_change"]["prepare_calls"] == 0
        # A run told that a provider changed decides for every lport.
        assert result["no_change"]["prepare_calls"] == result["plugged_ports"]
    assert set(doc["p2"]) == {"recommended/incremental"}
