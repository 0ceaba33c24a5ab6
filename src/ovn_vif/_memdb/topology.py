"""Ready-made fake databases: a chassis's local Open_vSwitch DB and the Southbound DB.

These builders are what the pytest fixtures use; call them directly outside pytest::

    ovs_db = ovs_database(system_id="hv1")
    sb_db = sb_database(chassis="hv1")
    add_port = PortBindingFactory(sb_db, chassis="hv1")
    lsp = add_port("lsp1", plug_type="dummy", options={"vif-plug-mtu-request": "9000"})
    ovs_idl = connect(ovs_db)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from ovn_vif._memdb.idl import FakeIdl
from ovn_vif._memdb.schemas import OVS_SCHEMA_SUBSET, SB_SCHEMA_SUBSET
from ovn_vif._memdb.server import FakeDatabase

#: Sentinel: "use the factory's chassis".
THIS_CHASSIS: Final = "<this chassis>"


def ovs_database(
    *,
    system_id: str = "hv1",
    bridge: str = "br-int",
    schema: Mapping[str, Any] | str = OVS_SCHEMA_SUBSET,
) -> FakeDatabase:
    """A local ``Open_vSwitch`` DB as ovn-controller's chassis has it.

    One ``Open_vSwitch`` row with ``external_ids:system-id`` and
    ``external_ids:ovn-bridge``, and the integration bridge (with its internal
    port and interface, as ``ovs-vsctl add-br`` creates them).
    """
    db = FakeDatabase(schema)
    with db.batch() as t:
        iface = t.insert("Interface", name=bridge, type="internal")
        port = t.insert("Port", name=bridge, interfaces=[iface])
        br = t.insert("Bridge", name=bridge, ports=[port], fail_mode=["secure"])
        t.insert(
            "Open_vSwitch",
            bridges=[br],
            external_ids={"system-id": system_id, "ovn-bridge": bridge},
        )
    return db


def sb_database(
    *,
    chassis: str = "hv1",
    hostname: str | None = None,
    encap_ip: str = "192.0.2.1",
    schema: Mapping[str, Any] | str = SB_SCHEMA_SUBSET,
) -> FakeDatabase:
    """A Southbound DB with an ``SB_Global`` row, this chassis's ``Chassis`` row
    (with its geneve ``Encap``) and one logical switch datapath (tunnel key 1)."""
    db = FakeDatabase(schema)
    with db.batch() as t:
        t.insert("SB_Global")
        encap = t.insert("Encap", type="geneve", ip=encap_ip, chassis_name=chassis)
        t.insert("Chassis", name=chassis, hostname=hostname or chassis, encaps=[encap])
        t.insert("Datapath_Binding", tunnel_key=1, external_ids={"name": "sw0"})
    return db


def add_chassis(db: FakeDatabase, name: str, *, encap_ip: str = "192.0.2.99") -> uuid.UUID:
    """Add another chassis (with an Encap) to a Southbound DB; returns its UUID."""
    with db.batch() as t:
        encap = t.insert("Encap", type="geneve", ip=encap_ip, chassis_name=name)
        return t.insert("Chassis", name=name, hostname=name, encaps=[encap])


class PortBindingFactory:
    """Adds ``Port_Binding`` rows to a Southbound :class:`FakeDatabase`, as ovn-northd would.

    ``factory("lsp1", plug_type="dummy", options={...})`` inserts a binding for
    logical port ``lsp1`` on the first datapath, requested for this chassis
    (``options:requested-chassis`` and the ``requested_chassis`` column, as
    ovn-northd sets them), with ``options:vif-plug-type`` set from ``plug_type``
    and a free tunnel key.  Returns the row's UUID.
    """

    def __init__(self, db: FakeDatabase, *, chassis: str | None = "hv1") -> None:
        self.db = db
        self.chassis = chassis
        self._counter = 0

    def _chassis_uuid(self, name: str) -> uuid.UUID:
        found = self.db.find("Chassis", name=name)
        if not found:
            raise LookupError(f"no Chassis named {name!r} in {self.db.name}")
        return found[0]

    def __call__(
        self,
        logical_port: str | None = None,
        *,
        plug_type: str | None = "dummy",
        options: Mapping[str, str] | None = None,
        requested_chassis: str | uuid.UUID | None = THIS_CHASSIS,
        datapath: uuid.UUID | None = None,
        tunnel_key: int | None = None,
        **columns: Any,
    ) -> uuid.UUID:
        self._counter += 1
        name = logical_port or f"lsp{self._counter}"
        opts = dict(options or {})
        if plug_type is not None:
            opts.setdefault("vif-plug-type", plug_type)
        if requested_chassis == THIS_CHASSIS:
            requested_chassis = self.chassis
        if isinstance(requested_chassis, str):
            opts.setdefault("requested-chassis", requested_chassis)
            columns.setdefault("requested_chassis", [self._chassis_uuid(requested_chassis)])
        elif isinstance(requested_chassis, uuid.UUID):
            columns.setdefault("requested_chassis", [requested_chassis])
        if datapath is None:
            datapath = sorted(self.db.rows("Datapath_Binding").items())[0][0]
        if tunnel_key is None:
            used = {
                r["tunnel_key"]
                for r in self.db.rows("Port_Binding").values()
                if r["datapath"] == datapath
            }
            tunnel_key = next(k for k in range(1, 32768) if k not in used)
        return self.db.insert(
            "Port_Binding",
            logical_port=name,
            datapath=datapath,
            tunnel_key=tunnel_key,
            options=opts,
            **columns,
        )


def connect(
    db: FakeDatabase,
    register: Callable[[Any], None] | None = None,
    *,
    idl_class: Callable[[FakeDatabase, Any], FakeIdl] = FakeIdl,
    before_connect: Callable[[FakeIdl], object] | None = None,
) -> FakeIdl:
    """A connected :class:`FakeIdl` on ``db``.

    ``register(schema_helper)`` registers tables/columns (default: all of them);
    ``before_connect(idl)`` runs before the first ``run()`` -- create indexes there,
    as with a real Idl (an index created later is not back-filled); what it
    returns is ignored.
    """
    helper = db.schema_helper()
    if register is None:
        helper.register_all()
    else:
        register(helper)
    idl = idl_class(db, helper)
    if before_connect is not None:
        before_connect(idl)
    idl.connect()
    return idl
