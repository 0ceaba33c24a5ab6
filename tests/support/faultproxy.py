"""A fault-injecting JSON-RPC relay between an OVSDB client and a real server.

:class:`FaultProxy` listens on a unix socket and relays every connection it
accepts to an upstream ``ovsdb-server`` socket, one upstream connection per
client connection, message by message. Rules (:meth:`FaultProxy.on`) pick a
message by direction, method (or, for a reply, the method of the request it
answers) and database, and then:

* ``drop``: close the client and upstream connections right there, before
  the message is passed on (``forward=False``) or right after
  (``forward=True``: the server has the request, the client never hears the
  answer);
* ``discard``: swallow that message and keep the connection (a lost
  update: the client's copy silently diverges from the server);
* ``delay``: pass that message and everything after it in the same
  direction on that connection only after a pause (order is kept);
* ``hold``: keep it and everything after it in that direction until
  :meth:`FaultProxy.release`.

:meth:`FaultProxy.refuse` makes the proxy close every new connection at once
(a server that is down), :meth:`FaultProxy.disconnect_all` breaks the
current ones. Every message seen is recorded (:attr:`FaultProxy.seen`), so a
test can wait for a point of the handshake and tell which rule fired.

It runs in one background thread with a selector; stop it with
:meth:`FaultProxy.close` (or use it as a context manager).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Direction = Literal["to_server", "to_client"]
Action = Literal["drop", "discard", "delay", "hold"]


@dataclass
class Rule:
    """One fault: what it matches, what it does, how often it may fire."""

    direction: Direction
    method: str
    action: Action
    database: str | None = None
    forward: bool = False
    seconds: float = 0.0
    times: int = 1
    #: Only messages whose JSON text contains this.
    contains: str | None = None
    #: How often it fired so far.
    fired: int = 0

    def matches(
        self, direction: Direction, method: str | None, database: str | None, raw: bytes
    ) -> bool:
        if self.fired >= self.times or direction != self.direction or method != self.method:
            return False
        if self.contains is not None and self.contains.encode() not in raw:
            return False
        return self.database is None or self.database == database


@dataclass
class Seen:
    """A message that went through (or was stopped by) the proxy."""

    conn: int
    direction: Direction
    #: The request's or notification's method; for a reply, the method of
    #: the request it answers (``None`` if unknown).
    method: str | None
    kind: str  # "request", "notify", "reply", "error"
    database: str | None
    at: float


def _database(method: str, params: Any) -> str | None:
    if not isinstance(params, list) or not params:
        return None
    if method in ("get_schema", "transact", "monitor", "monitor_cond", "monitor_cond_since"):
        first = params[0]
        return first if isinstance(first, str) else None
    return None


class _Framer:
    """Splits a byte stream into JSON texts (OVSDB sends them back to back)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._json = json.JSONDecoder()

    def feed(self, data: bytes) -> list[tuple[Any, bytes]]:
        self._buf += self._decoder.decode(data)
        out: list[tuple[Any, bytes]] = []
        while True:
            text = self._buf.lstrip()
            if not text:
                self._buf = ""
                return out
            try:
                obj, end = self._json.raw_decode(text)
            except json.JSONDecodeError:
                self._buf = text
                return out
            out.append((obj, text[:end].encode()))
            self._buf = text[end:]


@dataclass
class _Side:
    sock: socket.socket
    framer: _Framer = field(default_factory=_Framer)
    out: bytearray = field(default_factory=bytearray)
    # Messages waiting to be written to this side: (not before, bytes).
    pending: list[tuple[float, bytes]] = field(default_factory=list)
    held: bool = False
    delay_until: float = 0.0


class _Pair:
    def __init__(self, number: int, client: socket.socket, server: socket.socket) -> None:
        self.number = number
        self.client = _Side(client)
        self.server = _Side(server)
        # Request id -> (method, database) of requests the client sent.
        self.requests: dict[Any, tuple[str, str | None]] = {}
        self.closed = False


