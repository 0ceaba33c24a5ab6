"""The part of the ``Open_vSwitch`` and ``OVN_Southbound`` schemas ovn-vif works with.

Written here as Python data (a test checks every table and column against the
``.ovsschema`` files the Debian packages install).  Each subset is a complete,
valid OVSDB schema: it keeps every column of its tables except references to
tables outside the subset, so a :class:`~ovn_vif.testing.FakeDatabase` built from
it enforces the real types, constraints, root/non-root tables, strong and weak
references and indexes.

Use a full schema instead by passing a dict or a path to ``FakeDatabase``.
"""

from __future__ import annotations

from typing import Any, Final

Json = dict[str, Any]


def _t(key: Any, *, value: Any = None, min: int = 1, max: int | str = 1) -> Json:
    """A column type; ``key``/``value`` are atomic type names or base-type dicts."""
    out: Json = {"key": key}
    if value is not None:
        out["value"] = value
    if min != 1:
        out["min"] = min
    if max != 1:
        out["max"] = max
    return out


def _col(type_: Any, *, mutable: bool = True, ephemeral: bool = False) -> Json:
    out: Json = {"type": type_}
    if not mutable:
        out["mutable"] = False
    if ephemeral:
        out["ephemeral"] = True
    return out


def _int(lo: int | None = None, hi: int | None = None) -> Json:
    out: Json = {"type": "integer"}
    if lo is not None:
        out["minInteger"] = lo
    if hi is not None:
        out["maxInteger"] = hi
    return out


def _enum(*values: str) -> Json:
    return {"type": "string", "enum": ["set", list(values)]}


def _ref(table: str, kind: str | None = None) -> Json:
    out: Json = {"type": "uuid", "refTable": table}
    if kind is not None:
        out["refType"] = kind
    return out


UNLIMITED: Final = "unlimited"
_SMAP: Final = _col(_t("string", value="string", min=0, max=UNLIMITED))
_IMAP: Final = _col(_t("string", value="integer", min=0, max=UNLIMITED))
_SMAP_EPH: Final = _col(_t("string", value="string", min=0, max=UNLIMITED), ephemeral=True)
_IMAP_EPH: Final = _col(_t("string", value="integer", min=0, max=UNLIMITED), ephemeral=True)


def _opt(key: Any, *, ephemeral: bool = False) -> Json:
    return _col(_t(key, min=0, max=1), ephemeral=ephemeral)


def _set(key: Any, *, max: int | str = UNLIMITED, ephemeral: bool = False) -> Json:
    return _col(_t(key, min=0, max=max), ephemeral=ephemeral)


_UPDOWN: Final = ("up", "down")

