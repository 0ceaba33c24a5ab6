"""The representor provider on a simulated NIC: a few lports, a VF that
appears at run time and gets renamed, and the representor listing.

Run it with ``python docs/examples/representor_fake_kernel.py``.
"""

from __future__ import annotations

import logging
import sys

from ovn_vif import OpType, PlugSpec, PortContext
from ovn_vif_representor import OPTION_PF_MAC, OPTION_VF_NUM, RepresentorProvider
from ovn_vif_representor.testing import FakeKernel

PF_MAC = "00:53:00:00:00:42"


def ask(provider: RepresentorProvider, lport: str, vf_num: str | None) -> str:
    options = {"vif-plug-type": "representor", OPTION_PF_MAC: PF_MAC}
    if vf_num is not None:
        options[OPTION_VF_NUM] = vf_num
    spec = provider.prepare_create(
        PortContext(op_type=OpType.CREATE, lport_name=lport, lport_options=options)
    )
    return f"{lport}: {spec.name if isinstance(spec, PlugSpec) else 'declined'}"


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    kernel = FakeKernel()
    kernel.add_physical("p0", ifindex=10)
    kernel.add_pf("pf0hpf", ifindex=100, mac=PF_MAC)
    for vf in range(4):
        kernel.add_vf(f"pf0vf{vf}", ifindex=1000 + vf, vf=vf)

    provider = RepresentorProvider(devlink=kernel.devlink_source, links=kernel.link_source)
    provider.init()
    print(ask(provider, "vm1-port", "3"))
    print(ask(provider, "vm2-port", None))
    print(ask(provider, "vm3-port", "3abc"))
    print(ask(provider, "vm4-port", "7"))

    kernel.add_vf("eth5", ifindex=1004, vf=4)  # a VF created at run time ...
    print("run:", provider.run())
    print(ask(provider, "vm5-port", "4"))  # ... is held back until udev renames it
    kernel.rename(1004, "pf0vf4")
    print("run:", provider.run())
    print(ask(provider, "vm5-port", "4"))

    for row in provider.representors():
        print(row.kind, row.pf_mac, row.vf_number, row.netdev, row.state.value)
    provider.destroy()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
