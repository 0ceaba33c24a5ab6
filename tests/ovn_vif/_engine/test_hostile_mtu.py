"""Hostile ``vif-plug-mtu-request`` values: bounded parsing, a warning for
each unusable value, and, with the OVN-compatible policy, exactly the
``mtu_request`` ovn-controller 23.03 writes (checked against the real one)."""

from __future__ import annotations

import logging
import re

import pytest
from tests.support.engine_driver import EngineDriver, switch_rows
from tests.support.rules_world import BOTH, Recorder, World

from ovn_vif import Policy, Registry
from ovn_vif.sandbox import Sandbox
from ovn_vif_dummy import DummyProvider

HUGE = "9" * 10_000
PADDED = "0" * 5_000 + "1400"

#: raw value -> (mtu_request OVN-compatible writes = 23.03's, RECOMMENDED's, warned)
CASES: dict[str, tuple[int | None, int | None, bool]] = {
    "1400": (1400, 1400, False),
    " 1500": (1500, 1500, False),
    "+1600": (1600, 1600, False),
    "65535": (65535, 65535, False),
    "68": (68, 68, False),
    PADDED: (1400, 1400, False),
    "70000": (70000, None, True),
    "65536": (65536, None, True),
    "67": (67, None, True),
    "1": (1, None, True),
    "2147483647": (2147483647, None, True),
    "2147483648": (None, None, True),
    "-2147483648": (None, None, True),
    "0": (None, None, True),
    "-5": (None, None, True),
    HUGE: (None, None, True),
    "-" + HUGE: (None, None, True),
    "1400 ": (None, None, True),
    "0x10": (None, None, True),
    "14\n00": (None, None, True),
}


def lport_for(index: int) -> str:
    return f"m{index}"


@pytest.mark.parametrize("policy", BOTH, ids=lambda p: p.value)
def test_each_hostile_mtu_value(policy: Policy, caplog: pytest.LogCaptureFixture) -> None:
    w = World()
    for index, raw in enumerate(CASES):
        w.lsp(lport_for(index), vif_plug_mtu_request=raw)
    reg = Registry()
    reg.register(Recorder())
    caplog.set_level(logging.WARNING, logger="ovn_vif")
    plan = w.decide(reg, policy)
    created = {c.lport: c.mtu_request for c in plan.creates}
    assert len(created) == len(CASES)
    for index, (raw, (compatible, recommended, warned)) in enumerate(CASES.items()):
        lport = lport_for(index)
        want = compatible if policy is Policy.OVN_COMPATIBLE else recommended
        assert created[lport] == want, (raw[:20], policy)
        lines = [r for r in caplog.records if re.search(rf"lport {lport}\b", r.getMessage())]
        assert bool(lines) == warned, (raw[:20], [r.getMessage() for r in lines])
    for record in caplog.records:
        message = record.getMessage()
        assert "\n" not in message
        assert len(message) < 1000


@pytest.mark.parametrize("policy", BOTH, ids=lambda p: p.value)
def test_an_out_of_range_update(policy: Policy) -> None:
    w = World()
    w.lsp("lsp1", vif_plug_mtu_request="70000")
    w.plugged("lsp1", mtu=1400)
    reg = Registry()
    reg.register(Recorder())
    (update,) = w.decide(reg, policy).updates
    if policy is Policy.OVN_COMPATIBLE:
        assert update.set_mtu_request == 70000
    else:
        assert update.clear_mtu_request


@pytest.mark.daemons
def test_compatible_writes_what_ovn_controller_writes(
    reference_stack: Sandbox,
) -> None:
    """The real ovn-controller 23.03 and the OVN-compatible engine, same LSPs."""
    with Sandbox("hv1") as engine_stack:
        registry = Registry()
        registry.register(DummyProvider())
        driver = EngineDriver(
            engine_stack.ovs_remote, engine_stack.sb_remote, registry, Policy.OVN_COMPATIBLE
        )
        try:
            for stack in (reference_stack, engine_stack):
                cmd: list[str] = ["--may-exist", "ls-add", "sw0"]
                for index, raw in enumerate(CASES):
                    lport = lport_for(index)
                    cmd += ["--", "lsp-add", "sw0", lport, "--", "lsp-set-options", lport]
                    cmd += ["requested-chassis=hv1", "vif-plug-type=dummy"]
                    cmd += [f"vif-plug-mtu-request={raw}"]
                stack.nbctl(*cmd)
            reference_stack.nbctl("--wait=hv", "sync")
            engine_stack.nbctl("--wait=sb", "sync")
            driver.settle()

            def mtus(stack: Sandbox) -> dict[str, int | None]:
                return {n: r["mtu_request"] for n, r in switch_rows(stack.vsctl).items()}

            want = {lport_for(i): c[0] for i, c in enumerate(CASES.values())}
            reference_stack.wait_until(
                lambda: mtus(reference_stack) == want, what="the reference's mtu_request values"
            )
            assert mtus(engine_stack) == mtus(reference_stack) == want
        finally:
            driver.close()
