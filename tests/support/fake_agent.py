"""An :class:`~ovn_vif.agent.Agent` run in-process on the fake IDL (``ovn_vif.testing``)."""

from __future__ import annotations

from typing import Any

from ovn_vif import Policy, ReconcileReport, Registry, create_sb_indexes
from ovn_vif.agent import Agent, AgentConfig, prepare_ovs_helper, prepare_sb_helper
from ovn_vif.testing import PortBindingFactory, add_chassis, connect, ovs_database, sb_database
from ovn_vif_dummy import DummyProvider

TIMEOUT = 30.0


class World:
    """Fake local and SB databases, and an agent started on them."""

    def __init__(self, *, chassis_row: bool = True, policy: Policy = Policy.RECOMMENDED) -> None:
        self.ovs_db = ovs_database(system_id="hv1")
        self.sb_db = sb_database(chassis="hv1")
        if not chassis_row:
            [row] = self.sb_db.find("Chassis", name="hv1")
            self.sb_db.delete("Chassis", row)
        add_chassis(self.sb_db, "hv2", encap_ip="192.0.2.2")
        self.add_binding = PortBindingFactory(self.sb_db, chassis="hv1")
        self.registry = Registry()
        self.registry.register(DummyProvider())
        self.reports: list[tuple[ReconcileReport, str]] = []
        self.agent = Agent(
            AgentConfig(policy=policy),
            self.registry,
            on_report=lambda r, s: self.reports.append((r, s)),
        )
        self.ovs_idl = connect(self.ovs_db, prepare_ovs_helper)
        self.sb_idl = connect(self.sb_db, prepare_sb_helper, before_connect=create_sb_indexes)
        self.agent.start(ovs_idl=self.ovs_idl, sb_idl=self.sb_idl)

    def plugged(self) -> dict[str, dict[str, Any]]:
        return {
            row["external_ids"]["iface-id"]: row
            for row in self.ovs_db.rows("Interface").values()
            if "ovn-plugged" in row["external_ids"]
        }

    def run_until(self, condition: Any) -> None:
        assert self.agent.run_until(condition, timeout=TIMEOUT), "condition not reached"

    def run_until_done(self, condition: Any) -> None:
        """Until *condition* holds and the agent has nothing left to do."""
        self.run_until(condition)
        self.settle()

    def settle(self) -> None:
        self.run_until(lambda: self.agent.idle)

    def statuses(self) -> list[str]:
        return [status for report, status in self.reports if report.changed]

    def close(self) -> None:
        self.agent.close()
        self.registry.destroy_all()
        self.ovs_idl.close()
        self.sb_idl.close()
