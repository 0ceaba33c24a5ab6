"""Values that cross the provider boundary cannot be corrupted."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovn_vif import DECLINE_REASON_LIMIT, Decline, FrozenMap, OpType, PlugSpec, PortContext


def test_port_context_copies_and_freezes_options() -> None:
    options = {"vif-plug-type": "dummy"}
    ctx = PortContext(op_type=OpType.CREATE, lport_name="lsp1", lport_options=options)
    options["vif-plug-type"] = "changed"
    assert ctx.lport_options == {"vif-plug-type": "dummy"}
    with pytest.raises(TypeError):
        ctx.lport_options["vif-plug-type"] = "x"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ctx.lport_name = "other"  # type: ignore[misc]


def test_op_type_accepts_the_c_values() -> None:
    assert PortContext(op_type=1, lport_name="a").op_type is OpType.CREATE
    assert PortContext(op_type=2, lport_name="a").op_type is OpType.REMOVE
    with pytest.raises(ValueError):
        PortContext(op_type=3, lport_name="a")


def test_plug_spec_is_hashable_and_compares_by_value() -> None:
    a = PlugSpec(name="p", type="internal", options={"k": "v"})
    b = PlugSpec(name="p", type="internal", options=FrozenMap({"k": "v"}))
    assert a == b
    assert hash(a) == hash(b)
    assert a.options.to_dict() == {"k": "v"}


def test_plug_spec_rejects_non_string_values() -> None:
    with pytest.raises(TypeError):
        PlugSpec(name="p", type=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PlugSpec(name="p", options={"mtu": 9000})  # type: ignore[dict-item]


def test_frozen_map_equality_and_repr() -> None:
    m = FrozenMap({"a": "1"})
    assert m == {"a": "1"}
    assert m != {"a": "2"}
    assert m != ["a"]
    assert repr(m) == "FrozenMap({'a': '1'})"
    assert len(m) == 1
    assert list(m) == ["a"]


_TEXT = st.text(max_size=4)


@settings(max_examples=300, derandomize=True)
@given(st.dictionaries(_TEXT, _TEXT, max_size=6), st.lists(_TEXT, max_size=6))
def test_frozen_map_reads_like_the_dict_it_copies(data: dict[str, str], keys: list[str]) -> None:
    """get, in, keys, items and values answer as the dict does (they are the
    dict's own, for speed), and none of them can change the map."""
    m = FrozenMap(data)
    for key in [*keys, *data]:
        assert (key in m) == (key in data)
        assert m.get(key) == data.get(key)
        assert m.get(key, "default") == data.get(key, "default")
        assert m.get(key, default="default") == data.get(key, "default")
    assert 5 not in m  # type: ignore[comparison-overlap]
    assert list(m.keys()) == list(data.keys())
    assert list(m.items()) == list(data.items())
    assert list(m.values()) == list(data.values())
    assert m.keys() == data.keys()
    assert m.items() == data.items()
    before = dict(data)
    view: Any = getattr(m.keys(), "mapping", {})  # the dict behind the view, read-only
    with pytest.raises(TypeError):
        view["new"] = "x"
    data.clear()  # the map holds a copy
    assert m == before


def test_a_decline_is_falsy_like_none_and_false() -> None:
    # `return ok and PlugSpec(...)` must not read .name of a Decline.
    decline = Decline("no slot")
    assert not decline
    assert (decline and PlugSpec(name="x")) is decline


def test_a_decline_reason_is_one_bounded_line() -> None:
    huge = "slot busy\x00\r\n" + "\x1b[31m" * 10_000 + "x" * 65_536
    reason = Decline(huge).reason
    assert len(reason) == DECLINE_REASON_LIMIT
    assert reason.startswith("slot busy [31m [31m")
    assert reason.endswith("...")
    assert reason.isprintable()
    assert Decline("  two\n  lines  ").reason == "two lines"
    assert Decline("x" * DECLINE_REASON_LIMIT).reason == "x" * DECLINE_REASON_LIMIT


def test_a_decline_reason_of_only_control_characters_is_empty() -> None:
    with pytest.raises(ValueError, match="must say why"):
        Decline("\x00\n\x07")
