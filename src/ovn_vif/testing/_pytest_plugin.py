"""Pytest fixtures for testing providers and agents on fake OVSDB databases.

Installed with ovn-vif and loaded automatically (``pytest11`` entry point
``ovn_vif``); disable with ``pytest -p no:ovn_vif``.

Fixtures (all function-scoped; this chassis is ``hv1``, the bridge ``br-int``):

``fake_ovs_db`` / ``fake_sb_db``
    The :class:`~ovn_vif.testing.FakeDatabase` objects (test controls, ``dump()``).
``fake_ovs_idl``
    A connected :class:`~ovn_vif.testing.FakeIdl` on the local Open_vSwitch DB:
    an ``Open_vSwitch`` row with ``external_ids`` ``system-id=hv1`` and
    ``ovn-bridge=br-int``, and the bridge ``br-int``.  All tables and columns of
    the schema subset are registered and the engine's indexes exist, so
    ``ovn_vif.Reconciler`` runs on it as is.
``fake_sb_idl``
    A connected FakeIdl on the Southbound DB: ``SB_Global``, this chassis's
    ``Chassis`` row (``fake_chassis``) with its ``Encap``, and one datapath.
``fake_chassis``
    The name of this chassis (``"hv1"``).
``port_binding_factory``
    A :class:`~ovn_vif.testing.PortBindingFactory`: ``port_binding_factory("lsp1",
    plug_type="dummy", options={...})`` adds a ``Port_Binding`` requested for this
    chassis and returns its UUID (call ``fake_sb_idl.run()`` to see it).
``provider_harness``
    ``provider_harness(MyProvider(), policy=..., other_chassis=...)`` builds a
    :class:`~ovn_vif.testing.ProviderHarness` (fake databases, the real engine,
    your providers) that is closed after the test.
``fake_idl_factory``
    ``fake_idl_factory(db, register=None, before_connect=None)``: more clients,
    with your own registration or indexes (created before the first ``run()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ovn_vif._engine.columns import create_sb_indexes
from ovn_vif._memdb.idl import FakeIdl
from ovn_vif._memdb.server import FakeDatabase
from ovn_vif._memdb.topology import PortBindingFactory, connect, ovs_database, sb_database
from ovn_vif.testing._harness import ProviderHarness

FakeIdlFactory = Callable[..., FakeIdl]


@pytest.fixture
def fake_chassis() -> str:
    """The name (and ``system-id``) of the chassis the fake databases describe."""
    return "hv1"


@pytest.fixture
def fake_ovs_db(fake_chassis: str) -> FakeDatabase:
    """The local Open_vSwitch :class:`FakeDatabase` (root row with system-id/ovn-bridge, br-int)."""
    return ovs_database(system_id=fake_chassis, bridge="br-int")


@pytest.fixture
def fake_sb_db(fake_chassis: str) -> FakeDatabase:
    """The Southbound :class:`FakeDatabase` (SB_Global, this chassis, one datapath)."""
    return sb_database(chassis=fake_chassis)


@pytest.fixture
def fake_idl_factory() -> Iterator[FakeIdlFactory]:
    """Make more connected FakeIdl clients; they are closed after the test."""
    made: list[FakeIdl] = []

    def factory(
        db: FakeDatabase,
        register: Callable[[Any], None] | None = None,
        *,
        idl_class: Callable[[FakeDatabase, Any], FakeIdl] = FakeIdl,
        before_connect: Callable[[FakeIdl], object] | None = None,
    ) -> FakeIdl:
        idl = connect(db, register, idl_class=idl_class, before_connect=before_connect)
        made.append(idl)
        return idl

    yield factory
    for idl in made:
        idl.close()


@pytest.fixture
def fake_ovs_idl(fake_ovs_db: FakeDatabase, fake_idl_factory: FakeIdlFactory) -> FakeIdl:
    """A connected FakeIdl on ``fake_ovs_db``: every column registered, the engine's indexes."""
    return fake_idl_factory(fake_ovs_db)


@pytest.fixture
def fake_sb_idl(fake_sb_db: FakeDatabase, fake_idl_factory: FakeIdlFactory) -> FakeIdl:
    """A connected FakeIdl on ``fake_sb_db``: every column registered, the engine's indexes."""
    return fake_idl_factory(fake_sb_db, before_connect=create_sb_indexes)


@pytest.fixture
def port_binding_factory(fake_sb_db: FakeDatabase, fake_chassis: str) -> PortBindingFactory:
    """Adds Port_Binding rows (requested for ``fake_chassis`` unless told otherwise)."""
    return PortBindingFactory(fake_sb_db, chassis=fake_chassis)


@pytest.fixture
def provider_harness() -> Iterator[Callable[..., ProviderHarness]]:
    """Make :class:`~ovn_vif.testing.ProviderHarness` objects; closed after the test."""
    made: list[ProviderHarness] = []

    def factory(*providers: Any, **kwargs: Any) -> ProviderHarness:
        harness = ProviderHarness(*providers, **kwargs)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.close()
