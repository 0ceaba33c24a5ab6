"""The public API: each public path and the names it promises.

A name added to or removed from a public ``__all__`` fails this test on
purpose: update it together with the docs and the changelog. The layering
rules (what the core may import, one exception tree) are pinned here too.
"""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "ovn_vif": {
        "Reconciler",
        "StaleRowError",
        "TransactionNotCommittedError",
        "create_sb_indexes",
        "register_ovs_columns",
        "register_sb_columns",
        "track_changes",
        "CompletionReport",
        "Decision",
        "Decline",
        "DeclineError",
        "RestoredPort",
        "Outcome",
        "Policy",
        "Reason",
        "ReconcileReport",
        "DECLINE_REASON_LIMIT",
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
        "check_provider_type",
        "default_registry",
        "installed_providers",
        "log_safe",
        "netdev_name_problem",
        "truncate_netdev_name",
    },
    "ovn_vif.agent": {
        "DEFAULT_OVS_REMOTE",
        "Agent",
        "AgentConfig",
        "AgentSetupError",
        "AgentStatus",
        "ChassisSettings",
        "NotPlugged",
        "PluggedPort",
        "default_status_file",
        "read_agent_status",
        "RemoteError",
        "plugged_ports",
        "prepare_ovs_helper",
        "prepare_sb_helper",
        "read_plugged_ports",
    },
    "ovn_vif.cli": {"main"},
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
    },
}

# Public modules that hold their implementation themselves.
EXPECTED_SUBMODULES = {
    "ovn_vif.ovsdbapp": {
        "Attempt",
        "EngineRun",
        "NotifyingIdl",
        "OvsdbappEngine",
        "ReconcileCommand",
    },
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
        "CHROOT_SEARCH_PATH",
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


def _fresh_python(code: str) -> str:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout


def test_a_provider_package_loads_the_contract_only() -> None:
    out = _fresh_python(
        "import ovn_vif_dummy, sys; "
        "print(sorted(m for m in sys.modules if m.startswith(('ovn_vif', 'ovs'))))"
    )
    loaded = eval(out)
    assert all(
        m.startswith(("ovn_vif._contract", "ovn_vif_dummy"))
        or m in {"ovn_vif", "ovn_vif._contract", "ovn_vif._errors"}
        for m in loaded
    ), loaded
    assert not any(m.startswith("ovs") for m in loaded), loaded


def test_the_engine_loads_on_first_use() -> None:
    out = _fresh_python(
        "import ovn_vif, sys; before = 'ovn_vif._engine.reconciler' in sys.modules; "
        "ovn_vif.Reconciler; print(before, 'ovn_vif._engine.reconciler' in sys.modules, "
        "'ovn_vif.agent' in sys.modules, 'ovs.poller' in sys.modules)"
    )
    assert out.split() == ["False", "True", "False", "False"]


def test_the_core_imports_no_provider_and_no_test_kit() -> None:
    import ast
    from pathlib import Path

    src = Path(importlib.import_module("ovn_vif").__file__).parent  # type: ignore[arg-type]
    bad = []
    for path in sorted(src.rglob("*.py")):
        in_kit = path.is_relative_to(src / "testing")
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                top = name.split(".")[0]
                if top in {"ovn_vif_dummy", "ovn_vif_representor"}:
                    bad.append(f"{path.relative_to(src)} imports {name}")
                if name.startswith("ovn_vif.testing") and not in_kit:
                    bad.append(f"{path.relative_to(src)} imports {name}")
    assert not bad


def test_every_exception_class_is_an_ovn_vif_error() -> None:
    import inspect

    import ovn_vif._errors as errors

    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    assert len(classes) >= 15
    for cls in classes:
        assert issubclass(cls, errors.OvnVifError), cls
    # Each is public under exactly one path.
    homes = {
        name: [
            p for p in EXPECTED | EXPECTED_SUBMODULES if name in (EXPECTED | EXPECTED_SUBMODULES)[p]
        ]
        for name in (c.__name__ for c in classes)
    }
    assert all(len(paths) == 1 for paths in homes.values()), homes


def test_no_exception_class_is_defined_outside_the_errors_module() -> None:
    import ast
    from pathlib import Path

    src = Path(importlib.import_module("ovn_vif").__file__).parent  # type: ignore[arg-type]
    found = []
    for path in sorted(src.rglob("*.py")):
        if path.name == "_errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ClassDef)
                and node.name.endswith(("Error", "Exception"))
                and not node.name.startswith("_")
            ):
                found.append(f"{path.relative_to(src)}:{node.name}")
    assert not found
