"""The incremental runs' index of Port and Interface names answers as a full read does."""

from __future__ import annotations

import random

import pytest

from ovn_vif import track_changes
from ovn_vif._engine.incremental import NameIndex
from ovn_vif._engine.rows import IdlNames
from ovn_vif.agent import prepare_ovs_helper
from ovn_vif.testing import connect, ovs_database


def test_answers_like_a_full_read_through_changes() -> None:
    db = ovs_database(system_id="hv1")
    idl = connect(db, prepare_ovs_helper, before_connect=track_changes)
    index = NameIndex()
    names = ["br-int", "a", "b", "c", "nothing"]

    def check() -> None:
        idl.run()
        full = IdlNames(idl)
        lookup = index.lookup(idl)
        for name in names:
            assert lookup.describe(name) == full.describe(name), name

    check()
    [br] = db.find("Bridge", name="br-int")
    for name in ("a", "b"):
        with db.batch() as t:
            iface = t.insert("Interface", name=name)
            port = t.insert("Port", name=name, interfaces=[iface])
            t.update("Bridge", br, ports=[*db.get("Bridge", br)["ports"], port])
        check()
    # An Interface named c in the Port named a; then the Port a goes.
    [port_a] = db.find("Port", name="a")
    with db.batch() as t:
        iface = t.insert("Interface", name="c")
        t.update("Port", port_a, interfaces=[*db.get("Port", port_a)["interfaces"], iface])
    check()
    db.update("Bridge", br, ports=[p for p in db.get("Bridge", br)["ports"] if p != port_a])
    check()
    assert index.lookup(idl).describe("a") is None
    idl.close()


def test_a_lookup_answers_as_of_its_first_question_like_a_full_read() -> None:
    """A lookup belongs to one view of the IDL: it reads the changed rows at
    its first question only (a run asks once per port it plugs), as
    IdlNames reads every row then; the next run's lookup sees what changed."""
    db = ovs_database(system_id="hv1")
    idl = connect(db, prepare_ovs_helper, before_connect=track_changes)
    index = NameIndex()
    idl.run()
    lookup, full = index.lookup(idl), IdlNames(idl)
    assert lookup.describe("late") is None
    assert full.describe("late") is None
    [br] = db.find("Bridge", name="br-int")
    with db.batch() as t:
        iface = t.insert("Interface", name="late")
        port = t.insert("Port", name="late-port", interfaces=[iface])
        t.update("Bridge", br, ports=[*db.get("Bridge", br)["ports"], port])
    idl.run()
    assert lookup.describe("late") is None
    assert full.describe("late") is None
    assert index.lookup(idl).describe("late") == IdlNames(idl).describe("late") is not None
    idl.close()


@pytest.mark.parametrize("seed", range(4))
def test_answers_like_a_full_read_through_random_changes(seed: int) -> None:
    """Rows inserted, deleted, and changed in columns the index does not
    read (its change log leaves those out; ``name`` is immutable in this
    schema): after each step it answers every name as a full read does."""
    rng = random.Random(seed)
    db = ovs_database(system_id="hv1")
    idl = connect(db, prepare_ovs_helper, before_connect=track_changes)
    index = NameIndex()
    pool = [f"n{i}" for i in range(8)]
    [br] = db.find("Bridge", name="br-int")
    for step in range(40):
        on_bridge = db.get("Bridge", br)["ports"]
        ours = [p for p in on_bridge if db.get("Port", p)["name"] != "br-int"]
        # Names are unique in each table (an index of the schema).
        free = {
            table: [n for n in pool if not db.find(table, name=n)]
            for table in ("Port", "Interface")
        }
        roll = rng.random()
        if (roll < 0.35 or not ours) and free["Port"] and free["Interface"]:
            with db.batch() as t:
                iface = t.insert("Interface", name=rng.choice(free["Interface"]))
                port = t.insert("Port", name=rng.choice(free["Port"]), interfaces=[iface])
                t.update("Bridge", br, ports=[*on_bridge, port])
        elif not ours:
            continue
        elif roll < 0.55:
            # Off the bridge: the server drops the Port and its Interfaces.
            gone = rng.choice(ours)
            db.update("Bridge", br, ports=[p for p in on_bridge if p != gone])
        else:
            # Columns the index does not read, as ovs-vswitchd and
            # ovn-controller change them after a plug.
            db.update(
                "Interface",
                rng.choice(db.get("Port", rng.choice(ours))["interfaces"]),
                ofport=[rng.randrange(1, 100)],
                external_ids={"ovn-installed": str(step)},
            )
        idl.run()
        full = IdlNames(idl)
        lookup = index.lookup(idl)
        for name in [*pool, "br-int"]:
            assert lookup.describe(name) == full.describe(name), (step, name)
    idl.close()
