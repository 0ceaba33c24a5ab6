"""Incremental runs: with change tracking, one change asks about one lport.

Run it with ``python docs/examples/incremental_engine.py``.
"""

from __future__ import annotations

import ovs.db.idl

from ovn_vif import (
    PlugSpec,
    Policy,
    PortContext,
    Reconciler,
    Registry,
    VifPlugProvider,
    create_sb_indexes,
    register_ovs_columns,
    register_sb_columns,
    track_changes,
)
from ovn_vif.testing import PortBindingFactory, connect, ovs_database, sb_database


class Counting(VifPlugProvider):
    type = "counting"
    asked = 0

    def prepare_create(self, ctx: PortContext) -> PlugSpec:
        self.asked += 1
        return PlugSpec(name=f"tap-{ctx.lport_name}", type="internal")


def main() -> None:
    ovs_db, sb_db = ovs_database(system_id="hv1"), sb_database(chassis="hv1")
    add_binding = PortBindingFactory(sb_db)
    for i in range(100):
        add_binding(f"lp{i}", plug_type="counting")

    def sb_setup(idl: ovs.db.idl.Idl) -> None:
        create_sb_indexes(idl)
        track_changes(idl)  # before the first run(), like the indexes

    ovs_idl = connect(ovs_db, register_ovs_columns, before_connect=track_changes)
    sb_idl = connect(sb_db, register_sb_columns, before_connect=sb_setup)
    provider = Counting()
    registry = Registry()
    registry.register(provider)
    rec = Reconciler(registry, policy=Policy.RECOMMENDED)

    def iteration(label: str, *, providers_changed: bool = False) -> None:
        ovs_idl.run()
        sb_idl.run()
        provider.asked = 0
        txn = ovs.db.idl.Transaction(ovs_idl)
        report = rec.reconcile(
            ovs_idl,
            sb_idl,
            txn,
            chassis="hv1",
            can_unplug=True,
            providers_changed=providers_changed,
        )
        rec.complete(txn.commit_block(), txn=txn)
        print(f"{label}: {len(report)} decision(s), provider asked {provider.asked} time(s)")

    iteration("first run (full)")
    iteration("own commit comes back")
    lp7 = sb_db.find("Port_Binding", logical_port="lp7")[0]
    sb_db.update(
        "Port_Binding",
        lp7,
        options={
            "requested-chassis": "hv1",
            "vif-plug-type": "counting",
            "vif-plug-mtu-request": "9000",
        },
    )
    iteration("MTU of lp7 changed")
    iteration("lp7's update comes back")
    iteration("a provider's run() said True", providers_changed=True)
    rec.recompute()
    iteration("after recompute()")
    print(f"runs: {rec.full_runs} full, {rec.incremental_runs} incremental")


if __name__ == "__main__":
    main()
