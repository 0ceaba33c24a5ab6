"""Soak: thousands of create/update/delete cycles through the real ``ovn-vif agent``.

A sandbox (:class:`ovn_vif.sandbox.Sandbox`: NB/SB ovsdb-servers,
ovn-northd, the local ovsdb-server and ovs-vswitchd on the dummy datapath)
and ``ovn-vif agent --provider dummy`` as a child process. Each cycle:

1. creates an LSP (``requested-chassis=hv1 vif-plug-type=dummy``) and waits
   until its Interface exists;
2. sets ``vif-plug-mtu-request`` on it and waits until ``mtu_request``
   follows;
3. deletes it and waits until the Interface is gone.

Every ``--hostile-every`` cycles a hostile LSP is created next to it (a
10,000-digit MTU, a newline and a terminal escape in its name, an unknown
plug type of 100,000 characters), and deleted a cycle later, so the fault
paths soak too. The local database is watched by an event-driven Python IDL
in this process.

Every ``--every`` cycles one JSON line reports the agent's RSS and open file
descriptors (from ``/proc``) and the reconcile times the agent logged since
the previous sample (its debug line ``reconcile #N: ... in X ms``); the last
line is a summary comparing the first and the last samples. Not a test:
nothing is asserted, the figures go to ``docs/performance.rst``.

Usage::

    python benchmarks/soak.py                     # 3000 cycles, a sample every 250
    python benchmarks/soak.py --cycles 200 --every 50
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ovs.db.idl
import ovs.poller

from ovn_vif.agent._connections import fetch_schema, idl_synced
from ovn_vif.sandbox import Sandbox

TIMEOUT = 120.0
PLUG = ("requested-chassis=hv1", "vif-plug-type=dummy")
HOSTILE = (
    ("soak-huge-mtu", (*PLUG, "vif-plug-mtu-request=" + "9" * 10_000)),
    ("soak\nforged \x1b[2J", PLUG),
    ("soak-bad-type", ("requested-chassis=hv1", "vif-plug-type=" + "x" * 100_000)),
)
_RECONCILE = re.compile(r"reconcile #(\d+): (\d+) decision\(s\) in ([0-9.]+) ms")


class Watch:
    """The local DB's Interfaces, by iface-id (mtu_request as the value)."""

    def __init__(self, remote: str) -> None:
        schema = fetch_schema(remote, "Open_vSwitch", timeout=10, what="local DB")
        helper = ovs.db.idl.SchemaHelper(schema_json=schema)
        helper.register_columns("Interface", ["external_ids", "mtu_request"])
        self.idl = ovs.db.idl.Idl(remote, helper)
        self.until(lambda: idl_synced(self.idl))

    def mtu(self, lport: str) -> list[int] | None:
        """``None`` if no Interface is bound to *lport*, else its mtu_request."""
        for row in self.idl.tables["Interface"].rows.values():
            if row.external_ids.get("iface-id") == lport:
                return list(row.mtu_request)
        return None

    def until(self, condition: Any, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.idl.run()
            if condition():
                return
            if time.monotonic() > deadline:
                raise TimeoutError("soak: condition not reached")
            poller = ovs.poller.Poller()
            self.idl.wait(poller)
            poller.timer_wait(1000)
            poller.block()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class AgentLog:
    """Reads the reconcile times the agent logged since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def reconcile_ms(self) -> list[float]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self.offset += cut
        text = data[:cut].decode(errors="replace")
        return [float(m.group(3)) for m in _RECONCILE.finditer(text)]


def start_agent(stack: Sandbox, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ovn_vif.cli", "agent", "--ovs-remote", stack.ovs_remote]
    cmd += ["--provider", "dummy", "--log-level", "debug"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while "both databases in sync" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the agent did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.02)
    return proc


def sample(pid: int, cycle: int, started: float, log: AgentLog) -> dict[str, Any]:
    times = log.reconcile_ms()
    return {
        "cycle": cycle,
        "elapsed_s": round(time.monotonic() - started, 1),
        "rss_kib": rss_kib(pid),
        "open_fds": open_fds(pid),
        "reconciles": len(times),
        "reconcile_ms_median": round(statistics.median(times), 2) if times else None,
        "reconcile_ms_p95": (
            round(statistics.quantiles(times, n=20)[-1], 2) if len(times) >= 2 else None
        ),
        "reconcile_ms_max": round(max(times), 2) if times else None,
    }


def soak(cycles: int, every: int, hostile_every: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ovnvif-soak-") as tmp, Sandbox("hv1") as stack:
        log_path = Path(tmp) / "agent.log"
        agent = start_agent(stack, log_path)
        watch = Watch(stack.ovs_remote)
        log = AgentLog(log_path)
        stack.nbctl("ls-add", "soak")
        samples = [sample(agent.pid, 0, time.monotonic(), log)]
        print(json.dumps(samples[0]), flush=True)
        started = time.monotonic()
        hostile_up: str | None = None
        try:
            for cycle in range(1, cycles + 1):
                lport = f"soak-{cycle}"
                argv = ["--", "lsp-add", "soak", lport, "--", "lsp-set-options", lport, *PLUG]
                if hostile_up is not None:
                    argv += ["--", "lsp-del", hostile_up]
                    hostile_up = None
                elif hostile_every and cycle % hostile_every == 0:
                    name, options = HOSTILE[(cycle // hostile_every) % len(HOSTILE)]
                    argv += ["--", "lsp-add", "soak", name, "--", "lsp-set-options", name]
                    argv += list(options)
                    hostile_up = name
                stack.nbctl(*argv[1:])
                watch.until(lambda lp=lport: watch.mtu(lp) == [])
                mtu = 1400 + cycle % 100
                stack.nbctl(
                    "set", "Logical_Switch_Port", lport, f"options:vif-plug-mtu-request={mtu}"
                )
                watch.until(lambda lp=lport, m=mtu: watch.mtu(lp) == [m])
                stack.nbctl("lsp-del", lport)
                watch.until(lambda lp=lport: watch.mtu(lp) is None)
                if cycle % every == 0:
                    samples.append(sample(agent.pid, cycle, started, log))
                    print(json.dumps(samples[-1]), flush=True)
        finally:
            agent.terminate()
            agent.wait(timeout=60)
            watch.idl.close()
        first, last = samples[1] if len(samples) > 1 else samples[0], samples[-1]
        return {
            "summary": True,
            "cycles": cycles,
            "seconds": round(time.monotonic() - started, 1),
            "cycles_per_s": round(cycles / (time.monotonic() - started), 1),
            "rss_kib_first_sample": first["rss_kib"],
            "rss_kib_last_sample": last["rss_kib"],
            "rss_kib_max": max(s["rss_kib"] for s in samples),
            "open_fds_first_sample": first["open_fds"],
            "open_fds_last_sample": last["open_fds"],
            "reconcile_ms_median_first_sample": first["reconcile_ms_median"],
            "reconcile_ms_median_last_sample": last["reconcile_ms_median"],
            "agent_exit": agent.returncode,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3000)
    parser.add_argument("--every", type=int, default=250, help="cycles between samples")
    parser.add_argument(
        "--hostile-every", type=int, default=10, help="cycles between hostile LSPs (0: none)"
    )
    args = parser.parse_args()
    print(json.dumps(soak(args.cycles, args.every, args.hostile_every)), flush=True)


if __name__ == "__main__":
    main()
