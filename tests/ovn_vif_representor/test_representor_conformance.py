"""The representor provider through the conformance kit, on the fake kernel."""

from __future__ import annotations

from pathlib import Path

from ovn_vif.testing import check_provider
from ovn_vif_representor import OPTION_PF_MAC, OPTION_VF_NUM, RepresentorProvider
from ovn_vif_representor.testing import FakeKernel, ManualClock

PF_MAC = "00:53:00:00:00:42"


def test_representor_provider_keeps_the_contract(
    kernel: FakeKernel, clock: ManualClock, sysfs: Path
) -> None:
    kernel.add_physical("p0", ifindex=10)
    kernel.add_pf("p0hpf", ifindex=100, mac=PF_MAC)
    for vf in range(5):
        kernel.add_vf(f"pf0vf{vf}", ifindex=1000 + vf, vf=vf)

    def factory() -> RepresentorProvider:
        return RepresentorProvider(
            devlink=kernel.devlink_source,
            links=kernel.link_source,
            clock=clock,
            sysfs_root=sysfs,
        )

    report = check_provider(
        factory,
        # kit-lsp-N plugs VF N
        lport_options=lambda lport: {OPTION_PF_MAC: PF_MAC, OPTION_VF_NUM: lport[-1]},
        # without vf-num it plugs the PF itself, as OVN's representor plugin does
        required_options=[OPTION_PF_MAC],
    )
    assert set(report.fuzzed_options) >= {OPTION_PF_MAC, OPTION_VF_NUM}
