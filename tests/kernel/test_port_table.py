"""The representor table from a real devlink dump (netdevsim, stock and patched)."""

from __future__ import annotations

from ovn_vif import OpType, PortContext
from ovn_vif_representor import (
    OPTION_PF_MAC,
    OPTION_VF_NUM,
    PortFlavour,
    RepresentorProvider,
    RepresentorState,
    list_representors,
)
from tests.support.netdevsim import VF_PORT_BASE, Netdevsim, ifindex

import pytest

pytestmark = pytest.mark.kernel


def test_stock_dump_has_the_physical_port_and_vf_representors(
    stock: str, nsim: Netdevsim
) -> None:
    nsim.switchdev_with_vfs(4)
    rows = [r for r in list_representors() if r.handle.startswith(nsim.handle + "/")]
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