class FaultProxy:
    """Relay ``unix:`` OVSDB connections from *listen* to *upstream*, injecting faults."""

    def __init__(self, listen: str | Path, upstream: str | Path) -> None:
        self.listen_path = Path(listen)
        self.upstream_path = Path(upstream)
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._count = 0
        self._refusing = False
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            self.listen_path.unlink()
        self._listener.bind(str(self.listen_path))
        self._listener.listen(16)
        self._listener.setblocking(False)
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="faultproxy", daemon=True)

    @property
    def remote(self) -> str:
        """The OVSDB remote clients connect to."""
        return f"unix:{self.listen_path}"

    # -- control (any thread) ------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def on(
        self,
        direction: Direction,
        method: str,
        action: Action,
        *,
        database: str | None = None,
        forward: bool = False,
        seconds: float = 0.0,
        times: int = 1,
        contains: str | None = None,
    ) -> Rule:
        """Add a rule; it fires on the next *times* matching messages."""
        rule = Rule(direction, method, action, database, forward, seconds, times, contains)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        with self._lock:
            self.rules.clear()

    def release(self) -> None:
        """Pass on everything held."""
        with self._lock:
            for pair in self._pairs:
                pair.client.held = pair.server.held = False
        self._wake()

    def refuse(self, refusing: bool = True) -> None:
        """Close new connections at once while *refusing* (and break the current ones)."""
        with self._lock:
            self._refusing = refusing
        if refusing:
            self.disconnect_all()

    def disconnect_all(self) -> None:
        with self._lock:
            for pair in self._pairs:
                pair.closed = True
        self._wake()

    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._count

    def count(self, method: str, direction: Direction | None = None, *, since: float = 0.0) -> int:
        with self._lock:
            return sum(
                1
                for s in self.seen
                if s.method == method
                and (direction is None or s.direction == direction)
                and s.at >= since
            )

    def close(self) -> None:
        self._stop = True
        self._wake()
        if self._thread.is_alive():
            self._thread.join(5)
        for pair in self._pairs:
            self._close_pair(pair)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        with contextlib.suppress(FileNotFoundError):
            self.listen_path.unlink()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- the relay thread ----------------------------------------------------

    def _loop(self) -> None:
        self._sel.register(self._listener, selectors.EVENT_READ, "listen")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        while not self._stop:
            timeout = self._next_timeout()
            for key, _ in self._sel.select(timeout):
                what = key.data
                if what == "listen":
                    self._accept()
                elif what == "wake":
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                else:
                    pair, side_name = what
                    self._read(pair, side_name)
            self._flush_all()

    def _next_timeout(self) -> float:
        now = time.monotonic()
        soonest = 0.5
        with self._lock:
            for pair in self._pairs:
                for side in (pair.client, pair.server):
                    if side.out:
                        soonest = 0.01
                    if side.pending and not side.held:
                        soonest = min(soonest, max(0.0, side.pending[0][0] - now))
        return soonest

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        with self._lock:
            refusing = self._refusing
        if refusing:
            client.close()
            return
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.connect(str(self.upstream_path))
        except OSError:
            server.close()
            client.close()
            return
        client.setblocking(False)
        server.setblocking(False)
        with self._lock:
            self._count += 1
            pair = _Pair(self._count, client, server)
            self._pairs.append(pair)
        self._sel.register(client, selectors.EVENT_READ, (pair, "client"))
        self._sel.register(server, selectors.EVENT_READ, (pair, "server"))

    def _read(self, pair: _Pair, side_name: str) -> None:
        src = pair.client if side_name == "client" else pair.server
        dst = pair.server if side_name == "client" else pair.client
        direction: Direction = "to_server" if side_name == "client" else "to_client"
        try:
            data = src.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            pair.closed = True
            return
        for obj, raw in src.framer.feed(data):
            if not self._relay(pair, direction, obj, raw, dst):
                pair.closed = True
                return

    def _relay(self, pair: _Pair, direction: Direction, obj: Any, raw: bytes, dst: _Side) -> bool:
        """Handle one message; ``False`` when the connection is to be dropped."""
        method: str | None = None
        database: str | None = None
        kind = "notify"
        if isinstance(obj, dict):
            msg_id = obj.get("id")
            if "method" in obj:
                method = str(obj["method"])
                database = _database(method, obj.get("params"))
                kind = "notify" if msg_id is None else "request"
                if direction == "to_server" and msg_id is not None:
                    pair.requests[json.dumps(msg_id)] = (method, database)
            else:
                kind = "error" if obj.get("error") is not None else "reply"
                if direction == "to_client":
                    method, database = pair.requests.pop(json.dumps(msg_id), (None, None))
        now = time.monotonic()
        with self._lock:
            self.seen.append(Seen(pair.number, direction, method, kind, database, now))
            rule = next(
                (r for r in self.rules if r.matches(direction, method, database, raw)), None
            )
            if rule is not None:
                rule.fired += 1
        if rule is None:
            self._queue(dst, raw, now)
            return True
        if rule.action == "drop":
            if rule.forward:
                self._queue(dst, raw, now)
                self._flush(dst)
            return False
        if rule.action == "discard":
            return True
        if rule.action == "delay":
            dst.delay_until = max(dst.delay_until, now + rule.seconds)
        elif rule.action == "hold":
            dst.held = True
        self._queue(dst, raw, now)
        return True

    def _queue(self, dst: _Side, raw: bytes, now: float) -> None:
        dst.pending.append((max(now, dst.delay_until), raw))

    def _flush_all(self) -> None:
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            if not pair.closed:
                for side in (pair.client, pair.server):
                    self._flush(side)
            if pair.closed:
                self._close_pair(pair)
                with self._lock:
                    if pair in self._pairs:
                        self._pairs.remove(pair)

    def _flush(self, side: _Side) -> None:
        now = time.monotonic()
        while side.pending and not side.held and side.pending[0][0] <= now:
            side.out += side.pending.pop(0)[1]
        while side.out:
            try:
                sent = side.sock.send(side.out)
            except BlockingIOError:
                return
            except OSError:
                side.out.clear()
                return
            del side.out[:sent]

    def _close_pair(self, pair: _Pair) -> None:
        pair.closed = True
        for side in (pair.client, pair.server):
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(side.sock)
            with contextlib.suppress(OSError):
                side.sock.close()


@contextlib.contextmanager
def fault_proxy(listen: str | Path, upstream: str | Path) -> Iterator[FaultProxy]:
    proxy = FaultProxy(listen, upstream).start()
    try:
        yield proxy
    finally:
        proxy.close()
