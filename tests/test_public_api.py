"""The public API, imported only from the package roots.

A name added to or removed from a root's ``__all__`` fails this test on
purpose: update it together with the docs and the changelog.
"""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "ovn_vif": {
        "Agent",
        "AgentConfig",
        "AgentSetupError",
        "ChassisSettings",
        "prepare_ovs_helper",
        "prepare_sb_helper",
        "Reconciler",
        "TransactionNotCommittedError",
        "create_ovs_indexes",
        "create_sb_indexes",
        "register_ovs_columns",
        "register_sb_columns",
        "PluggedPort",
        "plugged_ports",
        "read_plugged_ports",
        "CompletionReport",
        "Decision",
        "Outcome",
        "Policy",
        "Reason",
        "ReconcileReport",
        "ENTRY_POINT_GROUP",
        "FrozenMap",
        "InstalledProvider",
        "LoadFailure",
        "LoadReport",
        "OpType",
        "OvnVifError",
        "PlugSpec",
        "PortContext",
        "ProviderExistsError",
        "ProviderNotRegisteredError",
        "ProviderUnavailableError",
        "RateLimitedLogger",
        "Registry",
        "RegistryError",
        "VifPlugProvider",
        "__version__",
        "default_registry",
        "installed_providers",
        "netdev_name_problem",
        "truncate_netdev_name",
    },
    "ovn_vif_dummy": {"DUMMY_OPTION", "DummyProvider"},
    "ovn_vif_representor": {
        "OPTION_PF_MAC",
        "OPTION_SF_NUM",
        "OPTION_VF_NUM",
        "DevlinkEvent",
        "DevlinkPort",
        "DevlinkSource",
        "LinkEvent",
        "LinkName",
        "LinkSource",
        "NetlinkDevlinkSource",
        "Overflow",
        "PortDel",
        "PortFlavour",
        "PortNew",
        "RepresentorProvider",
        "RepresentorRow",
        "RepresentorState",
        "RtnlLinkSource",
        "format_representors",
        "list_representors",
        "representors_json",
    },
    "ovn_vif.testing": {
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
    },
}

# Submodules that are public but imported explicitly (not re-exported).
EXPECTED_SUBMODULES = {
    "ovn_vif_representor.testing": {
        "FakeKernel",
        "FakeNetlinkSocket",
        "ManualClock",
        "encode_link",
        "encode_port",
        "pf_port",
        "physical_port",
        "sf_port",
        "vf_port",
    },
    "ovn_vif.sandbox": {
        "COMPONENTS",
        "CommandError",
        "DATABASES",
        "Daemon",
        "DaemonError",
        "LocalVswitch",
        "OvnController",
        "OvnNorthd",
        "OvsVswitchd",
        "OvsdbServer",
        "Sandbox",
        "SandboxDir",
        "SandboxError",
        "SandboxTimeoutError",
        "SandboxUnavailableError",
        "default_search_path",
        "missing_binaries",
        "wait_until",
    },
}


@pytest.mark.parametrize("package", sorted(EXPECTED | EXPECTED_SUBMODULES))
def test_exported_names_are_pinned(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == (EXPECTED | EXPECTED_SUBMODULES)[package]
    for name in module.__all__:
        assert hasattr(module, name), name


def test_root_imports_work() -> None:
    from ovn_vif import OpType, PlugSpec, PortContext, Registry, VifPlugProvider
    from ovn_vif_dummy import DummyProvider

    reg = Registry()
    reg.register(DummyProvider())
    provider = reg.get("dummy")
    assert isinstance(provider, VifPlugProvider)
    spec = provider.prepare_create(PortContext(op_type=OpType.CREATE, lport_name="x"))
    assert isinstance(spec, PlugSpec)
    reg.destroy_all()
