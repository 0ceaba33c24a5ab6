"""Typed access to the parts of ``ovs.db.idl`` connections the agent needs.

The ``ovs`` package is untyped and keeps some state the agent depends on
(whether the session is connected, whether the initial monitor reply
arrived, whether condition changes were acknowledged) in attributes with no
public accessor. This module is the one place that reads them, so that an
``ovs`` upgrade that moves them breaks here and nowhere else.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import time
from collections.abc import Callable, Sequence
from typing import Any

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream

from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._errors import RemoteError
from ovn_vif._ovs_private import session_connected
from ovn_vif.agent import _resolve, _tls

LOG = logging.getLogger(__name__)
_RL = RateLimitedLogger(LOG)


def split_remotes(remote: str) -> list[str]:
    """Split a comma-separated list of OVSDB remotes (cluster members).

    A piece without a ``:`` continues the previous remote, as in
    ``ovs.db.idl.Idl`` (``tcp:[::1]:6642`` needs no special case, but
    stream options such as ``unix:/a,b`` do).

    >>> split_remotes("tcp:10.0.0.1:6642,tcp:10.0.0.2:6642")
    ['tcp:10.0.0.1:6642', 'tcp:10.0.0.2:6642']
    """
    members: list[str] = []
    for raw in remote.split(","):
        piece = raw.strip()
        if members and ":" not in piece:
            members[-1] += "," + piece
        elif piece:
            members.append(piece)
    return members


def validate_remote(remote: str, what: str) -> list[str]:
    """Return the members of *remote*, or raise :class:`RemoteError`.

    Only active remotes the ``ovs`` package can open are accepted
    (``unix:``, ``tcp:``, and ``ssl:`` when the ``ovs`` package has SSL
    support).
    """
    members = split_remotes(remote)
    if not members:
        raise RemoteError(f"{what} remote is empty")
    for member in members:
        if not ovs.stream.Stream.is_valid_name(member):
            kinds = "unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT"
            raise RemoteError(f"{what} remote {member!r} is not a valid OVSDB remote (use {kinds})")
        problem = _resolve.port_problem(member)
        if problem is not None:
            raise RemoteError(f"{what} remote {problem}")
    return members


def _strerror(member: str, error: int) -> str:
    """*error* in words; what went wrong with the name or with TLS if known."""
    unresolved = _resolve.last_failure(member)
    if unresolved:
        return unresolved
    if member.startswith("ssl:"):
        reason = _tls.last_failure(member)
        if reason:
            return reason
    return os.strerror(error)


def _fetch_one(
    member: str, database: str, deadline: float, wake_fd: int | None, serve: Serve | None = None
) -> tuple[dict[str, Any] | None, str]:
    """Ask one server for *database*'s schema; return (schema, failure reason)."""
    error, stream = ovs.stream.Stream.open(member)
    if error:
        return None, _strerror(member, error)
    try:
        while True:
            error = stream.connect()
            if error != errno.EAGAIN:
                break
            if time.monotonic() >= deadline:
                return None, _tls.last_failure(member) or "connection timed out"
            poller = ovs.poller.Poller()
            stream.run_wait(poller)
            stream.connect_wait(poller)
            _wait(poller, deadline, wake_fd, serve)
        if error:
            return None, _strerror(member, error)
        conn = ovs.jsonrpc.Connection(stream)
        request = ovs.jsonrpc.Message.create_request("get_schema", [database])
        error = conn.send(request)
        while not error:
            error, reply = conn.recv()
            if error == errno.EAGAIN:
                if time.monotonic() >= deadline:
                    return None, _tls.last_failure(member) or "no reply to get_schema"
                conn.run()
                poller = ovs.poller.Poller()
                conn.wait(poller)
                conn.recv_wait(poller)
                _wait(poller, deadline, wake_fd, serve)
                error = 0
                continue
            if error:
                break
            if reply.id != request.id:
                continue
            if reply.type == ovs.jsonrpc.Message.T_ERROR:
                return None, f"server answered {reply.error!r}"
            result = reply.result
            if not isinstance(result, dict) or result.get("name") != database:
                return None, f"server does not serve the {database} database"
            _tls.clear_failure(member)
            return result, ""
        if error > 0:
            return None, _strerror(member, error)
        return None, _tls.last_failure(member) or "connection closed"
    finally:
        stream.close()


