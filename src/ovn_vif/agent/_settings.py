"""The chassis settings the agent serves, read from the local database and followed.

Like ovn-controller, the agent takes its chassis name
(``external_ids:system-id``), its Southbound remote
(``external_ids:ovn-remote``, possibly several comma-separated cluster
members) and its integration bridge (``external_ids:ovn-bridge``) from the
local ``Open_vSwitch`` row, each of which :class:`AgentConfig` can
override. It reads them again at every iteration, so that a change made
with ``ovs-vsctl`` is followed without a restart.
"""

from __future__ import annotations

from typing import Any

import attrs

from ovn_vif._contract.logsafe import log_safe
from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._errors import AgentSetupError
from ovn_vif.agent._config import AgentConfig

#: The integration bridge when ``external_ids:ovn-bridge`` is not set.
DEFAULT_BRIDGE = "br-int"


@attrs.frozen
class ChassisSettings:
    """The settings in effect, after overrides (see :attr:`Agent.settings`)."""

    chassis: str
    ovn_remote: str
    bridge: str


def _open_vswitch_row(idl: Any) -> Any | None:
    for row in idl.tables["Open_vSwitch"].rows.values():
        return row
    return None


def read_settings(
    ovs_idl: Any, config: AgentConfig, *, need_remote: bool = True
) -> ChassisSettings:
    """The settings in *ovs_idl*'s ``Open_vSwitch`` row, after *config*'s overrides.

    :raises AgentSetupError: no chassis name, or no Southbound remote when
        *need_remote*.
    """
    row = _open_vswitch_row(ovs_idl)
    ids: dict[str, str] = dict(row.external_ids) if row is not None else {}
    cfg = config
    chassis = cfg.chassis if cfg.chassis is not None else ids.get("system-id", "")
    if not chassis:
        raise AgentSetupError(
            "cannot read the chassis name: external_ids:system-id is not set in the "
            f"Open_vSwitch table of {cfg.ovs_remote} (set it, or pass --chassis)"
        )
    remote = cfg.ovn_remote if cfg.ovn_remote is not None else ids.get("ovn-remote", "")
    if not remote and need_remote:
        raise AgentSetupError(
            "cannot find the Southbound database: external_ids:ovn-remote is not set in "
            f"the Open_vSwitch table of {cfg.ovs_remote} (set it, or pass --ovn-remote)"
        )
    bridge = cfg.bridge if cfg.bridge is not None else ids.get("ovn-bridge", DEFAULT_BRIDGE)
    return ChassisSettings(chassis=chassis, ovn_remote=remote, bridge=bridge or DEFAULT_BRIDGE)


def follow_settings(
    ovs_idl: Any,
    config: AgentConfig,
    current: ChassisSettings,
    rl: RateLimitedLogger,
    *,
    need_remote: bool,
) -> ChassisSettings:
    """The settings now in *ovs_idl*: *current* if they cannot be read.

    A setting that cannot be read is a warning (rate-limited) and keeps its
    previous value; a new chassis name or bridge is an INFO line. What a
    new Southbound remote takes is the caller's (the agent reconnects).
    """
    try:
        settings = read_settings(ovs_idl, config, need_remote=need_remote)
    except AgentSetupError as exc:
        rl.warning("settings", "%s; keeping the previous value", exc)
        return current
    if settings.chassis != current.chassis:
        rl.logger.info(
            "chassis name changed from %s to %s",
            log_safe(current.chassis),
            log_safe(settings.chassis),
        )
    if settings.bridge != current.bridge:
        rl.logger.info(
            "integration bridge changed from %s to %s",
            log_safe(current.bridge),
            log_safe(settings.bridge),
        )
    return settings
