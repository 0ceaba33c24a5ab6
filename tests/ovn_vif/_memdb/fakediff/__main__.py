"""``python -m tests.ovn_vif._memdb.fakediff``: run the differential fuzzer (see harness.py).

Profiles: ``--profile ci`` (bounded, what the test suite runs), ``--profile long``;
or ``--seeds``/``--steps``.  A divergence is minimised and printed as a
reproducer (a JSON list of steps that ``--replay FILE`` runs again).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .harness import Fuzzer, real_server

#: (seeds, steps per seed). "ci" is what the test suite runs on every submission.
PROFILES = {"ci": (50, 60), "long": (1000, 60)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fakediff", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="ci")
    parser.add_argument("--seeds", type=int, help="number of seeds (overrides the profile)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="steps per seed (overrides the profile)")
    parser.add_argument("--replay", type=Path, help="run the steps in this JSON file")
    parser.add_argument("--keep-going", action="store_true", help="report every diverging seed")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each seed's time")
    args = parser.parse_args(argv)
    seeds, steps = PROFILES[args.profile]
    seeds = args.seeds or seeds
    steps = args.steps or steps
    failures = 0
    with real_server() as remote:
        fuzzer = Fuzzer(remote)
        try:
            if args.replay:
                found = fuzzer.replay(json.loads(args.replay.read_text()))
                print(
                    "no divergence" if found is None else json.dumps(found, indent=1, default=str)
                )
                return 0 if found is None else 1
            start = time.monotonic()
            for seed in range(args.first_seed, args.first_seed + seeds):
                began = time.monotonic()
                try:
                    div = fuzzer.run_seed(seed, steps)
                except Exception as e:  # the harness, not a difference: stop here
                    print(f"seed {seed}: harness failed ({e!r}); is ovsdb-server alive?")
                    failures += 1
                    break
                if args.verbose:
                    print(f"seed {seed}: {time.monotonic() - began:.1f} s", flush=True)
                if div is None:
                    continue
                failures += 1
                small = fuzzer.minimise(div)
                print(small.report(), flush=True)
                print("reproducer: " + json.dumps(small.steps), flush=True)
                if not args.keep_going:
                    break
            elapsed = time.monotonic() - start
            print(f"{seeds} seeds x {steps} steps, {failures} diverging, {elapsed:.1f} s")
        finally:
            fuzzer.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
