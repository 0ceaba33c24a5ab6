"""The fake kernel against a recording of a real one.

``data/netdevsim-6.1.json`` holds the devlink messages Linux 6.1 sent for a
netdevsim device (patched module: a physical port, PCI PF 0 with a host
MAC, VFs 0 and 1): the ``PORT_GET`` dump and the notifications of the PF
port's deletion. The kernel tier (``tests/ovn_vif_representor/kernel/test_recorded_dump.py``)
re-records them on every run and fails if they change.

Here, without a kernel: each recorded message must decode to the expected
port, and :mod:`ovn_vif_representor.testing` must encode that port into a
message that decodes the same, with the same bytes in every attribute the
provider reads, and announce a deletion with the same messages.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import attrs
import pytest
from tests.support import REPO

from ovn_vif_representor import DevlinkPort, NetlinkDevlinkSource, PortFlavour
from ovn_vif_representor._devlink import (
    CMD_PORT_DEL,
    CMD_PORT_NEW,
    PORT_TYPE_ETH,
    devlink_port_msg,
    port_from_message,
)
from ovn_vif_representor.testing import CMD_NEW, FakeKernel, encode_port

RECORDING = json.loads((Path(__file__).parent / "data" / "netdevsim-6.1.json").read_text())
PF_MAC = "00:53:00:00:00:42"
VF1_MAC = "00:53:00:00:01:01"
ZERO = "00:00:00:00:00:00"
BUS, DEV = "netdevsim", "netdevsim99"

#: The ports of the recorded dump, as the provider must read them
#: (ifindexes differ from boot to boot and are checked apart).
EXPECTED = [
    DevlinkPort(
        bus=BUS, dev=DEV, index=0, flavour=PortFlavour.PHYSICAL, port_type=PORT_TYPE_ETH,
        netdev="eni99np1", number=1,
    ),
    DevlinkPort(
        bus=BUS, dev=DEV, index=64, flavour=PortFlavour.PCI_PF, port_type=PORT_TYPE_ETH,
        netdev="eni99npf0", pf_number=0, controller=0, hw_addr=PF_MAC,
    ),
    DevlinkPort(
        bus=BUS, dev=DEV, index=128, flavour=PortFlavour.PCI_VF, port_type=PORT_TYPE_ETH,
        netdev="eni99npf0vf0", pf_number=0, vf_number=0, controller=0, hw_addr=ZERO,
    ),
    DevlinkPort(
        bus=BUS, dev=DEV, index=129, flavour=PortFlavour.PCI_VF, port_type=PORT_TYPE_ETH,
        netdev="eni99npf0vf1", pf_number=0, vf_number=1, controller=0, hw_addr=VF1_MAC,
    ),
]  # fmt: skip

#: Attribute numbers the provider reads (``devlink_port_msg``'s map).
READ = {number for number, _name, _kind in devlink_port_msg.nla_map}


def decode(raw: bytes) -> Any:
    msg = devlink_port_msg(raw)
    msg.decode()
    return msg


def attributes(raw: bytes) -> dict[int, bytes]:
    """Top-level attributes of a generic netlink message: type -> payload."""
    out: dict[int, bytes] = {}
    offset = 20  # nlmsghdr + genlmsghdr
    while offset + 4 <= len(raw):
        length, kind = struct.unpack_from("=HH", raw, offset)
        out[kind & 0x3FFF] = raw[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return out


def recorded(key: str) -> list[bytes]:
    return [bytes.fromhex(m) for m in RECORDING[key]]


def without_ifindex(port: DevlinkPort) -> DevlinkPort:
    return attrs.evolve(port, ifindex=None)


def test_the_recorded_dump_decodes_to_the_expected_ports() -> None:
    messages = [decode(raw) for raw in recorded("dump")]
    # Not PORT_NEW: the kernel answers a port dump with DEVLINK_CMD_NEW.
    assert {m["cmd"] for m in messages} == {CMD_NEW}
    ports = [port_from_message(m) for m in messages]
    # The kernel lists the ports in the order the driver registered them.
    assert sorted((without_ifindex(p) for p in ports), key=lambda p: p.index) == EXPECTED
    assert all(isinstance(p.ifindex, int) and p.ifindex > 0 for p in ports)


@pytest.mark.parametrize("index", range(len(EXPECTED)))
def test_the_fake_encodes_each_port_as_the_kernel_does(index: int) -> None:
    raw = recorded("dump")[index]
    port = port_from_message(decode(raw))
    fake = encode_port(port)
    assert port_from_message(decode(fake)) == port
    real_attrs, fake_attrs = attributes(raw), attributes(fake)
    # Every attribute the provider reads is there with the same bytes
    # (the order of attributes differs and does not matter).
    assert {k: v for k, v in fake_attrs.items() if k in READ} == {
        k: v for k, v in real_attrs.items() if k in READ
    }


class Recording:
    """A fake kernel socket that keeps what the source receives."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.received: list[bytes] = []

    def fileno(self) -> int:
        return int(self.inner.fileno())

    def send(self, data: bytes) -> None:
        self.inner.send(data)

    def recv(self) -> bytes:
        data: bytes = self.inner.recv()
        self.received.append(data)
        return data

    def add_membership(self, group: int) -> None:
        self.inner.add_membership(group)

    def close(self) -> None:
        self.inner.close()


