"""Two steps the harness lets a test take apart: the providers' ``run()`` on
its own, and ``restore()`` of a second instance from the rows the first one
plugged.

Run it with ``pytest docs/examples/test_harness_steps.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ovn_vif import Decline, Outcome, PlugSpec, PortContext, RestoredPort, VifPlugProvider
from ovn_vif.testing import ProviderHarness

VF = "vif-plug:vfpool:vf"


class VfPoolProvider(VifPlugProvider):
    """Plugs the representor ``vfrep<N>`` of VF ``N`` (``vif-plug:vfpool:vf=<N>``).

    The VFs exist once the NIC's firmware is up, which ``run()`` polls.
    """

    type = "vfpool"

    def __init__(self) -> None:
        self.vfs: frozenset[int] = frozenset()  # the VFs the NIC has
        self.owners: dict[int, str] = {}  # VF -> the lport plugged on it

    def run(self) -> bool:
        found = frozenset(range(4))  # a real provider reads sysfs here
        changed, self.vfs = found != self.vfs, found
        return changed

    def restore(self, ports: Sequence[RestoredPort]) -> None:
        self.owners = {int(p.name.removeprefix("vfrep")): p.lport_name for p in ports}

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        raw = ctx.lport_options.get(VF, "")
        if not (raw.isascii() and raw.isdigit()) or int(raw) not in self.vfs:
            return Decline(f"{VF}={raw!r}: no such VF (the NIC has {sorted(self.vfs)})")
        if self.owners.get(int(raw), ctx.lport_name) != ctx.lport_name:
            return Decline(f"VF {raw} is plugged for another lport")
        return PlugSpec(name=f"vfrep{int(raw)}")

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        if spec is not None:
            self.owners[int(spec.name.removeprefix("vfrep"))] = ctx.lport_name
        else:  # unplugged
            self.owners = {vf: lp for vf, lp in self.owners.items() if lp != ctx.lport_name}


def test_run_finds_the_vfs_before_the_engine_asks() -> None:
    provider = VfPoolProvider()
    with ProviderHarness(provider) as h:
        h.add_lport("vm1-eth0", {VF: "2"})
        assert h.run_providers()  # the firmware came up: a change
        assert provider.vfs == {0, 1, 2, 3}
        assert h.iterate(run=False).outcomes == {"vm1-eth0": (Outcome.PLUGGED,)}


def test_a_second_instance_rebuilds_the_table_from_the_rows() -> None:
    first = VfPoolProvider()
    with ProviderHarness(first) as h:
        h.add_lport("vm1-eth0", {VF: "2"})
        h.add_lport("vm2-eth0", {VF: "0"})
        h.converge()
        second = VfPoolProvider()
        second.restore(h.restored_ports())  # as after an agent restart
        assert second.owners == first.owners == {0: "vm2-eth0", 2: "vm1-eth0"}
