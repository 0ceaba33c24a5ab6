"""What is plugged on this chassis, read from the local ``Open_vSwitch`` database.

A port is "plugged" by ovn-vif (or by ovn-controller's own VIF plug code)
when its Interface carries ``external_ids:ovn-plugged`` (the plug type) and
``external_ids:iface-id`` (the lport). This module turns those rows into
plain values for ``ovn-vif status`` and the demo, reading them the way the
engine does (its columns, its row copies).
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import ovs.db.idl
import ovs.poller

from ovn_vif._engine.columns import register_ovs_columns
from ovn_vif._engine.rows import read_iface
from ovn_vif._errors import RemoteError
from ovn_vif.agent._connections import fetch_schema, idl_synced


@attrs.frozen(kw_only=True)
class PluggedPort:
    """One plugged Interface and the Port and bridge holding it."""

    #: Logical port (``external_ids:iface-id``).
    lport: str
    #: Plug type (``external_ids:ovn-plugged``), i.e. the provider's type.
    plug_type: str
    #: Interface name (the netdev).
    iface: str
    #: Name of the Port row holding it (``None`` if no Port holds it).
    port: str | None
    #: Bridge holding that Port (``None`` if none).
    bridge: str | None
    #: Interface ``type`` (``""`` for a system device).
    iface_type: str
    #: Interface ``options``.
    options: dict[str, str]
    #: Interface ``mtu_request`` (``None`` if unset).
    mtu_request: int | None
    #: OpenFlow port number (``None`` until ovs-vswitchd assigned one).
    ofport: int | None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return attrs.asdict(self)


def plugged_ports(idl: Any) -> list[PluggedPort]:
    """List the plugged ports in *idl* (an ``Open_vSwitch`` IDL), sorted by lport.

    The IDL must monitor ``Bridge`` (``name``, ``ports``), ``Port``
    (``name``, ``interfaces``) and ``Interface`` (``name``, ``type``,
    ``options``, ``external_ids``, ``mtu_request``, ``ofport``), as
    :func:`ovn_vif.register_ovs_columns` arranges.
    """
    holder: dict[Any, tuple[str, str]] = {}
    for bridge in idl.tables["Bridge"].rows.values():
        for port in bridge.ports:
            for iface in port.interfaces:
                holder[iface.uuid] = (port.name, bridge.name)
    result = []
    for row in idl.tables["Interface"].rows.values():
        iface = read_iface(row)
        lport, plug_type = iface.iface_id, iface.plugged_by
        if lport is None or plug_type is None:
            continue
        port, bridge = holder.get(iface.uuid, (None, None))
        result.append(
            PluggedPort(
                lport=lport,
                plug_type=plug_type,
                iface=iface.name,
                port=port,
                bridge=bridge,
                iface_type=iface.type,
                options=dict(iface.options),
                mtu_request=iface.mtu_request,
                ofport=iface.ofport if iface.has_ofport else None,
            )
        )
    result.sort(key=lambda p: (p.lport, p.iface))
    return result


def read_plugged_ports(remote: str, timeout: float = 10.0) -> tuple[str | None, list[PluggedPort]]:
    """Connect to the local database at *remote* once; return (system-id, plugged ports).

    :raises RemoteError: the database cannot be reached or read in *timeout* seconds.
    """
    schema = fetch_schema(remote, "Open_vSwitch", timeout=timeout, what="local Open_vSwitch DB")
    helper = ovs.db.idl.SchemaHelper(schema_json=schema)
    helper.register_columns("Open_vSwitch", ["external_ids"])
    register_ovs_columns(helper)
    idl = ovs.db.idl.Idl(remote, helper)
    try:
        deadline = time.monotonic() + timeout
        while True:
            idl.run()
            if idl_synced(idl):
                break
            if time.monotonic() >= deadline:
                raise RemoteError(f"the local Open_vSwitch database at {remote} did not answer")
            poller = ovs.poller.Poller()
            idl.wait(poller)
            poller.timer_wait(max(0.0, (deadline - time.monotonic()) * 1000.0))
            poller.block()
        system_id = None
        for row in idl.tables["Open_vSwitch"].rows.values():
            system_id = row.external_ids.get("system-id")
        return system_id, plugged_ports(idl)
    finally:
        idl.close()
