"""Memory of an idle plugging process with N plugged ports: ``ovn-vif agent`` versus
``ovn-controller --enable-dummy-vif-plug``.

For each implementation a fresh sandbox (:class:`ovn_vif.sandbox.Sandbox`) is
started, one ``ovn-nbctl`` call creates N LSPs (``requested-chassis=hv1
vif-plug-type=dummy``), and once all N Interfaces exist in the local database
and the process is idle (less than 25 ms of CPU in 0.5 s, then again after
``--settle`` seconds, 5 by default: the agent gives freed heap back to the
system 2 s after its last reconcile or commit), its ``VmRSS`` (and ``RssAnon``,
``RssFile``) is read from ``/proc/PID/status``. The agent is
``python -m ovn_vif.cli agent --provider dummy`` (the provider that plugs,
as ``ovn-controller --enable-dummy-vif-plug`` does; without ``--provider`` every
installed provider is loaded, the representor provider's pyroute2 included,
even where it cannot initialise), with no ``--metrics-address``;
``--agent-arg`` replaces those options. As ``ovn-vif agent`` always does,
it executes itself again on glibc's ``malloc`` first thing unless
``PYTHONMALLOC`` is set (``PYTHONMALLOC=pymalloc python
benchmarks/agent_rss.py`` measures it on CPython's allocator). The agent's modules
(``sys.modules`` count) are counted in a separate ``python -c`` that imports
what ``ovn-vif agent`` imports before its loop.

Usage::

    python benchmarks/agent_rss.py              # N = 1000
    python benchmarks/agent_rss.py -n 100 --agent-arg=--provider=dummy \
        --agent-arg=--metrics-address=127.0.0.1:0
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from plug_latency import InterfaceWatch, nbctl_create, start_agent, wait_idle

from ovn_vif.sandbox import Sandbox


def memory(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon and RssFile of *pid* in MB (10^6 bytes)."""
    wanted = {"VmRSS": "rss_mb", "RssAnon": "rss_anon_mb", "RssFile": "rss_file_mb"}
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in wanted:
            out[wanted[key]] = round(int(line.split()[1]) * 1024 / 1e6, 1)
    return out


def one(impl: str, n: int, agent_args: list[str], settle: float = 5.0) -> dict[str, Any]:
    controller = impl == "ovn-controller"
    stack = Sandbox("hv1", controller=controller, ignore_startup_delay=controller)
    with stack, tempfile.TemporaryDirectory(prefix="ovnvif-rss-") as tmp:
        agent = None if controller else start_agent(stack, Path(tmp), None, agent_args)
        try:
            pid = agent.pid if agent is not None else stack.controller.pid  # type: ignore[union-attr]
            assert pid is not None
            watch = InterfaceWatch(stack.ovs_remote)
            try:
                nbctl_create(stack, n)
                watch.wait_until(lambda: watch.count() == n, timeout=600)
            finally:
                watch.close()
            wait_idle(pid, timeout=600)
            time.sleep(settle)
            wait_idle(pid, timeout=600)
            return {"plugged": n, **memory(pid)}
        finally:
            if agent is not None:
                agent.send_signal(signal.SIGTERM)
                agent.wait(timeout=60)


def modules_loaded() -> int:
    """Modules in ``sys.modules`` after importing what ``ovn-vif agent`` needs to start."""
    code = (
        "import sys, ovn_vif.cli._commands as c, ovn_vif.agent._loop, ovn_vif_dummy;"
        "print(len(sys.modules))"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return int(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="plugged ports (default: 1000)")
    parser.add_argument(
        "--agent-arg",
        action="append",
        help="option for the agent (repeatable; default: --provider=dummy)",
    )
    parser.add_argument("--only-agent", action="store_true", help="skip ovn-controller")
    parser.add_argument(
        "--settle",
        type=float,
        default=5.0,
        help="seconds to wait once idle before reading the memory (default: 5)",
    )
    args = parser.parse_args(argv)
    args.agent_arg = args.agent_arg or ["--provider=dummy"]
    impls = ["agent"] if args.only_agent else ["agent", "ovn-controller"]
    result: dict[str, Any] = {
        "method": "VmRSS of the idle plugging process once N Interfaces are plugged; "
        "fresh sandbox per implementation",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "agent_args": args.agent_arg,
        "agent_modules_at_start": modules_loaded(),
        "settle_s": args.settle,
        "results": {impl: one(impl, args.n, args.agent_arg, args.settle) for impl in impls},
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
