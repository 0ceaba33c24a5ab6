"""The options the engine and the bundled providers parse: same answers as the
straightforward parsers on short values, bounded work on long ones."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from ovn_vif._engine.eligibility import CanBind, can_bind, parse_mtu_request
from ovn_vif._engine.views import BindingView, ChassisView
from ovn_vif_representor._provider import MAX_VF_NUM, parse_function_number
from ovn_vif_representor._table import parse_mac

CHASSIS = ChassisView(uuid=uuid.UUID(int=1), name="hv1", hostname="host1")


def reference_can_bind(option: str) -> CanBind:
    """OVN's strtok() walk, splitting the whole value."""
    verdict = CanBind.MAIN
    for token in option.split(","):
        if not token:
            continue
        if token in (CHASSIS.name, CHASSIS.hostname):
            return verdict
        verdict = CanBind.ADDITIONAL
    return CanBind.CANNOT


def binding(option: str) -> BindingView:
    return BindingView(logical_port="lp", options={"requested-chassis": option})


tokens = st.lists(st.sampled_from(["", "hv1", "host1", "hv2", "hv1 ", "HV1", "h", "hv1hv1"]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(tokens.map(",".join), st.text(alphabet=",hv1ost2 ", max_size=30)))
def test_can_bind_matches_the_strtok_walk(option: str) -> None:
    if option:
        assert can_bind(CHASSIS, binding(option)) is reference_can_bind(option)
    else:
        assert can_bind(CHASSIS, binding(option)) is CanBind.MAIN


def test_can_bind_on_a_huge_list() -> None:
    assert can_bind(CHASSIS, binding("x," * 1_000_000 + "hv1")) is CanBind.ADDITIONAL
    assert can_bind(CHASSIS, binding("," * 1_000_000 + "host1,x")) is CanBind.MAIN
    assert can_bind(CHASSIS, binding("x," * 1_000_000)) is CanBind.CANNOT


def reference_mtu(raw: str) -> int:
    """strtol() base 10 into an int, as ovn-controller reads it (short values)."""
    text = raw.lstrip(" \t\n\v\f\r")
    body = text[1:] if text[:1] in "+-" else text
    if not body or not all(c in "0123456789" for c in body):
        return 0
    value = int(text)
    return value if 0 < value < 2**31 else 0


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789+- \t\nx", max_size=14),
        st.integers(-(2**33), 2**33).map(str),
    )
)
def test_mtu_matches_strtol_on_short_values(raw: str) -> None:
    assert parse_mtu_request({"vif-plug-mtu-request": raw})[0] == reference_mtu(raw)


def test_mtu_of_any_length() -> None:
    for raw, want in [
        ("9" * 100_000, 0),
        ("-" + "9" * 100_000, 0),
        ("0" * 100_000 + "9000", 9000),
        ("0" * 100_000, 0),
        (" " * 100_000 + "1500", 1500),
        ("1" + "0" * 9, 1_000_000_000),
        ("2147483647", 2147483647),
        ("2147483648", 0),
    ]:
        mtu, problem = parse_mtu_request({"vif-plug-mtu-request": raw})
        assert mtu == want
        assert problem is None or len(problem) < 200


def test_representor_options_of_any_length() -> None:
    assert parse_mac("00:53:00:00:00:4a" * 10_000) is None
    assert parse_mac(":" * 1_000_000) is None
    assert parse_function_number("9" * 100_000, MAX_VF_NUM) == (
        None,
        f"is out of range (0 to {MAX_VF_NUM})",
    )
    assert parse_function_number("0" * 100_000, MAX_VF_NUM)[0] is None
