"""What the agent's self-audit costs the Southbound server, beside what a reconnection costs.

A real ``ovsdb-server`` holds ``--chassis`` Chassis rows and
``--per-chassis`` Port_Bindings requesting each of them (by default 1,000
chassis x 20 = 20,000 Port_Bindings, as in a mid-size cloud). For one
chassis, the benchmark measures

* ``audit``: the self-audit's query (:class:`ovn_vif.agent._audit.Select`:
  a ``select`` of the Port_Bindings requesting that chassis, on a
  connection of its own), ``--repeat`` times;
* ``reconnect``: what the agent, like ``ovn-controller``, asks of the
  server on every (re)connection: a fresh IDL with the agent's columns and
  conditions (this Chassis row, the Port_Bindings requesting it) until its
  monitor reply is in, ``--repeat`` times;

and prints, as JSON, the server's CPU time per operation (from
``/proc/PID/stat`` around the whole batch, so only the server's own work
counts) and the
wall-clock latency seen by the client (medians and maxima). The figure per
audit times the number of chassis, divided by the audit interval, is the
server's CPU share that audits of a whole cloud take.

    python benchmarks/audit_cost.py [--chassis 1000] [--per-chassis 20] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from typing import Any

import ovs.db.idl
import ovs.poller
import ovs.version

from ovn_vif import create_sb_indexes, register_sb_columns
from ovn_vif.agent._audit import Select
from ovn_vif.sandbox import DATABASES, OvsdbServer, SandboxDir


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _connect(remote: str, register: Any, conditions: Any = None) -> Any:
    helper = ovs.db.idl.SchemaHelper(location=str(DATABASES["OVN_Southbound"]))
    register(helper)
    idl = ovs.db.idl.Idl(remote, helper, leader_only=False)
    if conditions is not None:
        conditions(idl)
    deadline = time.monotonic() + 120
    while idl.state != idl.IDL_S_MONITORING or not idl.has_ever_connected():
        idl.run()
        if time.monotonic() > deadline:
            raise TimeoutError("the IDL did not connect")
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(10)
        poller.block()
    return idl


def _fill(remote: str, chassis: int, per_chassis: int) -> list[uuid.UUID]:
    idl = _connect(remote, lambda h: h.register_all())
    txn = ovs.db.idl.Transaction(idl)
    names = []
    for c in range(chassis):
        name = f"hv{c}"
        names.append(name)
        # One logical switch per chassis (a tunnel key is unique per switch).
        txn.add_op(
            {
                "op": "insert",
                "table": "Datapath_Binding",
                "row": {"tunnel_key": c + 1},
                "uuid-name": f"dp{c}",
            }
        )
        encap = {"type": "geneve", "ip": f"10.{c // 65536}.{c // 256 % 256}.{c % 256}"}
        txn.add_op(
            {
                "op": "insert",
                "table": "Encap",
                "row": {**encap, "chassis_name": name},
                "uuid-name": f"en{c}",
            }
        )
        txn.add_op(
            {
                "op": "insert",
                "table": "Chassis",
                "row": {"name": name, "hostname": name, "encaps": ["named-uuid", f"en{c}"]},
                "uuid-name": f"ch{c}",
            }
        )
        for i in range(per_chassis):
            lport = f"{name}-vm{i}"
            options = [["requested-chassis", name], ["vif-plug-type", "dummy"]]
            txn.add_op(
                {
                    "op": "insert",
                    "table": "Port_Binding",
                    "row": {
                        "logical_port": lport,
                        "tunnel_key": i + 1,
                        "datapath": ["named-uuid", f"dp{c}"],
                        "options": ["map", options],
                        "requested_chassis": ["named-uuid", f"ch{c}"],
                    },
                }
            )
    status = txn.commit_block()
    if status != "success":
        raise RuntimeError(f"filling the database: {status}: {txn.get_error()}")
    idl.run()
    rows = {r.name: r.uuid for r in idl.tables["Chassis"].rows.values()}
    idl.close()
    return [rows[n] for n in names]


def _audit_once(remote: str, chassis_uuid: uuid.UUID, expected: int) -> float:
    start = time.monotonic()
    query = Select(remote, chassis_uuid, timeout=60)
    while not query.run():
        poller = ovs.poller.Poller()
        query.wait(poller)
        poller.block()
    if query.rows is None or len(query.rows) != expected:
        raise RuntimeError(f"audit query: {query.error or len(query.rows or ())} rows")
    return time.monotonic() - start


def _reconnect_once(remote: str, name: str, chassis_uuid: uuid.UUID, expected: int) -> float:
    def conditions(idl: Any) -> None:
        create_sb_indexes(idl)
        idl.cond_change("Chassis", [["name", "==", name]])
        idl.cond_change("Port_Binding", [["requested_chassis", "==", ["uuid", str(chassis_uuid)]]])

    start = time.monotonic()
    idl = _connect(remote, register_sb_columns, conditions)
    seconds = time.monotonic() - start
    got = len(idl.tables["Port_Binding"].rows)
    idl.close()
    if got != expected:
        raise RuntimeError(f"reconnect: {got} Port_Bindings, expected {expected}")
    return seconds


def _measure(pid: int, repeat: int, op: Any) -> dict[str, float]:
    """Latency of each of *repeat* runs of *op*, and the server's CPU over all of them.

    ``/proc`` counts CPU in clock ticks (10 ms here), so the server's CPU is
    read once around the whole batch and divided by *repeat*.
    """
    wall = []
    before = _server_cpu(pid)
    for _ in range(repeat):
        wall.append(op())
    # Let the server finish its side (it answers before it accounts).
    time.sleep(0.05)
    cpu = _server_cpu(pid) - before
    return {
        "server_cpu_ms_per_op": round(cpu / repeat * 1000, 3),
        "latency_ms_median": round(statistics.median(wall) * 1000, 2),
        "latency_ms_max": round(max(wall) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--chassis", type=int, default=1000)
    parser.add_argument("--per-chassis", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--interval", type=float, default=60.0, help="audit interval, seconds")
    args = parser.parse_args(argv)
    with SandboxDir.create() as d:
        server = OvsdbServer(d, ["OVN_Southbound"], name="sb", timeout=120)
        server.start()
        pid = server.pid
        assert pid is not None
        uuids = _fill(server.remote, args.chassis, args.per_chassis)
        name, chassis_uuid = "hv0", uuids[0]
        n = args.per_chassis
        audit = _measure(pid, args.repeat, lambda: _audit_once(server.remote, chassis_uuid, n))
        reconnect = _measure(
            pid, args.repeat, lambda: _reconnect_once(server.remote, name, chassis_uuid, n)
        )
    per_audit_s = audit["server_cpu_ms_per_op"] / 1000
    doc = {
        "benchmark": "audit_cost",
        "python": platform.python_version(),
        "ovs": ovs.version.VERSION,
        "chassis": args.chassis,
        "port_bindings": args.chassis * args.per_chassis,
        "repeat": args.repeat,
        "results": {"audit": audit, "reconnect": reconnect},
        "ratio_audit_over_reconnect_cpu": round(
            audit["server_cpu_ms_per_op"] / max(reconnect["server_cpu_ms_per_op"], 1e-6),
            3,
        ),
        # Server cores kept busy by every chassis auditing every --interval s.
        "server_cores_for_all_chassis": round(per_audit_s * args.chassis / args.interval, 4),
        "interval_s": args.interval,
    }
    json.dump(doc, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
