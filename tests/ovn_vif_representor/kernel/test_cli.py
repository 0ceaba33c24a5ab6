"""``ovn-vif representors [--json]`` against a real devlink."""

from __future__ import annotations

import json

import pytest
from tests.support.netdevsim import Netdevsim

from ovn_vif.cli import main
from ovn_vif_representor import list_representors

pytestmark = pytest.mark.kernel

PF_MAC = "00:53:00:00:00:42"


def test_representors_command(
    patched: str, nsim: Netdevsim, capsys: pytest.CaptureFixture[str]
) -> None:
    nsim.switchdev_with_vfs(2)
    pf_netdev = nsim.add_pf(0)
    nsim.set_hw_addr(nsim.pf_index(0), PF_MAC)

    assert main(["representors", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    mine = [r for r in listed if r["handle"].startswith(nsim.handle + "/")]
    assert mine == [
        r.to_dict() for r in list_representors() if r.handle.startswith(nsim.handle + "/")
    ]
    assert [(r["kind"], r["pf_mac"], r["vf_number"], r["netdev"], r["state"]) for r in mine] == [
        ("pf", PF_MAC, None, pf_netdev, "ready"),
        ("vf", PF_MAC, 0, nsim.vf_netdev(0), "ready"),
        ("vf", PF_MAC, 1, nsim.vf_netdev(1), "ready"),
    ]

    assert main(["representors"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PF", "MAC", "CTRL", "EXT", "PF", "VF", "SF", "NETDEV", "STATE"]
    (vf1,) = [line.split() for line in lines if nsim.vf_netdev(1) in line.split()]
    assert vf1 == [PF_MAC, "0", "no", "0", "1", "-", nsim.vf_netdev(1), "ready"]
