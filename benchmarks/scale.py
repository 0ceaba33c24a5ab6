"""P4, scale: what many chassis running the agent cost the Southbound database.

For each configuration (``direct``: the clients connect to the members of a
3-member RAFT Southbound cluster; ``relay``: they connect to one
``ovsdb-server`` relay in front of that cluster), each client kind and each
of ``--runs`` runs, a fresh cluster (and relay) is started and loaded with
``--chassis`` Chassis rows (each with an Encap and a logical switch
Datapath_Binding) and ``--bindings`` Port_Bindings spread evenly over them,
written in a few big transactions as ovn-northd would leave them
(``requested_chassis`` set to the chassis and ``options:requested-chassis``
and ``options:vif-plug-type=dummy``). Then:

1. *initial sync*: ``--chassis`` clients start at once, one per chassis;
   the time until every one has all its bindings (agents: plugged in its
   local database), and the Southbound servers' CPU over that time;
2. *idle*: the servers' CPU over ``--idle`` seconds once everything is
   quiet, and their resident memory compared with before the clients came;
3. *burst*: ``--burst`` new Port_Bindings spread over all chassis, written
   to the Southbound database in one transaction (no ovn-northd: the
   burst measures the clients and the Southbound, not northd); the time
   until every client has all of its new ones (agents: plugged), and the
   servers' CPU over that time.

The client kinds:

* ``agent``: the agent's real loop (:class:`ovn_vif.agent.Agent`, hence
  the real engine, ``ovn_vif.Reconciler``, and the agent's monitor
  conditions, ``SouthboundConditions``), many per process ("lean mode",
  ``--workers`` processes). Each agent's Southbound IDL is made as the
  agent makes it (``fetch_schema`` from the server, the agent's column
  registration, ``QuickInsertIdl`` with ``leader_only=False``, the
  engine's index and change tracking) and handed to ``Agent.start``; the
  local ``Open_vSwitch`` database of each simulated chassis is the
  in-memory one of :mod:`ovn_vif.testing` (200 ovsdb-servers would not
  leave this 2-core machine anything to measure with), and the provider is
  ``dummy``, which plugs by writing the Interface rows only. The agents'
  self-audit runs every ``--audit-interval`` seconds (600 by default,
  not 30): many agents share one loop here, a round of which takes tens
  of seconds while all of them plug, so the audit's "condition change
  unacknowledged for longer than the interval" check fires for acks that
  did arrive but were not read yet, and its reloads would be measured as
  if real agents made them (``benchmarks/audit_cost.py`` measures what the
  audit costs the server). For the same reason that check's bound (at
  most 30 s in the agent) is raised to the interval in the worker
  processes: the only change made to the agent's code here, and only to
  when a safety net fires. The longest round of a worker's loop is
  reported (``worker_max_round_s``).
* ``plain``: the baseline, a minimal ``ovs.db.idl.Idl`` per chassis with
  the conditional monitor ovn-controller's conditions would ask for on the
  same tables (``Chassis`` by name; ``Port_Binding`` whose
  ``requested_chassis`` or ``chassis`` is this chassis), the same columns
  and the same protocol (``monitor_cond_since``), which only reads.

CPU is utime + stime of the server processes from ``/proc`` (10 ms
ticks), memory their VmRSS; both summed over the three members (and the
relay). *Per agent* figures divide the servers' extra CPU and memory by
the number of clients. Medians over the runs; every run's figures are
kept under ``runs``. The machine's load average before and after is
printed beside them: on a shared machine, compare within one output only.

Usage::

    python benchmarks/scale.py                          # 200 chassis, 50 000 bindings, 3 runs
    python benchmarks/scale.py --chassis 3 --bindings 30 --burst 6 --runs 1 --idle 1
    python benchmarks/scale.py --configs relay --kinds agent --runs 1
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import platform
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.support.cluster import SouthboundCluster  # noqa: E402
from tests.support.relay import SouthboundRelay  # noqa: E402

from ovn_vif.sandbox import SandboxDir  # noqa: E402

TIMEOUT = 600.0
TICK = os.sysconf("SC_CLK_TCK")


# -- the Southbound servers ---------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of *pid* (seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Servers:
    """The Southbound server processes, sampled together."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def rss(self) -> dict[str, float]:
        return {name: rss_mb(pid) for name, pid in self.pids.items()}

    def wait_quiet(self, timeout: float = TIMEOUT, window: float = 1.0) -> None:
        """Until the servers used less than 30 ms of CPU in a *window*."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = sum(self.cpu().values())
            time.sleep(window)
            if sum(self.cpu().values()) - before < 0.03:
                return


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before[k], 3) for k in after}


def transact(remote: str, ops: list[Any]) -> list[Any]:
    """One OVN_Southbound transaction, blocking; the operations' results."""
    error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(remote))
    if error:
        raise OSError(error, f"cannot connect to {remote}")
    conn = ovs.jsonrpc.Connection(stream)
    try:
        request = ovs.jsonrpc.Message.create_request("transact", ["OVN_Southbound", *ops])
        error, reply = conn.transact_block(request)
        if error:
            raise OSError(error, f"transaction on {remote} failed")
        results: list[Any] = reply.result
        problems = [r for r in results if isinstance(r, dict) and "error" in r]
        if reply.error or problems:
            raise RuntimeError(f"transaction failed: {reply.error or problems[:3]}")
        return results
    finally:
        conn.close()


