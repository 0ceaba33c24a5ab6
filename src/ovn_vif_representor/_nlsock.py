"""The netlink socket boundary: a non-blocking datagram transport and a
request/notification channel on top of pyroute2's marshal.

pyroute2 0.9.7's socket classes run an asyncio loop inside every sync call:
their receive blocks, and an ``ENOBUFS`` reported by the kernel leaves the
socket object unusable (``status['error']`` is re-raised on every access).
This provider needs the opposite: a socket it can drain without blocking
from an agent's poll loop and on which an overflow is an ordinary event.
So it owns the socket (:class:`KernelNetlinkSocket`) and uses pyroute2 for
what pyroute2 is good at: the message classes and the marshal that turn
bytes into messages and back.

Everything above :class:`NetlinkTransport` is the code that runs on a real
kernel; tests replace only the transport (see ``tests/representor``).
"""

from __future__ import annotations

import errno
import logging
import select
import socket
from typing import Any, Protocol

import attrs
from pyroute2.netlink import (
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from pyroute2.netlink.exceptions import NetlinkError

LOG = logging.getLogger(__name__)

#: ``SOL_NETLINK`` and ``NETLINK_ADD_MEMBERSHIP`` from ``linux/netlink.h``.
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
#: Large enough for one datagram of a kernel dump (the kernel caps dump
#: skbs at 32 KiB) or of a notification.
RECV_SIZE = 65536
#: Datagrams read per :meth:`NetlinkChannel.drain`; the rest waits for the
#: next call, so a notification storm cannot starve the agent's loop.
MAX_DATAGRAMS_PER_DRAIN = 1024


class NetlinkOverflowError(OSError):
    """The kernel dropped messages for this socket (``ENOBUFS``)."""

    def __init__(self, what: str) -> None:
        super().__init__(errno.ENOBUFS, f"{what}: netlink socket overflowed")


class NetlinkTransport(Protocol):
    """A non-blocking netlink datagram socket.

    :meth:`recv` returns one datagram, raises :class:`BlockingIOError` when
    none is queued and ``OSError(ENOBUFS)`` after the kernel dropped some.
    """

    def fileno(self) -> int:
        """The descriptor to poll for readability."""
        ...

    def send(self, data: bytes) -> None:
        """Send one datagram to the kernel."""
        ...

    def recv(self) -> bytes:
        """Receive one datagram without blocking."""
        ...

    def add_membership(self, group: int) -> None:
        """Join multicast group *group* (a numeric netlink group id)."""
        ...

    def close(self) -> None:
        """Close the socket."""
        ...


class KernelNetlinkSocket:
    """A real ``AF_NETLINK`` socket, bound, non-blocking.

    :param protocol: ``NETLINK_GENERIC``, ``NETLINK_ROUTE``, ...
    :param groups: legacy multicast group bitmask to bind to
        (``RTMGRP_LINK`` for rtnetlink); generic netlink groups are joined
        with :meth:`add_membership`.
    :param rcvbuf: receive buffer to ask for; bursts of representor events
        (thousands of VFs created at once) need more than the default.
    """

    def __init__(self, protocol: int, groups: int = 0, rcvbuf: int = 8 << 20) -> None:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
        try:
            try:
                # SO_RCVBUFFORCE ignores rmem_max but needs CAP_NET_ADMIN.
                sock.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.bind((0, groups))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, data: bytes) -> None:
        self._sock.sendto(data, (0, 0))

    def recv(self) -> bytes:
        return self._sock.recv(RECV_SIZE)

    def add_membership(self, group: int) -> None:
        self._sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)

    def close(self) -> None:
        self._sock.close()


@attrs.frozen
class Drain:
    """What one non-blocking read of a channel returned."""

    #: Decoded unsolicited messages (notifications), oldest first.
    messages: tuple[Any, ...]
    #: ``True`` if the kernel reported an overflow: messages were lost.
    overflowed: bool = False


