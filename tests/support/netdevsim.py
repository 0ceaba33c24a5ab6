"""netdevsim devices for the kernel tier (``tests/ovn_vif_representor/kernel``), inside its guest.

netdevsim is the kernel's simulated NIC. Loaded as a module, it offers
``/sys/bus/netdevsim/new_device``; a device gets a devlink instance
``netdevsim/netdevsim<ID>`` with one PHYSICAL port per requested port and,
once it has VFs (``sriov_numvfs``) and its eswitch is in ``switchdev`` mode,
one PCI_VF representor port (index ``128 + vf``) per VF. The netdevs appear
as ``ethN`` and udev renames them (``eni<ID>np1``, ``eni<ID>npf0vf<N>``).

The patched module (``tests/ovn_vif_representor/kernel/netdevsim-pcipf.patch``) adds PCI_PF
ports (``devlink port add ... flavour pcipf pfnum N``) and port function
``hw_addr``; the stock 6.1 module refuses both with ``EOPNOTSUPP``.

Everything here is done with the tools an operator uses (sysfs writes,
``devlink``, ``ip``, ``udevadm``), never through the code under test.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

BUS = Path("/sys/bus/netdevsim")
#: The two builds of netdevsim.ko that scripts/kernel-tier passes in.
MODULES = {
    "stock": os.environ.get("NETDEVSIM_STOCK_KO", ""),
    "patched": os.environ.get("NETDEVSIM_PATCHED_KO", ""),
}
#: Index netdevsim gives the VF representor port of VF 0.
VF_PORT_BASE = 128
#: Index the patched module gives the PCI PF port of PF 0.
PF_PORT_BASE = 64


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; raise with it on failure."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip() or proc.stdout}"
        )
    return proc


def settle() -> None:
    """Wait until udev has handled every queued event (renames included)."""
    run("udevadm", "settle", "--timeout=60")


_loaded: list[str] = []


def load(variant: str) -> None:
    """Make *variant* the loaded netdevsim module (no device may exist).

    Out-of-tree modules have no ``srcversion`` in sysfs to tell the two
    builds apart, so this process remembers which one it loaded.
    """
    if _loaded == [variant] and Path("/sys/module/netdevsim").exists():
        return
    path = MODULES.get(variant)
    if not path:
        raise AssertionError(f"scripts/kernel-tier passed no {variant} netdevsim.ko")
    if Path("/sys/module/netdevsim").exists():
        run("rmmod", "netdevsim")
    _loaded.clear()
    run("insmod", path)
    _loaded.append(variant)


def devlink_json(*argv: str) -> Any:
    return json.loads(run("devlink", "-j", *argv).stdout)


class Netdevsim:
    """One netdevsim device: ``new_device`` on creation, ``del_device`` on close."""

    def __init__(self, dev_id: int, ports: int = 1) -> None:
        self.id = dev_id
        self.handle = f"netdevsim/netdevsim{dev_id}"
        self.bus, self.dev = "netdevsim", f"netdevsim{dev_id}"
        self.sysfs = BUS / "devices" / f"netdevsim{dev_id}"
        (BUS / "new_device").write_text(f"{dev_id} {ports}")
        settle()

    def close(self) -> None:
        if self.sysfs.exists():
            (BUS / "del_device").write_text(str(self.id))
        settle()

    def __enter__(self) -> Netdevsim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- VFs and the eswitch ---------------------------------------------

    def set_max_vfs(self, count: int) -> None:
        """Raise the VF limit (4 by default) through debugfs."""
        Path(f"/sys/kernel/debug/netdevsim/netdevsim{self.id}/max_vfs").write_text(str(count))

    def set_numvfs(self, count: int) -> None:
        (self.sysfs / "sriov_numvfs").write_text(str(count))

    def numvfs(self) -> int:
        return int((self.sysfs / "sriov_numvfs").read_text())

    def eswitch_mode(self) -> str:
        data = devlink_json("dev", "eswitch", "show", self.handle)
        mode: str = data["dev"][self.handle]["mode"]
        return mode

    def set_eswitch_mode(self, mode: str) -> None:
        run("devlink", "dev", "eswitch", "set", self.handle, "mode", mode)
        settle()

    def switchdev_with_vfs(self, count: int) -> None:
        """VFs *count* and the eswitch in switchdev mode, names settled."""
        if count > 4:
            self.set_max_vfs(count)
        self.set_numvfs(count)
        self.set_eswitch_mode("switchdev")

    # -- ports -------------------------------------------------------------

    def ports(self) -> dict[int, dict[str, Any]]:
        """``devlink port show`` of this device, by port index."""
        data = devlink_json("port", "show")["port"]
        prefix = self.handle + "/"
        return {
            int(name[len(prefix) :]): attrs
            for name, attrs in data.items()
            if name.startswith(prefix)
        }

    def netdev(self, index: int) -> str:
        name: str = self.ports()[index]["netdev"]
        return name

    def vf_netdev(self, vf: int) -> str:
        return self.netdev(VF_PORT_BASE + vf)

    def vf_netdevs(self, count: int) -> list[str]:
        """The netdevs of VFs 0 to *count* - 1 (one ``devlink`` call)."""
        ports = self.ports()
        return [ports[VF_PORT_BASE + vf]["netdev"] for vf in range(count)]

    @staticmethod
    def pf_index(pfnum: int) -> int:
        """The port index the patched module gives PCI PF *pfnum*."""
        return PF_PORT_BASE + pfnum

    def add_pf(self, pfnum: int) -> str:
        """Patched module only: add a PCI_PF port; returns its netdev after udev."""
        run("devlink", "port", "add", self.handle, "flavour", "pcipf", "pfnum", str(pfnum))
        settle()
        return self.netdev(self.pf_index(pfnum))

    def del_port(self, index: int) -> None:
        run("devlink", "port", "del", f"{self.handle}/{index}")
        settle()

    def set_hw_addr(self, index: int, mac: str) -> None:
        run("devlink", "port", "function", "set", f"{self.handle}/{index}", "hw_addr", mac)


def ifindex(netdev: str) -> int:
    return int(Path(f"/sys/class/net/{netdev}/ifindex").read_text())


def rename(old: str, new: str) -> None:
    """Rename a netdev as udev does: down, set name, (no up needed)."""
    run("ip", "link", "set", "dev", old, "name", new)


def composed_sysfs(root: Path, smart_nic: dict[str, str]) -> Path:
    """A sysfs root for the provider: the real ``/sys/class/net`` entries,
    plus a ``smart_nic/pf/config`` file (as mlx5 provides on a SmartNIC's
    uplink) for each netdev in *smart_nic* (netdev -> host PF MAC).

    netdevsim has no ``smart_nic`` directory and sysfs cannot be written,
    so each netdev directory is rebuilt from symlinks to the real files.
    """
    net = root / "class" / "net"
    net.mkdir(parents=True)
    for real in Path("/sys/class/net").iterdir():
        mine = net / real.name
        mine.mkdir()
        for entry in ("ifindex", "name_assign_type", "address"):
            (mine / entry).symlink_to(real / entry)
        if real.name in smart_nic:
            config = mine / "smart_nic" / "pf" / "config"
            config.parent.mkdir(parents=True)
            config.write_text(f"MAC        : {smart_nic[real.name]}\nState      : Up\n")
    return root
