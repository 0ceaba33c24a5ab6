"""The differential fuzzer in the test suite: a bounded profile, and its self-test.

``python -m tests.testing_kit.fakediff --profile long`` (or ``nox -s fakediff``)
runs the long profile.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ovn_vif.sandbox import OvsdbServer

from . import harness
from .__main__ import PROFILES

pytestmark = pytest.mark.daemons


@pytest.fixture
def fuzzer(ovsdb_server: OvsdbServer) -> Iterator[harness.Fuzzer]:
    f = harness.Fuzzer(ovsdb_server.remote)
    yield f
    f.close()


def test_bounded_profile_finds_no_divergence(fuzzer: harness.Fuzzer) -> None:
    seeds, steps = PROFILES["ci"]
    first = int(os.environ.get("OVN_VIF_FAKEDIFF_FIRST_SEED", "0"))
    for seed in range(first, first + seeds):
        div = fuzzer.run_seed(seed, steps)
        if div is not None:
            pytest.fail(fuzzer.minimise(div).report())


def test_self_test_sees_an_injected_difference(
    fuzzer: harness.Fuzzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Break the fake on purpose (omitted columns' defaults no longer checked):
    the fuzzer must see it, and shrink it to a short reproducer."""
    from ovn_vif._memdb.executor import Executor

    monkeypatch.setattr(Executor, "_check_defaults", lambda self, table, given: None)
    found = None
    for seed in range(10):
        found = fuzzer.run_seed(seed, 30)
        if found is not None:
            break
    assert found is not None, "the injected difference went unnoticed"
    small = fuzzer.minimise(found)
    assert len(small.steps) <= 2, small.report()
    paths = [path for path, _fake, _real in harness.diff(small.fake, small.real)]
    assert any(path.startswith("/result") for path in paths), small.report()
    # The same steps agree once the fake is whole again.
    monkeypatch.undo()
    assert fuzzer.replay(small.steps) is None
