"""A simulated kernel for the representor provider, at the socket boundary.

Only the socket is simulated: :class:`FakeKernel` answers the generic
netlink and devlink requests the provider sends and emits devlink and
rtnetlink notifications, all as real netlink bytes encoded with pyroute2's
message classes, through a real ``socketpair``. Everything above the
socket (the marshal, the decoding, the port table, the provider) is the
code that runs on a real kernel.

>>> from ovn_vif_representor import RepresentorProvider
>>> from ovn_vif_representor.testing import FakeKernel
>>> kernel = FakeKernel()
>>> _ = kernel.add_pf("p0hpf", ifindex=100, mac="00:53:00:00:00:42")
>>> _ = kernel.add_vf("pf0vf0", ifindex=1000, pf=0, vf=0)
>>> provider = RepresentorProvider(devlink=kernel.devlink_source, links=kernel.link_source)
>>> provider.init()
>>> [(row.kind, row.netdev, row.state.value) for row in provider.representors()]
[('pf', 'p0hpf', 'ready'), ('vf', 'pf0vf0', 'ready')]
>>> provider.destroy()

A kernel without devlink (``FakeKernel(devlink=False)``) refuses the
family lookup with ``ENOENT``, as this build machine's kernel does.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import socket
import struct
from collections.abc import Iterator
from typing import Any

import attrs
from pyroute2.netlink import (
    GENL_ID_CTRL,
    NLM_F_DUMP,
    NLM_F_MULTI,
    NLMSG_DONE,
    ctrlmsg,
    nlmsg,
    nlmsgerr,
)
from pyroute2.netlink.devlink import DEVLINK_NAMES
from pyroute2.netlink.rtnl import RTM_NEWLINK
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from ovn_vif_representor._devlink import (
    CMD_PORT_DEL,
    CMD_PORT_GET,
    CMD_PORT_NEW,
    DEVLINK_GENL_NAME,
    DEVLINK_GENL_VERSION,
    DEVLINK_MCGRP_CONFIG,
    PORT_TYPE_ETH,
    DevlinkPort,
    PortFlavour,
    devlink_port_msg,
)
from ovn_vif_representor._devlink import NetlinkDevlinkSource as _DevlinkSource
from ovn_vif_representor._pyroute2 import Marshal
from ovn_vif_representor._rtnl import RtnlLinkSource as _LinkSource

__all__ = [
    "FakeKernel",
    "FakeNetlinkSocket",
    "ManualClock",
    "encode_link",
    "encode_port",
    "pf_port",
    "physical_port",
    "sf_port",
    "vf_port",
]

#: The command of the messages in a port dump reply (see ``_dump``).
CMD_NEW: int = DEVLINK_NAMES["DEVLINK_CMD_NEW"]
#: Family id and config group id the fake kernel hands out.
DEVLINK_FAMILY_ID = 0x14
DEVLINK_CONFIG_GROUP = 5
#: Messages per datagram in a dump reply (the kernel packs several too).
DUMP_BATCH = 3
_DATAGRAM = 65536


class ManualClock:
    """A ``time.monotonic`` stand-in that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by *seconds*."""
        self.now += seconds


#: The devlink device of the ports built below (ovn-vif's test fixture).
BUS, DEV = "pci", "0000:03:00.0"


def physical_port(
    netdev: str | None = "p0",
    *,
    ifindex: int | None = 10,
    number: int = 0,
    index: int | None = None,
    hw_addr: str | None = None,
    bus: str = BUS,
    dev: str = DEV,
) -> DevlinkPort:
    """A ``PHYSICAL`` port (an uplink), ``p0`` with ifindex 10 by default."""
    return DevlinkPort(
        bus=bus,
        dev=dev,
        index=number if index is None else index,
        flavour=PortFlavour.PHYSICAL,
        port_type=PORT_TYPE_ETH,
        ifindex=ifindex,
        netdev=netdev,
        number=number,
        hw_addr=hw_addr,
    )


def pf_port(
    netdev: str | None = "p0hpf",
    *,
    ifindex: int | None = 100,
    pf: int = 0,
    mac: str | None = None,
    controller: int | None = None,
    external: bool = False,
    index: int | None = None,
    bus: str = BUS,
    dev: str = DEV,
) -> DevlinkPort:
    """A ``PCI_PF`` port whose function ``hw_addr`` is *mac* (the host PF MAC)."""
    return DevlinkPort(
        bus=bus,
        dev=dev,
        index=(0x10000 * (controller or 0) + 0x1000 + pf) if index is None else index,
        flavour=PortFlavour.PCI_PF,
        port_type=PORT_TYPE_ETH,
        ifindex=ifindex,
        netdev=netdev,
        pf_number=pf,
        controller=controller,
        external=external,
        hw_addr=mac,
    )


def vf_port(
    netdev: str | None,
    *,
    ifindex: int | None,
    pf: int = 0,
    vf: int = 0,
    mac: str | None = None,
    controller: int | None = None,
    external: bool = False,
    index: int | None = None,
    bus: str = BUS,
    dev: str = DEV,
) -> DevlinkPort:
    """A ``PCI_VF`` port: VF *vf* of PF *pf*."""
    return DevlinkPort(
        bus=bus,
        dev=dev,
        index=(0x10000 * (controller or 0) + 0x2000 + 0x100 * pf + vf) if index is None else index,
        flavour=PortFlavour.PCI_VF,
        port_type=PORT_TYPE_ETH,
        ifindex=ifindex,
        netdev=netdev,
        pf_number=pf,
        vf_number=vf,
        controller=controller,
        external=external,
        hw_addr=mac,
    )


def sf_port(
    netdev: str | None,
    *,
    ifindex: int | None,
    pf: int = 0,
    sf: int = 0,
    controller: int | None = None,
    external: bool = False,
    index: int | None = None,
    bus: str = BUS,
    dev: str = DEV,
) -> DevlinkPort:
    """A ``PCI_SF`` port: SF *sf* of PF *pf*."""
    return DevlinkPort(
        bus=bus,
        dev=dev,
        index=(0x10000 * (controller or 0) + 0x8000 + sf) if index is None else index,
        flavour=PortFlavour.PCI_SF,
        port_type=PORT_TYPE_ETH,
        ifindex=ifindex,
        netdev=netdev,
        pf_number=pf,
        sf_number=sf,
        controller=controller,
        external=external,
    )


def encode_port(
    port: DevlinkPort, cmd: int = CMD_PORT_NEW, *, seq: int = 0, flags: int = 0
) -> bytes:
    """One devlink port message for *port*, as the kernel would send it."""
    attrs_: list[list[Any]] = [
        ["DEVLINK_ATTR_BUS_NAME", port.bus],
        ["DEVLINK_ATTR_DEV_NAME", port.dev],
        ["DEVLINK_ATTR_PORT_INDEX", port.index],
    ]
    if port.netdev is not None and port.ifindex is not None:
        attrs_ += [
            ["DEVLINK_ATTR_PORT_TYPE", PORT_TYPE_ETH],
            ["DEVLINK_ATTR_PORT_NETDEV_IFINDEX", port.ifindex],
            ["DEVLINK_ATTR_PORT_NETDEV_NAME", port.netdev],
        ]
    else:
        attrs_.append(["DEVLINK_ATTR_PORT_TYPE", port.port_type or 0])
    for name, value in (
        ("DEVLINK_ATTR_PORT_FLAVOUR", port.flavour),
        ("DEVLINK_ATTR_PORT_NUMBER", port.number),
        ("DEVLINK_ATTR_PORT_PCI_PF_NUMBER", port.pf_number),
        ("DEVLINK_ATTR_PORT_PCI_VF_NUMBER", port.vf_number),
        ("DEVLINK_ATTR_PORT_PCI_SF_NUMBER", port.sf_number),
        ("DEVLINK_ATTR_PORT_CONTROLLER_NUMBER", port.controller),
    ):
        if value is not None:
            attrs_.append([name, value])
    if port.controller is not None or port.external:
        # Linux puts both for every PCI PF, VF and SF port.
        attrs_.append(["DEVLINK_ATTR_PORT_EXTERNAL", int(port.external)])
    if port.flavour is not None:
        attrs_.append(["DEVLINK_ATTR_PORT_SPLITTABLE", 0])
    if port.hw_addr is not None:
        raw = bytes(int(part, 16) for part in port.hw_addr.split(":"))
        attrs_.append(
            [
                "DEVLINK_ATTR_PORT_FUNCTION",
                {"attrs": [["DEVLINK_PORT_FUNCTION_ATTR_HW_ADDR", raw]]},
            ]
        )
    msg = devlink_port_msg()
    msg["cmd"] = cmd
    msg["version"] = DEVLINK_GENL_VERSION
    msg["attrs"] = attrs_
    msg["header"]["type"] = DEVLINK_FAMILY_ID
    msg["header"]["flags"] = flags
    msg["header"]["sequence_number"] = seq
    msg.encode()
    return bytes(msg.data)


def encode_link(ifindex: int, name: str) -> bytes:
    """An ``RTM_NEWLINK`` for netdev *ifindex* called *name*."""
    msg = ifinfmsg()
    msg["family"] = 0
    msg["index"] = ifindex
    msg["attrs"] = [["IFLA_IFNAME", name]]
    msg["header"]["type"] = RTM_NEWLINK
    msg.encode()
    return bytes(msg.data)


class FakeNetlinkSocket:
    """One end of a ``socketpair``, behaving like a netlink socket.

    Requests go to the :class:`FakeKernel`, which writes its answers into
    the other end. Notifications queue up to *capacity* datagrams beyond
    what the socket holds; past that they are dropped and the next
    :meth:`recv` raises ``ENOBUFS``, as on a real kernel.
    """

    def __init__(self, kernel: FakeKernel, role: str, capacity: int) -> None:
        self._kernel = kernel
        self.role = role
        self.capacity = capacity
        self._ours, self._theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._ours.setblocking(False)
        self._theirs.setblocking(False)
        self._backlog: collections.deque[bytes] = collections.deque()
        #: Datagrams written into the socket and not read yet.
        self._queued = 0
        self._overflowed = False
        self.groups: set[int] = set()
        self.closed = False

    # -- the NetlinkTransport protocol ----------------------------------

    def fileno(self) -> int:
        return self._ours.fileno()

    def send(self, data: bytes) -> None:
        self._kernel._request(self, data)

    def recv(self) -> bytes:
        self._pump()
        if self._overflowed:
            self._overflowed = False
            raise OSError(errno.ENOBUFS, "No buffer space available")
        data = self._ours.recv(_DATAGRAM)
        self._queued -= 1
        self._pump()
        return data

    def add_membership(self, group: int) -> None:
        self.groups.add(group)

    def close(self) -> None:
        self.closed = True
        self._ours.close()
        self._theirs.close()

    # -- the kernel's side ----------------------------------------------

    def _pump(self) -> None:
        while self._backlog and not self.closed:
            try:
                self._theirs.send(self._backlog[0])
            except BlockingIOError:
                return
            self._backlog.popleft()
            self._queued += 1

    def deliver(self, datagram: bytes, *, reliable: bool = False) -> None:
        """Queue *datagram*; a notification past *capacity* is dropped."""
        if self.closed:
            return
        if not reliable and self._queued + len(self._backlog) >= self.capacity:
            self._overflowed = True
            return
        self._backlog.append(datagram)
        self._pump()

    def overflow(self) -> None:
        """Make the next :meth:`recv` report ``ENOBUFS``."""
        self._overflowed = True


@attrs.define
class FakeKernel:
    """Devlink ports and netdevs, served over :class:`FakeNetlinkSocket`.

    :param devlink: whether the ``devlink`` generic netlink family exists.
    :param capacity: notifications a socket can hold before overflowing.
    :param devlink_notifies_rename: send a devlink ``PORT_NEW`` on a rename
        too (recent kernels do; older ones only emit ``RTM_NEWLINK``).
    :param overflowing_dumps: how many of the next port dumps a notification
        storm interrupts (the reader gets ``ENOBUFS`` first).
    """

    devlink: bool = True
    capacity: int = 1024
    devlink_notifies_rename: bool = False
    overflowing_dumps: int = 0
    ports: dict[tuple[str, str, int], DevlinkPort] = attrs.field(factory=dict)
    sockets: list[FakeNetlinkSocket] = attrs.field(factory=list)
    #: Requests received, as ``(role, nlmsg type, cmd)``.
    requests: list[tuple[str, int, int]] = attrs.field(factory=list)
    _dropping: bool = False

    # -- sockets and sources --------------------------------------------

    def socket(self, role: str) -> FakeNetlinkSocket:
        """A new socket; *role* is ``"genl"`` or ``"rtnl"``."""
        sock = FakeNetlinkSocket(self, role, self.capacity)
        self.sockets.append(sock)
        return sock

    def devlink_source(self) -> _DevlinkSource:
        """A real :class:`~ovn_vif_representor.NetlinkDevlinkSource` on a fake socket."""
        return _DevlinkSource(self.socket("genl"))

    def link_source(self) -> _LinkSource:
        """A real :class:`~ovn_vif_representor.RtnlLinkSource` on a fake socket."""
        return _LinkSource(self.socket("rtnl"))

    def open_sockets(self) -> list[FakeNetlinkSocket]:
        return [s for s in self.sockets if not s.closed]

    # -- changing the simulated hardware ---------------------------------

    def add_port(self, port: DevlinkPort) -> DevlinkPort:
        """Add or change a port and announce it (``PORT_NEW``)."""
        self.ports[(port.bus, port.dev, port.index)] = port
        self._notify_devlink(encode_port(port, CMD_PORT_NEW))
        return port

    def del_port(self, port: DevlinkPort) -> None:
        """Remove a port, announcing it as the kernel does.

        The kernel first reports the port without its netdev (its type
        reset), then ``PORT_DEL``.
        """
        key = (port.bus, port.dev, port.index)
        current = self.ports.pop(key, port)
        bare = attrs.evolve(current, ifindex=None, netdev=None, port_type=0)
        self._notify_devlink(encode_port(bare, CMD_PORT_NEW))
        self._notify_devlink(encode_port(bare, CMD_PORT_DEL))

    def rename(self, ifindex: int, name: str) -> None:
        """Rename a netdev: ``RTM_NEWLINK`` (and devlink ``PORT_NEW`` if enabled)."""
        for key, port in self.ports.items():
            if port.ifindex == ifindex:
                renamed = self.ports[key] = attrs.evolve(port, netdev=name)
                if self.devlink_notifies_rename:
                    self._notify_devlink(encode_port(renamed, CMD_PORT_NEW))
        self.link_changed(ifindex, name)

    def link_changed(self, ifindex: int, name: str) -> None:
        """Emit an ``RTM_NEWLINK`` (also sent for changes other than renames)."""
        for sock in self.open_sockets():
            if sock.role == "rtnl" and not self._dropping:
                sock.deliver(encode_link(ifindex, name))
            elif sock.role == "rtnl":
                sock.overflow()

    @contextlib.contextmanager
    def dropping(self) -> Iterator[None]:
        """Lose every notification sent inside the block (then ``ENOBUFS``)."""
        self._dropping = True
        try:
            yield
        finally:
            self._dropping = False

    # -- shorthands for the usual ports ----------------------------------

    def add_physical(self, netdev: str = "p0", **kw: Any) -> DevlinkPort:
        """Add a :func:`physical_port`."""
        return self.add_port(physical_port(netdev, **kw))

    def add_pf(self, netdev: str | None = "p0hpf", **kw: Any) -> DevlinkPort:
        """Add a :func:`pf_port`."""
        return self.add_port(pf_port(netdev, **kw))

    def add_vf(self, netdev: str | None, **kw: Any) -> DevlinkPort:
        """Add a :func:`vf_port`."""
        return self.add_port(vf_port(netdev, **kw))

    def add_sf(self, netdev: str | None, **kw: Any) -> DevlinkPort:
        """Add an :func:`sf_port`."""
        return self.add_port(sf_port(netdev, **kw))

    # -- protocol --------------------------------------------------------

    def _notify_devlink(self, message: bytes) -> None:
        for sock in self.open_sockets():
            if sock.role != "genl" or DEVLINK_CONFIG_GROUP not in sock.groups:
                continue
            if self._dropping:
                sock.overflow()
            else:
                sock.deliver(message)

    def _request(self, sock: FakeNetlinkSocket, data: bytes) -> None:
        marshal = Marshal()
        marshal.msg_map[GENL_ID_CTRL] = ctrlmsg
        marshal.msg_map[DEVLINK_FAMILY_ID] = devlink_port_msg
        for request in marshal.parse(data):
            header = request["header"]
            self.requests.append((sock.role, header["type"], request.get("cmd", -1)))
            seq = header["sequence_number"]
            if sock.role == "genl" and header["type"] == GENL_ID_CTRL:
                name = request.get_attr("CTRL_ATTR_FAMILY_NAME")
                if name != DEVLINK_GENL_NAME or not self.devlink:
                    sock.deliver(_error(data, errno.ENOENT, seq), reliable=True)
                    continue
                sock.deliver(_family_reply(seq), reliable=True)
            elif (
                sock.role == "genl"
                and self.devlink
                and header["type"] == DEVLINK_FAMILY_ID
                and request["cmd"] == CMD_PORT_GET
                and header["flags"] & NLM_F_DUMP
            ):
                if self.overflowing_dumps > 0:
                    self.overflowing_dumps -= 1
                    sock.overflow()
                self._dump(sock, seq)
            else:
                sock.deliver(_error(data, errno.EOPNOTSUPP, seq), reliable=True)

    def _dump(self, sock: FakeNetlinkSocket, seq: int) -> None:
        # Linux (6.1, recorded in the kernel tier) answers a port dump
        # with DEVLINK_CMD_NEW, not DEVLINK_CMD_PORT_NEW.
        replies = [
            encode_port(port, CMD_NEW, seq=seq, flags=NLM_F_MULTI) for port in self.ports.values()
        ]
        done = nlmsg()
        done["header"]["type"] = NLMSG_DONE
        done["header"]["flags"] = NLM_F_MULTI
        done["header"]["sequence_number"] = seq
        done.encode()
        # NLMSG_DONE carries an int (0) after its header.
        end = bytearray(bytes(done.data) + b"\0\0\0\0")
        struct.pack_into("I", end, 0, len(end))
        replies.append(bytes(end))
        for start in range(0, len(replies), DUMP_BATCH):
            sock.deliver(b"".join(replies[start : start + DUMP_BATCH]), reliable=True)


def _family_reply(seq: int) -> bytes:
    msg = ctrlmsg()
    msg["cmd"] = 1  # CTRL_CMD_NEWFAMILY
    msg["version"] = 2
    msg["attrs"] = [
        ["CTRL_ATTR_FAMILY_ID", DEVLINK_FAMILY_ID],
        ["CTRL_ATTR_FAMILY_NAME", DEVLINK_GENL_NAME],
        [
            "CTRL_ATTR_MCAST_GROUPS",
            [
                {
                    "attrs": [
                        ["CTRL_ATTR_MCAST_GRP_NAME", DEVLINK_MCGRP_CONFIG],
                        ["CTRL_ATTR_MCAST_GRP_ID", DEVLINK_CONFIG_GROUP],
                    ]
                }
            ],
        ],
    ]
    msg["header"]["type"] = GENL_ID_CTRL
    msg["header"]["sequence_number"] = seq
    msg.encode()
    return bytes(msg.data)


def _error(request: bytes, code: int, seq: int) -> bytes:
    msg = nlmsgerr()
    msg["error"] = -code
    msg["header"]["type"] = 2  # NLMSG_ERROR
    msg["header"]["sequence_number"] = seq
    msg.encode()
    # The kernel echoes the whole request after the error code.
    (length,) = struct.unpack_from("I", request, 0)
    data = bytearray(bytes(msg.data) + request[:length])
    struct.pack_into("I", data, 0, len(data))
    return bytes(data)