#: The ``Open_vSwitch`` tables ovn-vif reads and writes (local OVS database).
OVS_SCHEMA_SUBSET: Final[Json] = {
    "name": "Open_vSwitch",
    "version": "8.3.1",
    "tables": {
        "Open_vSwitch": {
            "isRoot": True,
            "maxRows": 1,
            "columns": {
                "bridges": _set(_ref("Bridge")),
                "other_config": _SMAP,
                "external_ids": _SMAP,
                "next_cfg": _col("integer"),
                "cur_cfg": _col("integer"),
                "statistics": _SMAP_EPH,
                "ovs_version": _opt({"type": "string"}),
                "db_version": _opt({"type": "string"}),
                "system_type": _opt({"type": "string"}),
                "system_version": _opt({"type": "string"}),
                "datapath_types": _set({"type": "string"}),
                "iface_types": _set({"type": "string"}),
                "dpdk_initialized": _col("boolean"),
                "dpdk_version": _opt({"type": "string"}),
            },
        },
        "Bridge": {
            "indexes": [["name"]],
            "columns": {
                "name": _col("string", mutable=False),
                "datapath_type": _col("string"),
                "datapath_version": _col("string"),
                "datapath_id": _opt("string", ephemeral=True),
                "stp_enable": _col("boolean"),
                "rstp_enable": _col("boolean"),
                "mcast_snooping_enable": _col("boolean"),
                "ports": _set(_ref("Port")),
                "protocols": _set(
                    _enum(
                        "OpenFlow10",
                        "OpenFlow11",
                        "OpenFlow12",
                        "OpenFlow13",
                        "OpenFlow14",
                        "OpenFlow15",
                    )
                ),
                "fail_mode": _opt(_enum("standalone", "secure")),
                "status": _SMAP_EPH,
                "rstp_status": _SMAP_EPH,
                "other_config": _SMAP,
                "external_ids": _SMAP,
                "flood_vlans": _set(_int(0, 4095), max=4096),
            },
        },
        "Port": {
            "indexes": [["name"]],
            "columns": {
                "name": _col("string", mutable=False),
                "interfaces": _col(_t(_ref("Interface"), min=1, max=UNLIMITED)),
                "trunks": _set(_int(0, 4095), max=4096),
                "cvlans": _set(_int(0, 4095), max=4096),
                "tag": _opt(_int(0, 4095)),
                "vlan_mode": _opt(
                    _enum("trunk", "access", "native-tagged", "native-untagged", "dot1q-tunnel")
                ),
                "mac": _opt({"type": "string"}),
                "bond_mode": _opt(_enum("balance-tcp", "balance-slb", "active-backup")),
                "lacp": _opt(_enum("active", "passive", "off")),
                "bond_updelay": _col("integer"),
                "bond_downdelay": _col("integer"),
                "bond_active_slave": _opt({"type": "string"}),
                "bond_fake_iface": _col("boolean"),
                "fake_bridge": _col("boolean"),
                "status": _SMAP_EPH,
                "rstp_status": _SMAP_EPH,
                "rstp_statistics": _IMAP_EPH,
                "statistics": _IMAP_EPH,
                "protected": _col("boolean"),
                "other_config": _SMAP,
                "external_ids": _SMAP,
            },
        },
        "Interface": {
            "indexes": [["name"]],
            "columns": {
                "name": _col("string", mutable=False),
                "type": _col("string"),
                "options": _SMAP,
                "ingress_policing_rate": _col(_t(_int(0))),
                "ingress_policing_burst": _col(_t(_int(0))),
                "ingress_policing_kpkts_rate": _col(_t(_int(0))),
                "ingress_policing_kpkts_burst": _col(_t(_int(0))),
                "mac_in_use": _opt({"type": "string"}, ephemeral=True),
                "mac": _opt({"type": "string"}),
                "ifindex": _opt(_int(0, 4294967295), ephemeral=True),
                "external_ids": _SMAP,
                "ofport": _opt("integer"),
                "ofport_request": _opt(_int(1, 65279)),
                "bfd": _SMAP,
                "bfd_status": _SMAP_EPH,
                "cfm_mpid": _opt({"type": "integer"}),
                "cfm_remote_mpids": _set({"type": "integer"}, ephemeral=True),
                "cfm_flap_count": _opt({"type": "integer"}),
                "cfm_fault": _opt({"type": "boolean"}, ephemeral=True),
                "cfm_fault_status": _set("string", ephemeral=True),
                "cfm_remote_opstate": _opt(_enum(*_UPDOWN), ephemeral=True),
                "cfm_health": _opt(_int(0, 100), ephemeral=True),
                "lacp_current": _opt({"type": "boolean"}, ephemeral=True),
                "lldp": _SMAP,
                "other_config": _SMAP,
                "statistics": _IMAP_EPH,
                "status": _SMAP_EPH,
                "admin_state": _opt(_enum(*_UPDOWN), ephemeral=True),
                "link_state": _opt(_enum(*_UPDOWN), ephemeral=True),
                "link_resets": _opt({"type": "integer"}, ephemeral=True),
                "link_speed": _opt("integer", ephemeral=True),
                "duplex": _opt(_enum("half", "full"), ephemeral=True),
                "mtu": _opt("integer", ephemeral=True),
                "mtu_request": _opt(_int(1)),
                "error": _opt("string"),
            },
        },
    },
}

