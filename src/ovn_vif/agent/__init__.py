"""The reference plugging agent, as run by ``ovn-vif agent``.

:class:`Agent` owns its OVSDB connections (local Open_vSwitch and the
Southbound), monitors only what the engine reads, drives
:class:`ovn_vif.Reconciler` and commits without blocking. The
``prepare_*_helper`` functions build schema helpers for callers who embed
the engine with their own IDLs; :func:`plugged_ports` and
:func:`read_plugged_ports` read what is plugged on a chassis, and
:func:`read_agent_status` why the agent left lports unplugged.
"""

from __future__ import annotations

from ovn_vif._errors import AgentSetupError, RemoteError

# Before any module of the agent imports ovs: the ovs stream modules without
# the ssl module, loaded only for ssl: remotes (ovn_vif._ovs_private).
from ovn_vif.agent import _ovs_streams  # noqa: F401
from ovn_vif.agent._config import DEFAULT_OVS_REMOTE, AgentConfig
from ovn_vif.agent._databases import prepare_ovs_helper, prepare_sb_helper
from ovn_vif.agent._loop import Agent
from ovn_vif.agent._plugged import PluggedPort, plugged_ports, read_plugged_ports
from ovn_vif.agent._settings import ChassisSettings
from ovn_vif.agent._status_file import (
    AgentStatus,
    NotPlugged,
    default_status_file,
    read_agent_status,
)

__all__ = [
    "DEFAULT_OVS_REMOTE",
    "Agent",
    "AgentConfig",
    "AgentSetupError",
    "AgentStatus",
    "ChassisSettings",
    "NotPlugged",
    "PluggedPort",
    "RemoteError",
    "default_status_file",
    "plugged_ports",
    "prepare_ovs_helper",
    "prepare_sb_helper",
    "read_agent_status",
    "read_plugged_ports",
]
