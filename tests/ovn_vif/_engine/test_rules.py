"""Pure decision tests: every rule, both policies, no database."""

from __future__ import annotations

import logging

import pytest
from tests.support.rules_world import BOTH, HV1, HV2, Recorder, World

from ovn_vif import Outcome, PlugSpec, Policy, Reason, Registry
from ovn_vif._engine.eligibility import CanBind, can_bind, parse_mtu_request

COMPAT = Policy.OVN_COMPATIBLE
RECOMMENDED = Policy.RECOMMENDED


@pytest.fixture
def dummy() -> Recorder:
    return Recorder()


@pytest.fixture
def registry(dummy: Recorder) -> Registry:
    reg = Registry()
    reg.register(dummy)
    return reg


def outcomes(plan) -> dict[str, tuple[Outcome, ...]]:  # type: ignore[no-untyped-def]
    result: dict[str, tuple[Outcome, ...]] = {}
    for d in plan.decisions:
        result[d.lport] = (*result.get(d.lport, ()), d.outcome)
    return result


# --- can_bind / MTU parsing --------------------------------------------------


def test_can_bind_by_column_option_name_and_hostname() -> None:
    w = World()
    assert can_bind(HV1, w.lsp("a")) is CanBind.MAIN
    assert can_bind(HV1, w.lsp("b", chassis=None, requested="")) is CanBind.MAIN
    assert can_bind(HV1, w.lsp("c", chassis=None, requested=None)) is CanBind.MAIN
    assert can_bind(HV1, w.lsp("d", chassis=None, requested="host1")) is CanBind.MAIN
    assert can_bind(HV1, w.lsp("e", chassis=None, requested="hv2,hv1")) is CanBind.ADDITIONAL
    assert can_bind(HV1, w.lsp("f", chassis=None, requested=",,hv1")) is CanBind.MAIN
    assert can_bind(HV1, w.lsp("g", chassis=HV2, additional=(HV1,))) is CanBind.ADDITIONAL
    assert can_bind(HV1, w.lsp("h", chassis=None, requested="hv-other")) is CanBind.CANNOT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1400", (1400, None)),
        (" 9000", (9000, None)),
        ("+1500", (1500, None)),
        ("0", (0, None)),
        ("-5", (0, None)),
        ("9k", (0, "'9k' is not an integer")),
        ("", (0, "'' is not an integer")),
        ("1500 ", (0, "'1500 ' is not an integer")),
        ("0x10", (0, "'0x10' is not an integer")),
        ("99999999999", (0, "'99999999999' is out of range")),
        ("١٢٣", (0, "'١٢٣' is not an integer")),
    ],
)
def test_parse_mtu_request(raw: str, expected: tuple[int, str | None]) -> None:
    assert parse_mtu_request({"vif-plug-mtu-request": raw}) == expected
    assert parse_mtu_request({}) == (0, None)


# --- creates -------------------------------------------------------------------


@pytest.mark.parametrize("policy", BOTH)
def test_create_writes_the_dummy_rows(registry: Registry, dummy: Recorder, policy: Policy) -> None:
    w = World()
    w.lsp("lsp1", vif_plug_mtu_request="1400")
    plan = w.decide(registry, policy)
    assert outcomes(plan) == {"lsp1": (Outcome.PLUGGED,)}
    (create,) = plan.creates
    assert create.name == "lsp1"
    assert create.type == "internal"
    assert create.external_ids == {"ovn-plugged": "dummy", "iface-id": "lsp1"}
    assert create.options == {"vif-plug-dummy-option": "value"}
    assert create.mtu_request == 1400
    assert [(c.lport, c.spec is not None) for c in plan.pending] == [("lsp1", True)]


