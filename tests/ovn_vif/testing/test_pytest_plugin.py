"""The pytest11 plugin: registered by entry point, fixtures give ready fake databases."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from ovs.db.idl import Transaction

from ovn_vif.testing import FakeDatabase, FakeIdl, PortBindingFactory


def test_plugin_is_registered_as_pytest11_entry_point() -> None:
    (ep,) = [e for e in entry_points(group="pytest11") if e.name == "ovn_vif"]
    assert ep.value == "ovn_vif.testing._pytest_plugin"


def test_testing_package_does_not_import_pytest() -> None:
    import subprocess
    import sys

    code = "import sys, ovn_vif.testing; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fake_ovs_idl(fake_ovs_idl: FakeIdl, fake_chassis: str) -> None:
    assert fake_ovs_idl.has_ever_connected()
    (root,) = fake_ovs_idl.tables["Open_vSwitch"].rows.values()
    assert root.external_ids == {"system-id": fake_chassis, "ovn-bridge": "br-int"}
    (br,) = root.bridges
    assert br.name == "br-int"
    assert [p.name for p in br.ports] == ["br-int"]
    assert br.ports[0].interfaces[0].type == "internal"


def test_fake_sb_idl(fake_sb_idl: FakeIdl, fake_chassis: str) -> None:
    (chassis,) = fake_sb_idl.tables["Chassis"].rows.values()
    assert chassis.name == fake_chassis
    assert chassis.encaps[0].type == "geneve"
    assert len(fake_sb_idl.tables["SB_Global"].rows) == 1
    assert len(fake_sb_idl.tables["Datapath_Binding"].rows) == 1


def test_port_binding_factory_rows_reach_the_idl(
    fake_sb_idl: FakeIdl, port_binding_factory: PortBindingFactory, fake_chassis: str
) -> None:
    lsp = port_binding_factory("lsp1", options={"vif-plug-mtu-request": "9000"})
    fake_sb_idl.run()
    pb = fake_sb_idl.tables["Port_Binding"].rows[lsp]
    assert pb.logical_port == "lsp1"
    assert pb.options["vif-plug-type"] == "dummy"
    assert pb.options["vif-plug-mtu-request"] == "9000"
    assert [c.name for c in pb.requested_chassis] == [fake_chassis]


def test_fake_idl_factory_and_db_share_state(
    fake_ovs_db: FakeDatabase, fake_ovs_idl: FakeIdl, fake_idl_factory: Any
) -> None:
    def indexes(idl: FakeIdl) -> None:
        idl.index_create("Interface", "by_name").add_column("name")

    other = fake_idl_factory(
        fake_ovs_db,
        lambda h: h.register_columns("Interface", ["name", "type"]),
        before_connect=indexes,
    )
    entry = other.tables["Interface"].rows.IndexEntry(name="br-int")
    assert [i.type for i in other.index_equal("Interface", "by_name", entry)] == ["internal"]
    txn = Transaction(fake_ovs_idl)
    (root,) = fake_ovs_idl.tables["Open_vSwitch"].rows.values()
    root.setkey("external_ids", "ovn-encap-ip", "192.0.2.1")
    assert txn.commit_block() == "success"
    assert "ovn-encap-ip" in fake_ovs_db.dump()
