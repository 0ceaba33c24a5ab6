"""A run after a reconnection that reloaded the Southbound decides again.

Regression test: the recommended policy skips a full run when nothing can
have changed since the previous full run found every lport in sync. It
used to judge "nothing changed" by whether its copy of the databases was
rebuilt *during this call*, so a caller that asked for :meth:`snapshot`
between two runs (the agent does, to compute its Southbound monitor
condition) made it skip every later full run once an earlier full run had
been quiet. A reconnection after which the change log cannot explain the
Southbound's changes (the IDL dropped its rows and reloaded them, as after
a condition change that was in flight when the connection broke, or a
whole-cluster restart) then left the engine deciding nothing, for good.
"""

from __future__ import annotations

import uuid
from typing import Any

import ovs.db.idl
import pytest

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


class Plugs(VifPlugProvider):
    type = "det"

    def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
        return PlugSpec(name=f"tap-{ctx.lport_name}", type="internal")


def _sync(*idls: Any) -> None:
    for _ in range(4):
        for idl in idls:
            idl.run()


def _run(rec: Reconciler, ovs_idl: Any, sb_idl: Any, *, snapshot_first: bool) -> list[str]:
    if snapshot_first:
        # What the agent does before each run (its monitor condition).
        rec.snapshot(ovs_idl, sb_idl, chassis="hv1", bridge="br-int")
    txn = ovs.db.idl.Transaction(ovs_idl)
    report = rec.reconcile(
        ovs_idl, sb_idl, txn, chassis="hv1", can_unplug=True, providers_changed=False
    )
    status = txn.commit_block()
    rec.complete(status, txn=txn)
    assert status in ("success", "unchanged"), txn.get_error()
    _sync(ovs_idl, sb_idl)
    return sorted(d.lport for d in report.decisions)


def _plugged(ovs_idl: Any) -> set[str]:
    return {
        row.external_ids["iface-id"]
        for row in ovs_idl.tables["Interface"].rows.values()
        if "ovn-plugged" in row.external_ids
    }


@pytest.mark.parametrize("snapshot_first", [True, False], ids=["snapshot-between-runs", "plain"])
def test_a_full_reload_of_the_southbound_is_decided_again(snapshot_first: bool) -> None:
    ovs_db = ovs_database(system_id="hv1")
    sb_db = sb_database(chassis="hv1")
    pbs = PortBindingFactory(sb_db)
    registry = Registry()
    registry.register(Plugs())

    def sb_setup(idl: Any) -> None:
        create_sb_indexes(idl)
        track_changes(idl)

    ovs_idl = connect(ovs_db, register_ovs_columns, before_connect=track_changes)
    sb_idl = connect(sb_db, register_sb_columns, before_connect=sb_setup)
    rec = Reconciler(registry, policy=Policy.RECOMMENDED)

    # A first, quiet, full run: nothing is requested yet.
    assert _run(rec, ovs_idl, sb_idl, snapshot_first=snapshot_first) == []
    # An incremental run plugs the first lport.
    pbs("lp1", plug_type="det", requested_chassis="hv1")
    _sync(ovs_idl, sb_idl)
    assert _run(rec, ovs_idl, sb_idl, snapshot_first=snapshot_first) == ["lp1"]
    assert _plugged(ovs_idl) == {"lp1"}

    # The Southbound connection breaks and the server no longer knows the
    # last transaction the IDL saw (a restarted cluster, or a condition
    # change in flight): the IDL drops its rows and reloads them, so the
    # change log cannot say what changed. A new lport arrived meanwhile.
    sb_idl.last_id = str(uuid.UUID(int=0))
    sb_idl.force_reconnect()
    pbs("lp2", plug_type="det", requested_chassis="hv1")
    _sync(ovs_idl, sb_idl)
    assert {r.logical_port for r in sb_idl.tables["Port_Binding"].rows.values()} == {"lp1", "lp2"}

    decided = _run(rec, ovs_idl, sb_idl, snapshot_first=snapshot_first)
    assert "lp2" in decided
    assert _plugged(ovs_idl) == {"lp1", "lp2"}
