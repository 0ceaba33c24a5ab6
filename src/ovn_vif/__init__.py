"""ovn-vif: write OVN VIF plug providers in Python.

This package's root is the public face of the core: the provider contract
(:class:`VifPlugProvider`, :class:`PortContext`, :class:`PlugSpec`), the
registry, the plugging engine (:class:`Reconciler` and its reports) and
the exceptions. The other public paths are :mod:`ovn_vif.agent` (the
reference agent), :mod:`ovn_vif.sandbox` (throwaway OVS/OVN daemons) and
:mod:`ovn_vif.testing` (the test kit). Every other module is private:
import each name from the one path that lists it in ``__all__``.

Importing this package loads the contract only; the engine's modules load
the first time one of their names is used, so a provider package that
imports the contract pulls in nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ovn_vif._contract.frozenmap import FrozenMap
from ovn_vif._contract.logsafe import log_safe
from ovn_vif._contract.netdev import netdev_name_problem, truncate_netdev_name
from ovn_vif._contract.provider import (
    DECLINE_REASON_LIMIT,
    Decline,
    OpType,
    PlugSpec,
    PortContext,
    RestoredPort,
    VifPlugProvider,
)
from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._contract.registry import (
    ENTRY_POINT_GROUP,
    InstalledProvider,
    LoadFailure,
    LoadReport,
    Registry,
    check_provider_type,
    default_registry,
    installed_providers,
)
from ovn_vif._errors import (
    DeclineError,
    OvnVifError,
    ProviderExistsError,
    ProviderNotRegisteredError,
    ProviderUnavailableError,
    RegistryError,
    StaleRowError,
    TransactionNotCommittedError,
)

if TYPE_CHECKING:
    __version__: str
    from ovn_vif._engine.columns import (
        create_sb_indexes,
        register_ovs_columns,
        register_sb_columns,
    )
    from ovn_vif._engine.incremental import track_changes
    from ovn_vif._engine.reconciler import Reconciler
    from ovn_vif._engine.report import (
        CompletionReport,
        Decision,
        Outcome,
        Policy,
        Reason,
        ReconcileReport,
    )

# The engine's public names, loaded on first use (PEP 562).
_LAZY = {
    "Reconciler": "ovn_vif._engine.reconciler",
    "CompletionReport": "ovn_vif._engine.report",
    "Decision": "ovn_vif._engine.report",
    "Outcome": "ovn_vif._engine.report",
    "Policy": "ovn_vif._engine.report",
    "Reason": "ovn_vif._engine.report",
    "ReconcileReport": "ovn_vif._engine.report",
    "create_sb_indexes": "ovn_vif._engine.columns",
    "register_ovs_columns": "ovn_vif._engine.columns",
    "register_sb_columns": "ovn_vif._engine.columns",
    "track_changes": "ovn_vif._engine.incremental",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        # Read on first use, without importlib.metadata where possible.
        from ovn_vif._contract.entrypoints import distribution_version

        try:
            value: Any = distribution_version("ovn-vif")
        except ModuleNotFoundError:  # importlib.metadata.PackageNotFoundError
            value = "0+unknown"  # a source tree that is not installed
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ovn_vif' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})


__all__ = [
    "DECLINE_REASON_LIMIT",
    "ENTRY_POINT_GROUP",
    "CompletionReport",
    "Decision",
    "Decline",
    "DeclineError",
    "FrozenMap",
    "InstalledProvider",
    "LoadFailure",
    "LoadReport",
    "OpType",
    "Outcome",
    "OvnVifError",
    "PlugSpec",
    "Policy",
    "PortContext",
    "ProviderExistsError",
    "ProviderNotRegisteredError",
    "ProviderUnavailableError",
    "RateLimitedLogger",
    "Reason",
    "ReconcileReport",
    "Reconciler",
    "Registry",
    "RegistryError",
    "RestoredPort",
    "StaleRowError",
    "TransactionNotCommittedError",
    "VifPlugProvider",
    "__version__",
    "check_provider_type",
    "create_sb_indexes",
    "default_registry",
    "installed_providers",
    "log_safe",
    "netdev_name_problem",
    "register_ovs_columns",
    "register_sb_columns",
    "track_changes",
    "truncate_netdev_name",
]
