"""The port table, driven by typed devlink ports.

The first tests are ovn-vif's unit scenarios (``tests/vif-plug-providers.at``:
PHYSICAL ``p0`` and PCI_PF ``p0hpf`` on pci/0000:03:00.0, a VF ``pf0vf0``,
and a sysfs stub answering 00:53:00:00:00:51 for ``p0``); the rest pin the
rules where this provider does better than ovn-vif.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from ovn_vif_representor import PortFlavour, RepresentorState
from ovn_vif_representor._table import (
    NodeSource,
    PortTable,
    parse_mac,
    read_name_assign_type,
    read_smart_nic_pf_mac,
)
from ovn_vif_representor.testing import (
    ManualClock,
    pf_port,
    physical_port,
    sf_port,
    vf_port,
)

PF_MAC = "00:53:00:00:00:42"
BUS, DEV = "pci", "0000:03:00.0"
VF, PF, SF = PortFlavour.PCI_VF, PortFlavour.PCI_PF, PortFlavour.PCI_SF

P0 = physical_port("p0", ifindex=10, number=0, hw_addr="00:53:00:00:00:00")
P0HPF = pf_port("p0hpf", ifindex=100, pf=0, mac=PF_MAC)
PF0VF0 = vf_port("pf0vf0", ifindex=1000, vf=0)


@pytest.fixture
def table(clock: ManualClock, sysfs: Path) -> PortTable:
    return PortTable(clock=clock, sysfs_root=sysfs, rename_wait=5.0)


def loaded(table: PortTable, *ports: object) -> PortTable:
    table.load([P0, P0HPF, *ports], NodeSource.DUMP)  # type: ignore[list-item]
    return table


# -- the table scenarios of upstream ovn-vif's representor unit tests ------


def test_store_phy(table: PortTable) -> None:
    loaded(table)
    assert table.get(BUS, DEV, P0.index) == P0
    assert table.get(BUS, DEV, P0HPF.index) == P0HPF
    assert table.by_ifindex(10) == P0
    assert table.by_ifindex(100) == P0HPF
    assert table.pf_mac_of(BUS, DEV, P0HPF.index) == PF_MAC
    assert table.remove(P0HPF)
    assert table.remove(P0)
    assert table.get(BUS, DEV, P0HPF.index) is None
    assert table.by_ifindex(10) is None
    assert table.by_ifindex(100) is None
    assert len(table) == 0
    # deleting what is not there is harmless
    assert not table.remove(P0HPF)
    assert not table.remove(P0)


def test_store_port(table: PortTable) -> None:
    loaded(table)
    assert table.upsert(PF0VF0, NodeSource.RUNTIME)
    table.rename(1000, "pf0vf0")  # same name: not a rename
    assert table.by_ifindex(1000) == PF0VF0
    assert table.lookup(PF_MAC, VF, 0).retry_at is not None  # runtime, not renamed yet
    table.rename(1000, "eth5")
    table.rename(1000, "pf0vf0")
    assert table.lookup(PF_MAC, VF, 0).netdev == "pf0vf0"
    assert table.remove(PF0VF0)
    assert table.by_ifindex(1000) is None
    assert table.lookup(PF_MAC, VF, 0).netdev is None
    assert not table.remove(PF0VF0)


def test_store_rename_expected(table: PortTable) -> None:
    loaded(table, PF0VF0)
    assert not table.rename_expected(BUS, DEV, PF0VF0.index)  # from the dump
    vf1 = vf_port("eth7", ifindex=1001, vf=1)
    table.upsert(vf1, NodeSource.RUNTIME)
    assert table.rename_expected(BUS, DEV, vf1.index)
    assert table.source_of(BUS, DEV, vf1.index) is NodeSource.RUNTIME
    assert table.source_of(BUS, DEV, PF0VF0.index) is NodeSource.DUMP


def test_store_devlink_port_update_and_delete(table: PortTable) -> None:
    loaded(table)
    table.upsert(PF0VF0, NodeSource.RUNTIME)
    assert table.source_of(BUS, DEV, PF0VF0.index) is NodeSource.RUNTIME
    # the same port again with a new netdev name is a rename
    assert table.upsert(attrs.evolve(PF0VF0, netdev="pf0vf0new"))
    assert table.netdev_of(BUS, DEV, PF0VF0.index) == "pf0vf0new"
    assert not table.rename_expected(BUS, DEV, PF0VF0.index)
    assert table.remove(PF0VF0)
    assert table.get(BUS, DEV, PF0VF0.index) is None


def test_store_devlink_port_update_compat_reads_the_pf_mac_from_sysfs(table: PortTable) -> None:
    table.load([P0, attrs.evolve(P0HPF, hw_addr="00:00:00:00:00:00")], NodeSource.DUMP)
    assert table.pf_mac_of(BUS, DEV, P0HPF.index) == "00:53:00:00:00:51"
    assert table.lookup("00:53:00:00:00:51", PF, None).netdev == "p0hpf"


def test_lookup_vf_and_pf(table: PortTable) -> None:
    loaded(table, PF0VF0, vf_port("pf0vf1", ifindex=1001, vf=1))
    assert table.lookup(PF_MAC, VF, 0).netdev == "pf0vf0"
    assert table.lookup(PF_MAC, VF, 1).netdev == "pf0vf1"
    assert table.lookup(PF_MAC, PF, None).netdev == "p0hpf"


# -- better than ovn-vif --------------------------------------------------


def test_vf_before_pf_is_kept_and_resolved_when_the_pf_arrives(
    table: PortTable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    table.upsert(P0, NodeSource.DUMP)
    table.upsert(PF0VF0, NodeSource.DUMP)
    assert "kept pending until devlink reports PF 0" in caplog.text
    (row,) = table.rows()
    assert row.state is RepresentorState.PENDING_PF
    assert table.lookup(PF_MAC, VF, 0).netdev is None
    table.upsert(P0HPF, NodeSource.DUMP)
    assert table.lookup(PF_MAC, VF, 0).netdev == "pf0vf0"


def test_dump_order_does_not_matter(table: PortTable) -> None:
    table.load([PF0VF0, P0HPF, P0], NodeSource.DUMP)
    assert table.lookup(PF_MAC, VF, 0).netdev == "pf0vf0"


def test_pf_delete_leaves_its_vfs_pending_and_they_return_with_it(table: PortTable) -> None:
    loaded(table, PF0VF0)
    table.remove(P0HPF)
    assert table.lookup(PF_MAC, VF, 0).netdev is None
    assert [r.state for r in table.rows()] == [RepresentorState.PENDING_PF]
    table.upsert(P0HPF, NodeSource.DUMP)
    assert table.lookup(PF_MAC, VF, 0).netdev == "pf0vf0"


def test_pf_mac_change_reindexes_its_vfs(table: PortTable) -> None:
    loaded(table, PF0VF0)
    new_mac = "00:53:00:00:00:43"
    assert table.upsert(attrs.evolve(P0HPF, hw_addr=new_mac), NodeSource.RUNTIME)
    assert table.lookup(PF_MAC, VF, 0).netdev is None
    assert table.lookup(new_mac, VF, 0).netdev == "pf0vf0"
    assert "no PF representor has host MAC 00:53:00:00:00:42" in (
        table.lookup(PF_MAC, VF, 0).reason or ""
    )


def test_pf_with_new_mac_after_delete(table: PortTable) -> None:
    loaded(table, PF0VF0)
    table.remove(P0HPF)
    table.upsert(attrs.evolve(P0HPF, hw_addr="00:53:00:00:00:44"), NodeSource.RUNTIME)
    assert table.lookup("00:53:00:00:00:44", VF, 0).netdev == "pf0vf0"
    assert table.lookup(PF_MAC, VF, 0).netdev is None


def test_two_controllers_with_the_same_pf_and_vf_numbers_are_not_confused(
    table: PortTable,
) -> None:
    host_a = "00:53:00:00:0a:00"
    host_b = "00:53:00:00:0b:00"
    table.load(
        [
            pf_port("c1pf0hpf", ifindex=101, pf=0, controller=1, external=True, mac=host_a),
            pf_port("c2pf0hpf", ifindex=102, pf=0, controller=2, external=True, mac=host_b),
            vf_port("c1pf0vf0", ifindex=1100, vf=0, controller=1, external=True),
            vf_port("c2pf0vf0", ifindex=1200, vf=0, controller=2, external=True),
        ],
        NodeSource.DUMP,
    )
    assert table.lookup(host_a, VF, 0).netdev == "c1pf0vf0"
    assert table.lookup(host_b, VF, 0).netdev == "c2pf0vf0"
    rows = {r.netdev: r for r in table.rows()}
    assert rows["c2pf0vf0"].controller == 2
    assert rows["c2pf0vf0"].external is True
    assert rows["c2pf0vf0"].pf_mac == host_b


def test_two_pfs_claiming_one_mac_are_refused(table: PortTable) -> None:
    table.load(
        [
            pf_port("a", ifindex=1, pf=0, mac=PF_MAC),
            pf_port("b", ifindex=2, pf=1, mac=PF_MAC),
        ],
        NodeSource.DUMP,
    )
    result = table.lookup(PF_MAC, PF, None)
    assert result.netdev is None
    assert "several PF representors have host MAC" in (result.reason or "")


def test_sf_lookup(table: PortTable) -> None:
    loaded(table, sf_port("pf0sf88", ifindex=3088, sf=88))
    assert table.lookup(PF_MAC, SF, 88).netdev == "pf0sf88"
    assert table.lookup(PF_MAC, VF, 88).netdev is None


def test_unsupported_flavours_are_ignored_with_one_line_per_port(
    table: PortTable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    virtual = attrs.evolve(PF0VF0, flavour=PortFlavour.VIRTUAL, netdev="eth0", index=9)
    cpu = attrs.evolve(P0, flavour=PortFlavour.CPU, index=10, ifindex=11, netdev="cpu0")
    loaded(table, virtual, cpu)
    table.upsert(virtual)
    table.upsert(virtual)
    assert caplog.text.count("unsupported flavour VIRTUAL") == 1
    assert caplog.text.count("unsupported flavour CPU") == 1
    assert table.get(BUS, DEV, 9) is None
    assert table.by_ifindex(11) is None


def test_port_turning_into_an_unsupported_flavour_is_dropped(table: PortTable) -> None:
    loaded(table, PF0VF0)
    assert table.upsert(attrs.evolve(PF0VF0, flavour=PortFlavour.UNUSED))
    assert table.lookup(PF_MAC, VF, 0).netdev is None


def test_port_without_netdev_is_never_answered(table: PortTable) -> None:
    loaded(table, vf_port(None, ifindex=None, vf=0))
    result = table.lookup(PF_MAC, VF, 0)
    assert result.netdev is None
    assert "no-netdev" in (result.reason or "")


def test_port_losing_its_netdev_before_delete(table: PortTable) -> None:
    loaded(table, PF0VF0)
    assert table.upsert(attrs.evolve(PF0VF0, ifindex=None, netdev=None, port_type=0))
    assert table.lookup(PF_MAC, VF, 0).netdev is None
    assert table.by_ifindex(1000) is None


def test_new_netdev_on_a_known_port_waits_for_its_rename(
    table: PortTable, clock: ManualClock
) -> None:
    loaded(table, PF0VF0)
    table.upsert(attrs.evolve(PF0VF0, ifindex=2000, netdev="eth9"), NodeSource.RUNTIME)
    assert table.lookup(PF_MAC, VF, 0).retry_at == clock.now + 5.0
    assert table.by_ifindex(1000) is None
    assert table.rename(2000, "pf0vf0")
    assert table.lookup(PF_MAC, VF, 0).netdev == "pf0vf0"


def test_rename_wait_is_bounded(table: PortTable, clock: ManualClock) -> None:
    loaded(table)
    table.upsert(PF0VF0, NodeSource.RUNTIME)
    assert table.next_deadline() == clock.now + 5.0
    clock.advance(4.9)
    assert table.lookup(PF_MAC, VF, 0).netdev is None
    assert [r.state for r in table.rows()][1] is RepresentorState.AWAITING_RENAME
    clock.advance(0.1)
    assert table.lookup(PF_MAC, VF, 0).netdev == "pf0vf0"
    assert table.next_deadline() is None


def test_zero_rename_wait_plugs_runtime_ports_at_once(clock: ManualClock, sysfs: Path) -> None:
    table = PortTable(clock=clock, sysfs_root=sysfs, rename_wait=0.0)
    loaded(table)
    table.upsert(PF0VF0, NodeSource.RUNTIME)
    assert table.lookup(PF_MAC, VF, 0).netdev == "pf0vf0"


def test_resync_keeps_known_ports_and_marks_new_ones_runtime(table: PortTable) -> None:
    loaded(table, PF0VF0)
    vf1 = vf_port("eth8", ifindex=1001, vf=1)
    changed = table.load([P0, P0HPF, PF0VF0, vf1], NodeSource.RUNTIME)
    assert changed
    assert table.source_of(BUS, DEV, PF0VF0.index) is NodeSource.DUMP
    assert table.source_of(BUS, DEV, vf1.index) is NodeSource.RUNTIME
    assert not table.load([P0, P0HPF, PF0VF0, vf1], NodeSource.RUNTIME)
    # a port missing from a re-dump is gone
    assert table.load([P0, P0HPF, vf1], NodeSource.RUNTIME)
    assert table.get(BUS, DEV, PF0VF0.index) is None


def test_rename_of_an_unknown_netdev_is_ignored(table: PortTable) -> None:
    loaded(table)
    assert not table.rename(4242, "whatever")


def test_physical_port_is_never_a_lookup_answer(table: PortTable) -> None:
    loaded(table)
    # p0's own (zero) MAC and the sysfs MAC never find the PHYSICAL port.
    assert table.lookup("00:53:00:00:00:00", PF, None).netdev is None
    assert table.lookup("00:53:00:00:00:51", PF, None).netdev is None
    assert all(r.netdev != "p0" for r in table.rows())


def test_vf_own_hw_addr_is_not_a_pf_mac(table: PortTable) -> None:
    loaded(table, attrs.evolve(PF0VF0, hw_addr="00:53:00:00:00:99"))
    assert table.lookup("00:53:00:00:00:99", PF, None).netdev is None
    assert table.lookup("00:53:00:00:00:99", VF, 0).netdev is None


def test_describe_pfs_names_what_the_table_holds(table: PortTable) -> None:
    loaded(
        table, PF0VF0, vf_port("pf0vf1", ifindex=1001, vf=1), vf_port("pf0vf5", ifindex=1005, vf=5)
    )
    reason = table.lookup(PF_MAC, VF, 3).reason or ""
    assert "has no VF 3" in reason
    assert "VFs 0-1, 5" in reason
    assert "MAC 00:53:00:00:00:42" in reason
    assert PortTable().describe_pfs() == "the table holds no PF representor"


def test_rows_are_typed_and_json_ready(table: PortTable) -> None:
    loaded(table, PF0VF0)
    pf_row, vf_row = table.rows()
    assert pf_row.to_dict() == {
        "kind": "pf",
        "pf_mac": PF_MAC,
        "controller": None,
        "external": False,
        "pf_number": 0,
        "vf_number": None,
        "sf_number": None,
        "netdev": "p0hpf",
        "ifindex": 100,
        "handle": "pci/0000:03:00.0/4096",
        "state": "ready",
    }
    assert (vf_row.kind, vf_row.vf_number, vf_row.pf_mac) == ("vf", 0, PF_MAC)


# -- the sysfs fallback ----------------------------------------------------


def test_fallback_waits_for_the_physical_port(
    table: PortTable, caplog: pytest.LogCaptureFixture
) -> None:
    zero_pf = attrs.evolve(P0HPF, hw_addr=None)
    table.upsert(zero_pf, NodeSource.DUMP)
    table.upsert(PF0VF0, NodeSource.DUMP)
    assert "no PHYSICAL port 0" in caplog.text
    assert [r.state for r in table.rows()] == [RepresentorState.NO_PF_MAC] * 2
    table.upsert(P0, NodeSource.DUMP)
    assert table.lookup("00:53:00:00:00:51", VF, 0).netdev == "pf0vf0"


def test_fallback_follows_a_physical_rename(
    clock: ManualClock, tmp_path: Path, smart_nic_config: Callable[[Path, str, str | None], Path]
) -> None:
    root = tmp_path / "sys"
    smart_nic_config(root, "p0", None)  # no MAC line under the old name
    smart_nic_config(root, "eth0", "00:53:00:00:00:77")
    table = PortTable(clock=clock, sysfs_root=root)
    table.load([P0, attrs.evolve(P0HPF, hw_addr=None)], NodeSource.DUMP)
    assert table.lookup("00:53:00:00:00:77", PF, None).netdev is None
    table.rename(10, "eth0")
    assert table.lookup("00:53:00:00:00:77", PF, None).netdev == "p0hpf"


def test_devlink_mac_wins_over_the_fallback(table: PortTable) -> None:
    loaded(table)
    assert table.pf_mac_of(BUS, DEV, P0HPF.index) == PF_MAC


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("MAC        : 00:53:00:00:00:51\nState : Up\n", "00:53:00:00:00:51"),
        ("MACAddress: 00:53:00:00:00:5A\n", "00:53:00:00:00:5a"),
        ("State : Up\n", None),
        ("MAC : not-a-mac\n", None),
        ("", None),
    ],
)
def test_read_smart_nic_pf_mac(tmp_path: Path, content: str, expected: str | None) -> None:
    path = tmp_path / "class" / "net" / "p0" / "smart_nic" / "pf" / "config"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert read_smart_nic_pf_mac(tmp_path, "p0") == expected


def test_read_smart_nic_pf_mac_missing_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert read_smart_nic_pf_mac(tmp_path, "p9") is None
    assert "fallback lookup of the host PF MAC" in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:53:00:00:00:42", "00:53:00:00:00:42"),
        ("00:53:00:00:00:4A", "00:53:00:00:00:4a"),
        ("0:53:0:0:0:42", None),
        ("00-53-00-00-00-42", None),
        ("00:53:00:00:00:42:00", None),
        (" 00:53:00:00:00:42", None),
        ("00:53:00:00:00:4g", None),
        ("", None),
    ],
)
def test_parse_mac(text: str, expected: str | None) -> None:
    assert parse_mac(text) == expected


@pytest.mark.parametrize(("content", "expected"), [("1\n", 1), ("4\n", 4), ("x", None)])
def test_read_name_assign_type(tmp_path: Path, content: str, expected: int | None) -> None:
    (tmp_path / "class" / "net" / "eth0").mkdir(parents=True)
    (tmp_path / "class" / "net" / "eth0" / "name_assign_type").write_text(content)
    assert read_name_assign_type(tmp_path, "eth0") == expected
    assert read_name_assign_type(tmp_path, "eth1") is None
