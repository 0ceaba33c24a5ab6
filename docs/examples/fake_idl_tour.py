"""A tour of the fake IDL: plug a port, lose a race, see another client's write.

Run it with ``python docs/examples/fake_idl_tour.py``.
"""

from __future__ import annotations

import json

import ovs.db.idl
from ovs.db.idl import Transaction

from ovn_vif.testing import FakeIdl, ovs_database


def main() -> None:
    # A local Open_vSwitch database with the root row and br-int (deterministic uuids).
    db = ovs_database(system_id="hv1")

    # Exactly what code does against a real ovsdb-server: a SchemaHelper,
    # registrations, indexes before the first run(), then run() until connected.
    helper = db.schema_helper()
    helper.register_columns("Bridge", ["name", "ports", "external_ids"])
    helper.register_columns("Port", ["name", "interfaces"])
    helper.register_columns("Interface", ["name", "type", "external_ids", "mtu_request"])
    idl = FakeIdl(db, helper)
    idl.index_create("Interface", "by_name").add_column("name")
    idl.connect()

    # Plug: the real ovs.db.idl.Transaction, unchanged.
    br = next(b for b in idl.tables["Bridge"].rows.values() if b.name == "br-int")
    txn = Transaction(idl)
    iface = txn.insert(idl.tables["Interface"])
    iface.name = "rep0"
    iface.external_ids = {"iface-id": "lsp1", "ovn-plugged": "acme"}
    iface.mtu_request = [9000]
    port = txn.insert(idl.tables["Port"])
    port.name = "rep0"
    port.interfaces = [iface]
    br.verify("ports")
    br.addvalue("ports", port.uuid)
    print("plug:", txn.commit_block())
    entry = idl.tables["Interface"].rows.IndexEntry(name="rep0")
    (rep0,) = idl.index_equal("Interface", "by_name", entry)
    print("rep0:", rep0.external_ids, rep0.mtu_request)

    # Another client writes the bridge's external_ids; our cache is stale until
    # run(), so a verified read-modify-write of that column must be retried.
    db.update("Bridge", br.uuid, external_ids={"owner": "someone-else"})
    txn = Transaction(idl)
    br.verify("external_ids")
    br.external_ids = {**br.external_ids, "ovn-vif": "seen"}
    print("stale write:", txn.commit_block())  # commit_block() ran the IDL: retry now
    br = next(b for b in idl.tables["Bridge"].rows.values() if b.name == "br-int")
    print("bridge now:", br.external_ids)

    # Scripted faults: the next commit fails the way ovsdb-server reports it.
    db.script_commit("error", details="disk full (scripted)")
    prt = next(p for p in br.ports if p.name == "rep0")
    txn = Transaction(idl)
    br.delvalue("ports", prt.uuid)
    print("unplug:", txn.commit_block(), json.loads(txn.get_error())["details"])

    # Unplug for real: the Port and its Interface are garbage-collected.
    txn = Transaction(idl)
    br.delvalue("ports", prt.uuid)
    print("unplug again:", txn.commit_block())
    print(db.dump(columns={"Bridge": ["name", "external_ids"], "Interface": ["name"]}))
    assert isinstance(idl, ovs.db.idl.Idl)


if __name__ == "__main__":
    main()
