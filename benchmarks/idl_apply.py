"""CPU to read N rows into an IDL: ``ovs.db.idl.Idl`` against the agent's ``QuickInsertIdl``.

A real ``ovsdb-server`` (:class:`ovn_vif.sandbox.OvsdbServer`) holds N
Port_Bindings requested for ``hv1`` in its ``OVN_Southbound`` database and
N Ports with their Interfaces on ``br-int`` in its ``Open_vSwitch``
database, as the agent would have plugged them. For each database and each
class, a fresh IDL with the columns the engine registers connects and reads
everything (the ``initial`` rows of its monitor: the same code path as rows
inserted later); the figure is the process CPU time spent in ``Idl.run()``
until the IDL has the rows (``time.process_time()``, so waiting for the
server does not count). Then, on the local database, another client
changes ``ofport`` and ``external_ids`` of all N Interfaces (as
``ovs-vswitchd`` and ``ovn-controller`` do after a plug) and the CPU each
IDL spends applying the N modifications is measured the same way. The agent's JSON framing
(``ovn_vif.agent``'s parser) is installed for both, and the collector runs
at the agent's thresholds (``AGENT_GC_THRESHOLDS``), as ``ovn-vif agent``
sets them: at Python's defaults a full collection of the benchmark's own
heap lands in whichever IDL's window it falls (1,000 modifications took
28 or 70 ms for the same class, depending on that).
The two classes alternate, ``--repeat`` times each; the minimum and the
median are printed as JSON.

    python benchmarks/idl_apply.py [-n 1000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from typing import Any

import ovs.db.idl
import ovs.version

from ovn_vif import register_ovs_columns, register_sb_columns
from ovn_vif._ovs_private import QuickInsertIdl
from ovn_vif.agent import _json as ovsjson
from ovn_vif.cli._commands import AGENT_GC_THRESHOLDS
from ovn_vif.sandbox import DATABASES, OvsdbServer, SandboxDir


def _connect(cls: Any, remote: str, db: str, register: Any) -> tuple[Any, float]:
    helper = ovs.db.idl.SchemaHelper(location=str(DATABASES[db]))
    register(helper)
    idl = cls(remote, helper)
    cpu = 0.0
    deadline = time.monotonic() + 60
    while not idl.has_ever_connected():
        start = time.process_time()
        idl.run()
        cpu += time.process_time() - start
        if time.monotonic() > deadline:
            raise TimeoutError(f"{db}: the IDL did not connect")
        if not idl.has_ever_connected():
            time.sleep(0.001)
    return idl, cpu


def _all(helper: Any) -> None:
    helper.register_all()


def _summary(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        name: {"cpu_ms_min": round(min(v), 1), "cpu_ms_median": round(statistics.median(v), 1)}
        for name, v in samples.items()
    }


def _fill(remote: str, n: int) -> None:
    sb, _ = _connect(ovs.db.idl.Idl, remote, "OVN_Southbound", _all)
    chassis = next(iter(sb.tables["Chassis"].rows.values()))
    txn = ovs.db.idl.Transaction(sb)
    txn.add_op(
        {"op": "insert", "table": "Datapath_Binding", "row": {"tunnel_key": 1}, "uuid-name": "dp"}
    )
    for i in range(n):
        options = [["requested-chassis", "hv1"], ["vif-plug-type", "dummy"]]
        row = {
            "logical_port": f"lsp{i}",
            "tunnel_key": i + 1,
            "datapath": ["named-uuid", "dp"],
            "options": ["map", options],
            "requested_chassis": ["uuid", str(chassis.uuid)],
        }
        txn.add_op({"op": "insert", "table": "Port_Binding", "row": row})
    if txn.commit_block() != "success":
        raise RuntimeError(f"Port_Bindings: {txn.get_error()}")
    sb.close()
    local, _ = _connect(ovs.db.idl.Idl, remote, "Open_vSwitch", _all)
    bridge = next(iter(local.tables["Bridge"].rows.values()))
    txn = ovs.db.idl.Transaction(local)
    added = []
    for i in range(n):
        external_ids = [["iface-id", f"lsp{i}"], ["ovn-plugged", "dummy"]]
        iface = {
            "name": f"lsp{i}",
            "type": "internal",
            "options": ["map", [["vif-plug-dummy-option", "value"]]],
            "external_ids": ["map", external_ids],
        }
        txn.add_op({"op": "insert", "table": "Interface", "row": iface, "uuid-name": f"i{i}"})
        port = {"name": f"lsp{i}", "interfaces": ["named-uuid", f"i{i}"]}
        txn.add_op({"op": "insert", "table": "Port", "row": port, "uuid-name": f"p{i}"})
        added.append(["named-uuid", f"p{i}"])
    where = [["_uuid", "==", ["uuid", str(bridge.uuid)]]]
    mutations = [["ports", "insert", ["set", added]]]
    txn.add_op({"op": "mutate", "table": "Bridge", "where": where, "mutations": mutations})
    if txn.commit_block() != "success":
        raise RuntimeError(f"Ports: {txn.get_error()}")
    local.close()


def _modify(cls: Any, remote: str, writer: Any, stamp: int) -> float:
    """CPU an IDL of *cls* spends applying a change to every Interface."""
    idl, _ = _connect(cls, remote, "Open_vSwitch", register_ovs_columns)
    try:
        txn = ovs.db.idl.Transaction(writer)
        rows = list(writer.tables["Interface"].rows.values())
        for n, row in enumerate(rows):
            external_ids = [["iface-id", row.name], ["ovn-installed", str(stamp)]]
            txn.add_op(
                {
                    "op": "update",
                    "table": "Interface",
                    "where": [["_uuid", "==", ["uuid", str(row.uuid)]]],
                    "row": {
                        "ofport": ["set", [stamp * 100000 + n + 1]],
                        "external_ids": ["map", external_ids],
                    },
                }
            )
        if txn.commit_block() != "success":
            raise RuntimeError(f"modify: {txn.get_error()}")
        target = idl.change_seqno + len(rows)
        cpu = 0.0
        deadline = time.monotonic() + 60
        while idl.change_seqno < target:
            start = time.process_time()
            idl.run()
            cpu += time.process_time() - start
            if time.monotonic() > deadline:
                raise TimeoutError("the IDL did not see the modifications")
            time.sleep(0.001)
        return cpu
    finally:
        idl.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="rows of each kind")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    ovsjson.install()
    gc.set_threshold(*AGENT_GC_THRESHOLDS)
    classes = {"ovs.db.idl.Idl": ovs.db.idl.Idl, "QuickInsertIdl": QuickInsertIdl}
    result: dict[str, Any] = {
        "benchmark": "idl_apply",
        "rows": args.n,
        "python": platform.python_version(),
        "ovs": ovs.version.VERSION,
        "results": {},
    }
    with SandboxDir.create() as d:
        server = OvsdbServer(d, ["Open_vSwitch", "OVN_Southbound"])
        server.start()
        d.run("ovn-sbctl", f"--db={server.remote}", "chassis-add", "hv1", "geneve", "127.0.0.1")
        d.run("ovs-vsctl", f"--db={server.remote}", "--no-wait", "add-br", "br-int")
        _fill(server.remote, args.n)
        for db, register, what in (
            ("OVN_Southbound", register_sb_columns, f"{args.n} Port_Bindings"),
            ("Open_vSwitch", register_ovs_columns, f"{args.n} Ports and Interfaces"),
        ):
            samples: dict[str, list[float]] = {name: [] for name in classes}
            for _ in range(args.repeat):
                for name, cls in classes.items():
                    idl, cpu = _connect(cls, server.remote, db, register)
                    idl.close()
                    samples[name].append(cpu * 1000)
            result["results"][f"{db}: {what}"] = _summary(samples)
        writer, _ = _connect(ovs.db.idl.Idl, server.remote, "Open_vSwitch", _all)
        modified: dict[str, list[float]] = {name: [] for name in classes}
        stamp = 0
        for _ in range(args.repeat):
            for name, cls in classes.items():
                stamp += 1
                modified[name].append(_modify(cls, server.remote, writer, stamp) * 1000)
        writer.close()
        result["results"][f"Open_vSwitch: {args.n} Interfaces modified"] = _summary(modified)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
