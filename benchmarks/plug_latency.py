"""Plug and unplug latency: ``ovn-vif agent`` versus ``ovn-controller --enable-dummy-vif-plug``.

For each N, each implementation and each of ``--runs`` runs, a fresh
sandbox (:class:`ovn_vif.sandbox.Sandbox`) is started; then:

1. t0, then one ``ovn-nbctl`` call creates N LSPs (``requested-chassis=hv1
   vif-plug-type=dummy``); the time until all N Interfaces exist in the
   local database is the *plug* figure;
2. the tool waits until the plugging process is idle (less than 25 ms of
   CPU in a 0.5 s window), so the deletion is not measured against a busy
   daemon;
3. t0, then one ``ovn-nbctl`` call deletes the N LSPs; the time until all N
   Interfaces are gone is the *unplug* figure.

The local database is watched by an event-driven Python IDL in this
process, stamped when each update arrives. The medians of
the runs are printed as JSON, with the ratio agent / ovn-controller (below
1 means the agent is faster).

Usage::

    python benchmarks/plug_latency.py            # N = 100 and 1000, 3 runs each
    python benchmarks/plug_latency.py -n 100 --runs 1
    python benchmarks/plug_latency.py --profile /tmp/agent.prof   # cProfile the agent
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ovs.db.idl
import ovs.poller

from ovn_vif.agent import _json as ovsjson
from ovn_vif.agent._connections import fetch_schema, idl_synced
from ovn_vif.sandbox import Sandbox

PREFIX = "bench-"
TIMEOUT = 300.0


class InterfaceWatch:
    """Counts the local DB's Interfaces whose iface-id starts with ``bench-``."""

    def __init__(self, remote: str) -> None:
        schema = fetch_schema(remote, "Open_vSwitch", timeout=10, what="local DB")
        helper = ovs.db.idl.SchemaHelper(schema_json=schema)
        helper.register_columns("Interface", ["external_ids"])
        self.idl = ovs.db.idl.Idl(remote, helper)
        self.wait_until(lambda: idl_synced(self.idl))

    def count(self) -> int:
        return sum(
            1
            for row in self.idl.tables["Interface"].rows.values()
            if row.external_ids.get("iface-id", "").startswith(PREFIX)
        )

    def wait_until(self, condition: Any, timeout: float = TIMEOUT) -> float:
        """Run the IDL until *condition* holds; return time.monotonic() then."""
        deadline = time.monotonic() + timeout
        while True:
            self.idl.run()
            if condition():
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError("benchmark condition not reached")
            poller = ovs.poller.Poller()
            self.idl.wait(poller)
            poller.timer_wait(1000)
            poller.block()

    def close(self) -> None:
        self.idl.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout: float = TIMEOUT) -> None:
    """Wait until *pid* used < 25 ms of CPU in a 0.5 s window."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.025:
            return
    raise TimeoutError(f"process {pid} never became idle")


def nbctl_create(stack: Sandbox, n: int) -> None:
    argv = ["ls-add", "bench"]
    for i in range(n):
        name = f"{PREFIX}{i}"
        argv += ["--", "lsp-add", "bench", name]
        argv += ["--", "lsp-set-options", name, "requested-chassis=hv1", "vif-plug-type=dummy"]
    stack.nbctl(*argv)


def nbctl_delete(stack: Sandbox, n: int) -> None:
    argv: list[str] = []
    for i in range(n):
        argv += ["--", "lsp-del", f"{PREFIX}{i}"]
    stack.nbctl(*argv[1:])


def start_agent(
    stack: Sandbox, workdir: Path, profile: Path | None, extra: list[str]
) -> subprocess.Popen[bytes]:
    log = workdir / "agent.log"
    cmd = [sys.executable]
    if profile is not None:
        cmd += ["-m", "cProfile", "-o", str(profile)]
    cmd += ["-m", "ovn_vif.cli", "agent", "--ovs-remote", stack.ovs_remote]
    cmd += ["--log-level", os.environ.get("BENCH_AGENT_LOG_LEVEL", "info"), *extra]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while "both databases in sync" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"the agent did not start ({proc.poll()}):\n" + log.read_text(errors="replace")
            )
        time.sleep(0.02)
    return proc


def one_run(
    impl: str, n: int, profile: Path | None, agent_args: list[str] | None = None
) -> dict[str, float]:
    controller = impl == "ovn-controller"
    stack = Sandbox("hv1", controller=controller, ignore_startup_delay=controller)
    with stack, tempfile.TemporaryDirectory(prefix="ovnvif-bench-") as tmp:
        os.environ["BENCH_LAST_LOG"] = str(Path(tmp) / "agent.log")
        agent = None if controller else start_agent(stack, Path(tmp), profile, agent_args or [])
        try:
            assert stack.controller is not None or agent is not None
            pid = stack.controller.pid if stack.controller is not None else agent.pid  # type: ignore[union-attr]
            assert pid is not None
            watch = InterfaceWatch(stack.ovs_remote)
            try:
                t0 = time.monotonic()
                nbctl_create(stack, n)
                plugged = watch.wait_until(lambda: watch.count() == n) - t0
                wait_idle(pid)
                t0 = time.monotonic()
                nbctl_delete(stack, n)
                unplugged = watch.wait_until(lambda: watch.count() == 0) - t0
            finally:
                watch.close()
        finally:
            if agent is not None:
                agent.send_signal(signal.SIGTERM)
                agent.wait(timeout=60)
    return {"plug_s": round(plugged, 4), "unplug_s": round(unplugged, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", help="number of LSPs (repeatable)")
    parser.add_argument("--runs", type=int, default=3, help="runs per N and implementation")
    parser.add_argument(
        "--only", choices=["agent", "ovn-controller"], help="measure one implementation only"
    )
    parser.add_argument("--profile", type=Path, help="write a cProfile of the agent's last run")
    parser.add_argument(
        "--agent-arg",
        action="append",
        default=[],
        help="extra argument for `ovn-vif agent` (repeatable), e.g. --agent-arg=--no-fast-json",
    )
    args = parser.parse_args(argv)
    # The observer parses every Interface update; keep it from lagging behind.
    ovsjson.install()
    sizes = args.n or [100, 1000]
    impls = [args.only] if args.only else ["agent", "ovn-controller"]
    result: dict[str, Any] = {
        "method": "time from the ovn-nbctl call until all N Interfaces exist / are gone "
        "in the local DB; fresh sandbox per run; median of runs",
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": os.getloadavg()[0],
            "python": platform.python_version(),
        },
        "results": {},
    }
    for n in sizes:
        entry: dict[str, Any] = {}
        for impl in impls:
            runs = [one_run(impl, n, args.profile, args.agent_arg) for _ in range(args.runs)]
            entry[impl] = {
                "plug_s": statistics.median(r["plug_s"] for r in runs),
                "unplug_s": statistics.median(r["unplug_s"] for r in runs),
                "runs": runs,
            }
        if len(impls) == 2:
            ctrl = entry["ovn-controller"]
            agent = entry["agent"]
            entry["ratio_agent_over_controller"] = {
                key: round(agent[key] / ctrl[key], 3) if ctrl[key] else None
                for key in ("plug_s", "unplug_s")
            }
        result["results"][str(n)] = entry
    result["machine"]["loadavg_after"] = os.getloadavg()[0]
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
