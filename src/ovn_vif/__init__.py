"""ovn-vif: write OVN VIF plug providers in Python.

The public API is re-exported here; import from ``ovn_vif`` (and from
``ovn_vif.testing`` for test support), not from submodules.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ovn_vif.errors import (
    OvnVifError,
    ProviderExistsError,
    ProviderNotRegisteredError,
    ProviderUnavailableError,
    RegistryError,
)
from ovn_vif.frozenmap import FrozenMap
from ovn_vif.netdev import netdev_name_problem, truncate_netdev_name
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

try:
    __version__ = version("ovn-vif")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
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
]
