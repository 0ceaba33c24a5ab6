"""P2 end to end: the CPU one unrelated change costs the running agent, with N ports plugged.

``reconcile_bench.py`` measures the engine alone; this measures the whole
process a user runs, ``python -m ovn_vif.cli agent --provider dummy``, on
real daemons (:class:`ovn_vif.sandbox.Sandbox`), and, with
``--with-controller``, ``ovn-controller --enable-dummy-vif-plug`` for
comparison (off by default: on this loaded 2-core machine it did not plug
one more LSP within 300 s once 4000 were plugged).

For each N and each implementation, a fresh sandbox is started, one
``ovn-nbctl`` call creates N LSPs requested for this chassis (all plugged
before measuring), plus one LSP on the same switch requested for another
chassis (``hv2``), and each change below is made once unmeasured (steady
state). Then, ``--reps`` times each, interleaved, and each time
between two idle points of the process (less than 25 ms of CPU in a 0.5 s
window, see ``plug_latency.wait_idle``):

* ``plug_one``: one new LSP for this chassis, until its Interface exists;
* ``other_chassis_update``: the options of the other chassis' LSP change
  (``ovn-nbctl --wait=sb``);
* ``local_unrelated_update``: one ``external_ids`` key of the local
  ``Open_vSwitch`` row changes (a local change no lport depends on).

The agent runs with ``AGENT_ARGS``: the dummy provider, and its periodic
self-audit (by design a full run every 60 s) moved out of the measured
window. The process's CPU for each is read from ``/proc/PID/stat`` (utime + stime,
10 ms ticks; ``cpu_ms``) and from ``/proc/PID/task/*/schedstat`` (run time
in ns; ``cpu_ms_precise``). Idle waits count: the agent uses no CPU while
idle. Printed as JSON: the medians per N, and ``ratio_largest_over_smallest``
(the P2 goal: at most 2 for the agent).

``--before-src DIR`` also measures the agent of another source tree
(``PYTHONPATH=DIR``) as ``agent-before``, right before the agent at each N.

Usage::

    python benchmarks/agent_change_cost.py                 # N = 100 and 4000, 3 reps
    python benchmarks/agent_change_cost.py -n 100 -n 4000 --before-src /tmp/before/src
    python benchmarks/agent_change_cost.py -n 3 -n 5 --reps 1 --with-controller
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plug_latency import (
    PREFIX,
    InterfaceWatch,
    cpu_seconds,
    nbctl_create,
    start_agent,
    wait_idle,
)

from ovn_vif.agent import _json as ovsjson
from ovn_vif.sandbox import Sandbox

#: The changes measured, in the order they are made in each repetition.
CHANGES = ("plug_one", "other_chassis_update", "local_unrelated_update")
#: The other chassis' LSP (same logical switch as the plugged ones).
FAR_LSP = "far-0"
#: The agent's options: the dummy provider only (as ``agent_rss.py``), and
#: the periodic self-audit (a full run, O(N) by design, every 60 s by
#: default) kept out of the measured minutes.
AGENT_ARGS = ("--provider=dummy", "--audit-interval=3600")
#: The implementations, in the order they run at each N.
IMPLS = ("agent-before", "agent", "ovn-controller")


def precise_cpu_seconds(pid: int) -> float:
    """Run time of every thread of *pid* so far (``schedstat``, nanoseconds)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that just exited
    return total / 1e9


class Measured:
    """One implementation's process in a sandbox with N ports plugged."""

    def __init__(self, stack: Sandbox, pid: int, n: int) -> None:
        self.stack = stack
        self.pid = pid
        self.n = n
        #: LSPs plugged by plug_one, changes made by the others.
        self.plugged = 0
        self.changes = 0
        self.watch = InterfaceWatch(stack.ovs_remote)

    def prepare(self) -> None:
        """Plug N ports, create the other chassis and its LSP, wait until idle."""
        self.stack.sbctl("chassis-add", "hv2", "geneve", "127.0.0.2")
        nbctl_create(self.stack, self.n)
        self.stack.nbctl(
            "lsp-add",
            "bench",
            FAR_LSP,
            "--",
            "lsp-set-options",
            FAR_LSP,
            "requested-chassis=hv2",
            "vif-plug-type=dummy",
        )
        self.watch.wait_until(lambda: self.watch.count() == self.n)
        wait_idle(self.pid)
        # One of each, not measured: what a process reads once after a big
        # change (the agent's name index catching up with N new rows) is
        # not the cost of the next change.
        for change in CHANGES:
            getattr(self, change)()
        wait_idle(self.pid)

    def cost(self, change: Callable[[], None]) -> dict[str, float]:
        """CPU of the process for *change*, between two idle points (ms)."""
        wait_idle(self.pid)
        ticks, precise = cpu_seconds(self.pid), precise_cpu_seconds(self.pid)
        change()
        wait_idle(self.pid)
        return {
            "cpu_ms": round((cpu_seconds(self.pid) - ticks) * 1000, 1),
            "cpu_ms_precise": round((precise_cpu_seconds(self.pid) - precise) * 1000, 2),
        }

    def plug_one(self) -> None:
        name = f"{PREFIX}extra-{self.plugged}"
        self.plugged += 1
        self.stack.nbctl(
            "lsp-add",
            "bench",
            name,
            "--",
            "lsp-set-options",
            name,
            "requested-chassis=hv1",
            "vif-plug-type=dummy",
        )
        want = self.n + self.plugged
        self.watch.wait_until(lambda: self.watch.count() == want)

    def other_chassis_update(self) -> None:
        self.changes += 1
        self.stack.nbctl(
            "--wait=sb",
            "lsp-set-options",
            FAR_LSP,
            "requested-chassis=hv2",
            "vif-plug-type=dummy",
            f"bench-change={self.changes}",
        )

    def local_unrelated_update(self) -> None:
        self.changes += 1
        self.stack.vsctl(
            "set", "Open_vSwitch", ".", f"external_ids:bench-change={self.changes}", wait=False
        )

    def close(self) -> None:
        self.watch.close()


