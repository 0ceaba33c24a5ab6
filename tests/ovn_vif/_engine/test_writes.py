"""The creates staged as raw OVSDB operations write exactly the rows that
``ovs.db.idl`` ``Row`` writes made, on a real ovsdb-server.

:func:`ovn_vif._engine.writes.stage` bypasses the IDL's ``Row`` attributes
for speed; the reference below is the former implementation (one
``Transaction.insert`` per row, attribute writes, ``verify`` and
``addvalue`` on the bridge). Both run against the same database and their
dumps are compared column by column.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ovs.db.idl
import ovs.poller
import pytest

from ovn_vif import register_ovs_columns
from ovn_vif._engine.writes import (
    CreatePort,
    RemovePort,
    stage,
)
from ovn_vif.agent._connections import fetch_schema, idl_synced
from ovn_vif.sandbox import OvsdbServer

pytestmark = pytest.mark.daemons

Stager = Callable[[Any, Any, uuid.UUID, Sequence[CreatePort]], None]


def create_ports(idl: Any, txn: Any, bridge: uuid.UUID, plans: Any) -> None:
    """Stage the creation of *plans* alone, as the engine does."""
    stage(idl, txn, bridge, creates=plans)


def create_port(idl: Any, txn: Any, bridge: uuid.UUID, plan: CreatePort) -> None:
    stage(idl, txn, bridge, creates=(plan,))


def remove_port(idl: Any, bridge: uuid.UUID, plan: RemovePort) -> None:
    stage(idl, idl.txn, bridge, removes=(plan,))


def reference_create_ports(
    idl: Any, txn: Any, bridge: uuid.UUID, plans: Sequence[CreatePort]
) -> None:
    """The former ``create_port``, through the IDL's ``Row`` writes."""
    bridge_row = idl.tables["Bridge"].rows[bridge]
    for plan in plans:
        iface = txn.insert(idl.tables["Interface"])
        iface.name = plan.name
        if plan.type is not None:
            iface.type = plan.type
        iface.external_ids = plan.external_ids.to_dict()
        iface.options = plan.options.to_dict()
        if plan.mtu_request is not None and plan.mtu_request > 0:
            iface.mtu_request = [plan.mtu_request]
        port = txn.insert(idl.tables["Port"])
        port.name = plan.name
        port.interfaces = [iface.uuid]
        bridge_row.verify("ports")
        bridge_row.addvalue("ports", port.uuid)


def reference_remove_port(idl: Any, bridge: uuid.UUID, plan: RemovePort) -> None:
    """The former ``remove_port``, through the IDL's ``Row`` writes."""
    bridge_row = idl.tables["Bridge"].rows[bridge]
    port = idl.tables["Port"].rows[plan.port]
    bridge_row.verify("ports")
    port.verify("interfaces")
    for iface_uuid in plan.ifaces:
        iface = idl.tables["Interface"].rows.get(iface_uuid)
        if iface is not None:
            iface.delete()
    bridge_row.delvalue("ports", port.uuid)
    port.delete()


def plans(prefix: str) -> list[CreatePort]:
    ids = {"ovn-plugged": "dummy"}
    return [
        CreatePort(
            lport="lp1", name=f"{prefix}1", type=None, external_ids={**ids, "iface-id": "lp1"}
        ),
        CreatePort(
            lport="lp2",
            name=f"{prefix}2",
            type="internal",
            external_ids={**ids, "iface-id": "lp2"},
            options={"b": "2", "a": "1 with spaces", "ü": "é"},
            mtu_request=9000,
        ),
        CreatePort(lport="lp3", name=f"{prefix}3", type="", external_ids={}, mtu_request=0),
        CreatePort(lport="lp4", name=f"{prefix}4", type="dummy", external_ids={"iface-id": "lp4"}),
    ]


