"""Invariants of the decision rules over many random worlds, both policies."""

from __future__ import annotations

import random
from typing import TypedDict

import pytest
from tests.support.rules_world import BOTH, HV2, Recorder, World

from ovn_vif import Policy, Registry

LPORTS = [f"lp{i}" for i in range(8)] + ["a-very-long-logical-port-1", "a-very-long-logical-port-2"]


class _Options(TypedDict, total=False):
    """The lport options :func:`random_world` may set (``World.lsp`` keywords)."""

    vif_plug_mtu_request: str


def random_world(rng: random.Random) -> tuple[World, Recorder, Recorder, frozenset[str]]:
    w = World()
    dummy, other = Recorder("dummy"), Recorder("other")
    for lport in rng.sample(LPORTS, rng.randint(0, len(LPORTS))):
        options: _Options = {}
        if rng.random() < 0.3:
            options["vif_plug_mtu_request"] = rng.choice(["1400", "0", "-1", "9k", "1500"])
        w.lsp(
            lport,
            chassis=rng.choice([w.chassis, w.chassis, HV2, None]),
            plug_type=rng.choice(["dummy", "dummy", "other", "bogus", None]),
            type=rng.choice(["", "", "", "localport"]),
            **options,
        )
    names: set[str] = set()
    for _ in range(rng.randint(0, 8)):
        lport = rng.choice([*LPORTS, "orphan"])
        name = rng.choice([lport[:15], f"x{rng.randint(0, 5)}", "br-int", "eth0"])
        if name in names:
            continue
        names.add(name)
        w.add_iface(
            name,
            iface_id=rng.choice([lport, lport, None]),
            plugged=rng.choice(["dummy", "other", "bogus", None]),
            ofport=rng.choice([1, 2, None, -1]),
            on_bridge=rng.random() < 0.9,
            options={"vif-plug-dummy-option": rng.choice(["value", "x"])},
            mtu=rng.choice([None, 1400]),
        )
    for provider in (dummy, other):
        for lport in LPORTS:
            roll = rng.random()
            if roll < 0.1:
                provider.decline.add(lport)
            elif roll < 0.15:
                provider.veto.add(lport)
            elif roll < 0.2:
                provider.raise_in[lport] = rng.choice(["prepare_create", "prepare_remove"])
            elif roll < 0.3:
                provider.names[lport] = rng.choice(["x1", "x2", "eth0", "bad/name", lport[:15]])
    in_flight = frozenset(rng.sample(LPORTS, rng.randint(0, 2)))
    return w, dummy, other, in_flight


@pytest.mark.parametrize("policy", BOTH, ids=lambda p: p.value)
@pytest.mark.parametrize("seed", range(300))
def test_invariants(policy: Policy, seed: int) -> None:
    rng = random.Random(seed)
    w, dummy, other, in_flight = random_world(rng)
    registry = Registry()
    registry.register(dummy)
    registry.register(other)
    ovs, _ = w.views()
    can_unplug = rng.random() < 0.8
    plan = w.decide(registry, policy, can_unplug=can_unplug, in_flight=in_flight)

    # Every spec a provider handed out goes back exactly once: released now,
    # or finished/released by complete() (a pending call with a spec).
    for provider in (dummy, other):
        handed_out = sum(
            1
            for hook, lport in provider.calls
            if hook == "prepare_create"
            and lport not in provider.decline
            and provider.raise_in.get(lport) != "prepare_create"
        )
        pending = sum(1 for c in plan.pending if c.provider is provider and c.spec is not None)
        assert provider.count("release") + pending == handed_out

    # Nothing is done for lports in flight.
    assert not {d.lport for d in plan.decisions} & in_flight
    assert not {c.lport for c in plan.pending} & in_flight

    # Only OVN-plugged interfaces are updated or removed, removals only through
    # the provider named by ovn-plugged.
    for update in plan.updates:
        assert ovs.ifaces[update.iface].plugged_by is not None
    for remove in plan.removes:
        for iface_uuid in remove.ifaces:
            assert ovs.ifaces[iface_uuid].plugged_by is not None
    removal_calls = [c for c in plan.pending if c.spec is None]
    assert len(removal_calls) == len(plan.removes)
    for call, remove in zip(removal_calls, plan.removes, strict=True):
        assert call.provider.type == ovs.ifaces[remove.ifaces[0]].plugged_by

    # Creates never collide with each other nor with a foreign row.
    removed_names = {r.name for r in plan.removes}
    created = [c.name for c in plan.creates]
    assert len(created) == len(set(created))
    for create in plan.creates:
        holder = ovs.iface_by_name.get(create.name)
        foreign_port = ovs.port_by_name.get(create.name)
        assert ovs.others.describe(create.name) is None
        if create.name in removed_names:
            continue
        if policy is Policy.RECOMMENDED:
            assert holder is None
            assert foreign_port is None
        elif holder is not None:  # 23.03 re-creates its own row lacking an ofport
            assert holder.plugged_by is not None
            assert holder.iface_id == create.lport

    # Nothing is removed before unplugging is allowed.
    if not can_unplug:
        assert plan.removes == ()


@pytest.mark.parametrize("seed", range(300))
def test_recommended_converges(seed: int) -> None:
    """Applying the plans (as successful commits) reaches a state needing no write."""
    rng = random.Random(seed)
    w, dummy, other, _ = random_world(rng)
    registry = Registry()
    registry.register(dummy)
    registry.register(other)
    for _ in range(4):
        plan = w.decide(registry, Policy.RECOMMENDED)
        if not plan.changed:
            break
        w.apply(plan)
    else:
        pytest.fail(f"still writing after 4 rounds: {plan}")