def one_run(impl: str, n: int, reps: int, before_src: str | None) -> dict[str, list[Any]]:
    """Costs of each change, *reps* times, for *impl* with *n* ports plugged."""
    controller = impl == "ovn-controller"
    stack = Sandbox("hv1", controller=controller, ignore_startup_delay=controller)
    with stack, tempfile.TemporaryDirectory(prefix="ovnvif-p2-") as tmp:
        agent = None
        if not controller:
            pythonpath = before_src if impl == "agent-before" else None
            agent = start_agent(stack, Path(tmp), None, list(AGENT_ARGS), pythonpath)
        try:
            pid = agent.pid if agent is not None else stack.controller.pid  # type: ignore[union-attr]
            assert pid is not None
            measured = Measured(stack, pid, n)
            try:
                measured.prepare()
                costs: dict[str, list[Any]] = {change: [] for change in CHANGES}
                for _ in range(reps):
                    for change in CHANGES:
                        costs[change].append(measured.cost(getattr(measured, change)))
                return costs
            except TimeoutError as exc:
                log = Path(tmp) / "agent.log"
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise RuntimeError(f"{impl} with N = {n}: {exc}\n{tail}") from exc
            finally:
                measured.close()
        finally:
            if agent is not None:
                agent.send_signal(signal.SIGTERM)
                agent.wait(timeout=60)


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in ("cpu_ms", "cpu_ms_precise")}


def _ratio(big: float, small: float) -> float | None:
    return round(big / small, 2) if small else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", help="plugged ports (repeatable)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each change")
    parser.add_argument("--only", choices=["agent", "ovn-controller"], help="one implementation")
    parser.add_argument(
        "--with-controller", action="store_true", help="also measure ovn-controller"
    )
    parser.add_argument(
        "--before-src", help="also measure the agent of this source tree as agent-before"
    )
    args = parser.parse_args(argv)
    # The observer parses every Interface update; keep it from lagging behind.
    ovsjson.install()
    sizes = sorted(args.n or [100, 4000])
    impls = [i for i in IMPLS if i != "agent-before" or args.before_src]
    if not args.with_controller and args.only != "ovn-controller":
        impls.remove("ovn-controller")
    if args.only:
        impls = [
            i for i in impls if i == args.only or (i == "agent-before" and args.only == "agent")
        ]
    result: dict[str, Any] = {
        "method": "CPU of the process (utime+stime; schedstat for cpu_ms_precise) between "
        "two idle points around one change, with N ports plugged; fresh sandbox per N and "
        "implementation; median of the repetitions",
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": os.getloadavg()[0],
            "python": platform.python_version(),
        },
        "reps": args.reps,
        "results": {},
    }
    results: dict[str, dict[str, Any]] = {impl: {} for impl in impls}
    for n in sizes:
        for impl in impls:
            started = time.monotonic()
            runs = one_run(impl, n, args.reps, args.before_src)
            results[impl][str(n)] = {
                "seconds": round(time.monotonic() - started, 1),
                **{change: {**_medians(r), "runs": r} for change, r in runs.items()},
            }
    small, big = str(sizes[0]), str(sizes[-1])
    for by_n in results.values():
        by_n["ratio_largest_over_smallest"] = {
            change: {
                key: _ratio(by_n[big][change][key], by_n[small][change][key])
                for key in ("cpu_ms", "cpu_ms_precise")
            }
            for change in CHANGES
        }
    result["results"] = results
    result["sizes"] = sizes
    result["machine"]["loadavg_after"] = os.getloadavg()[0]
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
