"""A seeded chaos soak of ``ovn-vif agent`` (see :mod:`tests.support.chaos`).

The CI profile (30 faults) runs with the ``tests`` session; the long one
(300 faults) with ``nox -s chaos``. ``OVN_VIF_CHAOS_PROFILE=ci|long`` picks
the profile, ``OVN_VIF_CHAOS_FAULTS=<n>`` changes its number of faults and
``OVN_VIF_CHAOS_SEED=<n>`` replays a seed (default: a new random seed,
printed at the start and in every failure).
"""

from __future__ import annotations

import dataclasses
import os
import random
import time

import pytest
from tests.support.chaos import PROFILES, ChaosFailure, Soak, make_schedule

from ovn_vif.sandbox import SandboxDir


def _seed() -> int:
    raw = os.environ.get("OVN_VIF_CHAOS_SEED", "")
    return int(raw) if raw else random.SystemRandom().randrange(2**32)


def test_schedule_is_a_function_of_the_seed() -> None:
    profile = PROFILES["ci"]
    assert make_schedule(7, profile) == make_schedule(7, profile)
    assert make_schedule(7, profile) != make_schedule(8, profile)
    kinds = {step.fault.kind for seed in range(5) for step in make_schedule(seed, profile)}
    assert len(kinds) == 7


@pytest.mark.daemons
def test_chaos_soak(sandbox_dir: SandboxDir, capsys: pytest.CaptureFixture[str]) -> None:
    name = os.environ.get("OVN_VIF_CHAOS_PROFILE", "ci")
    if name not in PROFILES:
        pytest.fail(f"OVN_VIF_CHAOS_PROFILE={name!r}: known profiles are {', '.join(PROFILES)}")
    profile = PROFILES[name]
    if os.environ.get("OVN_VIF_CHAOS_FAULTS"):
        profile = dataclasses.replace(profile, faults=int(os.environ["OVN_VIF_CHAOS_FAULTS"]))
    seed = _seed()

    def say(line: str) -> None:
        with capsys.disabled():
            print(line, flush=True)

    started = time.monotonic()
    with Soak(sandbox_dir, seed, profile, say=say) as soak:
        try:
            soak.start()
            soak.run()
        except ChaosFailure as exc:
            pytest.fail(str(exc), pytrace=False)
    times = soak.converge_times
    say(
        f"chaos soak passed: seed {seed}, {len(soak.schedule)} faults in "
        f"{time.monotonic() - started:.1f} s; convergence after a fault: "
        f"median {sorted(times)[len(times) // 2]:.2f} s, max {max(times):.2f} s"
    )