#: Called with the poller before each blocking wait of :func:`fetch_schema`
#: (the agent's start-up serves its control socket from there).
Serve = Callable[[Any], None]


def _wait(poller: Any, deadline: float, wake_fd: int | None, serve: Serve | None = None) -> None:
    if serve is not None:
        serve(poller)
    if wake_fd is not None:
        poller.fd_wait(wake_fd, ovs.poller.POLLIN)
    poller.timer_wait(max(0.0, (deadline - time.monotonic()) * 1000.0))
    poller.block()


def fetch_schema(
    remote: str,
    database: str,
    *,
    timeout: float,
    what: str,
    stop: Callable[[], bool] = lambda: False,
    wake_fd: int | None = None,
    serve: Serve | None = None,
    failed: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Fetch *database*'s schema from the server (``get_schema``), never from a file.

    Tries each member of *remote* in turn, and keeps trying (with a
    back-off of up to two seconds between rounds) until *timeout* seconds
    have passed or *stop* returns true. *wake_fd* (readable) interrupts the
    waits early, so that a signal handler can make the caller give up.
    *serve* is called with the poller before each wait, *failed* with each
    member and why it failed.

    :raises RemoteError: the remote is malformed, or no member answered
        with that schema in time.
    """
    members = validate_remote(remote, what)
    deadline = time.monotonic() + timeout
    backoff = 0.1
    reasons: dict[str, str] = {}
    # Per member, the latest TLS failure of this fetch. A later attempt can
    # fail without one: with TLS 1.3 the client's handshake ends before the
    # server judges its certificate, and the server's alert is lost when
    # the connection is reset under the request.
    refused: dict[str, str] = {}
    while True:
        for member in members:
            attempt_deadline = min(deadline, time.monotonic() + max(1.0, timeout / len(members)))
            schema, reason = _fetch_one(member, database, attempt_deadline, wake_fd, serve)
            if schema is not None:
                return schema
            known = _tls.last_failure(member)
            if known:
                refused[member] = known
            earlier = refused.get(member)
            if earlier and earlier not in reason:
                reason = f"{reason}, after {earlier}"
            reasons[member] = reason
            if failed is not None:
                failed(member, reason)
            LOG.debug("get_schema %s from %s failed: %s", database, member, reason)
            if stop():
                break
        now = time.monotonic()
        if stop() or now >= deadline:
            detail = "; ".join(f"{m}: {r}" for m, r in reasons.items())
            raise RemoteError(f"cannot read the {database} schema from the {what} ({detail})")
        _RL.warning(
            ("unreachable", remote),
            "cannot reach the %s at %s yet (%s); retrying",
            what,
            remote,
            "; ".join(reasons.values()),
        )
        until = min(deadline, now + backoff)
        while time.monotonic() < until and not stop():
            poller = ovs.poller.Poller()
            _wait(poller, until, wake_fd, serve)
            if wake_fd is not None and select.select([wake_fd], [], [], 0)[0]:
                break  # woken on purpose; a control socket request waits on

        backoff = min(2.0, backoff * 2)


def idl_connected(idl: Any) -> bool:
    """Whether *idl*'s session is connected right now."""
    return session_connected(idl)


def idl_synced(idl: Any, tables: Sequence[str] = ()) -> bool:
    """Whether *idl* holds the server's full contents for the current connection.

    True only when the session is connected, the monitor reply of the
    latest (re)connection has been processed (the IDL's state machine is in
    its monitoring state) and every condition set on *tables* has been
    acknowledged by the server (nothing new or requested is pending). After
    a reconnection ``Idl.run()`` restarts the state machine in the same
    call that notices it, so checking after ``run()`` never sees a stale
    "monitoring" state from the previous connection.
    """
    if not idl_connected(idl):
        return False
    if idl.state != ovs.db.idl.Idl.IDL_S_MONITORING:
        return False
    for name in tables:
        state = idl.tables[name].condition_state
        if state.new is not None or state.requested is not None:
            return False
    return True