#: The ``OVN_Southbound`` tables ovn-vif reads (and a test writes).
SB_SCHEMA_SUBSET: Final[Json] = {
    "name": "OVN_Southbound",
    "version": "20.27.0",
    "tables": {
        "SB_Global": {
            "isRoot": True,
            "maxRows": 1,
            "columns": {
                "nb_cfg": _col(_t("integer")),
                "external_ids": _SMAP,
                "options": _SMAP,
                "ipsec": _col("boolean"),
            },
        },
        "Chassis": {
            "isRoot": True,
            "indexes": [["name"]],
            "columns": {
                "name": _col("string"),
                "hostname": _col("string"),
                "encaps": _col(_t(_ref("Encap"), min=1, max=UNLIMITED)),
                "vtep_logical_switches": _set("string"),
                "nb_cfg": _col(_t("integer")),
                "external_ids": _SMAP,
                "other_config": _SMAP,
                "transport_zones": _set("string"),
            },
        },
        "Chassis_Private": {
            "isRoot": True,
            "indexes": [["name"]],
            "columns": {
                "name": _col("string"),
                "chassis": _opt(_ref("Chassis", "weak")),
                "nb_cfg": _col(_t("integer")),
                "nb_cfg_timestamp": _col(_t("integer")),
                "external_ids": _SMAP,
            },
        },
        "Encap": {
            "indexes": [["type", "ip"]],
            "columns": {
                "type": _col(_t(_enum("geneve", "stt", "vxlan"))),
                "options": _SMAP,
                "ip": _col("string"),
                "chassis_name": _col("string"),
            },
        },
        "Datapath_Binding": {
            "isRoot": True,
            "indexes": [["tunnel_key"]],
            "columns": {
                "tunnel_key": _col(_t(_int(1, 16777215))),
                "load_balancers": _set({"type": "uuid"}),
                "external_ids": _SMAP,
            },
        },
        "Port_Binding": {
            "isRoot": True,
            "indexes": [["datapath", "tunnel_key"], ["logical_port"]],
            "columns": {
                "logical_port": _col("string"),
                "type": _col("string"),
                "options": _SMAP,
                "datapath": _col(_t(_ref("Datapath_Binding"))),
                "tunnel_key": _col(_t(_int(1, 32767))),
                "parent_port": _opt("string"),
                "tag": _opt(_int(1, 4095)),
                "virtual_parent": _opt("string"),
                "chassis": _opt(_ref("Chassis", "weak")),
                "additional_chassis": _set(_ref("Chassis", "weak")),
                "encap": _opt(_ref("Encap", "weak")),
                "additional_encap": _set(_ref("Encap", "weak")),
                "mac": _set("string"),
                "port_security": _set("string"),
                "nat_addresses": _set("string"),
                "up": _opt("boolean"),
                "external_ids": _SMAP,
                "requested_chassis": _opt(_ref("Chassis", "weak")),
                "requested_additional_chassis": _set(_ref("Chassis", "weak")),
            },
        },
    },
}

#: The ``_Server`` database schema (``ovsdb-server``'s own database describing the
#: databases it serves); :class:`~ovn_vif.testing.FakeDatabase` answers the IDL's
#: ``_Server`` requests with it.
SERVER_SCHEMA: Final[Json] = {
    "name": "_Server",
    "version": "1.2.0",
    "tables": {
        "Database": {
            "columns": {
                "name": _col("string"),
                "model": _col(_t(_enum("clustered", "relay", "standalone"))),
                "connected": _col("boolean"),
                "leader": _col("boolean"),
                "schema": _opt("string"),
                "sid": _opt("uuid"),
                "cid": _opt("uuid"),
                "index": _opt("integer"),
            }
        }
    },
}