class Switch:
    """An IDL on the fixture's Open_vSwitch database with ``br-int``."""

    def __init__(self, server: OvsdbServer) -> None:
        self.server = server
        self.vsctl("add-br", "br-int")
        helper = ovs.db.idl.SchemaHelper(
            schema_json=fetch_schema(server.remote, "Open_vSwitch", timeout=10, what="db")
        )
        register_ovs_columns(helper)
        self.idl = ovs.db.idl.Idl(server.remote, helper)
        self.sync()

    def vsctl(self, *args: str) -> str:
        return self.server.dir.run("ovs-vsctl", f"--db={self.server.remote}", "--no-wait", *args)

    def sync(self, port: str = "br-int") -> None:
        """Run the IDL until it has read the database and a Port named *port*."""
        while not idl_synced(self.idl) or not any(
            r.name == port for r in self.idl.tables["Port"].rows.values()
        ):
            self.idl.run()
            poller = ovs.poller.Poller()
            self.idl.wait(poller)
            poller.timer_wait(100)
            poller.block()

    def bridge(self) -> uuid.UUID:
        (row,) = [r for r in self.idl.tables["Bridge"].rows.values() if r.name == "br-int"]
        return row.uuid  # type: ignore[no-any-return]

    def commit(self, stage: Callable[[Any], None]) -> str:
        txn = ovs.db.idl.Transaction(self.idl)
        stage(txn)
        # The server sends the update before the reply: the IDL has it now.
        status: str = txn.commit_block()
        return status

    def dump(self, prefix: str) -> dict[str, Any]:
        """Bridge ports, Ports and Interfaces named *prefix*..., every column,
        uuids replaced by names and the prefix dropped."""
        tables = {}
        for table in ("Bridge", "Port", "Interface"):
            out = self.server.dir.run(
                "ovsdb-client", "-f", "json", "dump", self.server.remote, "Open_vSwitch", table
            )
            tables[table] = json.loads(out)
        rows: dict[str, list[dict[str, Any]]] = {}
        names: dict[str, str] = {}
        for table in ("Bridge", "Port", "Interface"):
            heads = tables[table]["headings"]
            rows[table] = [dict(zip(heads, r, strict=True)) for r in tables[table]["data"]]
            for row in rows[table]:
                name = row["name"]
                short = name.removeprefix(prefix) if name.startswith(prefix) else f"other {name}"
                names[row["_uuid"][1]] = f"{table}:{short}"

        def clean(value: Any) -> Any:
            if isinstance(value, list) and len(value) == 2 and value[0] == "uuid":
                return names.get(value[1], "?")
            if isinstance(value, list):
                return [clean(v) for v in value]
            return value

        result: dict[str, Any] = {}
        for table in ("Port", "Interface"):
            for row in rows[table]:
                if row["name"].startswith(prefix):
                    key = f"{table}:{row['name'].removeprefix(prefix)}"
                    result[key] = {
                        k: clean(v) for k, v in row.items() if k not in ("_uuid", "_version")
                    }
                    result[key]["name"] = key
        (bridge,) = [r for r in rows["Bridge"] if r["name"] == "br-int"]
        ports = clean(bridge["ports"])
        members = ports[1] if ports[0] == "set" else [ports]
        result["br-int ports"] = sorted(
            p for p in members if p.startswith("Port:") and not p.startswith("Port:other ")
        )
        return result


@pytest.fixture
def switch(ovsdb_server: OvsdbServer) -> Iterator[Switch]:
    sw = Switch(ovsdb_server)
    yield sw
    sw.idl.close()


@pytest.mark.parametrize("stager", [reference_create_ports, create_ports], ids=["rows", "ops"])
def test_creates(switch: Switch, stager: Stager) -> None:
    bridge = switch.bridge()
    assert switch.commit(lambda txn: stager(switch.idl, txn, bridge, plans("a"))) == "success"
    names = {r.name for r in switch.idl.tables["Interface"].rows.values()}
    assert {"a1", "a2", "a3", "a4"} <= names