def chassis_name(i: int) -> str:
    return f"hv{i:05d}"


def load(remote: str, n_chassis: int, per_chassis: int) -> dict[str, str]:
    """Chassis, Encaps, Datapaths and Port_Bindings; returns chassis name -> Chassis UUID."""
    ops: list[Any] = []
    for i in range(n_chassis):
        ops.append(
            {
                "op": "insert",
                "table": "Encap",
                "row": {
                    "type": "geneve",
                    "ip": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                    "chassis_name": chassis_name(i),
                },
                "uuid-name": f"e{i}",
            }
        )
        ops.append(
            {
                "op": "insert",
                "table": "Chassis",
                "row": {
                    "name": chassis_name(i),
                    "hostname": chassis_name(i),
                    "encaps": ["named-uuid", f"e{i}"],
                },
            }
        )
        ops.append(
            {
                "op": "insert",
                "table": "Datapath_Binding",
                "row": {"tunnel_key": i + 1, "external_ids": ["map", [["name", f"ls{i}"]]]},
            }
        )
    results = transact(remote, ops)
    chassis = {chassis_name(i): results[3 * i + 1]["uuid"][1] for i in range(n_chassis)}
    datapaths = [results[3 * i + 2]["uuid"][1] for i in range(n_chassis)]
    add_bindings(remote, chassis, datapaths, 0, per_chassis)
    return chassis | {f"dp:{i}": dp for i, dp in enumerate(datapaths)}


def add_bindings(
    remote: str,
    chassis: dict[str, str],
    datapaths: Sequence[str],
    first: int,
    count: int,
    *,
    batch: int = 10000,
) -> None:
    """Bindings *first* .. *first + count - 1* of every chassis, in transactions of *batch* rows."""
    ops: list[Any] = []
    for j in range(first, first + count):
        for i, dp in enumerate(datapaths):
            name = chassis_name(i)
            ops.append(
                {
                    "op": "insert",
                    "table": "Port_Binding",
                    "row": {
                        "logical_port": f"lsp-{name}-{j}",
                        "datapath": ["uuid", dp],
                        "tunnel_key": j + 1,
                        "requested_chassis": ["uuid", chassis[name]],
                        "options": [
                            "map",
                            [["requested-chassis", name], ["vif-plug-type", "dummy"]],
                        ],
                    },
                }
            )
            if len(ops) >= batch:
                transact(remote, ops)
                ops = []
    if ops:
        transact(remote, ops)


def raise_election_timer(leader: Any, ms: int) -> None:
    """Raise the cluster's RAFT election timer to *ms* (doubling it each step,
    the most a step may change it), as large deployments do: on a loaded
    machine the default 1 s makes the members elect a new leader whenever
    one is starved of CPU for a second, and every client reconnects."""
    timer = 1000
    while timer < ms:
        timer = min(ms, timer * 2)
        leader.appctl("cluster/change-election-timer", "OVN_Southbound", str(timer))
        deadline = time.monotonic() + 30
        while f"Election timer: {timer}" not in leader.status():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the election timer did not become {timer} ms")
            time.sleep(0.1)


# -- the clients (worker processes) -------------------------------------------


def sb_idl_as_the_agent_makes_it(remote: str) -> Any:
    """The agent's Southbound IDL (see ``Databases._new_sb_idl``), before conditions."""
    from ovn_vif import create_sb_indexes, track_changes
    from ovn_vif._ovs_private import QuickInsertIdl
    from ovn_vif.agent import prepare_sb_helper
    from ovn_vif.agent._connections import fetch_schema

    schema = fetch_schema(remote, "OVN_Southbound", timeout=60.0, what="Southbound database")
    helper = ovs.db.idl.SchemaHelper(schema_json=schema)
    prepare_sb_helper(helper)
    idl = QuickInsertIdl(remote, helper, leader_only=False)
    create_sb_indexes(idl)
    track_changes(idl)
    return idl


