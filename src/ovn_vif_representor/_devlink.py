"""Devlink ports: the pyroute2 message classes, a typed port record, and
the source that dumps ports and receives their notifications.

pyroute2 0.9.7 decodes the nested ``DEVLINK_ATTR_PORT_FUNCTION`` with the
top-level attribute map, which garbles the function ``hw_addr`` (the host
PF MAC this provider looks ports up by; svinota/pyroute2#1058), and it
does not know the attributes 149 (external), 150 (controller number) and
164 (SF number). :class:`devlink_port_msg` fixes both by extending
pyroute2's own classes. It derives from ``genlmsg``, not from
``devlinkcmd``: a subclass of an already-used ``devlinkcmd`` inherits its
"compiled" flag and silently ignores an extended map.
"""

from __future__ import annotations

import enum
import errno
import logging
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import attrs
from pyroute2.netlink import GENL_ID_CTRL, NETLINK_GENERIC, genlmsg, nla
from pyroute2.netlink import ctrlmsg as _ctrlmsg
from pyroute2.netlink.devlink import DEVLINK_NAMES, MarshalDevlink, devlinkcmd

from ovn_vif import ProviderUnavailableError
from ovn_vif_representor._nlsock import (
    KernelNetlinkSocket,
    NetlinkChannel,
    NetlinkOverflowError,
    NetlinkTransport,
)

LOG = logging.getLogger(__name__)

#: Generic netlink family name and version of devlink.
DEVLINK_GENL_NAME = "devlink"
DEVLINK_GENL_VERSION = 1
#: The multicast group on which the kernel announces port changes.
DEVLINK_MCGRP_CONFIG = "config"

CMD_PORT_GET: int = DEVLINK_NAMES["DEVLINK_CMD_PORT_GET"]
CMD_PORT_NEW: int = DEVLINK_NAMES["DEVLINK_CMD_PORT_NEW"]
CMD_PORT_DEL: int = DEVLINK_NAMES["DEVLINK_CMD_PORT_DEL"]

#: ``DEVLINK_PORT_TYPE_ETH``: only Ethernet ports have a netdev.
PORT_TYPE_ETH = 2


class PortFlavour(enum.IntEnum):
    """``enum devlink_port_flavour`` (``linux/devlink.h``)."""

    PHYSICAL = 0
    CPU = 1
    DSA = 2
    PCI_PF = 3
    PCI_VF = 4
    VIRTUAL = 5
    UNUSED = 6
    PCI_SF = 7


class dl_port_function(nla):  # type: ignore[misc]
    """``DEVLINK_ATTR_PORT_FUNCTION``'s nested attributes."""

    nla_map = (
        # Raw bytes: 6 for Ethernet, 20 for InfiniBand; formatted by us.
        (1, "DEVLINK_PORT_FUNCTION_ATTR_HW_ADDR", "cdata"),
        (2, "DEVLINK_PORT_FN_ATTR_STATE", "uint8"),
        (3, "DEVLINK_PORT_FN_ATTR_OPSTATE", "uint8"),
    )


_PORT_ATTRS = frozenset(
    {
        "DEVLINK_ATTR_BUS_NAME",
        "DEVLINK_ATTR_DEV_NAME",
        "DEVLINK_ATTR_PORT_INDEX",
        "DEVLINK_ATTR_PORT_TYPE",
        "DEVLINK_ATTR_PORT_NETDEV_IFINDEX",
        "DEVLINK_ATTR_PORT_NETDEV_NAME",
        "DEVLINK_ATTR_PORT_FLAVOUR",
        "DEVLINK_ATTR_PORT_NUMBER",
        "DEVLINK_ATTR_PORT_PCI_PF_NUMBER",
        "DEVLINK_ATTR_PORT_PCI_VF_NUMBER",
        "DEVLINK_ATTR_PORT_SPLITTABLE",
    }
)