def test_raw_operations_write_the_same_rows(switch: Switch) -> None:
    bridge = switch.bridge()
    status = switch.commit(lambda txn: reference_create_ports(switch.idl, txn, bridge, plans("r")))
    assert status == "success"
    status = switch.commit(lambda txn: create_ports(switch.idl, txn, bridge, plans("o")))
    assert status == "success"
    reference = switch.dump("r")
    assert len(reference) == 9  # four Ports, four Interfaces, the bridge's ports
    assert reference["br-int ports"] == ["Port:1", "Port:2", "Port:3", "Port:4"]
    assert reference["Interface:2"]["options"] == [
        "map",
        [["a", "1 with spaces"], ["b", "2"], ["ü", "é"]],
    ]
    assert switch.dump("o") == reference


def test_creates_next_to_removals_in_one_transaction(switch: Switch) -> None:
    bridge = switch.bridge()
    for name in ("old-r1", "old-r2", "old-o1", "old-o2"):
        switch.vsctl("add-port", "br-int", name)
        switch.sync(name)

    def removals(prefix: str) -> list[RemovePort]:
        ports = {r.name: r for r in switch.idl.tables["Port"].rows.values()}
        return [
            RemovePort(
                lport=f"lp{i}",
                port=ports[f"old-{prefix}{i}"].uuid,
                name=f"old-{prefix}{i}",
                ifaces=tuple(i.uuid for i in ports[f"old-{prefix}{i}"].interfaces),
            )
            for i in (1, 2)
        ]

    def reference(txn: Any) -> None:
        for remove in removals("r"):
            reference_remove_port(switch.idl, bridge, remove)
        reference_create_ports(switch.idl, txn, bridge, plans("r")[:2])

    def ops(txn: Any) -> None:
        stage(switch.idl, txn, bridge, removes=removals("o"), creates=plans("o")[:2])

    assert switch.commit(reference) == "success"
    assert switch.commit(ops) == "success"
    names = {r.name for r in switch.idl.tables["Port"].rows.values()}
    assert not {"old-r1", "old-r2", "old-o1", "old-o2"} & names
    assert {"r1", "r2", "o1", "o2"} <= names
    assert switch.dump("o") == switch.dump("r")
    assert switch.dump("o")["br-int ports"] == ["Port:1", "Port:2"]


def test_removals_alone(switch: Switch) -> None:
    bridge = switch.bridge()
    for name in ("gone-r", "gone-o", "kept"):
        switch.vsctl("add-port", "br-int", name)
        switch.sync(name)
    ports = {r.name: r for r in switch.idl.tables["Port"].rows.values()}

    def plan(name: str) -> RemovePort:
        port = ports[name]
        ifaces = tuple(i.uuid for i in port.interfaces)
        return RemovePort(lport=name, port=port.uuid, name=name, ifaces=ifaces)

    status = switch.commit(lambda txn: reference_remove_port(switch.idl, bridge, plan("gone-r")))
    assert status == "success"
    assert switch.commit(lambda txn: remove_port(switch.idl, bridge, plan("gone-o"))) == "success"
    names = {r.name for r in switch.idl.tables["Interface"].rows.values()}
    assert "kept" in names
    assert not {"gone-r", "gone-o"} & names
    assert [
        p.name for p in switch.idl.tables["Bridge"].rows[bridge].ports if p.name != "br-int"
    ] == ["kept"]


def test_a_concurrent_unrelated_port_does_not_fail_the_commit(switch: Switch) -> None:
    # The mutation adds exactly our Ports: another client's new Port stays,
    # and nothing of ours is retried for it.
    bridge = switch.bridge()
    txn = ovs.db.idl.Transaction(switch.idl)
    create_ports(switch.idl, txn, bridge, plans("c"))
    switch.vsctl("add-port", "br-int", "other")
    assert txn.commit_block() == "success"
    switch.sync("other")
    names = {r.name for r in switch.idl.tables["Interface"].rows.values()}
    assert {"other", "c1", "c2", "c3", "c4"} <= names
    assert switch.dump("c")["br-int ports"] == ["Port:1", "Port:2", "Port:3", "Port:4"]


