from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovn_vif import netdev_name_problem, truncate_netdev_name


@pytest.mark.parametrize("name", ["lsp1", "pf0vf3", "eth0.100", "exactly15bytes!", "vé-1"])
def test_valid_names(name: str) -> None:
    assert netdev_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "is empty"),
        ("sixteen-bytes-xx", "is 16 bytes long, the limit is 15"),
        ("ünïcödé-pört-x", "is 19 bytes long, the limit is 15"),
        ("a/b", "contains '/'"),
        ("a:b", "contains ':'"),
        ("a b", "contains whitespace"),
        ("a\tb", "contains whitespace"),
        ("a\x01b", "contains the control character '\\x01'"),
        ("a\x7fb", "contains the control character '\\x7f'"),
        (".", "is reserved"),
        ("..", "is reserved"),
        (None, "is a NoneType, not a str"),
        (b"lsp1", "is a bytes, not a str"),
    ],
)
def test_invalid_names(name: object, reason: str) -> None:
    assert netdev_name_problem(name) == reason


def test_truncate_keeps_short_names() -> None:
    assert truncate_netdev_name("lsp1") == "lsp1"


def test_truncated_names_are_always_valid_lengths() -> None:
    for n in range(40):
        name = "é" * n
        cut = truncate_netdev_name(name)
        assert len(cut.encode()) <= 15
        assert name.startswith(cut)


def _valid_by_the_rules(name: str) -> bool:
    """The kernel's rules, written out again without the checker's shortcut."""
    return (
        0 < len(name.encode("utf-8")) <= 15
        and name not in (".", "..")
        and not any(c in "/:" or c.isspace() or not c.isprintable() for c in name)
    )


# Names around the shortcut's edges: its own characters, lengths about 15,
# and the characters that are valid only on the long way (or never).
_EDGE = st.text(
    alphabet=st.sampled_from("aZ09_-.é/: \t\x00\x7f\u200b\U0001f600"), min_size=0, max_size=18
)


@settings(max_examples=2000, derandomize=True)
@given(st.one_of(_EDGE, st.text(max_size=20)))
def test_the_shortcut_agrees_with_the_rules(name: str) -> None:
    problem = netdev_name_problem(name)
    assert (problem is None) == _valid_by_the_rules(name), (name, problem)