class AgentClient:
    """One simulated chassis running the agent's loop on an in-memory local DB."""

    def __init__(self, remote: str, name: str, audit_interval: float) -> None:
        from ovn_vif import Registry
        from ovn_vif.agent import Agent, AgentConfig, prepare_ovs_helper
        from ovn_vif.testing import connect, ovs_database
        from ovn_vif_dummy import DummyProvider

        self.db = ovs_database(system_id=name)
        registry = Registry()
        registry.register(DummyProvider())
        config = AgentConfig(status_file="", audit_interval=audit_interval)
        self.agent = Agent(config, registry)
        self.ovs_idl = connect(self.db, prepare_ovs_helper)
        self.sb_idl = sb_idl_as_the_agent_makes_it(remote)
        self.agent.start(ovs_idl=self.ovs_idl, sb_idl=self.sb_idl)

    def iterate(self) -> None:
        self.agent.iterate()

    def wait(self, poller: Any) -> bool:
        """Register what wakes this client; whether it has work to do right away."""
        self.ovs_idl.wait(poller)
        self.sb_idl.wait(poller)
        return not self.agent.idle

    def count(self) -> int:
        # Every Interface but the bridge's own is one the agent plugged.
        return len(self.db.rows("Interface")) - 1

    def close(self) -> None:
        self.agent.close()
        self.ovs_idl.close()
        self.sb_idl.close()


class PlainClient:
    """The baseline: the monitor ovn-controller's conditions would ask for, read only."""

    def __init__(self, remote: str, name: str, chassis_uuid: str) -> None:
        from ovn_vif import register_sb_columns
        from ovn_vif.agent._connections import fetch_schema

        schema = fetch_schema(remote, "OVN_Southbound", timeout=60.0, what="Southbound database")
        helper = ovs.db.idl.SchemaHelper(schema_json=schema)
        register_sb_columns(helper)
        helper.register_columns(
            "Port_Binding",
            ["logical_port", "type", "parent_port", "options", "requested_chassis", "chassis"],
        )
        self.sb_idl = ovs.db.idl.Idl(remote, helper, leader_only=False)
        me = ["uuid", chassis_uuid]
        self.sb_idl.cond_change("Chassis", [["name", "==", name]])
        self.sb_idl.cond_change(
            "Port_Binding", [["requested_chassis", "==", me], ["chassis", "==", me]]
        )

    def iterate(self) -> None:
        self.sb_idl.run()

    def wait(self, poller: Any) -> bool:
        self.sb_idl.wait(poller)
        return False

    def count(self) -> int:
        return len(self.sb_idl.tables["Port_Binding"].rows)

    def close(self) -> None:
        self.sb_idl.close()


def worker(kind: str, remote: str, chassis: dict[str, str], audit_interval: float) -> int:
    """Run one client per chassis; answer ``expect N`` lines on stdin (see :func:`main`)."""
    logging.basicConfig(level=logging.WARNING)
    if kind == "agent":
        from ovn_vif.agent import _audit

        # See the module's docstring: acks arrive, but a round of this loop
        # can take longer than the agent's bound for them.
        _audit.SelfAudit._cond_bound = lambda self: max(1.0, audit_interval)  # type: ignore[method-assign]
    clients: list[Any] = []
    for name, chassis_uuid in chassis.items():
        if kind == "agent":
            clients.append(AgentClient(remote, name, audit_interval))
        else:
            clients.append(PlainClient(remote, name, chassis_uuid))
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    pending = b""
    expect: int | None = None
    max_round = 0.0
    while True:
        started = time.monotonic()
        for client in clients:
            client.iterate()
        max_round = max(max_round, time.monotonic() - started)
        if expect is not None and all(c.count() >= expect for c in clients):
            reached = {
                "reached": time.monotonic(),
                "cpu_s": cpu_seconds(os.getpid()),
                "rss_mb": rss_mb(os.getpid()),
                "max_round_s": max_round,
            }
            max_round = 0.0
            sys.stdout.write(json.dumps(reached) + "\n")
            sys.stdout.flush()
            expect = None
        poller = ovs.poller.Poller()
        busy = False
        for client in clients:
            busy = client.wait(poller) or busy
        poller.fd_wait(stdin, ovs.poller.POLLIN)
        # Busy agents run again at once; idle ones still get their timers
        # (self-audit) within a second.
        poller.timer_wait(0 if busy else 1000)
        poller.block()
        if select.select([stdin], [], [], 0)[0]:
            try:
                chunk = os.read(stdin, 4096)
            except OSError as exc:
                if exc.errno != errno.EAGAIN:
                    raise
                chunk = b"x"
            if not chunk:
                break
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                word, _, arg = line.decode().partition(" ")
                if word == "expect":
                    expect = int(arg)
                elif word == "quit":
                    for client in clients:
                        client.close()
                    return 0
    for client in clients:
        client.close()
    return 0


