"""The representor provider end to end with the reconcile engine.

The databases are the fake IDL (``ovn_vif.testing``) in the first half and
real daemons (ovsdb-server, ovn-northd, ovs-vswitchd on the dummy datapath)
in the second; the NIC is :class:`ovn_vif_representor.testing.FakeKernel`,
which replaces the kernel at the netlink socket boundary only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ovs.db.idl
import pytest

from ovn_vif import (
    Outcome,
    Reconciler,
    ReconcileReport,
    Registry,
    create_sb_indexes,
    register_ovs_columns,
    register_sb_columns,
)
from ovn_vif.sandbox import DATABASES, Sandbox, wait_until
from ovn_vif.testing import FakeDatabase, FakeIdl, PortBindingFactory
from ovn_vif_representor import OPTION_PF_MAC, OPTION_VF_NUM, RepresentorProvider
from ovn_vif_representor.testing import FakeKernel, ManualClock

PF_MAC = "00:53:00:00:00:42"
RENAME_WAIT = 5.0


def nic() -> FakeKernel:
    """A NIC in switchdev mode: uplink p0, host PF (MAC …:42), VFs 0 and 1."""
    kernel = FakeKernel()
    kernel.add_physical("p0", ifindex=10)
    kernel.add_pf("pf0hpf", ifindex=100, mac=PF_MAC)
    kernel.add_vf("pf0vf0", ifindex=1000, vf=0)
    kernel.add_vf("pf0vf1", ifindex=1001, vf=1)
    return kernel


def representor_options(vf_num: str) -> dict[str, str]:
    return {OPTION_PF_MAC: PF_MAC, OPTION_VF_NUM: vf_num}


class Agent:
    """The loop an agent runs: IDLs, provider refresh, reconcile, commit.

    Its representor provider reads :attr:`kernel` (a simulated NIC) and
    measures its rename wait with :attr:`clock`.
    """

    def __init__(self, ovs_idl: Any, sb_idl: Any, sysfs_root: Path) -> None:
        self.ovs_idl = ovs_idl
        self.sb_idl = sb_idl
        self.kernel = nic()
        self.clock = ManualClock()
        self.provider = RepresentorProvider(
            devlink=self.kernel.devlink_source,
            links=self.kernel.link_source,
            clock=self.clock,
            sysfs_root=sysfs_root,
            rename_wait=RENAME_WAIT,
        )
        self.registry = Registry()
        self.registry.register(self.provider)
        self.reconciler = Reconciler(self.registry)

    def close(self) -> None:
        self.registry.destroy_all()

    def iterate(self) -> tuple[ReconcileReport, bool]:
        """One iteration; returns the report and whether the providers saw changes."""
        self.ovs_idl.run()
        self.sb_idl.run()
        changed = self.registry.run_all()
        txn = ovs.db.idl.Transaction(self.ovs_idl)
        report = self.reconciler.reconcile(
            self.ovs_idl, self.sb_idl, txn, chassis="hv1", bridge="br-int", can_unplug=True
        )
        status = txn.commit_block()
        self.reconciler.complete(status)
        assert status in ("success", "unchanged"), txn.get_error()
        self.ovs_idl.run()
        return report, changed


def outcome(report: ReconcileReport, lport: str) -> tuple[Outcome, ...]:
    return tuple(d.outcome for d in report.for_lport(lport))


# -- the fake IDL ------------------------------------------------------------


@pytest.fixture
def agent(
    tmp_path: Path,
    fake_ovs_db: FakeDatabase,
    fake_sb_db: FakeDatabase,
    fake_idl_factory: Callable[..., FakeIdl],
) -> Iterator[Agent]:
    ovs_idl = fake_idl_factory(fake_ovs_db, register_ovs_columns)
    sb_idl = fake_idl_factory(fake_sb_db, register_sb_columns, before_connect=create_sb_indexes)
    agent = Agent(ovs_idl, sb_idl, tmp_path / "sys")
    yield agent
    agent.close()


def fake_interfaces(db: FakeDatabase) -> dict[str, dict[str, Any]]:
    """Interfaces on br-int other than br-int itself, by name."""
    return {row["name"]: row for row in db.rows("Interface").values() if row["name"] != "br-int"}


def test_fake_idl_lsp_gets_its_representor_plugged(
    agent: Agent, fake_ovs_db: FakeDatabase, port_binding_factory: PortBindingFactory
) -> None:
    port_binding_factory("lsp1", plug_type="representor", options=representor_options("1"))
    report, _ = agent.iterate()
    assert outcome(report, "lsp1") == (Outcome.PLUGGED,)
    iface = fake_interfaces(fake_ovs_db)["pf0vf1"]
    assert iface["external_ids"] == {"iface-id": "lsp1", "ovn-plugged": "representor"}
    assert iface["type"] == ""
    assert iface["options"] == {}
    report, _ = agent.iterate()
    assert outcome(report, "lsp1") == ()  # in sync


def test_fake_idl_vf_appearing_later_is_plugged_on_the_next_iteration(
    agent: Agent, fake_ovs_db: FakeDatabase, port_binding_factory: PortBindingFactory
) -> None:
    kernel = agent.kernel
    port_binding_factory("lsp2", plug_type="representor", options=representor_options("2"))
    report, _ = agent.iterate()
    assert outcome(report, "lsp2") == (Outcome.DECLINED,)
    assert fake_interfaces(fake_ovs_db) == {}
    # The VF is created and udev names it before the agent looks again.
    kernel.add_vf("eth5", ifindex=1002, vf=2)
    kernel.rename(1002, "pf0vf2")
    report, changed = agent.iterate()
    assert changed
    assert outcome(report, "lsp2") == (Outcome.PLUGGED,)
    assert set(fake_interfaces(fake_ovs_db)) == {"pf0vf2"}


def test_fake_idl_rename_before_the_plug(
    agent: Agent, fake_ovs_db: FakeDatabase, port_binding_factory: PortBindingFactory
) -> None:
    kernel, clock = agent.kernel, agent.clock
    port_binding_factory("lsp2", plug_type="representor", options=representor_options("2"))
    kernel.add_vf("eth5", ifindex=1002, vf=2)
    report, changed = agent.iterate()
    # The kernel's name is not plugged: udev is expected to rename it.
    assert changed
    assert outcome(report, "lsp2") == (Outcome.DECLINED,)
    assert agent.provider.next_wakeup() == clock.now + RENAME_WAIT
    clock.advance(1.0)
    kernel.rename(1002, "pf0vf2")
    report, changed = agent.iterate()
    assert changed
    assert outcome(report, "lsp2") == (Outcome.PLUGGED,)
    assert set(fake_interfaces(fake_ovs_db)) == {"pf0vf2"}
    assert agent.provider.next_wakeup() is None


def test_fake_idl_unrenamed_vf_is_plugged_after_the_bounded_wait(
    agent: Agent, fake_ovs_db: FakeDatabase, port_binding_factory: PortBindingFactory
) -> None:
    kernel, clock = agent.kernel, agent.clock
    port_binding_factory("lsp2", plug_type="representor", options=representor_options("2"))
    kernel.add_vf("eth5", ifindex=1002, vf=2)
    report, _ = agent.iterate()
    assert outcome(report, "lsp2") == (Outcome.DECLINED,)
    clock.advance(RENAME_WAIT)
    report, changed = agent.iterate()
    assert changed  # the wait ran out: the agent must reconcile
    assert outcome(report, "lsp2") == (Outcome.PLUGGED,)
    assert set(fake_interfaces(fake_ovs_db)) == {"eth5"}


def test_fake_idl_vf_deleted(
    agent: Agent,
    fake_ovs_db: FakeDatabase,
    fake_sb_db: FakeDatabase,
    port_binding_factory: PortBindingFactory,
) -> None:
    kernel = agent.kernel
    pb = port_binding_factory("lsp1", plug_type="representor", options=representor_options("1"))
    agent.iterate()
    assert set(fake_interfaces(fake_ovs_db)) == {"pf0vf1"}
    kernel.del_port(kernel.ports[("pci", "0000:03:00.0", 0x2001)])
    report, changed = agent.iterate()
    assert changed
    # Nothing to plug it to any more: declined, and the port is left alone
    # (it is the CMS's to withdraw), as ovn-controller does.
    assert outcome(report, "lsp1") == (Outcome.DECLINED,)
    assert set(fake_interfaces(fake_ovs_db)) == {"pf0vf1"}
    assert [r.netdev for r in agent.provider.representors()] == ["pf0hpf", "pf0vf0"]
    # The CMS withdraws the port: it is unplugged (never vetoed).
    fake_sb_db.delete("Port_Binding", pb)
    report, _ = agent.iterate()
    assert outcome(report, "lsp1") == (Outcome.UNPLUGGED,)
    assert fake_interfaces(fake_ovs_db) == {}


def test_fake_idl_bad_options_plug_nothing(
    agent: Agent,
    fake_ovs_db: FakeDatabase,
    port_binding_factory: PortBindingFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port_binding_factory("lsp9", plug_type="representor", options=representor_options("1abc"))
    report, _ = agent.iterate()
    assert outcome(report, "lsp9") == (Outcome.DECLINED,)
    assert fake_interfaces(fake_ovs_db) == {}
    assert "lport lsp9: option vif-plug:representor:vf-num='1abc'" in caplog.text


# -- real daemons ------------------------------------------------------------


def real_idl(
    remote: str,
    schema: Path,
    register: Callable[[Any], None],
    indexes: Callable[[Any], None] | None,
) -> Any:
    helper = ovs.db.idl.SchemaHelper(location=str(schema))
    register(helper)
    idl = ovs.db.idl.Idl(remote, helper)
    if indexes is not None:
        indexes(idl)
    wait_until(lambda: idl.run() or idl.has_ever_connected(), what=f"IDL connected to {remote}")
    return idl


@pytest.fixture
def real_agent(ovn_stack: Sandbox, tmp_path: Path) -> Iterator[Agent]:
    ovs_idl = real_idl(ovn_stack.ovs_remote, DATABASES["Open_vSwitch"], register_ovs_columns, None)
    sb_idl = real_idl(
        ovn_stack.sb_remote, DATABASES["OVN_Southbound"], register_sb_columns, create_sb_indexes
    )
    agent = Agent(ovs_idl, sb_idl, tmp_path / "sys")
    yield agent
    agent.close()
    ovs_idl.close()
    sb_idl.close()


def add_lsp(stack: Sandbox, lport: str, vf_num: str) -> None:
    stack.nbctl(
        "--may-exist",
        "ls-add",
        "sw0",
        "--",
        "lsp-add",
        "sw0",
        lport,
        "--",
        "lsp-set-options",
        lport,
        "requested-chassis=hv1",
        "vif-plug-type=representor",
        f"{OPTION_PF_MAC}={PF_MAC}",
        f"{OPTION_VF_NUM}={vf_num}",
    )


def bridge_ports(stack: Sandbox) -> set[str]:
    return set(stack.vsctl("list-ports", "br-int").split())


def iface(stack: Sandbox, name: str) -> dict[str, Any]:
    out = stack.vsctl(
        "--format=json",
        "--data=json",
        "--columns=name,type,external_ids,ofport",
        "find",
        "Interface",
        f"name={name}",
    )
    table = json.loads(out)
    (values,) = table["data"]
    row = dict(zip(table["headings"], values, strict=True))
    row["external_ids"] = dict(row["external_ids"][1])
    return row


def sb_sees(agent: Agent, lport: str) -> bool:
    agent.sb_idl.run()
    return any(
        row.logical_port == lport for row in agent.sb_idl.tables["Port_Binding"].rows.values()
    )


def iterate_until(agent: Agent, lport: str, wanted: Outcome) -> ReconcileReport:
    def step() -> ReconcileReport | None:
        report, _ = agent.iterate()
        return report if wanted in outcome(report, lport) else None

    result = wait_until(step, what=f"{lport} {wanted.value}")
    assert result is not None
    return result


@pytest.mark.daemons
def test_real_daemons_plug_right_representor_late_vf_rename_and_delete(
    real_agent: Agent, ovn_stack: Sandbox
) -> None:
    kernel = real_agent.kernel
    # An LSP with pf-mac/vf-num gets the right representor plugged.
    add_lsp(ovn_stack, "lsp1", "1")
    wait_until(lambda: sb_sees(real_agent, "lsp1"), what="northd created lsp1's binding")
    iterate_until(real_agent, "lsp1", Outcome.PLUGGED)
    assert bridge_ports(ovn_stack) == {"pf0vf1"}
    row = iface(ovn_stack, "pf0vf1")
    assert row["type"] == ""
    assert row["external_ids"] == {"iface-id": "lsp1", "ovn-plugged": "representor"}
    wait_until(lambda: iface(ovn_stack, "pf0vf1")["ofport"] > 0, what="vswitchd added pf0vf1")

    # A second LSP whose VF does not exist yet: declined, nothing written.
    add_lsp(ovn_stack, "lsp2", "2")
    wait_until(lambda: sb_sees(real_agent, "lsp2"), what="northd created lsp2's binding")
    report, _ = real_agent.iterate()
    assert outcome(report, "lsp2") == (Outcome.DECLINED,)

    # The VF appears with the kernel's name and is renamed before the plug:
    # the final name is plugged, never the kernel's.
    kernel.add_vf("eth5", ifindex=1002, vf=2)
    report, changed = real_agent.iterate()
    assert changed
    assert outcome(report, "lsp2") == (Outcome.DECLINED,)
    kernel.rename(1002, "pf0vf2")
    iterate_until(real_agent, "lsp2", Outcome.PLUGGED)
    assert bridge_ports(ovn_stack) == {"pf0vf1", "pf0vf2"}

    # The VF is deleted: the lport is declined and its port left alone until
    # the CMS withdraws the LSP, which unplugs it.
    kernel.del_port(kernel.ports[("pci", "0000:03:00.0", 0x2002)])
    report, changed = real_agent.iterate()
    assert changed
    assert outcome(report, "lsp2") == (Outcome.DECLINED,)
    assert bridge_ports(ovn_stack) == {"pf0vf1", "pf0vf2"}
    ovn_stack.nbctl("lsp-del", "lsp2")
    iterate_until(real_agent, "lsp2", Outcome.UNPLUGGED)
    assert bridge_ports(ovn_stack) == {"pf0vf1"}
