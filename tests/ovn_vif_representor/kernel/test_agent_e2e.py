"""End to end: the real agent plugs real netdevsim representors into br-int.

OVS and OVN are the Debian daemons of the host, started in a sandbox inside
the guest. ovs-vswitchd uses the kernel datapath when the openvswitch
module loaded (then a plugged representor really becomes an OVS port:
its netdev gets ``ovs-system`` as master) and the dummy datapath otherwise.
The agent is :class:`ovn_vif.agent.Agent` with the ``representor``
provider loaded from its entry point, exactly as ``ovn-vif agent`` runs it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.netdevsim import Netdevsim, settle

from ovn_vif.agent import Agent, AgentConfig
from ovn_vif.sandbox import OvsVswitchd, Sandbox
from ovn_vif_representor import OPTION_PF_MAC, OPTION_VF_NUM

pytestmark = pytest.mark.kernel

PF_MAC = "00:53:00:00:00:42"
TIMEOUT = 120.0
KERNEL_DATAPATH = Path("/sys/module/openvswitch").exists()


class KernelVswitchd(OvsVswitchd):
    """ovs-vswitchd on the kernel datapath (no ``--enable-dummy``)."""

    def _command(self) -> list[str]:
        return [arg for arg in super()._command() if not arg.startswith("--enable-dummy")]


@pytest.fixture
def stack() -> Iterator[Sandbox]:
    with Sandbox("hv1", keep=os.environ.get("OVN_VIF_KEEP_SANDBOX") == "1") as stack:
        if KERNEL_DATAPATH:
            stack.vswitchd.stop()
            vswitchd = KernelVswitchd(stack.dir, stack.ovsdb, name="ovs-vswitchd-kernel")
            vswitchd.start()
            stack.vsctl("--", "set", "Bridge", "br-int", "datapath_type=system")
        yield stack


def plugged(stack: Sandbox) -> dict[str, dict[str, Any]]:
    """Interfaces the agent plugged, by lport."""
    out = stack.vsctl(
        "--format=json", "--data=json", "--columns=name,external_ids,mtu_request,ofport",
        "list", "Interface",
    )  # fmt: skip
    table = json.loads(out)
    rows = {}
    for values in table["data"]:
        row = dict(zip(table["headings"], values, strict=True))
        ids = dict(row["external_ids"][1])
        if "ovn-plugged" in ids:
            row["external_ids"] = ids
            rows[ids["iface-id"]] = row
    return rows


def run_until(agent: Agent, stack: Sandbox, check: Any, what: str) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = {}

    def done() -> bool:
        state.clear()
        state.update(plugged(stack))
        return bool(check(state))

    assert agent.run_until(done, timeout=TIMEOUT), f"{what}; plugged: {state}"
    return state


def add_lsp(stack: Sandbox, name: str, **options: str) -> None:
    pairs = [f"{k}={v}" for k, v in {"requested-chassis": "hv1", **options}.items()]
    stack.nbctl(
        "--may-exist", "ls-add", "sw0", "--", "lsp-add", "sw0", name,
        "--", "lsp-set-options", name, "vif-plug-type=representor", *pairs,
    )  # fmt: skip


def has_ofport(row: dict[str, Any]) -> bool:
    return isinstance(row["ofport"], int) and row["ofport"] > 0


def in_datapath(netdev: str) -> bool:
    master = Path(f"/sys/class/net/{netdev}/master")
    return master.exists() and master.resolve().name == "ovs-system"


def test_agent_plugs_updates_and_unplugs_real_representors(
    patched: str, nsim: Netdevsim, stack: Sandbox
) -> None:
    # A NIC whose host PF has MAC PF_MAC and 4 VFs, eswitch still legacy:
    # no VF representor exists yet.
    nsim.set_numvfs(4)
    pf_netdev = nsim.add_pf(0)
    nsim.set_hw_addr(nsim.pf_index(0), PF_MAC)
    config = AgentConfig(ovs_remote=stack.ovs_remote, providers=("representor",))
    with Agent(config) as agent:  # started on entry, closed on exit
        add_lsp(stack, "lsp-pf", **{OPTION_PF_MAC: PF_MAC})
        add_lsp(stack, "lsp-vf3", **{OPTION_PF_MAC: PF_MAC, OPTION_VF_NUM: "3"})

        rows = run_until(agent, stack, lambda s: "lsp-pf" in s, "the PF representor plugged")
        assert rows["lsp-pf"]["name"] == pf_netdev
        assert rows["lsp-pf"]["external_ids"] == {
            "iface-id": "lsp-pf",
            "ovn-plugged": "representor",
        }
        assert "lsp-vf3" not in rows  # no such VF representor yet

        # The VF representors appear (ethN, then renamed by udev): the LSP
        # waiting for VF 3 gets it, under its final name.
        nsim.set_eswitch_mode("switchdev")
        settle()
        vf3 = nsim.vf_netdev(3)
        rows = run_until(
            agent, stack, lambda s: s.get("lsp-vf3", {}).get("name") == vf3, "VF 3 plugged"
        )
        assert rows["lsp-vf3"]["external_ids"] == {
            "iface-id": "lsp-vf3",
            "ovn-plugged": "representor",
        }
        run_until(
            agent,
            stack,
            lambda s: all(isinstance(r["ofport"], int) and r["ofport"] > 0 for r in s.values()),
            "ofports",
        )
        if KERNEL_DATAPATH:
            assert in_datapath(vf3)
            assert in_datapath(pf_netdev)

        # Update: an MTU request reaches the Interface and the netdev.
        stack.nbctl(
            "lsp-set-options", "lsp-vf3", "requested-chassis=hv1", "vif-plug-type=representor",
            f"{OPTION_PF_MAC}={PF_MAC}", f"{OPTION_VF_NUM}=3", "vif-plug-mtu-request=1400",
        )  # fmt: skip
        run_until(agent, stack, lambda s: s.get("lsp-vf3", {}).get("mtu_request") == 1400, "MTU")
        if KERNEL_DATAPATH:
            mtu = Path(f"/sys/class/net/{vf3}/mtu")
            run_until(agent, stack, lambda s: mtu.read_text().strip() == "1400", "netdev MTU")

        # Unplug.
        stack.nbctl("lsp-del", "lsp-vf3")
        run_until(agent, stack, lambda s: "lsp-vf3" not in s, "lsp-vf3 unplugged")
        assert vf3 not in stack.vsctl("list-ports", "br-int").split()
        if KERNEL_DATAPATH:
            run_until(agent, stack, lambda s: not in_datapath(vf3), "VF 3 out of the datapath")
        stack.nbctl("lsp-del", "lsp-pf")
        rows = run_until(agent, stack, lambda s: not s, "everything unplugged")
        assert stack.vsctl("list-ports", "br-int").split() == []


def test_agent_plugs_neutron_migration_shapes(
    patched: str, nsim: Netdevsim, stack: Sandbox
) -> None:
    """The options Neutron's OVN driver writes for a remote-managed port, as
    written: the PF MAC in upper case (from the binding profile), the VF
    number as a decimal string, the network's MTU, and during a live
    migration two chassis with ``activation-strategy=rarp``."""
    nsim.set_numvfs(4)
    nsim.add_pf(0)
    nsim.set_hw_addr(nsim.pf_index(0), PF_MAC)
    nsim.set_eswitch_mode("switchdev")
    settle()
    vf1, vf2 = nsim.vf_netdev(1), nsim.vf_netdev(2)
    stack.add_chassis("hv2")
    neutron = {
        OPTION_PF_MAC: PF_MAC.upper(),
        "vif-plug-mtu-request": "1442",
        "activation-strategy": "rarp",
    }
    config = AgentConfig(ovs_remote=stack.ovs_remote, providers=("representor",))
    with Agent(config) as agent:
        # hv1 is the source of vm-src's migration and the destination of
        # vm-dst's: only the main (first) chassis plugs.
        add_lsp(stack, "vm-src", **neutron, **{OPTION_VF_NUM: "2", "requested-chassis": "hv1,hv2"})
        add_lsp(stack, "vm-dst", **neutron, **{OPTION_VF_NUM: "1", "requested-chassis": "hv2,hv1"})
        rows = run_until(
            agent,
            stack,
            lambda s: "vm-src" in s and has_ofport(s["vm-src"]),
            "the source's VF 2 plugged",
        )
        assert rows["vm-src"]["name"] == vf2
        assert rows["vm-src"]["mtu_request"] == 1442
        assert "vm-dst" not in rows  # an additional chassis does not plug
        if KERNEL_DATAPATH:
            mtu = Path(f"/sys/class/net/{vf2}/mtu")
            run_until(agent, stack, lambda s: mtu.read_text().strip() == "1442", "netdev MTU")

        # The migrations end: each port has one chassis again.
        stack.nbctl(
            "lsp-set-options", "vm-src", "requested-chassis=hv2", "vif-plug-type=representor",
            f"{OPTION_PF_MAC}={PF_MAC.upper()}", f"{OPTION_VF_NUM}=2",
            "vif-plug-mtu-request=1442",
        )  # fmt: skip
        stack.nbctl(
            "lsp-set-options", "vm-dst", "requested-chassis=hv1", "vif-plug-type=representor",
            f"{OPTION_PF_MAC}={PF_MAC.upper()}", f"{OPTION_VF_NUM}=1",
            "vif-plug-mtu-request=1442",
        )  # fmt: skip
        rows = run_until(
            agent,
            stack,
            lambda s: "vm-src" not in s and s.get("vm-dst", {}).get("name") == vf1,
            "vm-src unplugged, vm-dst plugged",
        )
        assert rows["vm-dst"]["mtu_request"] == 1442
        assert rows["vm-dst"]["external_ids"] == {
            "iface-id": "vm-dst",
            "ovn-plugged": "representor",
        }
        stack.nbctl("lsp-del", "vm-dst")
        run_until(agent, stack, lambda s: not s, "everything unplugged")
