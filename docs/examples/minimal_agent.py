"""A minimal VIF plugging agent built on ``Reconciler.reconcile()``.

It plugs, updates and unplugs the VIFs that OVN asks for on this chassis,
with the dummy provider (swap in your own registry for real hardware)::

    python docs/examples/minimal_agent.py --ovs unix:/run/openvswitch/db.sock \\
        --sb tcp:192.0.2.10:6642 --chassis hv1

The remotes default to ``$OVS_DB`` and ``$OVN_SB_DB``, the chassis to
``$OVN_CHASSIS``. ``--until-settled`` exits once nothing is left to do
(handy in tests and demos); otherwise it runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from typing import Any

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream

from ovn_vif import (
    Policy,
    Reconciler,
    Registry,
    create_sb_indexes,
    register_ovs_columns,
    register_sb_columns,
)
from ovn_vif_dummy import DummyProvider


def fetch_schema(remote: str, database: str) -> Any:
    """Ask the server for its schema, so the IDL matches it exactly."""
    error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(remote), 10000)
    if error:
        raise OSError(error, f"cannot connect to {remote}")
    rpc = ovs.jsonrpc.Connection(stream)
    error, reply = rpc.transact_block(ovs.jsonrpc.Message.create_request("get_schema", [database]))
    rpc.close()
    if error or reply.error:
        raise OSError(f"get_schema {database} from {remote} failed: {error or reply.error}")
    return reply.result


def open_idl(remote: str, database: str, register: Any, index: Any = None) -> Any:
    helper = ovs.db.idl.SchemaHelper(schema_json=fetch_schema(remote, database))
    register(helper)  # the tables and columns the engine reads
    idl = ovs.db.idl.Idl(remote, helper)
    if index is not None:
        index(idl)  # before the first run(): late indexes stay empty
    return idl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ovs", default=os.environ.get("OVS_DB"), help="local OVSDB remote")
    parser.add_argument("--sb", default=os.environ.get("OVN_SB_DB"), help="OVN SB remote")
    parser.add_argument("--chassis", default=os.environ.get("OVN_CHASSIS"), help="system-id")
    parser.add_argument("--bridge", default="br-int")
    parser.add_argument(
        "--policy", choices=[p.value for p in Policy], default=Policy.RECOMMENDED.value
    )
    parser.add_argument("--until-settled", action="store_true", help="exit when idle")
    parser.add_argument("--timeout", type=float, default=60.0, help="with --until-settled")
    args = parser.parse_args(argv)
    if not (args.ovs and args.sb and args.chassis):
        parser.error("--ovs, --sb and --chassis are required (or OVS_DB, OVN_SB_DB, OVN_CHASSIS)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    registry = Registry()
    registry.register(DummyProvider())
    ovs_idl = open_idl(args.ovs, "Open_vSwitch", register_ovs_columns)
    sb_idl = open_idl(args.sb, "OVN_Southbound", register_sb_columns, create_sb_indexes)
    reconciler = Reconciler(registry, policy=Policy(args.policy))

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    pending = None  # a transaction whose commit is still in progress
    quiet = 0
    deadline = time.monotonic() + args.timeout
    while not stopping:
        ovs_idl.run()
        sb_idl.run()
        registry.run_all()
        if pending is not None:
            status = pending.commit()
            reconciler.complete(status, txn=pending)
            if status != ovs.db.idl.Transaction.INCOMPLETE:
                pending = None
        ready = ovs_idl.has_ever_connected() and sb_idl.has_ever_connected()
        if pending is None and ready:
            txn = ovs.db.idl.Transaction(ovs_idl)
            report = reconciler.reconcile(
                ovs_idl,
                sb_idl,
                txn,
                chassis=args.chassis,
                bridge=args.bridge,
                # The whole SB database is monitored, so once it has loaded
                # a missing Port_Binding really is gone: unplugging is safe.
                can_unplug=True,
            )
            for decision in report:
                print(decision.outcome.value, decision.lport, decision.port or "-", flush=True)
            status = txn.commit()
            reconciler.complete(status, txn=txn)
            if status == ovs.db.idl.Transaction.INCOMPLETE:
                pending = txn
            quiet = 0 if (report.changed or reconciler.in_flight or report.skipped) else quiet + 1
            if args.until_settled and quiet >= 3:
                return 0
        if args.until_settled and time.monotonic() > deadline:
            print("not settled before the timeout", file=sys.stderr)
            return 1

        # Sleep until a database or a provider has something for us.
        poller = ovs.poller.Poller()
        ovs_idl.wait(poller)
        sb_idl.wait(poller)
        for provider in registry.providers():
            for fd in provider.wait_fds():
                poller.fd_wait(fd, ovs.poller.POLLIN)
            wakeup = provider.next_wakeup()
            if wakeup is not None:
                poller.timer_wait(max(0, int((wakeup - time.monotonic()) * 1000)))
        if args.until_settled:
            poller.timer_wait(50)  # count quiet iterations even when idle
        poller.block()
    ovs_idl.close()
    sb_idl.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
