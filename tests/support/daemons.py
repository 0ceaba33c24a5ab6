"""Pytest fixtures that start real OVS/OVN daemons (see :mod:`ovn_vif.sandbox`).

Loaded from ``tests/conftest.py`` (``pytest_plugins``). Every fixture is
function-scoped and stops its daemons and removes its directory afterwards,
also when the test fails or is interrupted. When a test fails, the tail of
each daemon's log is added to the failure report. Set
``OVN_VIF_KEEP_SANDBOX=1`` to keep the directories (logs, databases).

``OVN_VIF_REFERENCE`` chooses the OVN that ``reference_stack`` runs:
``host`` (default: the host's packages, OVN 23.03 on Debian 12), ``trixie``
(OVN 25.03 and OVS 3.5 from the Debian trixie tree ``scripts/reference-tree``
builds into the cache) or the path of another such tree. Only the reference
stack changes; every other fixture, and the engine, stay on the host.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from ovn_vif.sandbox import LocalVswitch, OvsdbServer, Sandbox, SandboxDir

_KEEP = os.environ.get("OVN_VIF_KEEP_SANDBOX", "") not in ("", "0")
_DIRS = pytest.StashKey[list[SandboxDir]]()
_REFERENCE = os.environ.get("OVN_VIF_REFERENCE", "") or "host"
_TREE_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reference-tree"
#: What scripts/reference-tree writes last: a tree without it is incomplete.
_TREE_MARKER = ".ovn-vif-tree"


@functools.cache
def host_reference() -> bool:
    """Whether the reference is the host's own OVS/OVN (``OVN_VIF_REFERENCE``
    unset or ``host``), which has no tree."""
    return _REFERENCE == "host"


def reference_tree() -> Path | None:
    """The tree whose OVN ``reference_stack`` runs, or ``None`` for the host's.

    Raises :class:`pytest.UsageError` naming the fix when the tree is not
    built (``scripts/reference-tree`` builds it) or cannot be used.
    """
    if _REFERENCE == "host":
        return None
    if _REFERENCE == "trixie":
        out = subprocess.run(
            [str(_TREE_SCRIPT), "--path"], capture_output=True, text=True, check=True
        )
        tree = Path(out.stdout.strip())
    elif os.path.isabs(_REFERENCE):
        tree = Path(_REFERENCE)
    else:
        raise pytest.UsageError(
            f"OVN_VIF_REFERENCE={_REFERENCE!r}: expected host, trixie or the path of a tree"
        )
    if not (tree / _TREE_MARKER).is_file():
        raise pytest.UsageError(
            f"OVN_VIF_REFERENCE={_REFERENCE}: no complete tree at {tree}; "
            f"build it with {_TREE_SCRIPT}"
        )
    if os.geteuid() != 0:
        raise pytest.UsageError(
            f"OVN_VIF_REFERENCE={_REFERENCE}: running the reference in {tree} "
            "(chroot, mount --bind) needs root"
        )
    return tree


@functools.cache
def reference_ovn_series() -> str:
    """The OVN series of the reference, ``"23.03"`` or ``"25.03"`` (from its ovn-northd)."""
    version = Sandbox(chroot=reference_tree()).ovn_version()
    return ".".join(version.split(".")[:2])


def pytest_report_header(config: pytest.Config) -> str:
    where = reference_tree() or "the host"
    return f"ovn-vif reference: {_REFERENCE} ({where})"


def _track(request: pytest.FixtureRequest, sandbox_dir: SandboxDir) -> None:
    """Remember *sandbox_dir* so a failure report can show its daemons' logs."""
    request.node.stash.setdefault(_DIRS, []).append(sandbox_dir)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when in ("setup", "call"):
        for sandbox_dir in item.stash.get(_DIRS, []):
            for daemon in sandbox_dir.daemons:
                tail = daemon.log_tail(40)
                if tail:
                    report.sections.append((f"{daemon.name} log: {daemon.log_path}", tail))
    return report


@pytest.fixture
def sandbox_dir(request: pytest.FixtureRequest) -> Iterator[SandboxDir]:
    """A fresh ``/tmp/ovnvif-*`` directory; daemons started in it are stopped afterwards."""
    with SandboxDir.create(keep=_KEEP) as d:
        _track(request, d)
        yield d


@pytest.fixture
def ovsdb_server(sandbox_dir: SandboxDir) -> OvsdbServer:
    """One running ovsdb-server with an ``Open_vSwitch`` and an ``OVN_Southbound`` database.

    Connect with ``ovsdb_server.remote``; the schemas are
    ``ovn_vif.sandbox.DATABASES[name]``. Both root rows exist (as after
    ``ovs-vsctl init`` / ``ovn-sbctl init``); no ovs-vswitchd runs.
    """
    server = OvsdbServer(sandbox_dir, ["Open_vSwitch", "OVN_Southbound"])
    server.start()
    return server


@pytest.fixture
def local_vswitch(sandbox_dir: SandboxDir) -> LocalVswitch:
    """A local Open_vSwitch ovsdb-server plus ovs-vswitchd (dummy datapath) with ``br-int``.

    ``local_vswitch.remote`` is the database; ``local_vswitch.vsctl(...)``
    runs ovs-vsctl. Interfaces added to br-int get ofports.
    """
    vswitch = LocalVswitch(sandbox_dir)
    vswitch.start()
    return vswitch


@pytest.fixture
def ovn_stack(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A full single-chassis stack without ovn-controller; chassis ``hv1`` is in SB.

    For running a plugging agent against ``ovn_stack.sb_remote`` and
    ``ovn_stack.ovs_remote`` (bridge ``br-int``).
    """
    stack = Sandbox("hv1", keep=_KEEP)
    with stack:
        _track(request, stack.dir)
        yield stack


@pytest.fixture
def reference_stack(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A full single-chassis stack with the real ovn-controller (chassis ``hv1``).

    The controller's start-up delay is switched off (also after a restart),
    so it unplugs at once. Which OVN runs is ``OVN_VIF_REFERENCE``'s choice
    (see the module docstring; ``reference_ovn_series()`` tells).
    """
    stack = Sandbox(
        "hv1", controller=True, ignore_startup_delay=True, keep=_KEEP, chroot=reference_tree()
    )
    with stack:
        _track(request, stack.dir)
        yield stack
