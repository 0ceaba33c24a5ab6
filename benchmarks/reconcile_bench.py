"""How long one ``reconcile()`` iteration takes with N plugged ports.

For each N (default 100, 1000, 10000) and each policy it builds a Southbound
database with N Port_Bindings requested for this chassis (dummy plug type),
lets the engine plug them all (the "initial" iteration), gives every
interface an ofport as vswitchd would, and then measures whole iterations
(``reconcile`` + ``commit`` + ``complete``):

* ``no_change``: nothing changed since the previous iteration (the engine's
  snapshot is reused because no IDL's ``change_seqno`` moved, but every
  plugged lport's provider is asked again, as OVN does);
* ``no_change_idle``: the same, with ``providers_changed=False`` (no
  provider's ``run()`` reported a change): RECOMMENDED skips the run;
* ``unrelated_change``: a Port_Binding of another chassis changed (the
  snapshot is rebuilt, reusing the copies of unchanged rows; nothing is
  written);
* ``one_percent_changed``: the MTU request of 1 % of the lports changed
  (snapshot rebuilt, N/100 interfaces updated);
* ``one_changed``: the MTU request of one lport changed (one interface
  updated).

Each size runs with two engines: ``full``, on plain IDLs (every run
decides for every lport, as before), and ``incremental``, on IDLs given
to :func:`ovn_vif.track_changes` with ``providers_changed=False`` (the
engine decides only for the lports whose rows changed; see
``docs/performance.rst``). ``p2`` at the end compares ``one_changed`` at
the largest size with the smallest, per engine and policy.

Prints one JSON document. Times are in milliseconds (median and maximum of
``--repeat`` iterations), the provider's ``prepare_create`` calls per
iteration are counted too.

The databases are ``ovn_vif.testing.FakeIdl`` in-memory servers when that
package is installed (``--backend fake``), else a real ``ovsdb-server``
started with ``ovn_vif.sandbox`` (``--backend ovsdb``). Either way the IDL is
the real ``ovs.db.idl.Idl``.

    python benchmarks/reconcile_bench.py [--sizes 100 1000 10000] [--repeat 5]
        [--engine full|incremental|both] [--policies recommended]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import ovs.db.idl
import ovs.poller

from ovn_vif import (
    Decline,
    PlugSpec,
    Policy,
    PortContext,
    Reconciler,
    Registry,
    create_sb_indexes,
    register_ovs_columns,
    register_sb_columns,
    track_changes,
)
from ovn_vif_dummy import DummyProvider


class CountingDummy(DummyProvider):
    def __init__(self) -> None:
        self.prepares = 0

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        self.prepares += 1
        return super().prepare_create(ctx)


def _run_until(idls: tuple[Any, ...], condition: Callable[[], bool], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for idl in idls:
            idl.run()
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("database did not reach the expected state")
        poller = ovs.poller.Poller()
        for idl in idls:
            idl.wait(poller)
        poller.timer_wait(10)
        poller.block()


def _commit(idl: Any, txn: Any) -> str:
    while True:
        status: str = txn.commit()
        if status != ovs.db.idl.Transaction.INCOMPLETE:
            return status
        idl.run()
        poller = ovs.poller.Poller()
        idl.wait(poller)
        txn.wait(poller)
        poller.timer_wait(10)
        poller.block()


# --- backends: (ovs_idl, sb_idl, writer idls) with br-int, chassis hv1 and hv2 ------------


@contextlib.contextmanager
def fake_backend(tracked: bool) -> Iterator[tuple[Any, Any]]:
    from ovn_vif.testing import add_chassis, connect, ovs_database, sb_database

    def sb_setup(idl: Any) -> None:
        create_sb_indexes(idl)
        if tracked:
            track_changes(idl)

    ovs_db = ovs_database(system_id="hv1")
    sb_db = sb_database(chassis="hv1")
    add_chassis(sb_db, "hv2")

    def ovs_setup(idl: Any) -> None:
        if tracked:
            track_changes(idl)

    ovs_idl = connect(ovs_db, register_ovs_columns, before_connect=ovs_setup)
    sb_idl = connect(sb_db, register_sb_columns, before_connect=sb_setup)
    yield ovs_idl, sb_idl


@contextlib.contextmanager
def ovsdb_backend(tracked: bool) -> Iterator[tuple[Any, Any]]:
    from ovn_vif.sandbox import DATABASES, OvsdbServer, SandboxDir

    with SandboxDir.create() as d:
        server = OvsdbServer(d, ["Open_vSwitch", "OVN_Southbound"])
        server.start()
        d.run("ovs-vsctl", f"--db={server.remote}", "--no-wait", "add-br", "br-int")
        for name, ip in (("hv1", "127.0.0.1"), ("hv2", "127.0.0.2")):
            d.run("ovn-sbctl", f"--db={server.remote}", "chassis-add", name, "geneve", ip)
        idls = []
        for db, register, index in (
            ("Open_vSwitch", register_ovs_columns, None),
            ("OVN_Southbound", register_sb_columns, create_sb_indexes),
        ):
            helper = ovs.db.idl.SchemaHelper(location=str(DATABASES[db]))
            register(helper)
            idl = ovs.db.idl.Idl(server.remote, helper)
            if tracked:
                track_changes(idl)
            if index is not None:
                index(idl)
            idls.append(idl)
        _run_until(tuple(idls), lambda: all(i.has_ever_connected() for i in idls))
        yield idls[0], idls[1]
        for idl in idls:
            idl.close()


# --- the writers (plain IDL transactions, as northd and vswitchd would) ----------------


class SbWriter:
    """Writes Port_Bindings with a separate IDL on the SB database."""

    def __init__(self, sb_idl: Any) -> None:
        self.idl = sb_idl

    def _chassis(self, name: str) -> Any:
        return next(r for r in self.idl.tables["Chassis"].rows.values() if r.name == name)

    def add_bindings(self, names: list[str], chassis: str) -> None:
        # Raw operations: the engine's SB IDL does not monitor the required
        # Datapath_Binding and tunnel_key columns.
        ch = self._chassis(chassis)
        txn = ovs.db.idl.Transaction(self.idl)
        txn.add_op(
            {
                "op": "insert",
                "table": "Datapath_Binding",
                "row": {"tunnel_key": _next_key()},
                "uuid-name": "dp",
            }
        )
        for key, name in enumerate(names, start=1):
            options = [["requested-chassis", chassis], ["vif-plug-type", "dummy"]]
            txn.add_op(
                {
                    "op": "insert",
                    "table": "Port_Binding",
                    "row": {
                        "logical_port": name,
                        "tunnel_key": key,
                        "datapath": ["named-uuid", "dp"],
                        "options": ["map", options],
                        "requested_chassis": ["uuid", str(ch.uuid)],
                    },
                }
            )
        status = _commit(self.idl, txn)
        if status != "success":
            raise RuntimeError(f"adding Port_Bindings failed: {status} {txn.get_error()}")

    def set_mtu(self, names: set[str], mtu: int) -> None:
        txn = ovs.db.idl.Transaction(self.idl)
        for row in self.idl.tables["Port_Binding"].rows.values():
            if row.logical_port in names:
                row.setkey("options", "vif-plug-mtu-request", str(mtu))
        status = _commit(self.idl, txn)
        if status != "success":
            raise RuntimeError(f"set_mtu failed: {status}")


_KEYS = iter(range(100, 10**9))


def _next_key() -> int:
    return next(_KEYS)


def set_ofports(ovs_idl: Any) -> None:
    """Give every interface an ofport, as ovs-vswitchd would."""
    txn = ovs.db.idl.Transaction(ovs_idl)
    for n, row in enumerate(ovs_idl.tables["Interface"].rows.values(), start=1):
        if not row.ofport:
            row.ofport = [n]
    status = _commit(ovs_idl, txn)
    if status not in ("success", "unchanged"):
        raise RuntimeError(f"setting ofports failed: {status}")


# --- measuring --------------------------------------------------------------------


def iteration(
    rec: Reconciler, ovs_idl: Any, sb_idl: Any, *, providers_changed: bool = True
) -> tuple[float, bool, float]:
    """(ms for reconcile + commit + complete, whether it wrote, ms for reconcile alone)."""
    ovs_idl.run()
    sb_idl.run()
    t0 = time.perf_counter()
    txn = ovs.db.idl.Transaction(ovs_idl)
    report = rec.reconcile(
        ovs_idl,
        sb_idl,
        txn,
        chassis="hv1",
        can_unplug=True,
        providers_changed=providers_changed,
    )
    decided = time.perf_counter()
    status = txn.commit()
    rec.complete(status, txn=txn)
    elapsed = time.perf_counter() - t0
    if status == ovs.db.idl.Transaction.INCOMPLETE:
        rec.complete(_commit(ovs_idl, txn), txn=txn)
    return elapsed * 1000, report.changed, (decided - t0) * 1000


def _summary(samples: list[float], prepares: list[int], engine: list[float]) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(samples), 3),
        "reconcile_median_ms": round(statistics.median(engine), 3),
        "max_ms": round(max(samples), 3),
        "prepare_calls": max(prepares),
    }


def bench(backend: str, n: int, policy: Policy, repeat: int, tracked: bool) -> dict[str, Any]:
    make = fake_backend if backend == "fake" else ovsdb_backend
    with make(tracked) as (ovs_idl, sb_idl):
        provider = CountingDummy()
        registry = Registry()
        registry.register(provider)
        writer = SbWriter(sb_idl)
        writer.add_bindings([f"lsp{i}" for i in range(n)], "hv1")
        writer.add_bindings([f"far{i}" for i in range(3)], "hv2")
        rec = Reconciler(registry, policy=policy)

        t0 = time.perf_counter()
        initial_ms, _, _ = iteration(rec, ovs_idl, sb_idl)
        _run_until((ovs_idl,), lambda: len(ovs_idl.tables["Interface"].rows) == n + 1)
        initial_total = (time.perf_counter() - t0) * 1000
        set_ofports(ovs_idl)
        _run_until((ovs_idl, sb_idl), lambda: True)
        iteration(rec, ovs_idl, sb_idl)  # settle (nothing to write)

        result: dict[str, Any] = {
            "initial_plug": {
                "iteration_ms": round(initial_ms, 3),
                "until_in_db_ms": round(initial_total, 3),
            }
        }
        cases = (
            "no_change",
            "no_change_idle",
            "unrelated_change",
            "one_percent_changed",
            "one_changed",
        )
        for case in cases:
            samples: list[float] = []
            engine: list[float] = []
            prepares: list[int] = []
            writes = 0
            for r in range(repeat):
                if case == "unrelated_change":
                    writer.set_mtu({f"far{r % 3}"}, 1000 + r)
                elif case == "one_percent_changed":
                    changed = {f"lsp{i}" for i in range(r, n, 100)}
                    writer.set_mtu(changed, 1400 + r)
                elif case == "one_changed":
                    writer.set_mtu({f"lsp{(r * 7) % n}"}, 1300 + r)
                # (the writer's commit ran the IDL: the change is in its cache)
                provider.prepares = 0
                # The incremental engine is told when no provider changed;
                # "no_change" keeps saying one did (a full run).
                idle = case == "no_change_idle" or (tracked and case != "no_change")
                ms, changed_any, engine_ms = iteration(
                    rec, ovs_idl, sb_idl, providers_changed=not idle
                )
                samples.append(ms)
                engine.append(engine_ms)
                prepares.append(provider.prepares)
                writes += changed_any
                _run_until((ovs_idl, sb_idl), lambda: not rec.in_flight)
            result[case] = _summary(samples, prepares, engine) | {"iterations_that_wrote": writes}
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--policies",
        nargs="+",
        default=[p.value for p in Policy],
        choices=[p.value for p in Policy],
    )
    parser.add_argument("--engine", choices=["full", "incremental", "both"], default="both")
    default_backend = "fake" if importlib.util.find_spec("ovn_vif.testing") else "ovsdb"
    parser.add_argument("--backend", choices=["fake", "ovsdb"], default=default_backend)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "benchmark": "reconcile",
        "backend": args.backend,
        "python": platform.python_version(),
        "results": [],
    }
    engines = ["full", "incremental"] if args.engine == "both" else [args.engine]
    for n in args.sizes:
        for policy_name in args.policies:
            policy = Policy(policy_name)
            for engine in engines:
                results["results"].append(
                    {"plugged_ports": n, "policy": policy.value, "engine": engine}
                    | bench(args.backend, n, policy, args.repeat, engine == "incremental")
                )
    lo, hi = min(args.sizes), max(args.sizes)
    p2 = {}
    for policy_name in args.policies:
        for engine in engines:
            rows = {
                r["plugged_ports"]: r["one_changed"]
                for r in results["results"]
                if r["policy"] == policy_name and r["engine"] == engine
            }
            if lo != hi and rows[lo]["median_ms"] and rows[lo]["reconcile_median_ms"]:
                p2[f"{policy_name}/{engine}"] = {
                    f"one_changed_ms_at_{lo}": rows[lo]["median_ms"],
                    f"one_changed_ms_at_{hi}": rows[hi]["median_ms"],
                    "ratio": round(rows[hi]["median_ms"] / rows[lo]["median_ms"], 2),
                    "reconcile_only_ratio": round(
                        rows[hi]["reconcile_median_ms"] / rows[lo]["reconcile_median_ms"], 2
                    ),
                }
    results["p2"] = p2
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
