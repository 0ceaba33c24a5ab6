"""Plug VIFs from an ovsdbapp-based agent (as Neutron's OVN agents are built).

The local Open_vSwitch database and the OVN Southbound database are opened
the ovsdbapp way (a ``Connection`` thread per database), and
``ovn_vif.ovsdbapp.OvsdbappEngine`` runs the plugging engine in the local
database's ovsdbapp thread::

    python docs/examples/ovsdbapp_agent.py --ovs unix:/run/openvswitch/db.sock \\
        --sb tcp:192.0.2.10:6642 --chassis hv1

``--until-settled`` exits once nothing is left to do (for tests and demos);
otherwise it runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from ovsdbapp.backend.ovs_idl import connection
from ovsdbapp.schema.open_vswitch import impl_idl as ovs_impl
from ovsdbapp.schema.ovn_southbound import impl_idl as sb_impl

from ovn_vif import Registry
from ovn_vif.ovsdbapp import NotifyingIdl, OvsdbappEngine
from ovn_vif_dummy import DummyProvider


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ovs", required=True, help="local OVSDB remote")
    parser.add_argument("--sb", required=True, help="OVN Southbound remote")
    parser.add_argument("--chassis", required=True, help="this chassis' system-id")
    parser.add_argument("--until-settled", action="store_true", help="exit when idle")
    parser.add_argument("--timeout", type=float, default=60.0, help="with --until-settled")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    # ovsdbapp connections, as an agent already has them. NotifyingIdl
    # dispatches row events (Neutron's IDLs do too), which wake the engine.
    ovs_idl = NotifyingIdl.from_server(args.ovs, "Open_vSwitch")
    sb_idl = NotifyingIdl.from_server(args.sb, "OVN_Southbound")
    ovs_api = ovs_impl.OvsdbIdl(connection.Connection(ovs_idl, timeout=10))
    sb_api = sb_impl.OvnSbApiIdlImpl(connection.Connection(sb_idl, timeout=10))

    registry = Registry()
    registry.register(DummyProvider())  # your providers here
    engine = OvsdbappEngine(ovs_api, sb_api, registry, chassis=args.chassis)

    if not args.until_settled:
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        engine.start(can_unplug=True)  # runs and sleeps in a thread of its own
        stop.wait()
        engine.close()
        return 0

    # The same loop by hand: run, then sleep until a table changes or a
    # provider's fd or deadline wakes the engine.
    deadline = time.monotonic() + args.timeout
    quiet = 0
    while quiet < 3:
        run = engine.run_once(can_unplug=True)
        for attempt in run.attempts:
            for decision in attempt.report:
                print(decision.outcome.value, decision.lport, attempt.status, flush=True)
        busy = run.failed or any(a.report.changed for a in run.attempts)
        quiet = 0 if busy else quiet + 1
        if time.monotonic() > deadline:
            print("not settled before the timeout", file=sys.stderr)
            return 1
        engine.wait(timeout=0.1)
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
