"""``ovn-vif representors``: the subcommand this provider adds to ``ovn-vif``.

Declared in the ``ovn_vif.commands`` entry-point group, so the core command
line never imports this package.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ovn_vif import OvnVifError
from ovn_vif_representor._listing import (
    format_representors,
    list_representors,
    representors_json,
)


def _run(args: argparse.Namespace) -> int:
    try:
        reps = list_representors()
    except (OvnVifError, OSError) as exc:
        print(f"ovn-vif representors: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(representors_json(reps))
    elif reps:
        print(format_representors(reps))
    else:
        print("no representor found")
    return 0


def add_command(subparsers: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """Add ``representors`` to the ``ovn-vif`` command's *subparsers*."""
    reps = subparsers.add_parser(
        "representors",
        parents=list(parents),
        help="list representors the representor provider can plug",
        description="List the representor ports found through devlink: PF MAC, controller, "
        "PF/VF/SF number, netdev name and state.",
    )
    reps.add_argument("--json", action="store_true", help="print JSON")
    reps.set_defaults(func=_run)
