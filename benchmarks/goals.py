"""The performance goals side by side, in one JSON document, from one command.

Runs, one after the other:

* P1 and CPU: ``plug_latency.py`` (agent, ``ovn-controller`` and, with
  ``--before-src``, the agent of another source tree, interleaved run by
  run), N = 100, 1000 and 5000 by default;
* P2: ``reconcile_bench.py --backend ovsdb`` (full and incremental engine,
  recommended policy), 100 and 10 000 plugged ports;
* P2 end to end (``p2_agent``): ``agent_change_cost.py`` (the running
  agent's CPU for one unrelated change, and ``ovn-controller``'s), 100 and
  4000 plugged ports;
* P3: ``plug_latency.py --rss-bindings`` (both implementations);
* P4, only with ``--p4`` (it takes the better part of an hour at full
  size): ``scale.py`` (200 simulated chassis, 50 000 Port_Bindings, the
  agent and a plain monitor, on a 3-member Southbound cluster and through a
  relay); ``--p4-arg`` passes options to it.

Usage::

    python benchmarks/goals.py --before-src /tmp/before/src
    python benchmarks/goals.py --sizes 100 1000 --runs 3 --rss-bindings 20000 --skip p2
    python benchmarks/goals.py --skip p1 p2 p3 --p4 --p4-arg=--runs=1
    python benchmarks/goals.py --skip p1 p2 p3 --p2-agent-sizes 100 4000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _run(script: str, *args: str) -> Any:
    proc = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before-src", help="source tree of the agent to compare with")
    parser.add_argument("--p2-sizes", type=int, nargs="+", default=[100, 10000])
    parser.add_argument("--p2-agent-sizes", type=int, nargs="+", default=[100, 4000])
    parser.add_argument("--rss-bindings", type=int, default=100000)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["p1", "p2", "p2_agent", "p3", "p4"]
    )
    parser.add_argument("--p4", action="store_true", help="also run P4 (scale.py; long)")
    parser.add_argument(
        "--p4-arg", action="append", default=[], help="option for scale.py (repeatable)"
    )
    args = parser.parse_args(argv)
    before = ["--before-src", args.before_src] if args.before_src else []
    doc: dict[str, Any] = {"loadavg_before": os.getloadavg()}
    if "p1" not in args.skip:
        sizes = [a for n in args.sizes for a in ("-n", str(n))]
        doc["p1_and_cpu"] = _run("plug_latency.py", *sizes, "--runs", str(args.runs), *before)
    if "p2" not in args.skip:
        sizes = ["--sizes", *map(str, args.p2_sizes)]
        doc["p2"] = _run(
            "reconcile_bench.py", *sizes, "--backend", "ovsdb", "--policies", "recommended"
        )
    if "p2_agent" not in args.skip:
        sizes = [a for n in args.p2_agent_sizes for a in ("-n", str(n))]
        doc["p2_agent"] = _run("agent_change_cost.py", *sizes, "--reps", str(args.runs), *before)
    if "p3" not in args.skip:
        doc["p3"] = _run("plug_latency.py", "--rss-bindings", str(args.rss_bindings), *before)
    if args.p4 and "p4" not in args.skip:
        doc["p4"] = _run("scale.py", *args.p4_arg)
    doc["loadavg_after"] = os.getloadavg()
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
