"""The examples in the representor package's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "ovn_vif_representor",
    "ovn_vif_representor.listing",
    "ovn_vif_representor.provider",
    "ovn_vif_representor.table",
    "ovn_vif_representor.testing",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
