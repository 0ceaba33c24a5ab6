"""ACME SmartNIC VIF plug provider: the one the tutorial writes.

An LSP asks for slot ``N`` of the NIC with ``vif-plug:acme:slot=N`` and for
a queue mode with ``vif-plug:acme:mode`` (``fast``, the default, or
``slow``). The slot's representor netdev is ``acmeN``; the provider owns the
Interface option ``acme-queues``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ovn_vif import Decline, PlugSpec, PortContext, RestoredPort, VifPlugProvider

SLOT = "vif-plug:acme:slot"
MODE = "vif-plug:acme:mode"
QUEUES = {"fast": "8", "slow": "1"}
SLOTS = 16


class AcmeProvider(VifPlugProvider):
    type = "acme"

    def __init__(self) -> None:
        self.in_use: dict[int, str] = {}  # slot -> lport plugged there
        self.reserved: dict[str, int] = {}  # lport -> slot, prepared, not released

    def maintained_iface_options(self) -> frozenset[str]:
        return frozenset({"acme-queues"})

    def restore(self, ports: Sequence[RestoredPort]) -> None:
        # After a restart: which slots are plugged already.
        self.in_use = {int(p.name[len("acme") :]): p.lport_name for p in ports}

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        raw = ctx.lport_options.get(SLOT)
        if raw is None:
            return Decline(f"option {SLOT} is missing")
        if not (raw.isascii() and raw.isdigit()) or int(raw) >= SLOTS:
            return Decline(f"{SLOT}={raw!r} is not a slot number (0 to {SLOTS - 1})")
        slot = int(raw)
        owner = self.in_use.get(slot, ctx.lport_name)
        if owner != ctx.lport_name:
            return Decline(f"slot {slot} is plugged for lport {owner}")
        queues = QUEUES.get(ctx.lport_options.get(MODE, "fast"))
        if queues is None:
            return Decline(f"{MODE} must be one of {', '.join(QUEUES)}")
        self.reserved[ctx.lport_name] = slot
        return PlugSpec(name=f"acme{slot}", options={"acme-queues": queues})

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        self.reserved.pop(ctx.lport_name, None)

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        if spec is None:  # unplugged
            self.in_use = {s: lp for s, lp in self.in_use.items() if lp != ctx.lport_name}
        else:
            self.in_use[int(spec.name[len("acme") :])] = ctx.lport_name

    def outstanding(self) -> list[str]:
        return [f"slot {slot} reserved for {lp}" for lp, slot in sorted(self.reserved.items())]
