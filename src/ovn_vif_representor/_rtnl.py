"""Netdev renames, from rtnetlink link notifications.

udev renames a representor (``eth5`` -> ``pf0vf3``) after devlink announced
it. ovn-vif learns of that from libudev; this provider listens to the
kernel directly: every rename produces an ``RTM_NEWLINK`` on the
``RTMGRP_LINK`` group, carrying the ifindex and the new ``IFLA_IFNAME``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import attrs
from pyroute2.netlink import NETLINK_ROUTE
from pyroute2.netlink.rtnl import RTM_NEWLINK, RTMGRP_LINK
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from ovn_vif import ProviderUnavailableError
from ovn_vif_representor._devlink import Overflow
from ovn_vif_representor._nlsock import KernelNetlinkSocket, NetlinkChannel, NetlinkTransport
from ovn_vif_representor._pyroute2 import Marshal

LOG = logging.getLogger(__name__)


@attrs.frozen(slots=True)
class LinkName:
    """The netdev with *ifindex* is now called *name* (``RTM_NEWLINK``)."""

    ifindex: int
    name: str


LinkEvent = LinkName | Overflow


class LinkSource(Protocol):
    """Link notifications, received without blocking."""

    def fileno(self) -> int:
        """Descriptor that becomes readable when :meth:`poll` has work."""
        ...

    def poll(self) -> list[LinkEvent]:
        """Pending link events, oldest first; never blocks."""
        ...

    def close(self) -> None:
        """Release the socket."""
        ...


class _LinkMarshal(Marshal):  # type: ignore[misc]
    msg_map: ClassVar[dict[int, Any]] = {RTM_NEWLINK: ifinfmsg}


class RtnlLinkSource:
    """A :class:`LinkSource` on an rtnetlink socket bound to ``RTMGRP_LINK``.

    Binding to the group needs no privilege. *transport* defaults to a real
    kernel socket.

    :raises ProviderUnavailableError: the socket cannot be opened.
    """

    def __init__(self, transport: NetlinkTransport | None = None) -> None:
        if transport is None:
            try:
                transport = KernelNetlinkSocket(NETLINK_ROUTE, groups=RTMGRP_LINK)
            except OSError as exc:
                raise ProviderUnavailableError(
                    f"cannot open an rtnetlink socket for netdev renames: {exc}"
                ) from exc
        self._channel = NetlinkChannel(transport, _LinkMarshal(), "rtnetlink")

    def fileno(self) -> int:
        return self._channel.fileno()

    def close(self) -> None:
        self._channel.close()

    def poll(self) -> list[LinkEvent]:
        drained = self._channel.drain()
        events: list[LinkEvent] = []
        for msg in drained.messages:
            event = _link_name(msg)
            if event is not None:
                events.append(event)
        if drained.overflowed:
            events.append(Overflow())
        return events


def _link_name(msg: Any) -> LinkName | None:
    if msg["header"].get("type") != RTM_NEWLINK or msg["header"].get("error") is not None:
        return None
    ifindex = msg.get("index")
    name = msg.get_attr("IFLA_IFNAME")
    if not isinstance(ifindex, int) or not isinstance(name, str) or not name:
        LOG.debug("ignoring an RTM_NEWLINK without index or name: %r", msg)
        return None
    return LinkName(ifindex=ifindex, name=name)


#: What :class:`~ovn_vif_representor.RepresentorProvider` calls to get a
#: link source.
LinkSourceFactory = Callable[[], LinkSource]