class devlink_port_msg(genlmsg):  # type: ignore[misc]
    """A devlink port message (``PORT_GET`` reply, ``PORT_NEW``, ``PORT_DEL``).

    pyroute2's map is positional (index = attribute number) and right up to
    148; the attributes this provider reads are taken from it by number,
    and the ones it lacks or mis-types are added as explicit triples.
    """

    prefix = "DEVLINK_ATTR_"
    nla_map = (
        *(
            (i, name, kind)
            for i, (name, kind) in enumerate(devlinkcmd.nla_map)
            if name in _PORT_ATTRS
        ),
        (145, "DEVLINK_ATTR_PORT_FUNCTION", "dl_port_function"),
        (149, "DEVLINK_ATTR_PORT_EXTERNAL", "uint8"),
        (150, "DEVLINK_ATTR_PORT_CONTROLLER_NUMBER", "uint32"),
        (164, "DEVLINK_ATTR_PORT_PCI_SF_NUMBER", "uint32"),
    )
    dl_port_function = dl_port_function


def format_mac(raw: bytes) -> str | None:
    """``b'\\x00\\x53...'`` -> ``'00:53:...'`` for 6 bytes, else ``None``."""
    if len(raw) != 6:
        return None
    return ":".join(f"{b:02x}" for b in raw)


@attrs.frozen(slots=True, kw_only=True)
class DevlinkPort:
    """One devlink port, as the kernel describes it.

    Absent attributes are ``None``. ``hw_addr`` is the port function's
    address: for a ``PCI_PF`` port the MAC the host sees on that PF.
    """

    #: Devlink handle of the device: bus and device name (``pci``,
    #: ``0000:03:00.0``) and the port index within it.
    bus: str
    dev: str
    index: int
    flavour: int | None = None
    port_type: int | None = None
    ifindex: int | None = None
    netdev: str | None = None
    #: ``DEVLINK_ATTR_PORT_NUMBER`` (physical ports).
    number: int | None = None
    pf_number: int | None = None
    vf_number: int | None = None
    sf_number: int | None = None
    #: Controller number; present on NICs that serve several hosts.
    controller: int | None = None
    #: Whether the function belongs to an external controller (host).
    external: bool = False
    #: Port function address, lower-case ``aa:bb:cc:dd:ee:ff``.
    hw_addr: str | None = None

    @property
    def handle(self) -> str:
        """``bus/dev/index``, as ``devlink port show`` prints it."""
        return f"{self.bus}/{self.dev}/{self.index}"

    @property
    def flavour_name(self) -> str:
        """``PCI_VF``, ``VIRTUAL``, ... or the number for an unknown one."""
        if self.flavour is None:
            return "NONE"
        try:
            return PortFlavour(self.flavour).name
        except ValueError:
            return str(self.flavour)


@attrs.frozen(slots=True)
class PortNew:
    """``DEVLINK_CMD_PORT_NEW``: a port appeared or changed."""

    port: DevlinkPort


@attrs.frozen(slots=True)
class PortDel:
    """``DEVLINK_CMD_PORT_DEL``: a port disappeared."""

    port: DevlinkPort


@attrs.frozen(slots=True)
class Overflow:
    """Notifications were lost (``ENOBUFS``): the table must be rebuilt."""


DevlinkEvent = PortNew | PortDel | Overflow


