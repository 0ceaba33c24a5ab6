"""Pytest fixtures that start real OVS/OVN daemons (see :mod:`ovn_vif.sandbox`).

Loaded from ``tests/conftest.py``. Every fixture is function-scoped and stops
its daemons and removes its directory afterwards, also when the test fails.
Set ``OVN_VIF_KEEP_SANDBOX=1`` to keep the directories (logs, databases) for
debugging; their paths are logged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ovn_vif.sandbox import LocalVswitch, OvsdbServer, Sandbox, SandboxDir

_KEEP = os.environ.get("OVN_VIF_KEEP_SANDBOX", "") not in ("", "0")


@pytest.fixture
def sandbox_dir() -> Iterator[SandboxDir]:
    """A fresh ``/tmp/ovnvif-*`` directory; daemons started in it are stopped afterwards."""
    with SandboxDir.create(keep=_KEEP) as d:
        yield d


@pytest.fixture
def ovsdb_server(sandbox_dir: SandboxDir) -> OvsdbServer:
    """One running ovsdb-server with an ``Open_vSwitch`` and an ``OVN_Southbound`` database.

    Connect with ``ovsdb_server.remote``. Both root rows exist (as after
    ``ovs-vsctl init`` / ``ovn-sbctl init``); no ovs-vswitchd runs.
    """
    server = OvsdbServer(sandbox_dir, ["Open_vSwitch", "OVN_Southbound"])
    server.start()
    return server


@pytest.fixture
def local_vswitch(sandbox_dir: SandboxDir) -> LocalVswitch:
    """A local Open_vSwitch ovsdb-server plus ovs-vswitchd (dummy datapath) with ``br-int``.

    ``local_vswitch.remote`` is the database; ``local_vswitch.vsctl(...)`` runs ovs-vsctl.
    Interfaces added to br-int get ofports.
    """
    vswitch = LocalVswitch(sandbox_dir)
    vswitch.start()
    return vswitch


@pytest.fixture
def ovn_stack() -> Iterator[Sandbox]:
    """A full single-chassis stack without ovn-controller; chassis ``hv1`` is in SB.

    For running a plugging agent against ``ovn_stack.sb_remote`` and
    ``ovn_stack.ovs_remote``.
    """
    with Sandbox("hv1", keep=_KEEP) as stack:
        yield stack


@pytest.fixture
def reference_stack() -> Iterator[Sandbox]:
    """A full single-chassis stack with the real ovn-controller (chassis ``hv1``).

    The controller's start-up delay is switched off, so it unplugs at once.
    """
    with Sandbox("hv1", controller=True, ignore_startup_delay=True, keep=_KEEP) as stack:
        yield stack
