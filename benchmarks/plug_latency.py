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
process, stamped when each update arrives. The medians of the runs are
printed as JSON, with the ratio agent / ovn-controller (below 1 means the
agent is faster), and beside each latency the CPU seconds the plugging process used per 1000 ports
(from t0 until it is idle again), and the CPU seconds it used while idle
for 3 s before the plug (``idle_cpu_s``; the clock tick is 10 ms).

``--before-src DIR`` also measures, in the same run, the agent of another
source tree (``PYTHONPATH=DIR``, e.g. an older commit's ``src``) as
``agent-before``.

``--spans`` also reports, for the agent and the floor, how long the
plugging process itself took: from the first chunk of the Southbound
update that reached it to the first byte of its transaction to the local
database (``plug_span_s``, ``unplug_span_s``; for an unplug this includes
the agent's question to the Southbound about the bindings that left its
view), and when that transaction left, from t0 (``plug_sent_s``,
``unplug_sent_s``: the latency minus this is the time from the
transaction to the last Interface seen). Its sockets are timestamped by
``benchmarks/io_trace`` (put first on its ``PYTHONPATH``);
``ovn-controller`` is not traced. The difference between the agent's span
and the floor's is what the agent adds before its transaction, without
the noise of the daemons around it.

``--rss-bindings M`` measures memory instead (P3): in a fresh sandbox per
implementation, the resident set size of the idle plugging process, then
again after M Port_Bindings requested for another chassis (``hv2``) exist
in the Southbound database (M LSPs written to the Northbound database by
one raw transaction; ``ovn-northd`` makes the Port_Bindings).

Usage::

    python benchmarks/plug_latency.py            # N = 100 and 1000, 3 runs each
    python benchmarks/plug_latency.py -n 100 --runs 1
    python benchmarks/plug_latency.py --before-src /tmp/old/src -n 1000
    python benchmarks/plug_latency.py --rss-bindings 100000
    python benchmarks/plug_latency.py --profile /tmp/agent.prof   # cProfile the agent
    python benchmarks/plug_latency.py --spans -n 1000 --only agent
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
#: Seconds the idle process is watched for CPU use before the plug.
IDLE_WINDOW = 3.0


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


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


IO_TRACE = Path(__file__).with_name("io_trace")


def child_env(pythonpath: str | None, trace: Path | None) -> dict[str, str]:
    """The environment of a plugging process: *pythonpath* first on its path,
    and with *trace*, its sockets timestamped into ``TRACE.PID``."""
    env = dict(os.environ)
    paths = [p for p in (pythonpath, env.get("PYTHONPATH")) if p]
    if trace is not None:
        paths.insert(0, str(IO_TRACE))
        env["OVNVIF_IO_TRACE"] = str(trace)
    if pythonpath is not None or trace is not None:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def start_agent(
    stack: Sandbox,
    workdir: Path,
    profile: Path | None,
    extra: list[str],
    pythonpath: str | None = None,
    *,
    trace: Path | None = None,
) -> subprocess.Popen[bytes]:
    log = workdir / "agent.log"
    env = child_env(pythonpath, trace)
    cmd = [sys.executable]
    if profile is not None:
        cmd += ["-m", "cProfile", "-o", str(profile)]
    cmd += ["-m", "ovn_vif.cli", "agent", "--ovs-remote", stack.ovs_remote]
    cmd += ["--log-level", os.environ.get("BENCH_AGENT_LOG_LEVEL", "info"), *extra]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env)
    deadline = time.monotonic() + 60
    while "both databases in sync" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"the agent did not start ({proc.poll()}):\n" + log.read_text(errors="replace")
            )
        time.sleep(0.02)
    return proc


