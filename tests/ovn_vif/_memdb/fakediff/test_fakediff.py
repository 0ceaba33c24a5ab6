"""The differential fuzzer in the test suite: a bounded profile, and its self-test.

``python -m tests.ovn_vif._memdb.fakediff --profile long`` (or ``nox -s fakediff``)
runs the long profile.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator

import pytest

from ovn_vif.sandbox import OvsdbServer
from ovn_vif.testing import FakeDatabase

from . import harness
from .__main__ import PROFILES

pytestmark = pytest.mark.daemons


@pytest.fixture
def fuzzer(ovsdb_server: OvsdbServer) -> Iterator[harness.Fuzzer]:
    f = harness.Fuzzer(ovsdb_server.remote)
    yield f
    f.close()


def test_ci_profile_finds_no_divergence(fuzzer: harness.Fuzzer) -> None:
    seeds, steps = PROFILES["ci"]
    first = int(os.environ.get("OVN_VIF_FAKEDIFF_FIRST_SEED", "0"))
    found = fuzzer.run_profile(first, seeds, steps)
    if found is not None:
        pytest.fail(found.report())


def test_self_test_sees_an_injected_difference(
    fuzzer: harness.Fuzzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Break the fake on purpose (omitted columns' defaults no longer checked):
    the CI profile's run must fail on it, shrunk to a short reproducer."""
    from ovn_vif._memdb.executor import Executor

    monkeypatch.setattr(Executor, "_check_defaults", lambda self, table, given: None)
    seeds, steps = PROFILES["ci"]
    small = fuzzer.run_profile(0, seeds, steps)
    assert small is not None, "the injected difference went unnoticed"
    assert len(small.steps) <= 2, small.report()
    paths = [path for path, _fake, _real in harness.diff(small.fake, small.real)]
    assert any(path.startswith("/result") for path in paths), small.report()
    # The same steps agree once the fake is whole again.
    monkeypatch.undo()
    assert fuzzer.replay(small.steps) is None


def test_self_test_sees_uuids_the_fake_picks_differently(
    fuzzer: harness.Fuzzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UUIDs a server picks are compared for what ovsdb-server guarantees
    (new, version 4): a fake picking version-1 UUIDs fails the CI profile."""
    from ovn_vif.testing import FakeDatabase

    monkeypatch.setattr(FakeDatabase, "_new_uuid", lambda self: uuid.uuid1())
    seeds, steps = PROFILES["ci"]
    small = fuzzer.run_profile(0, seeds, steps)
    assert small is not None, "the injected difference went unnoticed"
    assigned = [
        (fake, real)
        for path, fake, real in harness.diff(small.fake, small.real)
        if path == "/assigned"
    ]
    assert assigned, small.report()
    assert "not a version-4 UUID" in assigned[0][0], small.report()
    assert set(assigned[0][1]) <= {"new v4", "none"}, small.report()


@pytest.mark.parametrize(
    ("fix", "broken"),
    [
        # Strings with a lone surrogate stored, as the fake once did.
        ("_first_invalid_utf8", lambda *args: None),
        # uuid-name, lock, table and op names not checked to be <id>s.
        ("is_id", lambda value: isinstance(value, str)),
    ],
    ids=["utf8", "ids"],
)
def test_self_test_finds_the_fake_without_its_fix(
    fuzzer: harness.Fuzzer, monkeypatch: pytest.MonkeyPatch, fix: str, broken: object
) -> None:
    """Revert one of the fake's fixes for what ovsdb-server refuses: the CI
    profile's run must find it (the generator writes lone surrogates and
    NULs in every position, and texts that are not <id>s)."""
    from ovn_vif._memdb import executor

    monkeypatch.setattr(executor, fix, broken)
    seeds, steps = PROFILES["ci"]
    small = fuzzer.run_profile(0, seeds, steps)
    assert small is not None, "the reverted fix went unnoticed"
    assert len(small.steps) <= 2, small.report()
    monkeypatch.undo()
    assert fuzzer.replay(small.steps) is None


def test_the_generator_writes_what_the_server_refuses() -> None:
    """Lone surrogates and NULs in values, map keys and values, conditions,
    mutations, table/column/op names, uuid-names and locks; and inserts whose
    UUID collides with a row of any table or an earlier insert of the step."""
    import random

    side = harness.Side(True)
    gen = harness.Generator(random.Random(0), side)
    side.databases = {db: FakeDatabase(harness._schema_json(db)) for db in harness.ROOTS}
    roots = {str(side.databases[db].insert(root)) for db, root in harness.ROOTS.items()}
    gen.schemas = {db: d.schema for db, d in side.databases.items()}
    texts, colliding = [], 0
    for i in range(600):
        step = gen.raw_step(sorted(harness.ROOTS)[i % 2])
        text = json.dumps(step)
        texts.append(text)
        uuids = re.findall(r'"uuid": "([0-9a-f-]{36})"', text)
        colliding += len(uuids) != len(set(uuids)) or any(u in roots for u in uuids)
    text = "\n".join(texts)
    for needle in ("\\udfff", "\\ud800", "\\u0000", '"uuid-name": "a b"', '"lock": "1st"'):
        assert needle in text, needle
    assert colliding