class NetlinkChannel:
    """Requests and notifications on one :class:`NetlinkTransport`.

    *marshal* is a pyroute2 ``Marshal`` whose ``msg_map`` knows the message
    classes of this family. Replies are matched to requests by sequence
    number; anything else that arrives while a reply is awaited (the
    kernel's notifications carry sequence number 0) is kept, in order, for
    the next :meth:`drain`.
    """

    def __init__(self, transport: NetlinkTransport, marshal: Any, what: str) -> None:
        self.transport = transport
        self.marshal = marshal
        self.what = what
        self._seq = 0
        self._stash: list[Any] = []
        self._stash_overflowed = False

    def fileno(self) -> int:
        return self.transport.fileno()

    def close(self) -> None:
        self.transport.close()

    def _parse(self, data: bytes) -> list[Any]:
        return list(self.marshal.parse(data))

    def request(
        self, msg: Any, msg_type: int, *, dump: bool = False, timeout: float = 5.0
    ) -> list[Any]:
        """Send *msg* and return its replies (all parts of a dump).

        :raises OSError: the kernel answered with an error (a pyroute2
            ``NetlinkError``, which carries the errno), the socket failed,
            or no complete answer arrived within *timeout* seconds
            (``TimeoutError``).
        :raises NetlinkOverflowError: the socket overflowed while the
            answer was being read; the caller should ask again.
        """
        self._seq = self._seq % 0x7FFFFFFF + 1
        seq = self._seq
        msg["header"]["type"] = msg_type
        # No NLM_F_ACK: a GET is answered by its reply (or an error), and an
        # ACK after it would linger in the socket.
        msg["header"]["flags"] = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
        msg["header"]["sequence_number"] = seq
        msg["header"]["pid"] = 0
        msg.encode()
        self.transport.send(bytes(msg.data))
        replies: list[Any] = []
        poller = select.poll()
        poller.register(self.transport.fileno(), select.POLLIN)
        while True:
            try:
                data = self.transport.recv()
            except BlockingIOError:
                if not poller.poll(timeout * 1000):
                    raise TimeoutError(
                        errno.ETIMEDOUT, f"{self.what}: no answer within {timeout:g} s"
                    ) from None
                continue
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self._stash_overflowed = True
                    raise NetlinkOverflowError(self.what) from exc
                raise
            for reply in self._parse(data):
                header = reply["header"]
                if header.get("sequence_number") != seq:
                    self._keep_if_notification(reply)
                    continue
                error = header.get("error")
                if isinstance(error, NetlinkError):
                    raise OSError(error.code, f"{self.what}: {error.args[-1]}") from error
                if isinstance(error, OSError):
                    raise error
                if header["type"] == NLMSG_DONE:
                    return replies
                if header["type"] == NLMSG_ERROR:
                    # An ACK (error code 0): the request is complete.
                    return replies
                replies.append(reply)
                if not dump:
                    return replies

    def drain(self, limit: int = MAX_DATAGRAMS_PER_DRAIN) -> Drain:
        """Read what is queued without blocking; never raises on overflow."""
        messages, self._stash = self._stash, []
        overflowed, self._stash_overflowed = self._stash_overflowed, False
        for _ in range(limit):
            try:
                data = self.transport.recv()
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                overflowed = True
                continue
            for msg in self._parse(data):
                if msg["header"].get("sequence_number") == 0:
                    messages.append(msg)
                else:
                    self._log_stale(msg)
        return Drain(messages=tuple(messages), overflowed=overflowed)

    def _keep_if_notification(self, msg: Any) -> None:
        # The kernel sends notifications with sequence number 0; anything
        # else answers an earlier request (a dump abandoned after an
        # overflow) and is stale.
        if msg["header"].get("sequence_number") == 0:
            self._stash.append(msg)
        else:
            self._log_stale(msg)

    def _log_stale(self, msg: Any) -> None:
        LOG.debug(
            "%s: dropping a stale reply (sequence number %s)",
            self.what,
            msg["header"].get("sequence_number"),
        )