class Workers:
    """The client processes of one run."""

    def __init__(
        self, kind: str, remote: str, chassis: dict[str, str], args: argparse.Namespace
    ) -> None:
        names = sorted(chassis)
        env = dict(os.environ)
        if args.src:
            env["PYTHONPATH"] = os.pathsep.join([args.src, env.get("PYTHONPATH", "")])
        n = args.workers
        self.procs: list[subprocess.Popen[str]] = []
        for w in range(n):
            mine = {name: chassis[name] for name in names[w::n]}
            if not mine:
                continue
            self.procs.append(
                subprocess.Popen(
                    [
                        # --client-nice N gives the servers the CPU first
                        # (the chassis would be other machines).
                        "nice",
                        "-n",
                        str(args.client_nice),
                        sys.executable,
                        __file__,
                        "--worker",
                        kind,
                        "--remote",
                        remote,
                        "--worker-chassis",
                        json.dumps(mine),
                        "--audit-interval",
                        str(args.audit_interval),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            )

    def expect(self, count: int) -> dict[str, float]:
        """Tell every worker to report once all its clients have *count*; wait for it."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(f"expect {count}\n")
            proc.stdin.flush()
        answers = []
        for proc in self.procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"worker {proc.pid} exited with {proc.wait()}")
            answers.append(json.loads(line))
        return {
            "reached": max(a["reached"] for a in answers),
            "cpu_s": sum(a["cpu_s"] for a in answers),
            "rss_mb": sum(a["rss_mb"] for a in answers),
            "max_round_s": max(a["max_round_s"] for a in answers),
        }

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def close(self) -> None:
        for proc in self.procs:
            try:
                assert proc.stdin is not None
                proc.stdin.write("quit\n")
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- one run ----------------------------------------------------------------------


def one_run(config: str, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    n = args.chassis
    per = args.bindings // n
    burst_per = max(1, args.burst // n)
    with SandboxDir.create() as sandbox_dir:
        cluster = SouthboundCluster(sandbox_dir, 3, timeout=60.0)
        cluster.start()
        leader = cluster.leader()
        assert leader is not None
        raise_election_timer(leader, args.election_timer)
        pids = {f"sb{m.index}": m.pid for m in cluster.members}
        started = time.monotonic()
        ids = load(leader.remote, n, per)
        load_s = time.monotonic() - started
        chassis = {k: v for k, v in ids.items() if not k.startswith("dp:")}
        datapaths = [ids[f"dp:{i}"] for i in range(n)]
        remote = cluster.remote
        if config == "relay":
            relay = SouthboundRelay(sandbox_dir, cluster.remote, timeout=60.0)
            relay.start()
            pids["relay"] = relay.pid
            remote = relay.remote
        servers = Servers({k: v for k, v in pids.items() if v is not None})
        servers.wait_quiet()
        rss_before = servers.rss()
        cpu0 = servers.cpu()
        t0 = time.monotonic()
        workers = Workers(kind, remote, chassis, args)
        try:
            synced = workers.expect(per)
            cpu1 = servers.cpu()
            sync_s = synced["reached"] - t0
            servers.wait_quiet()
            time.sleep(1.0)
            rss_after = servers.rss()
            idle0, wcpu0 = servers.cpu(), workers.cpu()
            time.sleep(args.idle)
            idle1, wcpu1 = servers.cpu(), workers.cpu()
            # The burst: one transaction of new bindings over every chassis.
            burst0 = servers.cpu()
            t1 = time.monotonic()
            add_bindings(leader.remote, chassis, datapaths, per, burst_per, batch=10**9)
            burst_done = workers.expect(per + burst_per)
            burst1 = servers.cpu()
            burst_s = burst_done["reached"] - t1
        finally:
            workers.close()
        disconnects = sum(
            path.read_text(errors="replace").count("connection dropped")
            + path.read_text(errors="replace").count("disconnecting")
            for path in sandbox_dir.log_dir.glob("*.log")
        )
    sync_cpu = delta(cpu1, cpu0)
    idle_cpu = delta(idle1, idle0)
    burst_cpu = delta(burst1, burst0)
    rss_growth = delta(rss_after, rss_before)
    return {
        "load_s": round(load_s, 2),
        "sync_s": round(sync_s, 3),
        "sync_server_cpu_s": sync_cpu,
        "sync_server_cpu_ms_per_client": round(sum(sync_cpu.values()) * 1000 / n, 2),
        "idle_server_cpu_s": idle_cpu,
        "idle_server_cpu_ms_per_client_per_min": round(
            sum(idle_cpu.values()) * 1000 / n * 60 / args.idle, 3
        ),
        "idle_client_cpu_s": round(wcpu1 - wcpu0, 3),
        "server_rss_mb_before": {k: round(v, 1) for k, v in rss_before.items()},
        "server_rss_mb_growth": rss_growth,
        "server_rss_kb_per_client": round(sum(rss_growth.values()) * 1024 / n, 1),
        "clients_cpu_s_at_sync": round(synced["cpu_s"], 2),
        "clients_rss_mb": round(synced["rss_mb"], 1),
        "worker_max_round_s": round(max(synced["max_round_s"], burst_done["max_round_s"]), 2),
        "burst_bindings": burst_per * n,
        "burst_s": round(burst_s, 3),
        "burst_server_cpu_s": burst_cpu,
        "burst_server_cpu_ms_per_client": round(sum(burst_cpu.values()) * 1000 / n, 2),
        "server_logged_disconnections": disconnects,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every number over *runs* (dicts of numbers: per key)."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            out[key] = {k: round(statistics.median(r[key][k] for r in runs), 3) for k in value}
        else:
            out[key] = round(statistics.median(r[key] for r in runs), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chassis", type=int, default=200)
    parser.add_argument("--bindings", type=int, default=50000)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of the idle window")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--configs", nargs="+", default=["direct", "relay"])
    parser.add_argument("--kinds", nargs="+", default=["agent", "plain"])
    parser.add_argument(
        "--client-nice", type=int, default=0, help="niceness of the client processes"
    )
    parser.add_argument(
        "--election-timer", type=int, default=16000, help="RAFT election timer (ms)"
    )
    parser.add_argument(
        "--audit-interval",
        type=float,
        default=600.0,
        help="the agents' self-audit interval (s); see the module's docstring",
    )
    parser.add_argument("--src", help="PYTHONPATH for the clients (another source tree)")
    parser.add_argument("--worker", choices=["agent", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--remote", help=argparse.SUPPRESS)
    parser.add_argument("--worker-chassis", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(
            args.worker, args.remote, json.loads(args.worker_chassis), args.audit_interval
        )
    doc: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "loadavg_before": os.getloadavg(),
        "chassis": args.chassis,
        "bindings": args.bindings // args.chassis * args.chassis,
        "burst": max(1, args.burst // args.chassis) * args.chassis,
        "runs": args.runs,
        "workers": args.workers,
        "local_db": "in-memory (ovn_vif.testing), one per chassis",
        "election_timer_ms": args.election_timer,
        "client_nice": args.client_nice,
        "agent_audit_interval_s": args.audit_interval,
        "results": {},
    }
    # Interleaved, run by run, so that a load change hits every side alike.
    raw: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.runs):
        for config in args.configs:
            for kind in args.kinds:
                raw.setdefault(f"{config}/{kind}", []).append(one_run(config, kind, args))
                print(f"{config}/{kind} done", file=sys.stderr, flush=True)
    for key, runs in raw.items():
        doc["results"][key] = {"median": median_of(runs), "runs": runs}
    for config in args.configs:
        agent = doc["results"].get(f"{config}/agent")
        plain = doc["results"].get(f"{config}/plain")
        if agent and plain:
            a, p = agent["median"], plain["median"]
            doc["results"][f"{config}/agent_vs_plain"] = {
                k: round(a[k] / p[k], 2) if p[k] else None
                for k in (
                    "sync_server_cpu_ms_per_client",
                    "idle_server_cpu_ms_per_client_per_min",
                    "server_rss_kb_per_client",
                    "burst_s",
                    "burst_server_cpu_ms_per_client",
                )
            }
    doc["loadavg_after"] = os.getloadavg()
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
