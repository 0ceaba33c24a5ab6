"""Host names in ``tcp:`` and ``ssl:`` remotes, resolved by the agent.

The ``ovs`` package resolves names only when the optional ``unbound``
module is installed; without it ``tcp:NAME:PORT`` gets an empty address and
fails with an unhelpful errno (``Exec format error``) until the connection
times out, although ``ovn-sbctl`` and ``ovn-controller`` accept the same
remote. This module registers, for ``tcp:``, a stream (and gives the agent's
``ssl:`` stream in :mod:`ovn_vif.agent._tls` a function) that resolves
the name with :func:`socket.getaddrinfo` on every connection attempt, so a
reconnection follows a changed DNS record, as ovn-controller does.

The main loop does not wait long for a slow resolver: a name is resolved in
a worker thread; the attempt waits for it at most :data:`WAIT` seconds and,
if it is not answered by then, fails with ``EAGAIN`` ("resolving NAME"),
which the session retries with its usual back-off; the next attempt takes
the answer the thread left (one thread per name at a time). A name that
resolves to several addresses is tried one address per attempt, in turn.

``OVN_VIF_HOSTS_FILE`` names a file in ``/etc/hosts`` format consulted
before the system resolver (for tests, or a host where ``/etc/hosts``
cannot be changed).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import threading
import time
from typing import Any

import ovs.socket_util
import ovs.stream

#: How long one connection attempt waits for a name (seconds).
WAIT = 0.1

HOSTS_FILE_ENV = "OVN_VIF_HOSTS_FILE"

_LOCK = threading.Lock()
# name -> the thread resolving it now.
_PENDING: dict[str, threading.Thread] = {}
# name -> (addresses, error sentence) answered and not yet used by an attempt.
_ANSWERS: dict[str, tuple[list[str], str | None]] = {}
# name -> how many attempts used it (which address to try next).
_TURNS: dict[str, int] = {}
# "tcp:NAME:PORT" -> (monotonic time, sentence) of the last resolution failure.
_FAILURES: dict[str, tuple[float, str]] = {}


def split_target(suffix: str) -> tuple[str, str]:
    """``HOST:PORT`` (``[V6]:PORT`` too) → ``(host, port)``; the port is ``''`` if absent.

    >>> split_target("[::1]:6642")
    ('::1', '6642')
    >>> split_target("sb.example.org:6642")
    ('sb.example.org', '6642')
    >>> split_target("sb.example.org")
    ('sb.example.org', '')
    """
    if suffix.startswith("["):
        host, _, rest = suffix[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else ""
    if suffix.count(":") == 1:
        host, _, port = suffix.partition(":")
        return host, port
    if suffix.count(":") > 1:
        # A bare IPv6 address with a port (how the ovs package parses it).
        host, _, port = suffix.rpartition(":")
        return host, port
    return suffix, ""


def port_problem(member: str) -> str | None:
    """Why the ``tcp:``/``ssl:`` *member* cannot be used, or ``None``."""
    method, _, suffix = member.partition(":")
    if method not in ("tcp", "ssl"):
        return None
    host, port = split_target(suffix)
    if not host:
        return f"{member!r} names no host (use {method}:HOST:PORT)"
    if not port:
        return (
            f"{member!r} has no port (use {method}:{suffix}:PORT; the Southbound "
            "database usually listens on 6642)"
        )
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"{member!r} has an invalid port {port!r}"
    return None


def is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _hosts_file(name: str) -> list[str]:
    path = os.environ.get(HOSTS_FILE_ENV)
    if not path:
        return []
    found = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2 and name in fields[1:] and is_literal(fields[0]):
                    found.append(fields[0])
    except OSError:
        return []
    return found


def _lookup(name: str) -> tuple[list[str], str | None]:
    """Resolve *name* (blocking): ``(addresses, None)`` or ``([], why not)``."""
    found = _hosts_file(name)
    if found:
        return found, None
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        text = getattr(exc, "strerror", None) or str(exc)
        return [], f"cannot resolve {name}: {text}"
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        return [], f"cannot resolve {name}: no address"
    return addresses, None


def _work(name: str) -> None:
    answer = _lookup(name)
    with _LOCK:
        _ANSWERS[name] = answer
        _PENDING.pop(name, None)


def resolve(name: str, wait: float = WAIT) -> tuple[str | None, str | None]:
    """One address for *name*, for one connection attempt.

    Returns ``(address, None)``, ``(None, why not)`` or, while the resolver
    has not answered within *wait* seconds, ``(None, None)``.
    """
    with _LOCK:
        answer = _ANSWERS.pop(name, None)
        thread = _PENDING.get(name)
        if answer is None and thread is None:
            thread = threading.Thread(
                target=_work, args=(name,), name=f"resolve {name}", daemon=True
            )
            _PENDING[name] = thread
            thread.start()
    if answer is None and thread is not None:
        thread.join(wait)
        with _LOCK:
            answer = _ANSWERS.pop(name, None)
    if answer is None:
        return None, None
    addresses, problem = answer
    if problem is not None:
        return None, problem
    with _LOCK:
        turn = _TURNS.get(name, 0)
        _TURNS[name] = turn + 1
    return addresses[turn % len(addresses)], None


def literal_suffix(member: str) -> tuple[int, str]:
    """*member*'s ``HOST:PORT`` with the host resolved: ``(0, "ADDR:PORT")`` or ``(errno, "")``.

    A failure is remembered (:func:`last_failure`).
    """
    suffix = member.partition(":")[2]
    host, port = split_target(suffix)
    if is_literal(host) or not host or not port:
        return 0, suffix
    address, problem = resolve(host)
    if address is None:
        record_failure(member, problem or f"resolving {host}")
        return (errno.ENOENT if problem else errno.EAGAIN), ""
    clear_failure(member)
    if ":" in address:
        return 0, f"[{address}]:{port}"
    return 0, f"{address}:{port}"


def record_failure(member: str, reason: str) -> None:
    with _LOCK:
        _FAILURES[member] = (time.monotonic(), reason)


def clear_failure(member: str) -> None:
    with _LOCK:
        _FAILURES.pop(member, None)


def last_failure(member: str) -> str | None:
    """Why the name in *member* could not be resolved on the last attempt, if it could not."""
    with _LOCK:
        entry = _FAILURES.get(member)
    return None if entry is None else entry[1]


def failures(remote: str) -> dict[str, str]:
    """``{member: reason}`` for the members of *remote* whose name last failed to resolve."""
    result = {}
    for part in remote.split(","):
        reason = last_failure(part.strip())
        if reason:
            result[part.strip()] = reason
    return result


class ResolvingTCPStream(ovs.stream.TCPStream):  # type: ignore[misc]
    """``ovs.stream.TCPStream`` that resolves a host name itself."""

    @staticmethod
    def _open(suffix: str, dscp: int) -> tuple[int, Any]:
        error, literal = literal_suffix("tcp:" + suffix)
        if error:
            return error, None
        error, sock = ovs.socket_util.inet_open_active(socket.SOCK_STREAM, literal, 0, dscp)
        if not error:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as exc:
                sock.close()
                return exc.errno or errno.EPROTO, None
        return error, sock


def install_stream() -> None:
    """Make ``tcp:`` remotes use :class:`ResolvingTCPStream` (process-wide, idempotent)."""
    ovs.stream.Stream.register_method("tcp", ResolvingTCPStream)
