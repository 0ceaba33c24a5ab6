"""ovn-vif: write OVN VIF plug providers in Python.

The public API is re-exported here; import from ``ovn_vif`` (and from
``ovn_vif.testing`` for test support), not from submodules.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ovn_vif.agent import (
    Agent,
    AgentConfig,
    AgentSetupError,
    ChassisSettings,
    prepare_ovs_helper,
    prepare_sb_helper,
)
from ovn_vif.engine import Reconciler, TransactionNotCommittedError
from ovn_vif.errors import (
    OvnVifError,
    ProviderExistsError,
    ProviderNotRegisteredError,
    ProviderUnavailableError,
    RegistryError,
)
from ovn_vif.frozenmap import FrozenMap
from ovn_vif.monitor import (
    create_ovs_indexes,
    create_sb_indexes,
    register_ovs_columns,
    register_sb_columns,
)
from ovn_vif.netdev import netdev_name_problem, truncate_netdev_name
from ovn_vif.plugged import PluggedPort, plugged_ports, read_plugged_ports
from ovn_vif.provider import OpType, PlugSpec, PortContext, VifPlugProvider
from ovn_vif.ratelimit import RateLimitedLogger
from ovn_vif.registry import (
    ENTRY_POINT_GROUP,
    InstalledProvider,
    LoadFailure,
    LoadReport,
    Registry,
    default_registry,
    installed_providers,
)
from ovn_vif.report import (
    CompletionReport,
    Decision,
    Outcome,
    Policy,
    Reason,
    ReconcileReport,
)

try:
    __version__ = version("ovn-vif")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "ENTRY_POINT_GROUP",
    "Agent",
    "AgentConfig",
    "AgentSetupError",
    "ChassisSettings",
    "CompletionReport",
    "Decision",
    "FrozenMap",
    "InstalledProvider",
    "LoadFailure",
    "LoadReport",
    "OpType",
    "Outcome",
    "OvnVifError",
    "PlugSpec",
    "PluggedPort",
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
    "TransactionNotCommittedError",
    "VifPlugProvider",
    "__version__",
    "create_ovs_indexes",
    "create_sb_indexes",
    "default_registry",
    "installed_providers",
    "netdev_name_problem",
    "plugged_ports",
    "prepare_ovs_helper",
    "prepare_sb_helper",
    "read_plugged_ports",
    "register_ovs_columns",
    "register_sb_columns",
    "truncate_netdev_name",
]
