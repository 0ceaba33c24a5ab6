"""Socket timestamps for ``plug_latency.py --spans`` (a benchmark aid, not the product).

Put on ``PYTHONPATH`` of a Python process with ``OVNVIF_IO_TRACE=PREFIX``
in its environment, it appends one line per socket ``send``/``sendall``/
``recv`` to ``PREFIX.PID``: the wall-clock time, the operation, the peer
(a unix socket's path, else the peer address), the byte count and, for a
chunk that begins a JSON-RPC message with a method, that method (for
instance ``transact`` or ``update3``). ``plug_latency.py`` reads the lines
to tell how long the plugging process took between the Southbound update
arriving and its own transaction leaving (see ``spans()`` there).

Python runs the first ``sitecustomize`` module on its path at start-up,
so this one must come first on ``PYTHONPATH``. Without the variable it
does nothing.
"""

from __future__ import annotations

import os
import re
import socket
import time
from typing import Any

_PREFIX = os.environ.get("OVNVIF_IO_TRACE")
_METHOD = re.compile(rb'^\s*\{[^{}]{0,40}"method":\s*"(\w+)"')


def _install(prefix: str) -> None:
    out = open(f"{prefix}.{os.getpid()}", "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    peers: dict[int, str] = {}
    recv, send, sendall = socket.socket.recv, socket.socket.send, socket.socket.sendall

    def peer(sock: socket.socket) -> str:
        fd = sock.fileno()
        name = peers.get(fd)
        if name is None:
            try:
                address: Any = sock.getpeername()
            except OSError:
                address = "?"
            name = address if isinstance(address, str) else ":".join(map(str, address))
            peers[fd] = name = name or "?"
        return name

    def note(op: str, sock: socket.socket, data: Any, size: int) -> None:
        found = _METHOD.match(bytes(data[:80]))
        method = found.group(1).decode() if found else "-"
        out.write(f"{time.time():.6f} {op} {peer(sock)} {size} {method}\n")

    def traced_recv(self: socket.socket, *args: Any) -> bytes:
        data = recv(self, *args)
        note("recv", self, data, len(data))
        return data

    def traced_send(self: socket.socket, data: Any, *args: Any) -> int:
        note("send", self, data, len(data))
        return send(self, data, *args)

    def traced_sendall(self: socket.socket, data: Any, *args: Any) -> None:
        note("send", self, data, len(data))
        sendall(self, data, *args)

    socket.socket.recv = traced_recv  # type: ignore[method-assign,assignment]
    socket.socket.send = traced_send  # type: ignore[method-assign,assignment]
    socket.socket.sendall = traced_sendall  # type: ignore[method-assign,assignment]


if _PREFIX:
    _install(_PREFIX)