def start_floor(
    stack: Sandbox, workdir: Path, trace: Path | None = None
) -> subprocess.Popen[bytes]:
    """``floor_plugger.py`` (the plugger that only plugs), once its monitors are in place."""
    script = Path(__file__).with_name("floor_plugger.py")
    cmd = [sys.executable, str(script), stack.sb_remote, stack.ovs_remote, "hv1"]
    with (workdir / "floor.log").open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=child_env(None, trace))
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"ready":
        proc.kill()
        raise RuntimeError("floor_plugger.py did not start: " + (workdir / "floor.log").read_text())
    return proc


def one_run(
    impl: str,
    n: int,
    profile: Path | None,
    *,
    agent_args: list[str] | None = None,
    before_src: str | None = None,
    rss_bindings: int = 0,
    spans: bool = False,
) -> dict[str, float]:
    controller = impl == "ovn-controller"
    stack = Sandbox("hv1", controller=controller, ignore_startup_delay=controller)
    with stack, tempfile.TemporaryDirectory(prefix="ovnvif-bench-") as tmp:
        os.environ["BENCH_LAST_LOG"] = str(Path(tmp) / "agent.log")
        pythonpath = before_src if impl == "agent-before" else None
        trace = Path(tmp) / "io" if spans and not controller else None
        if controller:
            agent = None
        elif impl == "floor":
            agent = start_floor(stack, Path(tmp), trace)
        else:
            agent = start_agent(
                stack, Path(tmp), profile, agent_args or [], pythonpath, trace=trace
            )
        try:
            if rss_bindings:
                pid = stack.controller.pid if stack.controller is not None else agent.pid  # type: ignore[union-attr]
                assert pid is not None
                return measure_rss(stack, pid, rss_bindings)
            assert stack.controller is not None or agent is not None
            pid = stack.controller.pid if stack.controller is not None else agent.pid  # type: ignore[union-attr]
            assert pid is not None
            watch = InterfaceWatch(stack.ovs_remote)
            try:
                wait_idle(pid)
                idle0 = cpu_seconds(pid)
                time.sleep(IDLE_WINDOW)
                cpu0 = cpu_seconds(pid)
                t0, plug_at = time.monotonic(), time.time()
                nbctl_create(stack, n)
                plugged = watch.wait_until(lambda: watch.count() == n) - t0
                wait_idle(pid)
                cpu1 = cpu_seconds(pid)
                t0, unplug_at = time.monotonic(), time.time()
                nbctl_delete(stack, n)
                unplugged = watch.wait_until(lambda: watch.count() == 0) - t0
                wait_idle(pid)
                cpu2 = cpu_seconds(pid)
            finally:
                watch.close()
        finally:
            if agent is not None:
                agent.send_signal(signal.SIGTERM)
                agent.wait(timeout=60)
        # The idle waits count 0.5 s windows of under 25 ms each, so the CPU
        # figures include up to a few ms of idle noise.
        run = {
            "plug_s": round(plugged, 4),
            "unplug_s": round(unplugged, 4),
            "plug_cpu_s_per_1000": round((cpu1 - cpu0) * 1000 / n, 4),
            "unplug_cpu_s_per_1000": round((cpu2 - cpu1) * 1000 / n, 4),
            "idle_cpu_s": round(cpu0 - idle0, 3),
        }
        if trace is not None:
            events = read_trace(trace)
            sb, ovs_path = stack.sb_remote, stack.ovs_remote
            for step, at in (("plug", plug_at), ("unplug", unplug_at)):
                start, end = span(events, at, sb, ovs_path)
                run[f"{step}_span_s"] = round(end - start, 4)
                run[f"{step}_sent_s"] = round(end - at, 4)
        return run


#: One socket operation of a traced process: time, ``send``/``recv``, peer,
#: bytes, the JSON-RPC method a chunk begins with (or ``-``).
Event = tuple[float, str, str, int, str]


