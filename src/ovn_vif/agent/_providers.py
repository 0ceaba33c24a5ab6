"""Which VIF plug providers the agent runs: the installed ones it is told to load.

Providers are found through the ``ovn_vif.providers`` entry points. With no
list (``AgentConfig.providers`` is ``None``) the agent loads every installed
one and a provider that fails to load is a warning; with a list, an unknown
name or a provider that fails is an error at start-up.
"""

from __future__ import annotations

import logging

from ovn_vif._contract.registry import Registry, installed_provider_names
from ovn_vif._errors import AgentSetupError


def load_providers(registry: Registry, wanted: tuple[str, ...] | None, log: logging.Logger) -> None:
    """Load *wanted* (``None``: every installed provider) into *registry*.

    :raises AgentSetupError: a wanted provider is unknown or cannot be loaded.
    """
    installed = set(installed_provider_names())
    if wanted is not None:
        unknown = sorted(set(wanted) - installed)
        if unknown:
            raise AgentSetupError(
                f"unknown VIF plug provider type(s): {', '.join(unknown)}; installed: "
                + (", ".join(sorted(installed)) or "none")
            )
        if not wanted:
            raise AgentSetupError(
                "no VIF plug provider enabled; installed: "
                + (", ".join(sorted(installed)) or "none")
            )
    report = registry.load_entry_points(only=wanted)
    if wanted is not None and report.failed:
        reasons = "; ".join(f"{f.name}: {f.reason}" for f in report.failed)
        raise AgentSetupError(f"cannot enable VIF plug provider(s): {reasons}")
    for failure in report.failed:
        log.warning("VIF plug provider %s is not available: %s", failure.name, failure.reason)


def require_providers(registry: Registry) -> None:
    """:raises AgentSetupError: *registry* holds no provider."""
    if not registry.has_providers():
        raise AgentSetupError(
            "no VIF plug provider is registered; installed: "
            + (", ".join(installed_provider_names()) or "none")
        )
