"""The representor table from a real devlink dump (netdevsim, stock and patched)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.netdevsim import (
    VF_PORT_BASE,
    Netdevsim,
    composed_sysfs,
    ifindex,
)

from ovn_vif import Decline, OpType, PlugSpec, PortContext
from ovn_vif_representor import (
    OPTION_PF_MAC,
    OPTION_VF_NUM,
    RepresentorProvider,
    RepresentorRow,
    RepresentorState,
    list_representors,
)

pytestmark = pytest.mark.kernel

PF_MAC = "00:53:00:00:00:42"


def rows_of(nsim: Netdevsim, rows: tuple[RepresentorRow, ...]) -> list[RepresentorRow]:
    return [r for r in rows if r.handle.startswith(nsim.handle + "/")]


def lookup(provider: RepresentorProvider, **options: str) -> PlugSpec | Decline:
    ctx = PortContext(op_type=OpType.CREATE, lport_name="lsp", lport_options=options)
    return provider.prepare_create(ctx)


def test_stock_dump_has_vf_representors_waiting_for_their_pf(stock: str, nsim: Netdevsim) -> None:
    nsim.switchdev_with_vfs(4)
    rows = rows_of(nsim, list_representors())
    # Stock 6.1 netdevsim has no PCI PF port: the VFs wait for their PF.
    assert [(r.kind, r.pf_number, r.vf_number, r.controller, r.external) for r in rows] == [
        ("vf", 0, vf, 0, False) for vf in range(4)
    ]
    for row in rows:
        assert row.state is RepresentorState.PENDING_PF
        assert row.pf_mac is None
        assert row.netdev == nsim.vf_netdev(row.vf_number or 0)
        assert row.netdev == f"eni{nsim.id}npf0vf{row.vf_number}"
        assert row.ifindex == ifindex(row.netdev)
        assert row.handle == f"{nsim.handle}/{VF_PORT_BASE + (row.vf_number or 0)}"


def test_stock_module_refuses_pf_ports_and_hw_addr(stock: str, nsim: Netdevsim) -> None:
    nsim.switchdev_with_vfs(1)
    with pytest.raises(AssertionError, match="Operation not supported"):
        nsim.add_pf(0)
    with pytest.raises(AssertionError, match="not supported"):
        nsim.set_hw_addr(VF_PORT_BASE, "00:53:00:00:00:10")


def test_patched_dump_pf_and_vfs_by_pf_mac(patched: str, nsim: Netdevsim) -> None:
    nsim.switchdev_with_vfs(2)
    pf_netdev = nsim.add_pf(0)
    nsim.set_hw_addr(nsim.pf_index(0), PF_MAC)
    nsim.set_hw_addr(VF_PORT_BASE + 1, "00:53:00:00:01:01")  # a VF's own MAC: not a key
    rows = rows_of(nsim, list_representors())
    assert [(r.kind, r.pf_mac, r.pf_number, r.vf_number, r.netdev, r.state) for r in rows] == [
        ("pf", PF_MAC, 0, None, pf_netdev, RepresentorState.READY),
        ("vf", PF_MAC, 0, 0, nsim.vf_netdev(0), RepresentorState.READY),
        ("vf", PF_MAC, 0, 1, nsim.vf_netdev(1), RepresentorState.READY),
    ]
    assert pf_netdev == f"eni{nsim.id}npf0"

    provider = RepresentorProvider()
    provider.init()
    try:
        assert lookup(provider, **{OPTION_PF_MAC: PF_MAC, OPTION_VF_NUM: "1"}) == PlugSpec(
            name=nsim.vf_netdev(1)
        )
        assert lookup(provider, **{OPTION_PF_MAC: PF_MAC.upper(), OPTION_VF_NUM: "0"}) == (
            PlugSpec(name=nsim.vf_netdev(0))
        )
        # pf-mac alone: the PF's own representor.
        assert lookup(provider, **{OPTION_PF_MAC: PF_MAC}) == PlugSpec(name=pf_netdev)
        no_vf = lookup(provider, **{OPTION_PF_MAC: PF_MAC, OPTION_VF_NUM: "2"})
        assert isinstance(no_vf, Decline)
        assert "has no VF 2" in no_vf.reason
        # A VF's own MAC is not a PF's host MAC.
        no_pf = lookup(provider, **{OPTION_PF_MAC: "00:53:00:00:01:01"})
        assert isinstance(no_pf, Decline)
        assert "no PF representor has host MAC 00:53:00:00:01:01" in no_pf.reason
    finally:
        provider.destroy()


def test_patched_sysfs_pf_mac_fallback(patched: str, nsim: Netdevsim, tmp_path: Path) -> None:
    # A PF whose function reports no hw_addr (all zeros) is found by the MAC
    # in the smart_nic config of the PHYSICAL port with its number: netdevsim
    # numbers its physical port 1, so this is PF 1.
    pf_netdev = nsim.add_pf(1)
    uplink = nsim.netdev(0)
    assert nsim.ports()[nsim.pf_index(1)]["function"]["hw_addr"] == "00:00:00:00:00:00"
    sysfs = composed_sysfs(tmp_path / "sys", {uplink: PF_MAC})

    rows = rows_of(nsim, list_representors(sysfs_root=sysfs))
    assert [(r.kind, r.pf_mac, r.pf_number, r.netdev, r.state) for r in rows] == [
        ("pf", PF_MAC, 1, pf_netdev, RepresentorState.READY)
    ]
    provider = RepresentorProvider(sysfs_root=sysfs)
    provider.init()
    try:
        assert lookup(provider, **{OPTION_PF_MAC: PF_MAC}) == PlugSpec(name=pf_netdev)
    finally:
        provider.destroy()
    # Without the smart_nic file there is no MAC to find it by.
    rows = rows_of(nsim, list_representors())
    assert [(r.kind, r.pf_mac, r.state) for r in rows] == [("pf", None, RepresentorState.NO_PF_MAC)]