def split(datagram: bytes) -> list[bytes]:
    out, offset = [], 0
    while offset + 16 <= len(datagram):
        (length,) = struct.unpack_from("=I", datagram, offset)
        out.append(datagram[offset : offset + length])
        offset += (length + 3) & ~3
    return out


def test_the_fake_dumps_like_the_kernel() -> None:
    kernel = FakeKernel()
    real_ports = [port_from_message(decode(raw)) for raw in recorded("dump")]
    for port in real_ports:
        kernel.add_port(port)
    recording = Recording(kernel.socket("genl"))
    source = NetlinkDevlinkSource(recording)
    try:
        assert source.dump() == real_ports
    finally:
        source.close()
    replies = [
        decode(m)
        for datagram in recording.received
        for m in split(datagram)
        if struct.unpack_from("=H", m, 4)[0] not in (1, 2, 3, 0x10)  # control, done, ctrl
    ]
    real = [decode(raw) for raw in recorded("dump")]
    assert [m["cmd"] for m in replies] == [m["cmd"] for m in real]
    assert [m["header"]["flags"] for m in replies] == [m["header"]["flags"] for m in real]


def test_the_fake_announces_a_deleted_port_as_the_kernel_does() -> None:
    real = [decode(raw) for raw in recorded("pf_deleted")]
    assert [m["cmd"] for m in real] == [CMD_PORT_NEW, CMD_PORT_DEL]

    kernel = FakeKernel()
    (pf,) = [
        port
        for port in (port_from_message(decode(raw)) for raw in recorded("dump"))
        if port.flavour == PortFlavour.PCI_PF
    ]
    kernel.add_port(pf)
    sock = kernel.socket("genl")
    sock.add_membership(5)  # the fake's devlink "config" group
    kernel.del_port(pf)
    fake = [decode(sock.recv()), decode(sock.recv())]
    assert [m["cmd"] for m in fake] == [CMD_PORT_NEW, CMD_PORT_DEL]
    assert [port_from_message(m) for m in fake] == [port_from_message(m) for m in real]
    for real_msg, fake_msg in zip(recorded("pf_deleted"), (m.data for m in fake), strict=True):
        real_attrs, fake_attrs = attributes(real_msg), attributes(bytes(fake_msg))
        assert {k: v for k, v in fake_attrs.items() if k in READ} == {
            k: v for k, v in real_attrs.items() if k in READ
        }


def test_the_docs_name_the_recorded_kernel() -> None:
    page = REPO / "docs" / "providers" / "representor.rst"
    assert RECORDING["kernel"] in page.read_text()