def port_from_message(msg: Any) -> DevlinkPort:
    """Turn a decoded :class:`devlink_port_msg` into a :class:`DevlinkPort`.

    :raises ValueError: the bus name, device name or port index is missing.
    """
    bus = msg.get_attr("DEVLINK_ATTR_BUS_NAME")
    dev = msg.get_attr("DEVLINK_ATTR_DEV_NAME")
    index = msg.get_attr("DEVLINK_ATTR_PORT_INDEX")
    if bus is None or dev is None or index is None:
        raise ValueError(
            f"devlink port message without bus/dev/index: bus={bus!r} dev={dev!r} index={index!r}"
        )
    port_type = msg.get_attr("DEVLINK_ATTR_PORT_TYPE")
    netdev = msg.get_attr("DEVLINK_ATTR_PORT_NETDEV_NAME")
    ifindex = msg.get_attr("DEVLINK_ATTR_PORT_NETDEV_IFINDEX")
    if port_type is not None and port_type != PORT_TYPE_ETH:
        # The netdev attributes describe an Ethernet netdev only.
        netdev = ifindex = None
    hw_addr = None
    function = msg.get_attr("DEVLINK_ATTR_PORT_FUNCTION")
    if function is not None:
        raw = function.get_attr("DEVLINK_PORT_FUNCTION_ATTR_HW_ADDR")
        if isinstance(raw, (bytes, bytearray)):
            hw_addr = format_mac(bytes(raw))
    external = msg.get_attr("DEVLINK_ATTR_PORT_EXTERNAL")
    return DevlinkPort(
        bus=bus,
        dev=dev,
        index=index,
        flavour=msg.get_attr("DEVLINK_ATTR_PORT_FLAVOUR"),
        port_type=port_type,
        ifindex=ifindex,
        netdev=netdev or None,
        number=msg.get_attr("DEVLINK_ATTR_PORT_NUMBER"),
        pf_number=msg.get_attr("DEVLINK_ATTR_PORT_PCI_PF_NUMBER"),
        vf_number=msg.get_attr("DEVLINK_ATTR_PORT_PCI_VF_NUMBER"),
        sf_number=msg.get_attr("DEVLINK_ATTR_PORT_PCI_SF_NUMBER"),
        controller=msg.get_attr("DEVLINK_ATTR_PORT_CONTROLLER_NUMBER"),
        external=bool(external),
        hw_addr=hw_addr,
    )


class DevlinkSource(Protocol):
    """Where the provider's port table comes from.

    :meth:`dump` returns every port; :meth:`poll` returns, without
    blocking, the notifications received since the last call (an
    :class:`Overflow` among them means some were lost).
    """

    def fileno(self) -> int:
        """Descriptor that becomes readable when :meth:`poll` has work."""
        ...

    def dump(self) -> list[DevlinkPort]:
        """Every devlink port of every device, from one full dump."""
        ...

    def poll(self) -> list[DevlinkEvent]:
        """Pending notifications, oldest first; never blocks."""
        ...

    def close(self) -> None:
        """Release the socket."""
        ...


def resolve_genl_family(
    channel: NetlinkChannel, name: str, *, timeout: float = 5.0
) -> tuple[int, dict[str, int]]:
    """Ask the generic netlink controller for *name*'s id and groups.

    *channel* must have a marshal that knows ``ctrlmsg`` for
    ``GENL_ID_CTRL``.
    """
    msg = _ctrlmsg()
    msg["cmd"] = 3  # CTRL_CMD_GETFAMILY
    msg["version"] = 1
    msg["attrs"] = [["CTRL_ATTR_FAMILY_NAME", name]]
    replies = channel.request(msg, GENL_ID_CTRL, timeout=timeout)
    family_id = replies[0].get_attr("CTRL_ATTR_FAMILY_ID") if replies else None
    if not isinstance(family_id, int):
        raise OSError(errno.EPROTO, f"generic netlink controller: no family id for {name!r}")
    (reply,) = replies
    groups = {
        g.get_attr("CTRL_ATTR_MCAST_GRP_NAME"): g.get_attr("CTRL_ATTR_MCAST_GRP_ID")
        for g in reply.get_attr("CTRL_ATTR_MCAST_GROUPS", [])
    }
    return family_id, groups


class _DevlinkMarshal(MarshalDevlink):  # type: ignore[misc]
    """pyroute2's devlink marshal, also decoding the controller's replies."""

    msg_map: ClassVar[dict[int, Any]] = {GENL_ID_CTRL: _ctrlmsg}


