"""What an :class:`~ovn_vif.agent.Agent` is told: :class:`AgentConfig`.

The options of ``ovn-vif agent`` as one frozen value; every ``None`` in it
means "read it from the local database, like ovn-controller" (see
:mod:`ovn_vif.agent._settings`).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ovn_vif._engine.report import Policy

#: Where ``ovs-vswitchd``'s database listens on a standard installation.
DEFAULT_OVS_REMOTE = "unix:/var/run/openvswitch/db.sock"
#: Default seconds between two self-audits (``--audit-interval``).
DEFAULT_AUDIT_INTERVAL = 60.0


def _providers_converter(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen(kw_only=True)
class AgentConfig:
    """What an :class:`Agent` connects to and what it serves.

    Every ``None`` means "read it from the local database, like
    ovn-controller".
    """

    #: OVSDB remote of the local ``Open_vSwitch`` database.
    ovs_remote: str = DEFAULT_OVS_REMOTE
    #: Chassis name; overrides ``external_ids:system-id``.
    chassis: str | None = None
    #: Southbound remote(s); overrides ``external_ids:ovn-remote``.
    ovn_remote: str | None = None
    #: Integration bridge; overrides ``external_ids:ovn-bridge``.
    bridge: str | None = None
    #: Provider types to load from entry points; ``None`` loads every
    #: installed one. Ignored when the agent is given a registry.
    providers: tuple[str, ...] | None = attrs.field(default=None, converter=_providers_converter)
    #: Decision policy handed to the engine.
    policy: Policy = Policy.RECOMMENDED
    #: Seconds to keep trying to reach a database at start-up.
    connect_timeout: float = 30.0
    #: Seconds :meth:`Agent.close` waits for an in-flight transaction.
    shutdown_timeout: float = 5.0
    #: Where the agent writes why lports are not plugged (read by
    #: ``ovn-vif status``): ``None`` means ``ovn-vif.status.json`` in
    #: ``$OVN_VIF_RUNDIR`` if that is set, else next to the local database
    #: socket when the agent connects to a ``unix:`` remote itself (nowhere
    #: when it is given IDLs, or a TCP remote without ``$OVN_VIF_RUNDIR``);
    #: ``""`` writes no file.
    status_file: str | None = None
    #: Replace ``ovs.json``'s pure-Python parser, process-wide, with
    #: :class:`ovn_vif.agent._json.StreamParser` (several times faster; no
    #: effect when ``ovs`` has its C extension). See ``docs/performance.rst``.
    fast_json: bool = True
    #: TLS private key for ``ssl:`` remotes (``-p``); ``None`` reads the
    #: local database's ``SSL`` table (``ovs-vsctl set-ssl``), like ovn-controller.
    private_key: str | None = None
    #: TLS certificate (``-c``); ``None``: from the ``SSL`` table.
    certificate: str | None = None
    #: CA certificate that signs the servers' certificates (``-C``);
    #: ``None``: from the ``SSL`` table.
    ca_cert: str | None = None
    #: Seconds between two self-audits (see :mod:`ovn_vif.agent._audit`
    #: and ``docs/agent.rst``); one also follows every (re)connection to
    #: the Southbound database. 0 disables them.
    audit_interval: float = DEFAULT_AUDIT_INTERVAL