@pytest.mark.parametrize("policy", BOTH)
def test_long_lport_name_is_cut_by_the_provider(registry: Registry, policy: Policy) -> None:
    w = World()
    w.lsp("a-very-long-logical-port-name", vif_plug_mtu_request="9000")
    (create,) = w.decide(registry, policy).creates
    assert create.name == "a-very-long-log"
    assert create.external_ids["iface-id"] == "a-very-long-logical-port-name"


@pytest.mark.parametrize("policy", BOTH)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"plug_type": None},  # no vif-plug-type
        {"type": "localport"},  # not a plain VIF
        {"parent": "vm1"},  # container port
        {"chassis": None, "requested": None},  # no requested-chassis
        {"chassis": HV2, "additional": (HV1,)},  # additional chassis only
        {"chassis": HV2},  # another chassis
    ],
)
def test_not_plugged(registry: Registry, policy: Policy, kwargs: dict[str, object]) -> None:
    w = World()
    w.lsp("lsp1", **kwargs)  # type: ignore[arg-type]
    plan = w.decide(registry, policy)
    assert plan.decisions == ()
    assert not plan.changed


@pytest.mark.parametrize("policy", BOTH)
def test_unknown_plug_type_is_refused_with_rate_limited_warning(
    registry: Registry, policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    w = World()
    w.lsp("lsp4", plug_type="bogus")
    caplog.set_level(logging.WARNING)
    plan = w.decide(registry, policy)
    assert not plan.changed
    assert {d.reason for d in plan.decisions} == {Reason.UNKNOWN_PLUG_TYPE}
    assert "Unable to open VIF plug provider for vif-plug-type: 'bogus' lport lsp4" in caplog.text


@pytest.mark.parametrize("policy", BOTH)
def test_no_mtu_when_request_is_bad(
    registry: Registry, policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    w = World()
    w.lsp("lsp1", vif_plug_mtu_request="jumbo")
    caplog.set_level(logging.WARNING)
    (create,) = w.decide(registry, policy).creates
    assert create.mtu_request is None
    assert "Ignoring vif-plug-mtu-request of lport lsp1" in caplog.text


# --- updates -------------------------------------------------------------------


@pytest.mark.parametrize("policy", BOTH)
def test_in_sync_port_writes_nothing(registry: Registry, dummy: Recorder, policy: Policy) -> None:
    w = World()
    w.lsp("lsp1")
    w.plugged("lsp1")
    plan = w.decide(registry, policy)
    assert not plan.changed
    assert plan.decisions == ()
    assert dummy.count("prepare_create", "lsp1") == 1
    if policy is COMPAT:  # OVN parks every update until the commit is done
        assert [c.lport for c in plan.pending] == ["lsp1"]
    else:  # released at once
        assert plan.pending == ()
        assert dummy.count("release", "lsp1") == 1


@pytest.mark.parametrize("policy", BOTH)
def test_update_mtu_options_and_external_ids(registry: Registry, policy: Policy) -> None:
    w = World()
    w.lsp("lsp1", vif_plug_mtu_request="1400")
    w.plugged(
        "lsp1",
        mtu=1500,
        external_ids={"mine": "x", "iface-id": "lsp1"},
    )
    iface = next(iter(w.ifaces.values()))
    w.replace_iface(
        iface,
        options={"foo": "bar", "vif-plug-dummy-option": "changed"},
        external_ids={"mine": "x", "iface-id": "lsp1", "ovn-plugged": "dummy"},
    )
    plan = w.decide(registry, policy)
    assert outcomes(plan) == {"lsp1": (Outcome.UPDATED,)}
    (update,) = plan.updates
    assert update.set_mtu_request == 1400
    assert update.set_options == {"vif-plug-dummy-option": "value"}
    assert update.del_options == frozenset()  # foo=bar is not maintained: kept
    assert update.set_external_ids == {}  # mine=x kept, nothing to add
    assert update.set_type is None


@pytest.mark.parametrize("policy", BOTH)
def test_update_clears_mtu_and_removes_maintained_option(
    registry: Registry, dummy: Recorder, policy: Policy
) -> None:
    w = World()
    w.lsp("lsp1")
    iface = w.plugged("lsp1", mtu=1400)
    w.replace_iface(iface, type="", external_ids={"iface-id": "lsp1", "ovn-plugged": "old"})
    dummy.maintained = frozenset({"vif-plug-dummy-option", "gone"})
    w.replace_iface(w.ifaces[iface.uuid], options={"gone": "1", "vif-plug-dummy-option": "value"})
    (update,) = w.decide(registry, policy).updates
    assert update.clear_mtu_request
    assert update.del_options == {"gone"}
    assert update.set_type == "internal"
    assert update.set_external_ids == {"ovn-plugged": "dummy"}


@pytest.mark.parametrize("policy", BOTH)
def test_update_mode_without_maintained_set_never_removes(
    registry: Registry, dummy: Recorder, policy: Policy
) -> None:
    dummy.maintained = None
    w = World()
    w.lsp("lsp1")
    iface = w.plugged("lsp1")
    w.replace_iface(iface, options={"other": "1"})
    (update,) = w.decide(registry, policy).updates
    assert update.set_options == {"vif-plug-dummy-option": "value"}
    assert update.del_options == frozenset()


# --- never touch what OVN did not plug -----------------------------------------


@pytest.mark.parametrize("policy", BOTH)
def test_interface_not_plugged_by_ovn_blocks_plugging(
    registry: Registry, dummy: Recorder, policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    w = World()
    w.add_iface("vif3", iface_id="lsp3")
    w.lsp("lsp3")
    caplog.set_level(logging.WARNING)
    plan = w.decide(registry, policy)
    assert not plan.changed
    assert {d.reason for d in plan.decisions} == {Reason.NOT_PLUGGED_BY_OVN}
    assert "CMS requested plugging of lport lsp3" in caplog.text
    assert dummy.count("prepare_create") == 0


@pytest.mark.parametrize("policy", BOTH)
def test_foreign_binding_wins_over_our_plugged_port(registry: Registry, policy: Policy) -> None:
    w = World()
    w.lsp("lsp3")
    w.plugged("lsp3")
    w.add_iface("vif3b", iface_id="lsp3")
    plan = w.decide(registry, policy)
    assert not plan.changed
    assert Reason.NOT_PLUGGED_BY_OVN in {d.reason for d in plan.decisions}


@pytest.mark.parametrize("policy", BOTH)
def test_foreign_iface_without_ofport_does_not_block(registry: Registry, policy: Policy) -> None:
    w = World()
    w.add_iface("vif3", iface_id="lsp3", ofport=-1)
    w.lsp("lsp3")
    assert outcomes(w.decide(registry, policy)) == {"lsp3": (Outcome.PLUGGED,)}


@pytest.mark.parametrize("policy", BOTH)
@pytest.mark.parametrize("lport", ["br-int", "eth0"])
def test_name_collision_is_refused(
    registry: Registry, policy: Policy, lport: str, caplog: pytest.LogCaptureFixture
) -> None:
    w = World()
    w.add_iface("br-int")  # the bridge's own port
    w.others["eth0"] = "a Port named eth0 exists on br-phys"
    w.lsp(lport)
    caplog.set_level(logging.WARNING)
    plan = w.decide(registry, policy)
    assert not plan.changed
    (decision,) = plan.decisions
    assert decision.reason is Reason.NAME_COLLISION
    assert f"Not plugging lport {lport} as port {lport}" in caplog.text


@pytest.mark.parametrize("policy", BOTH)
def test_two_lports_one_name_only_first_plugged(registry: Registry, policy: Policy) -> None:
    w = World()
    w.lsp("a-very-long-logical-port-1")
    w.lsp("a-very-long-logical-port-2")
    plan = w.decide(registry, policy)
    assert [c.lport for c in plan.creates] == ["a-very-long-logical-port-1"]
    reasons = {d.lport: d.reason for d in plan.decisions}
    assert reasons["a-very-long-logical-port-2"] is Reason.NAME_COLLISION


@pytest.mark.parametrize("policy", BOTH)
def test_orphan_unplug_never_touches_unplugged_interfaces(
    registry: Registry, dummy: Recorder, policy: Policy
) -> None:
    w = World()
    w.add_iface("vif1", iface_id="nonexist")  # no ovn-plugged
    w.add_iface("vif2", plugged="dummy")  # no iface-id
    plan = w.decide(registry, policy)
    assert plan.decisions == ()
    assert dummy.calls == []


# --- provider output and errors -------------------------------------------------


@pytest.mark.parametrize("policy", BOTH)
@pytest.mark.parametrize(
    "bad", ["", "x" * 16, "a/b", "a b", "a:b", "tab\tx", "nul\x00", PlugSpec, "ok"]
)
def test_invalid_provider_output_is_refused(
    registry: Registry, dummy: Recorder, policy: Policy, bad: object
) -> None:
    w = World()
    w.lsp("lsp1")
    w.lsp("lsp2")
    if bad == "ok":
        dummy.invalid["lsp1"] = {"name": "lsp1"}  # not a PlugSpec
    elif bad is PlugSpec:
        dummy.invalid["lsp1"] = 42
    else:
        dummy.names["lsp1"] = str(bad)
    plan = w.decide(registry, policy)
    assert [c.lport for c in plan.creates] == ["lsp2"]
    (refusal,) = [d for d in plan.decisions if d.lport == "lsp1"]
    assert refusal.reason is Reason.INVALID_SPEC


@pytest.mark.parametrize("policy", BOTH)
@pytest.mark.parametrize("hook", ["prepare_create", "prepare_remove"])
def test_provider_raising_affects_only_its_lport(
    registry: Registry, dummy: Recorder, policy: Policy, hook: str, caplog: pytest.LogCaptureFixture
) -> None:
    w = World()
    w.lsp("lsp1")
    w.lsp("lsp2")
    w.plugged("gone1")
    w.plugged("gone2")
    dummy.raise_in = {"lsp1": hook, "gone1": hook}
    caplog.set_level(logging.ERROR)
    plan = w.decide(registry, policy)
    assert sorted(c.lport for c in plan.creates) == (
        ["lsp2"] if hook == "prepare_create" else ["lsp1", "lsp2"]
    )
    assert [r.lport for r in plan.removes] == (
        ["gone2"] if hook == "prepare_remove" else ["gone1", "gone2"]
    )
    errors = [d for d in plan.decisions if d.reason is Reason.PROVIDER_ERROR]
    assert {d.lport for d in errors} == {"lsp1" if hook == "prepare_create" else "gone1"}
    assert "Traceback" in caplog.text
    assert "RuntimeError: boom" in caplog.text


@pytest.mark.parametrize("policy", BOTH)
def test_provider_error_log_is_rate_limited(
    registry: Registry, dummy: Recorder, policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    from ovn_vif import RateLimitedLogger
    from ovn_vif._engine.rules import LOG, decide

    w = World()
    w.lsp("lsp1")
    dummy.raise_in = {"lsp1": "prepare_create"}
    log = RateLimitedLogger(LOG)
    caplog.set_level(logging.ERROR)
    ovs, sb = w.views()
    for _ in range(5):
        decide(ovs=ovs, sb=sb, registry=registry, policy=policy, can_unplug=True, log=log)
    assert caplog.text.count("RuntimeError: boom") == 1


@pytest.mark.parametrize("policy", BOTH)
def test_declined_create_writes_nothing_and_calls_nothing_else(
    registry: Registry, dummy: Recorder, policy: Policy
) -> None:
    w = World()
    w.lsp("lsp1")
    w.plugged("lsp2")
    w.lsp("lsp2")
    dummy.decline = {"lsp1", "lsp2"}
    plan = w.decide(registry, policy)
    assert not plan.changed
    # OVN asks twice for a plugged lport that declines (pass A, then pass B).
    twice = 2 if policy is COMPAT else 1
    assert outcomes(plan) == {"lsp1": (Outcome.DECLINED,), "lsp2": (Outcome.DECLINED,) * twice}
    assert plan.pending == ()
    assert dummy.count("release") == 0


# --- unplugging ---------------------------------------------------------------


@pytest.mark.parametrize("policy", BOTH)
@pytest.mark.parametrize("case", ["deleted", "moved", "nonexistent-chassis"])
def test_unplug_when_lport_gone_or_moved(
    registry: Registry, dummy: Recorder, policy: Policy, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    w = World()
    w.plugged("lsp1")
    if case == "moved":
        w.lsp("lsp1", chassis=HV2)
    elif case == "nonexistent-chassis":
        w.lsp("lsp1", chassis=None, requested="hv-other")
    caplog.set_level(logging.INFO)
    plan = w.decide(registry, policy)
    assert outcomes(plan) == {"lsp1": (Outcome.UNPLUGGED,)}
    (remove,) = plan.removes
    assert remove.name == "lsp1"
    assert "Unplugging port lsp1 from br-int for iface-id lsp1 on this chassis." in caplog.text
    (call,) = plan.pending
    assert call.spec is None
    assert call.ctx.iface_name == "lsp1"
    assert call.ctx.iface_type == "internal"
    assert call.ctx.lport_options == (w.bindings["lsp1"].options if case != "deleted" else {})


@pytest.mark.parametrize("policy", BOTH)
def test_unplug_is_deferred_until_allowed(
    registry: Registry, dummy: Recorder, policy: Policy
) -> None:
    w = World()
    w.plugged("lsp1")
    plan = w.decide(registry, policy, can_unplug=False)
    assert not plan.changed
    assert outcomes(plan) == {"lsp1": (Outcome.DEFERRED,)}
    assert dummy.calls == []


@pytest.mark.parametrize("policy", BOTH)
def test_unplug_vetoed(registry: Registry, dummy: Recorder, policy: Policy) -> None:
    w = World()
    w.plugged("lsp1")
    dummy.veto = {"lsp1"}
    plan = w.decide(registry, policy)
    assert not plan.changed
    assert outcomes(plan) == {"lsp1": (Outcome.VETOED,)}


@pytest.mark.parametrize("policy", BOTH)
def test_unplug_through_the_plugged_type_only(
    registry: Registry, policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    w = World()
    w.plugged("orphan", plugged="bogus")
    w.plugged("lsp1")
    w.lsp("lsp1", plug_type="bogus")  # lsp-del'd later: unplug still uses ovn-plugged
    del w.bindings["lsp1"]
    caplog.set_level(logging.WARNING)
    plan = w.decide(registry, policy)
    assert [r.lport for r in plan.removes] == ["lsp1"]
    assert {d.lport: d.reason for d in plan.decisions}["orphan"] is Reason.UNKNOWN_PLUG_TYPE
    assert "Unable to open VIF plug provider for vif-plug-type bogus iface-id orphan" in caplog.text


@pytest.mark.parametrize("policy", BOTH)
def test_unplug_skips_multi_interface_ports_and_other_bridges(
    registry: Registry, policy: Policy
) -> None:
    w = World()
    iface = w.plugged("lsp1")
    port = next(p for p in w.ports.values() if iface.uuid in p.interfaces)
    extra = w.add_iface("extra")
    w.remove_iface(extra)
    w.ifaces[extra.uuid] = extra
    w.ports[port.uuid] = type(port)(
        uuid=port.uuid, name=port.name, interfaces=(iface.uuid, extra.uuid)
    )
    w.plugged("lsp2", on_bridge=False)
    plan = w.decide(registry, policy)
    assert plan.removes == ()


# --- the differences between the policies ----------------------------------------


@pytest.mark.parametrize("withdrawal", ["vif-plug-type", "requested-chassis"])
def test_withdrawal(registry: Registry, dummy: Recorder, withdrawal: str) -> None:
    w = World()
    w.plugged("lsp1")
    if withdrawal == "vif-plug-type":
        w.lsp("lsp1", plug_type=None)
    else:
        w.lsp("lsp1", chassis=None, requested=None)
    assert w.decide(registry, COMPAT).decisions == ()  # OVN keeps the port forever
    plan = w.decide(registry, RECOMMENDED)
    assert outcomes(plan) == {"lsp1": (Outcome.UNPLUGGED,)}
    assert "removed" in plan.decisions[0].detail
    assert outcomes(w.decide(registry, RECOMMENDED, can_unplug=False)) == {
        "lsp1": (Outcome.DEFERRED,)
    }


def test_additional_chassis_keeps_the_port_in_both(registry: Registry) -> None:
    w = World()
    w.plugged("lsp1")
    w.lsp("lsp1", chassis=HV2, requested="hv2,hv1", additional=(HV1,))
    for policy in BOTH:
        assert w.decide(registry, policy).decisions == ()


def test_name_change(registry: Registry, dummy: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    w = World()
    w.lsp("r5")
    w.plugged("r5")
    dummy.names["r5"] = "zz5"
    caplog.set_level(logging.WARNING)
    compat = w.decide(registry, COMPAT)
    assert not compat.changed
    # Pass A and pass B each try (OVN logs the warning twice per run).
    assert [d.reason for d in compat.decisions] == [Reason.INCOMPATIBLE_CHANGE] * 2
    assert caplog.text.count("Attempt of incompatible change") == 2
    assert dummy.count("release", "r5") == 2
    plan = w.decide(registry, RECOMMENDED)
    assert outcomes(plan) == {"r5": (Outcome.REPLACED,)}
    assert plan.decisions[0].old_port == "r5"
    assert [r.name for r in plan.removes] == ["r5"]
    assert [c.name for c in plan.creates] == ["zz5"]
    assert {c.spec is None for c in plan.pending} == {True, False}


def test_replace_vetoed_keeps_everything(registry: Registry, dummy: Recorder) -> None:
    w = World()
    w.lsp("r5")
    w.plugged("r5")
    dummy.names["r5"] = "zz5"
    dummy.veto = {"r5"}
    plan = w.decide(registry, RECOMMENDED)
    assert not plan.changed
    assert outcomes(plan) == {"r5": (Outcome.VETOED,)}
    assert dummy.count("release", "r5") == 1


def test_replace_into_a_foreign_name_is_refused(registry: Registry, dummy: Recorder) -> None:
    w = World()
    w.lsp("r5")
    w.plugged("r5")
    w.add_iface("eth0")
    dummy.names["r5"] = "eth0"
    plan = w.decide(registry, RECOMMENDED)
    assert not plan.changed
    assert {d.reason for d in plan.decisions} == {Reason.NAME_COLLISION}
    assert dummy.count("prepare_remove") == 0


def test_no_second_create_while_interface_has_no_ofport(
    registry: Registry, dummy: Recorder
) -> None:
    """The create committed, vswitchd has not given an ofport yet (23.03 creates again)."""
    w = World()
    w.lsp("lsp3")
    w.plugged("lsp3", ofport=None)
    compat = w.decide(registry, COMPAT)
    assert [c.name for c in compat.creates] == ["lsp3"]  # 23.03 creates again
    plan = w.decide(registry, RECOMMENDED)
    assert plan.creates == ()
    assert not plan.changed  # in sync: the row of that name is ours


def test_recommended_updates_our_row_without_ofport(registry: Registry) -> None:
    w = World()
    w.lsp("lsp3", vif_plug_mtu_request="1400")
    w.plugged("lsp3", ofport=None)
    plan = w.decide(registry, RECOMMENDED)
    assert [u.set_mtu_request for u in plan.updates] == [1400]


@pytest.mark.parametrize("policy", BOTH)
def test_in_flight_lports_are_left_alone(
    registry: Registry, dummy: Recorder, policy: Policy
) -> None:
    w = World()
    w.lsp("lsp1")
    w.plugged("gone")
    plan = w.decide(registry, policy, in_flight=frozenset({"lsp1", "gone"}))
    assert plan.decisions == ()
    assert dummy.calls == []


def test_recommended_removes_duplicate_plugged_ports(registry: Registry) -> None:
    w = World()
    w.lsp("r5")
    w.plugged("r5")
    w.plugged("r5", name="zz5")
    plan = w.decide(registry, RECOMMENDED)
    assert [r.name for r in plan.removes] == ["zz5"]
    assert outcomes(plan) == {"r5": (Outcome.UNPLUGGED,)}


def test_orphan_with_other_name_then_lport_appears(registry: Registry) -> None:
    """Side-by-side S5: zz5 (ovn-plugged, iface-id=r5) present when LSP r5 appears."""
    w = World()
    w.plugged("r5", name="zz5")
    w.lsp("r5")
    compat = w.decide(registry, COMPAT)
    assert not compat.changed
    assert {d.reason for d in compat.decisions} == {Reason.INCOMPATIBLE_CHANGE}
    assert outcomes(w.decide(registry, RECOMMENDED)) == {"r5": (Outcome.REPLACED,)}


@pytest.mark.parametrize("policy", BOTH)
def test_recommended_converges_and_compat_is_stable(
    registry: Registry, dummy: Recorder, policy: Policy
) -> None:
    w = World()
    for i in range(5):
        w.lsp(f"lsp{i}", vif_plug_mtu_request=str(1400 + i))
    w.plugged("orphan")
    for _ in range(3):
        w.apply(w.decide(registry, policy))
    plan = w.decide(registry, policy)
    assert not plan.changed
    assert sorted(i.name for i in w.ifaces.values()) == [f"lsp{i}" for i in range(5)]


@pytest.mark.parametrize("policy", BOTH)
def test_provider_raising_in_maintained_options_releases_its_spec(
    registry: Registry, dummy: Recorder, policy: Policy
) -> None:
    def boom() -> frozenset[str]:
        raise RuntimeError("boom")

    w = World()
    w.lsp("lsp1")
    w.plugged("lsp1")
    w.lsp("lsp2")
    dummy.maintained_iface_options = boom  # type: ignore[method-assign]
    plan = w.decide(registry, policy)
    assert [c.lport for c in plan.creates] == ["lsp2"]
    assert plan.updates == ()
    assert {d.lport: d.reason for d in plan.decisions if d.reason} == {
        "lsp1": Reason.PROVIDER_ERROR
    }
    # Every spec prepared for lsp1 went back to the provider exactly once.
    assert dummy.count("release", "lsp1") == dummy.count("prepare_create", "lsp1")
    assert [c.lport for c in plan.pending] == ["lsp2"]


def test_replace_waits_for_can_unplug(registry: Registry, dummy: Recorder) -> None:
    w = World()
    w.lsp("r5")
    w.plugged("r5")
    dummy.names["r5"] = "zz5"
    plan = w.decide(registry, RECOMMENDED, can_unplug=False)
    assert not plan.changed
    assert outcomes(plan) == {"r5": (Outcome.DEFERRED,)}
    assert dummy.count("release", "r5") == 1
    w.plugged("r5", name="zz5")  # a duplicate: the named one is kept up to date
    plan = w.decide(registry, RECOMMENDED, can_unplug=False)
    assert plan.removes == ()
    assert outcomes(plan) == {"r5": (Outcome.DEFERRED,)}
