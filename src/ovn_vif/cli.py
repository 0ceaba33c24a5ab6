"""The ``ovn-vif`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ovn_vif import OpType, PortContext, Registry, __version__, installed_providers

__all__ = ["main"]

# Example lports for the demo: (name, LSP options).
_DEMO_LPORTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("lsp1", {"requested-chassis": "hv1", "vif-plug-type": "dummy"}),
    (
        "a-very-long-logical-port-name",
        {"requested-chassis": "hv1", "vif-plug-type": "dummy", "vif-plug-mtu-request": "9000"},
    ),
    ("pört-ünïcödé-name", {"requested-chassis": "hv1", "vif-plug-type": "dummy"}),
    (
        "vm1-eth0",
        {
            "requested-chassis": "hv1",
            "vif-plug-type": "representor",
            "vif-plug:representor:pf-mac": "00:53:00:00:00:42",
            "vif-plug:representor:vf-num": "3",
        },
    ),
)


def _cmd_providers(args: argparse.Namespace) -> int:
    rows = []
    for entry in installed_providers():
        registry = Registry()
        report = registry.load_entry_points(only=[entry.name])
        rows.append(
            {
                "type": entry.name,
                "module": entry.module,
                "distribution": entry.distribution,
                "version": entry.version,
                "usable": bool(report.registered),
                "reason": report.failed[0].reason if report.failed else None,
            }
        )
        registry.destroy_all()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = "usable" if row["usable"] else f"unusable: {row['reason']}"
        print(f"{row['type']:<14} {row['module']:<28} {row['version'] or '-':<10} {state}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    print(f"ovn-vif {__version__} demo: discover the installed providers, ask them about lports\n")
    registry = Registry()
    report = registry.load_entry_points()
    for provider_type in report.registered:
        print(f"  registered provider {provider_type!r}")
    for failure in report.failed:
        print(f"  provider {failure.name!r} not usable here: {failure.reason}")
    print()
    try:
        for lport, options in _DEMO_LPORTS:
            plug_type = options["vif-plug-type"]
            provider = registry.get(plug_type)
            print(f"lport {lport!r} asks for vif-plug-type={plug_type}")
            if provider is None:
                print("  -> no such provider registered: it would not be plugged\n")
                continue
            ctx = PortContext(
                op_type=OpType.CREATE, lport_name=lport, lport_options=options, chassis="hv1"
            )
            spec = provider.prepare_create(ctx)
            if spec is None:
                print("  -> the provider declines for now\n")
                continue
            print(
                f"  -> plug port {spec.name!r} type={spec.type or '(default)'} "
                f"options={dict(spec.options)}"
            )
            provider.release(ctx, spec)
            remove = PortContext(
                op_type=OpType.REMOVE,
                lport_name=lport,
                lport_options=options,
                chassis="hv1",
                iface_name=spec.name,
                iface_type=spec.type,
                iface_options=spec.options,
            )
            verdict = "allows" if provider.prepare_remove(remove) else "vetoes"
            print(f"  -> on removal the provider {verdict} unplugging {spec.name!r}\n")
    finally:
        registry.destroy_all()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ovn-vif", description="OVN VIF plug providers in Python."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    providers = sub.add_parser("providers", help="list the installed providers")
    providers.add_argument("--json", action="store_true", help="print JSON")
    providers.set_defaults(func=_cmd_providers)
    demo = sub.add_parser("demo", help="show the installed providers at work")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ovn-vif`` command; return its exit code."""
    args = _parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