class NetlinkDevlinkSource:
    """A :class:`DevlinkSource` over a generic netlink socket.

    On construction it resolves the ``devlink`` family and joins its
    ``config`` multicast group, so that no notification is missed between
    the dump and the first :meth:`poll`. *transport* defaults to a real
    kernel socket; tests pass one whose other end they write.

    :raises ProviderUnavailableError: the kernel has no devlink, or the
        socket cannot be opened.
    """

    def __init__(
        self,
        transport: NetlinkTransport | None = None,
        *,
        timeout: float = 5.0,
        dump_attempts: int = 3,
    ) -> None:
        if transport is None:
            try:
                transport = KernelNetlinkSocket(NETLINK_GENERIC)
            except OSError as exc:
                raise ProviderUnavailableError(
                    f"cannot open a generic netlink socket for devlink: {exc}"
                ) from exc
        self._timeout = timeout
        self._dump_attempts = dump_attempts
        self._channel = NetlinkChannel(transport, _DevlinkMarshal(), "devlink")
        try:
            family_id, groups = resolve_genl_family(
                self._channel, DEVLINK_GENL_NAME, timeout=timeout
            )
            group = groups.get(DEVLINK_MCGRP_CONFIG)
            if group is not None:
                transport.add_membership(group)
        except OSError as exc:
            self._channel.close()
            if exc.errno == errno.ENOENT:
                raise ProviderUnavailableError(
                    "the kernel has no devlink: the generic netlink family 'devlink' "
                    "does not exist (devlink needs Linux 4.6 or newer with a driver "
                    "that registers it)"
                ) from exc
            raise ProviderUnavailableError(f"cannot set up devlink monitoring: {exc}") from exc
        if group is None:
            self._channel.close()
            raise ProviderUnavailableError(
                f"the kernel's devlink family has no {DEVLINK_MCGRP_CONFIG!r} multicast "
                f"group (groups: {sorted(groups)})"
            )
        self._family_id = family_id
        self._channel.marshal.msg_map[family_id] = devlink_port_msg

    def fileno(self) -> int:
        return self._channel.fileno()

    def close(self) -> None:
        self._channel.close()

    def dump(self) -> list[DevlinkPort]:
        """One full ``DEVLINK_CMD_PORT_GET`` dump.

        An overflow while the dump is read restarts it (up to
        *dump_attempts* times); notifications received meanwhile stay
        queued for :meth:`poll`.
        """
        for attempt in range(1, self._dump_attempts + 1):
            msg = devlink_port_msg()
            msg["cmd"] = CMD_PORT_GET
            msg["version"] = DEVLINK_GENL_VERSION
            try:
                replies = self._channel.request(
                    msg, self._family_id, dump=True, timeout=self._timeout
                )
            except NetlinkOverflowError:
                LOG.warning(
                    "devlink socket overflowed during the port dump (attempt %d of %d)",
                    attempt,
                    self._dump_attempts,
                )
                continue
            return self._ports(replies, "dump")
        raise NetlinkOverflowError("devlink port dump")

    def poll(self) -> list[DevlinkEvent]:
        drained = self._channel.drain()
        events: list[DevlinkEvent] = []
        for msg in drained.messages:
            cmd = msg.get("cmd") if msg["header"].get("type") == self._family_id else None
            if cmd not in (CMD_PORT_NEW, CMD_PORT_DEL):
                continue
            ports = self._ports([msg], "notification")
            if not ports:
                continue
            events.append(PortNew(ports[0]) if cmd == CMD_PORT_NEW else PortDel(ports[0]))
        if drained.overflowed:
            events.append(Overflow())
        return events

    @staticmethod
    def _ports(messages: list[Any], what: str) -> list[DevlinkPort]:
        ports = []
        for msg in messages:
            error = msg["header"].get("error")
            if error is not None:
                LOG.warning("ignoring an undecodable devlink port %s: %r", what, error)
                continue
            try:
                ports.append(port_from_message(msg))
            except ValueError as exc:
                LOG.warning("ignoring a devlink port %s: %s", what, exc)
        return ports


#: What :class:`~ovn_vif_representor.RepresentorProvider` calls to get a
#: devlink source.
DevlinkSourceFactory = Callable[[], DevlinkSource]
