"""Test support for ovn-vif users: a fake IDL that behaves like ``ovs.db.idl``, fixtures, checkers.

``FakeIdl`` is a real ``ovs.db.idl.Idl`` connected to ``FakeDatabase``, an
in-memory OVSDB server; caller code (``ovs.db.idl.Transaction(idl)`` included)
runs against it unchanged.  See docs/testing.rst.
"""

from __future__ import annotations

from ovn_vif.testing.fake_database import (
    COMMIT_OUTCOMES,
    FakeDatabase,
    FakeDatabaseError,
    FakeTransaction,
)
from ovn_vif.testing.fake_idl import FakeIdl, FakeSession, wait_for
from ovn_vif.testing.provider_check import (
    DEFAULT_CALL_BOUND,
    ProviderCheckError,
    ProviderCheckReport,
    Violation,
    assign_ofports,
    check_provider,
)
from ovn_vif.testing.schemas import OVS_SCHEMA_SUBSET, SB_SCHEMA_SUBSET
from ovn_vif.testing.topology import (
    PortBindingFactory,
    add_chassis,
    connect,
    ovs_database,
    sb_database,
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
    "PortBindingFactory",
    "ProviderCheckError",
    "ProviderCheckReport",
    "Violation",
    "add_chassis",
    "assign_ofports",
    "check_provider",
    "connect",
    "ovs_database",
    "sb_database",
    "wait_for",
]
