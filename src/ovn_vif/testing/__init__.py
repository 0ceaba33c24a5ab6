"""The test kit for provider vendors and agent developers.

:class:`FakeIdl` is a real ``ovs.db.idl.Idl`` connected to
:class:`FakeDatabase`, an in-memory OVSDB server; caller code
(``ovs.db.idl.Transaction(idl)`` included) runs against it unchanged. The
topology helpers build a chassis on it, :func:`check_provider` is the
provider conformance kit, and the pytest plugin (registered as ``ovn_vif``)
provides the fixtures. :class:`ProviderHarness` drives your provider
through the real engine one iteration at a time, for unit tests. Import
from here, never from submodules.
"""

from __future__ import annotations

from ovn_vif._errors import FakeDatabaseError, ProviderCheckError
from ovn_vif._memdb.idl import FakeIdl, FakeSession, wait_for
from ovn_vif._memdb.schemas import OVS_SCHEMA_SUBSET, SB_SCHEMA_SUBSET
from ovn_vif._memdb.server import COMMIT_OUTCOMES, FakeDatabase, FakeTransaction
from ovn_vif._memdb.topology import (
    PortBindingFactory,
    add_chassis,
    connect,
    ovs_database,
    sb_database,
)
from ovn_vif.testing._conformance import (
    DEFAULT_CALL_BOUND,
    ProviderCheckReport,
    Violation,
    check_provider,
)
from ovn_vif.testing._harness import (
    Iteration,
    PluggedInterface,
    ProviderHarness,
    assign_ofports,
)

__all__ = [
    "COMMIT_OUTCOMES",
    "DEFAULT_CALL_BOUND",
    "OVS_SCHEMA_SUBSET",
    "SB_SCHEMA_SUBSET",
    "FakeDatabase",
    "FakeDatabaseError",
    "FakeIdl",
    "FakeSession",
    "FakeTransaction",
    "Iteration",
    "PluggedInterface",
    "PortBindingFactory",
    "ProviderCheckError",
    "ProviderCheckReport",
    "ProviderHarness",
    "Violation",
    "add_chassis",
    "assign_ofports",
    "check_provider",
    "connect",
    "ovs_database",
    "sb_database",
    "wait_for",
]
