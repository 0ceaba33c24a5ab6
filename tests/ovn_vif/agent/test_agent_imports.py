"""A plain agent does not load what only some agents use.

``ssl`` (about 6 MB resident) is for ``ssl:`` remotes, ``prometheus_client``
for ``--metrics-address``, ``pyroute2`` and the representor provider for
``--provider representor``, ``importlib.metadata`` (with ``email`` and
``zipfile``) only where entry points cannot be read plainly (a zip file on
``sys.path``), ``sortedcontainers`` for IDL indexes, ``shutil``,
``tempfile`` and ``typing_extensions`` never: an agent on ``unix:`` and
``tcp:`` remotes with the dummy provider must not import them (see
``docs/performance.rst``).
These tests say which module came back, not how many bytes it costs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.agent import TIMEOUT, add_lsps, free_port, serve_sb, wait_plugged

from ovn_vif._contract import entrypoints
from ovn_vif.sandbox import Sandbox

#: Modules a plain agent must not load (prefixes: their submodules neither).
NOT_LOADED: tuple[str, ...] = (
    "ssl",
    "_ssl",
    "prometheus_client",
    "pyroute2",
    "ovn_vif_representor",
    # shutil (with bz2, lzma, zlib: 0.7 MB) came with argparse's help
    # formatter and tempfile (the status file); neither is needed.
    "shutil",
    "tempfile",
    # typing_extensions (0.5 MB) came with the providers' @override, which
    # only type checkers read; sortedcontainers (0.3 MB) with
    # ovs.db.custom_index, for indexes the agent does not make.
    "typing_extensions",
    "sortedcontainers",
)
#: ... nor these, where the entry points can be read without them.
METADATA = ("importlib.metadata", "email", "zipfile", "csv")


def heavy(modules: list[str]) -> list[str]:
    avoid = NOT_LOADED
    if entrypoints._distributions() is not None:
        avoid += METADATA
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in avoid))


def test_importing_the_agent_loads_no_heavy_module() -> None:
    # What `ovn-vif agent --provider dummy` imports before its loop.
    script = (
        "import sys\n"
        "import ovn_vif.cli._commands, ovn_vif.cli._service, ovn_vif.agent._loop\n"
        "import ovn_vif.agent._loop_status, ovn_vif.agent._trim, ovn_vif.agent._control\n"
        "import ovn_vif_dummy\n"
        "from ovn_vif._contract.registry import Registry\n"
        "report = Registry().load_entry_points(only=['dummy'])\n"
        "assert report.registered == ('dummy',), report\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert heavy(result.stdout.split()) == []


_RUN_AND_LIST = (
    "import sys\n"
    "from ovn_vif.cli import main\n"
    "try:\n"
    "    status = main(sys.argv[2:])\n"
    "finally:\n"
    "    with open(sys.argv[1], 'w') as f:\n"
    "        f.write('\\n'.join(sorted(sys.modules)))\n"
    "sys.exit(status)\n"
)


@pytest.mark.daemons
def test_a_running_agent_on_unix_and_tcp_remotes_loads_no_heavy_module(
    ovn_stack: Sandbox, tmp_path: Path
) -> None:
    # The real agent plugs a port (local database on unix:, Southbound on
    # tcp:) and lists its modules when it stops.
    port = free_port()
    serve_sb(ovn_stack, ("127.0.0.1", port))
    listing = tmp_path / "modules"
    log = tmp_path / "agent.log"
    argv = [
        sys.executable,
        "-c",
        _RUN_AND_LIST,
        str(listing),
        "agent",
        "--provider",
        "dummy",
        "--ovs-remote",
        ovn_stack.ovs_remote,
        "--ovn-remote",
        f"tcp:127.0.0.1:{port}",
        "--log-level",
        "info",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out)
        try:
            add_lsps(ovn_stack, "lsp-imports")
            wait_plugged(ovn_stack, "lsp-imports")
        finally:
            proc.send_signal(signal.SIGTERM)
            status = proc.wait(timeout=TIMEOUT)
    assert status == 0, log.read_text()
    assert heavy(listing.read_text().split()) == []
