from __future__ import annotations

import pytest

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
