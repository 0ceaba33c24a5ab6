"""Record what the kernel sends for a known netdevsim setup, and check it
against the recording the host-side tests compare the fake kernel with
(``tests/ovn_vif_representor/data/netdevsim-6.1.json``).

The recording is written to the tier's output directory
(``build/kernel/netdevsim-6.1.json`` on the host); when the kernel or the
patched module changes what it sends, this test fails and the new file is
the one to commit.
"""

from __future__ import annotations

import json
import os
import platform
import struct
from pathlib import Path

import pytest
from pyroute2.netlink import NETLINK_GENERIC
from tests.support.netdevsim import VF_PORT_BASE, Netdevsim

from ovn_vif_representor import NetlinkDevlinkSource, PortDel, PortNew
from ovn_vif_representor._nlsock import KernelNetlinkSocket

pytestmark = pytest.mark.kernel

RECORDING = Path(__file__).resolve().parents[1] / "data" / "netdevsim-6.1.json"
DEV_ID = 99
PF_MAC = "00:53:00:00:00:42"
VF1_MAC = "00:53:00:00:01:01"


class Recorder:
    """A kernel netlink socket that keeps every netlink message it receives."""

    def __init__(self) -> None:
        self.inner = KernelNetlinkSocket(NETLINK_GENERIC)
        self.messages: list[bytes] = []

    def fileno(self) -> int:
        return self.inner.fileno()

    def send(self, data: bytes) -> None:
        self.inner.send(data)

    def recv(self) -> bytes:
        data = self.inner.recv()
        offset = 0
        while offset + 16 <= len(data):
            (length,) = struct.unpack_from("=I", data, offset)
            self.messages.append(data[offset : offset + length])
            offset += (length + 3) & ~3
        return data

    def add_membership(self, group: int) -> None:
        self.inner.add_membership(group)

    def close(self) -> None:
        self.inner.close()

    def take(self) -> list[str]:
        """Messages about netdevsim DEV_ID since the last call, as hex."""
        mine = [m.hex() for m in self.messages if f"netdevsim{DEV_ID}\0".encode() in m]
        self.messages.clear()
        return mine


def normalised(recording: dict[str, object]) -> dict[str, object]:
    """The recording without what differs from run to run: ifindexes, and
    the sequence number and port id in each netlink header."""
    out = dict(recording)
    out.pop("kernel", None)
    for key in ("dump", "pf_deleted"):
        messages = out[key]
        assert isinstance(messages, list)
        out[key] = [_without_ifindex(bytes.fromhex(m)).hex() for m in messages]
    return out


def _without_ifindex(message: bytes) -> bytes:
    data = bytearray(message)
    struct.pack_into("=II", data, 8, 0, 0)  # nlmsg_seq, nlmsg_pid
    offset = 20  # nlmsghdr + genlmsghdr
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if kind == 6 and length == 8:  # DEVLINK_ATTR_PORT_NETDEV_IFINDEX
            struct.pack_into("=I", data, offset + 4, 0)
        offset += (length + 3) & ~3
    return bytes(data)


def test_record_a_real_dump_and_notifications(patched: str) -> None:
    with Netdevsim(DEV_ID) as nsim:
        nsim.switchdev_with_vfs(2)
        nsim.add_pf(0)
        nsim.set_hw_addr(nsim.pf_index(0), PF_MAC)
        nsim.set_hw_addr(VF_PORT_BASE + 1, VF1_MAC)
        recorder = Recorder()
        source = NetlinkDevlinkSource(recorder)
        try:
            ports = [p for p in source.dump() if p.dev == nsim.dev]
            dump = recorder.take()
            source.poll()
            recorder.take()
            nsim.del_port(nsim.pf_index(0))
            events = source.poll()
            pf_deleted = recorder.take()
        finally:
            source.close()
    assert sorted(p.index for p in ports) == [0, 64, 128, 129]
    mine = [e for e in events if isinstance(e, (PortNew, PortDel)) and e.port.dev == nsim.dev]
    assert [type(e).__name__ for e in mine] == ["PortNew", "PortDel"]
    recording: dict[str, object] = {
        "kernel": platform.release(),
        "module": "netdevsim of Linux 6.1 with "
        "tests/ovn_vif_representor/kernel/netdevsim-pcipf.patch",
        "setup": (
            f"new_device '{DEV_ID} 1'; sriov_numvfs 2; eswitch switchdev; port add pcipf "
            f"pfnum 0; hw_addr {PF_MAC} on the PF port, {VF1_MAC} on VF 1's port"
        ),
        "dump": dump,
        "pf_deleted": pf_deleted,
    }
    out = Path(os.environ["OVN_VIF_KERNEL_OUT"]) / RECORDING.name
    out.write_text(json.dumps(recording, indent=1) + "\n")
    committed = json.loads(RECORDING.read_text())
    assert normalised(recording) == normalised(committed)
