"""The latency and IDL benchmarks run and report every implementation (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.daemons


def _run(script: str, *args: str) -> Any:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(proc.stdout)


def test_plug_latency_plugs_and_unplugs_with_all_three() -> None:
    """The agent, ovn-controller and the floor each plug and unplug 3 LSPs
    (the benchmark waits for all 3 Interfaces, then for none); with
    ``--spans``, the agent's and the floor's sockets are traced and each
    span lies within its latency."""
    doc = _run("plug_latency.py", "-n", "3", "--runs", "1", "--spans")
    entry = doc["results"]["3"]
    for impl in ("agent", "ovn-controller", "floor"):
        (run,) = entry[impl]["runs"]
        assert run["plug_s"] > 0
        assert run["unplug_s"] > 0
        assert run["idle_cpu_s"] >= 0
        if impl == "ovn-controller":
            assert "plug_span_s" not in run
        else:
            for step in ("plug", "unplug"):
                assert 0 < run[f"{step}_span_s"] < run[f"{step}_sent_s"] < run[f"{step}_s"]
    assert set(entry["ratio_floor_over_controller"]) == {"plug_s", "unplug_s"}
    assert set(entry["ratio_agent_over_controller"]) == {"plug_s", "unplug_s"}


def test_plug_latency_examples() -> None:
    """The examples of ``span()``: an update's first chunk to the first transaction."""
    subprocess.run(
        [sys.executable, "-m", "doctest", str(BENCHMARKS / "plug_latency.py")],
        timeout=120,
        check=True,
    )


def test_idl_apply_compares_both_classes() -> None:
    doc = _run("idl_apply.py", "-n", "20", "--repeat", "1")
    results = doc["results"]
    assert set(results) == {
        "OVN_Southbound: 20 Port_Bindings",
        "Open_vSwitch: 20 Ports and Interfaces",
        "Open_vSwitch: 20 Interfaces modified",
    }
    for by_class in results.values():
        assert set(by_class) == {"ovs.db.idl.Idl", "QuickInsertIdl"}


def test_json_framing_decodes_the_same_both_ways() -> None:
    # The benchmark raises if either parser decodes something else.
    doc = _run("json_framing.py", "-n", "300", "--repeat", "1")
    assert set(doc["median_ms"]) == {"agent", "token_scan_only"}
    assert doc["message_chars"] > 300 * 100


def test_audit_cost_measures_the_audit_and_a_reconnection() -> None:
    # The benchmark raises if either operation reads the wrong rows.
    doc = _run("audit_cost.py", "--chassis", "20", "--per-chassis", "3", "--repeat", "2")
    assert set(doc["results"]) == {"audit", "reconnect"}
    assert doc["port_bindings"] == 60
    for figures in doc["results"].values():
        assert figures["latency_ms_median"] > 0
        assert figures["server_cpu_ms_per_op"] >= 0


def test_agent_rss_measures_the_agent_and_ovn_controller() -> None:
    """benchmarks/agent_rss.py plugs N ports with each and reads their RSS (no size assertion)."""
    doc = _run("agent_rss.py", "-n", "5")
    assert doc["agent_modules_at_start"] > 0
    for impl in ("agent", "ovn-controller"):
        entry = doc["results"][impl]
        assert entry["plugged"] == 5
        assert entry["rss_mb"] > 0
        assert entry["rss_anon_mb"] > 0
