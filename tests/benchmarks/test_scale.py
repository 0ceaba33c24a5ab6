"""``benchmarks/scale.py`` (P4) runs at a tiny size and reports every side (no timings checked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.daemons

PER_CLIENT = (
    "sync_server_cpu_ms_per_client",
    "idle_server_cpu_ms_per_client_per_min",
    "server_rss_kb_per_client",
    "burst_s",
    "burst_server_cpu_ms_per_client",
)


def test_scale_reports_agent_and_plain_monitor_direct_and_through_a_relay() -> None:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "scale.py"), "--chassis", "3", "--bindings", "30",
         "--burst", "6", "--runs", "1", "--idle", "0.5", "--workers", "1"],
        capture_output=True, text=True, timeout=300, check=True, env=env,
    )  # fmt: skip
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert (doc["chassis"], doc["bindings"], doc["burst"]) == (3, 30, 6)
    results = doc["results"]
    assert set(results) == {
        f"{config}/{side}"
        for config in ("direct", "relay")
        for side in ("agent", "plain", "agent_vs_plain")
    }
    for config in ("direct", "relay"):
        servers = {"sb1", "sb2", "sb3"} | ({"relay"} if config == "relay" else set())
        for kind in ("agent", "plain"):
            entry = results[f"{config}/{kind}"]
            (run,) = entry["runs"]
            assert set(run["sync_server_cpu_s"]) == servers
            assert set(run["server_rss_mb_before"]) == servers
            assert run["burst_bindings"] == 6
            for key in PER_CLIENT:
                assert entry["median"][key] >= 0, key
        assert set(results[f"{config}/agent_vs_plain"]) == set(PER_CLIENT)