@pytest.mark.parametrize("table", ["Port", "Interface"])
def test_a_name_taken_concurrently_fails_the_commit(switch: Switch, table: str) -> None:
    bridge = switch.bridge()
    txn = ovs.db.idl.Transaction(switch.idl)
    create_ports(switch.idl, txn, bridge, plans("n"))
    # Another client takes one of the names between our read and our commit
    # (a Port, or an Interface of a Port with another name).
    if table == "Port":
        switch.vsctl("add-port", "br-int", "n2")
    else:
        switch.vsctl(
            "--", "--id=@i", "create", "Interface", "name=n2",
            "--", "--id=@p", "create", "Port", "name=holder", "interfaces=@i",
            "--", "add", "Bridge", "br-int", "ports", "@p",
        )  # fmt: skip
    # The server's unique name index refuses the whole transaction.
    assert txn.commit_block() == "error"
    names = {r.name for r in switch.idl.tables["Interface"].rows.values()}
    assert not {"n1", "n3", "n4"} & names


def test_a_bridge_gone_concurrently_fails_the_commit_with_try_again(switch: Switch) -> None:
    # Mutating a bridge that is gone matches nothing: the new rows, referred
    # to by nothing, would be dropped by a commit reporting success.
    bridge = switch.bridge()
    txn = ovs.db.idl.Transaction(switch.idl)
    create_ports(switch.idl, txn, bridge, plans("g"))
    switch.vsctl("del-br", "br-int")
    assert txn.commit_block() == "try again"


def test_a_taken_name_fails_the_whole_commit(switch: Switch) -> None:
    switch.vsctl("add-port", "br-int", "t2")
    switch.sync("t2")
    bridge = switch.bridge()
    assert switch.commit(lambda txn: create_ports(switch.idl, txn, bridge, plans("t"))) == "error"
    names = {r.name for r in switch.idl.tables["Interface"].rows.values()}
    assert not {"t1", "t3", "t4"} & names


def test_create_port_and_nothing_to_create(switch: Switch) -> None:
    bridge = switch.bridge()
    assert switch.commit(lambda txn: create_ports(switch.idl, txn, bridge, [])) == "unchanged"
    assert switch.commit(lambda txn: create_port(switch.idl, txn, bridge, plans("s")[1])) == (
        "success"
    )
    assert switch.dump("s")["br-int ports"] == ["Port:2"]


@pytest.mark.parametrize("ops", [False, True], ids=["rows", "ops"])
def test_a_concurrent_change_of_a_removed_ports_interfaces_fails_the_commit(
    switch: Switch, ops: bool
) -> None:
    bridge = switch.bridge()
    switch.vsctl("add-port", "br-int", "gone")
    switch.sync("gone")
    (port,) = [r for r in switch.idl.tables["Port"].rows.values() if r.name == "gone"]
    plan = RemovePort(
        lport="gone", port=port.uuid, name="gone", ifaces=tuple(i.uuid for i in port.interfaces)
    )
    txn = ovs.db.idl.Transaction(switch.idl)
    if ops:
        stage(switch.idl, txn, bridge, removes=[plan])
    else:
        reference_remove_port(switch.idl, bridge, plan)
    # Another client adds an interface to the Port between our read and our commit.
    switch.vsctl(
        "--", "--id=@i", "create", "Interface", "name=extra",
        "--", "add", "Port", "gone", "interfaces", "@i",
    )  # fmt: skip
    assert txn.commit_block() == "try again"
    names = {r.name for r in switch.idl.tables["Port"].rows.values()}
    assert "gone" in names