def read_trace(prefix: Path) -> list[Event]:
    """Every socket operation ``io_trace`` noted for *prefix*, in time order."""
    events: list[Event] = []
    for path in prefix.parent.glob(prefix.name + ".*"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stamp, op, peer, size, method = line.split(" ")
            events.append((float(stamp), op, peer, int(size), method))
    return sorted(events)


def span(events: list[Event], after: float, sb_remote: str, ovs_remote: str) -> tuple[float, float]:
    """When the first Southbound update received after *after* arrived, and
    when the first transaction to the local database after it left.

    >>> events = [
    ...     (1.0, "recv", "/sb.sock", 90, "update3"),
    ...     (2.0, "recv", "/sb.sock", 4096, "update3"),
    ...     (2.1, "recv", "/sb.sock", 100, "-"),
    ...     (2.2, "send", "/db.sock", 40, "-"),
    ...     (2.5, "send", "/sb.sock", 300, "monitor_cond_change"),
    ...     (2.6, "send", "/db.sock", 9000, "transact"),
    ... ]
    >>> span(events, 1.5, "unix:/sb.sock", "unix:/db.sock")
    (2.0, 2.6)
    """
    sb, ovs = sb_remote.removeprefix("unix:"), ovs_remote.removeprefix("unix:")
    start = next(
        (
            t
            for t, op, peer, _, method in events
            if t >= after and op == "recv" and peer == sb and method.startswith("update")
        ),
        None,
    )
    if start is None:
        raise RuntimeError("no Southbound update reached the plugging process")
    end = next(
        (
            t
            for t, op, peer, _, method in events
            if t >= start and op == "send" and peer == ovs and method == "transact"
        ),
        None,
    )
    if end is None:
        raise RuntimeError("the plugging process sent no transaction after the update")
    return start, end


def nb_create_raw(stack: Sandbox, m: int, chassis: str) -> None:
    """Create *m* LSPs requested for *chassis* in one raw NB transaction."""
    schema = fetch_schema(stack.nb_remote, "OVN_Northbound", timeout=10, what="NB")
    helper = ovs.db.idl.SchemaHelper(schema_json=schema)
    helper.register_columns("Logical_Switch", ["name"])
    idl = ovs.db.idl.Idl(stack.nb_remote, helper)
    try:
        deadline = time.monotonic() + 30
        while not idl_synced(idl):
            idl.run()
            if time.monotonic() > deadline:
                raise TimeoutError("NB did not sync")
            time.sleep(0.01)
        txn = ovs.db.idl.Transaction(idl)
        # A logical switch has at most 32767 port tunnel keys.
        per_switch = 25000
        for first in range(0, m, per_switch):
            names = []
            for i in range(first, min(m, first + per_switch)):
                names.append(["named-uuid", f"p{i}"])
                opts = [["requested-chassis", chassis], ["vif-plug-type", "dummy"]]
                txn.add_op(
                    {
                        "op": "insert",
                        "table": "Logical_Switch_Port",
                        "row": {"name": f"far{i}", "options": ["map", opts]},
                        "uuid-name": f"p{i}",
                    }
                )
            txn.add_op(
                {
                    "op": "insert",
                    "table": "Logical_Switch",
                    "row": {"name": f"far{first}", "ports": ["set", names]},
                }
            )
        status = txn.commit_block()
        if status != "success":
            raise RuntimeError(f"NB insert failed: {status} {txn.get_error()}")
    finally:
        idl.close()


def wait_bindings(stack: Sandbox, m: int) -> None:
    """Wait until the Southbound DB holds at least *m* Port_Bindings."""
    schema = fetch_schema(stack.sb_remote, "OVN_Southbound", timeout=10, what="SB")
    helper = ovs.db.idl.SchemaHelper(schema_json=schema)
    helper.register_columns("Port_Binding", ["logical_port"])
    idl = ovs.db.idl.Idl(stack.sb_remote, helper)
    try:
        deadline = time.monotonic() + TIMEOUT * 4
        while len(idl.tables["Port_Binding"].rows) < m:
            if time.monotonic() > deadline:
                raise TimeoutError("ovn-northd did not create the Port_Bindings")
            idl.run()
            poller = ovs.poller.Poller()
            idl.wait(poller)
            poller.timer_wait(1000)
            poller.block()
    finally:
        idl.close()


def measure_rss(stack: Sandbox, pid: int, m: int) -> dict[str, float]:
    wait_idle(pid)
    before = rss_bytes(pid)
    stack.sbctl("chassis-add", "hv2", "geneve", "127.0.0.2")
    nb_create_raw(stack, m, "hv2")
    wait_bindings(stack, m)
    wait_idle(pid)
    after = rss_bytes(pid)
    return {
        "rss_mb_without": round(before / 2**20, 1),
        f"rss_mb_with_{m}_bindings_elsewhere": round(after / 2**20, 1),
        "ratio": round(after / before, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", help="number of LSPs (repeatable)")
    parser.add_argument("--runs", type=int, default=3, help="runs per N and implementation")
    parser.add_argument(
        "--only",
        choices=["agent", "ovn-controller", "floor"],
        help="measure one implementation only",
    )
    parser.add_argument("--profile", type=Path, help="write a cProfile of the agent's last run")
    parser.add_argument(
        "--agent-arg",
        action="append",
        default=[],
        help="extra argument for `ovn-vif agent` (repeatable), e.g. --agent-arg=--no-fast-json",
    )
    parser.add_argument(
        "--before-src",
        help="also measure the agent of this source tree (PYTHONPATH) as agent-before",
    )
    parser.add_argument(
        "--rss-bindings",
        type=int,
        default=0,
        help="measure RSS with this many Port_Bindings of another chassis (P3) instead",
    )
    parser.add_argument(
        "--spans",
        action="store_true",
        help="also time the agent's and the floor's own span (update in, transaction out)",
    )
    args = parser.parse_args(argv)
    # The observer parses every Interface update; keep it from lagging behind.
    ovsjson.install()
    sizes = args.n or [100, 1000]
    impls = [args.only] if args.only else ["agent", "ovn-controller", "floor"]
    if args.before_src:
        impls.insert(0, "agent-before")
    if args.rss_bindings:
        return rss_main(args, [impl for impl in impls if impl != "floor"])
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
            entry[impl] = {"runs": []}
        # Interleave the implementations, run by run, so that a change of the
        # machine's load hits both sides alike.
        for _ in range(args.runs):
            for impl in impls:
                entry[impl]["runs"].append(
                    one_run(
                        impl,
                        n,
                        args.profile,
                        agent_args=args.agent_arg,
                        before_src=args.before_src,
                        spans=args.spans,
                    )
                )
        for impl in impls:
            runs = entry[impl]["runs"]
            for key in runs[0]:
                entry[impl][key] = statistics.median(r[key] for r in runs)
        if "ovn-controller" in impls:
            ctrl = entry["ovn-controller"]
            for impl in impls:
                if impl == "ovn-controller":
                    continue
                name = {"agent": "agent", "agent-before": "agent_before", "floor": "floor"}[impl]
                entry[f"ratio_{name}_over_controller"] = {
                    key: round(entry[impl][key] / ctrl[key], 3) if ctrl[key] else None
                    for key in ("plug_s", "unplug_s")
                }
        result["results"][str(n)] = entry
    result["machine"]["loadavg_after"] = os.getloadavg()[0]
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def rss_main(args: argparse.Namespace, impls: list[str]) -> int:
    result: dict[str, Any] = {
        "method": "VmRSS of the idle plugging process, then with M Port_Bindings requested "
        "for another chassis; fresh sandbox per implementation",
        "machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()[0]},
        "bindings_elsewhere": args.rss_bindings,
        "results": {
            impl: one_run(
                impl,
                0,
                None,
                agent_args=args.agent_arg,
                before_src=args.before_src,
                rss_bindings=args.rss_bindings,
            )
            for impl in impls
        },
    }
    result["machine"]["loadavg_after"] = os.getloadavg()[0]
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
