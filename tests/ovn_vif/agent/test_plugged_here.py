"""The agent's Southbound condition follows the plugged ports from changed rows only.

:class:`PluggedHere` must always agree with the engine's full read of the
integration bridge (``read_ovs(...).plugged_lports``), and read the whole
bridge again only when the change log cannot explain a change.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from ovn_vif import track_changes
from ovn_vif._engine.rows import read_iface
from ovn_vif._engine.snapshot import read_ovs
from ovn_vif.agent import _conditions, prepare_ovs_helper
from ovn_vif.agent._conditions import PluggedHere
from ovn_vif.testing import connect, ovs_database


class Local:
    """A fake local database with a tracked IDL, and random changes to it."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.db = ovs_database(system_id="hv1")
        self.idl = connect(self.db, prepare_ovs_helper, before_connect=track_changes)
        [root] = self.db.rows("Open_vSwitch")
        with self.db.batch() as t:
            other = t.insert("Bridge", name="br-other")
            t.update(
                "Open_vSwitch", root, bridges=[*self.db.get("Open_vSwitch", root)["bridges"], other]
            )
        self.idl.run()
        self.count = 0

    def bridge(self, name: str) -> uuid.UUID:
        [row] = self.db.find("Bridge", name=name)
        return row

    def ports(self, bridge: str) -> list[uuid.UUID]:
        return list(self.db.get("Bridge", self.bridge(bridge))["ports"])

    def external_ids(self) -> dict[str, str]:
        lport = f"lp{self.rng.randrange(8)}"  # few names: duplicates happen
        ids = {"iface-id": lport}
        if self.rng.random() < 0.7:
            ids["ovn-plugged"] = "dummy"
        return ids

    def add_port(self, bridge: str, ifaces: int = 1) -> None:
        self.count += 1
        with self.db.batch() as t:
            made = [
                t.insert(
                    "Interface",
                    name=f"if{self.count}-{i}",
                    external_ids=self.external_ids(),
                )
                for i in range(ifaces)
            ]
            port = t.insert("Port", name=f"p{self.count}", interfaces=made)
            br = self.bridge(bridge)
            t.update("Bridge", br, ports=[*self.db.get("Bridge", br)["ports"], port])

    def change(self) -> None:
        """One random change of the bridges, ports or interfaces."""
        action = self.rng.choice(
            [
                "add",
                "add2",
                "add_other",
                "retag",
                "untag",
                "move",
                "detach",
                "delete",
                "share",
                "ofport",
            ]
        )
        ours = [p for p in self.ports("br-int") if self.db.get("Port", p)["name"] != "br-int"]
        if action in ("add", "add2", "add_other") or not ours:
            bridge = "br-other" if action == "add_other" else "br-int"
            self.add_port(bridge, 2 if action == "add2" else 1)
            return
        port = self.rng.choice(ours)
        ifaces = list(self.db.get("Port", port)["interfaces"])
        if action == "retag":
            self.db.update("Interface", self.rng.choice(ifaces), external_ids=self.external_ids())
        elif action == "untag":
            self.db.update("Interface", self.rng.choice(ifaces), external_ids={})
        elif action == "ofport":  # a column the tracker does not read
            self.db.update("Interface", self.rng.choice(ifaces), ofport=[self.rng.randrange(1, 99)])
        elif action in ("move", "detach", "delete"):
            with self.db.batch() as t:
                br = self.bridge("br-int")
                t.update("Bridge", br, ports=[p for p in self.ports("br-int") if p != port])
                if action == "move":
                    other = self.bridge("br-other")
                    t.update("Bridge", other, ports=[*self.ports("br-other"), port])
                elif action == "delete":
                    # Its Interfaces go too, unless another Port holds them.
                    t.delete("Port", port)
        else:  # share: another Port of the bridge also holds this Interface
            others = [p for p in ours if p != port]
            if others:
                target = self.rng.choice(others)
                held = list(self.db.get("Port", target)["interfaces"])
                self.db.update("Port", target, interfaces=[*held, ifaces[0]])

    def expected(self) -> frozenset[str]:
        return read_ovs(self.idl, "br-int").plugged_lports


def test_follows_random_changes_like_a_full_read() -> None:
    for seed in range(5):
        local = Local(seed)
        tracker = PluggedHere()
        tracker.update(local.idl, "br-int")
        assert tracker.lports == local.expected()
        versions = tracker.version
        for _ in range(60):
            before = tracker.lports
            local.change()
            local.idl.run()
            tracker.update(local.idl, "br-int")
            assert tracker.lports == local.expected()
            if tracker.lports != before:
                assert tracker.version > versions
            versions = tracker.version
        # Only the first look read the whole bridge.
        assert tracker.full_reads == 1
        local.idl.close()


def test_reads_again_when_the_bridge_goes_or_changes() -> None:
    local = Local(0)
    tracker = PluggedHere()
    for _ in range(4):
        local.add_port("br-int")
    local.db.update(
        "Interface",
        local.db.find("Interface", name="if1-0")[0],
        external_ids={"iface-id": "x", "ovn-plugged": "dummy"},
    )
    local.idl.run()
    tracker.update(local.idl, "br-int")
    assert "x" in tracker.lports
    # Another bridge setting: read from the start.
    tracker.update(local.idl, "br-other")
    assert tracker.lports == read_ovs(local.idl, "br-other").plugged_lports
    assert tracker.full_reads == 2
    tracker.update(local.idl, "br-int")
    # The bridge deleted, then another bridge named br-int.
    [root] = local.db.rows("Open_vSwitch")
    other = local.bridge("br-other")
    local.db.update("Open_vSwitch", root, bridges=[other])
    local.idl.run()
    tracker.update(local.idl, "br-int")
    assert tracker.lports == frozenset()
    with local.db.batch() as t:
        iface = t.insert("Interface", name="y", external_ids={"iface-id": "y", "ovn-plugged": "d"})
        port = t.insert("Port", name="y", interfaces=[iface])
        br = t.insert("Bridge", name="br-int", ports=[port])
        t.update("Open_vSwitch", root, bridges=[other, br])
    local.idl.run()
    tracker.update(local.idl, "br-int")
    assert tracker.lports == {"y"}
    assert tracker.lports == local.expected()
    local.idl.close()


def test_a_change_of_a_column_it_does_not_read_is_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``ovs-vswitchd`` setting the ofport of every plugged Interface (after
    a burst of plugs, all of them) costs the tracker no read; a change of
    ``external_ids`` is read."""
    local = Local(0)
    for _ in range(3):
        local.add_port("br-int")
    local.idl.run()
    tracker = PluggedHere()
    tracker.update(local.idl, "br-int")
    reads: list[object] = []
    real = read_iface

    def counted(row: Any, **kw: Any) -> Any:
        reads.append(row)
        return real(row, **kw)

    monkeypatch.setattr(_conditions, "read_iface", counted)
    ifaces = [i for p in local.ports("br-int") for i in local.db.get("Port", p)["interfaces"]]
    with local.db.batch() as t:
        for n, iface in enumerate(ifaces):
            t.update("Interface", iface, ofport=[n + 1])
    local.idl.run()
    tracker.update(local.idl, "br-int")
    assert reads == []
    local.db.update("Interface", ifaces[0], external_ids={"iface-id": "moved"})
    local.idl.run()
    tracker.update(local.idl, "br-int")
    assert len(reads) == 1
    assert tracker.lports == local.expected()
    assert tracker.full_reads == 1
    local.idl.close()
