"""The floor: a plugger that does nothing but plug, for ``plug_latency.py``.

It knows in advance everything the dummy plug provider would answer, so it
does no deciding at all: it monitors the Southbound ``Port_Binding`` rows
requested for its chassis with ``vif-plug-type=dummy`` and, as soon as an
update arrives, sends one raw transaction that plugs every new one (and
another that unplugs every Port whose lport went away), exactly the rows
``ovn-vif agent`` and ``ovn-controller`` write. No ``ovs.db.idl``, no
validation, no provider calls, no logs; JSON through the standard
library's C decoder. Whatever time the benchmark measures for it is spent
in ``ovn-northd``, the two ``ovsdb-server`` processes, ``ovs-vswitchd``
and the observer, i.e. what no plugger can save.

Not a product: it trusts the databases completely, handles no reconnect,
no cluster, no TLS, and assumes Port and Interface named after the lport.

    python benchmarks/floor_plugger.py SB_REMOTE OVS_REMOTE CHASSIS [BRIDGE]

Prints ``ready`` once both monitors are in place.
"""

from __future__ import annotations

import codecs
import json
import select
import socket
import sys
from typing import Any

_DECODER = json.JSONDecoder()


class Connection:
    """One JSON-RPC connection over a ``unix:`` remote."""

    def __init__(self, remote: str) -> None:
        if not remote.startswith("unix:"):
            raise SystemExit(f"floor_plugger: only unix: remotes, not {remote}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(remote[len("unix:") :])
        self.buffer = ""
        # A read may end inside a multi-byte character.
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.next_id = 0

    def send(self, method: str, params: list[Any]) -> int:
        self.next_id += 1
        message = {"method": method, "params": params, "id": self.next_id}
        self.sock.sendall(json.dumps(message, separators=(",", ":")).encode())
        return self.next_id

    def receive(self) -> list[dict[str, Any]]:
        """The messages complete after one read (blocks for the read)."""
        data = self.sock.recv(1 << 20)
        if not data:
            raise SystemExit("floor_plugger: connection closed")
        self.buffer += self.decoder.decode(data)
        messages = []
        while self.buffer:
            try:
                message, end = _DECODER.raw_decode(self.buffer)
            except ValueError:
                break  # incomplete: wait for more
            messages.append(message)
            self.buffer = self.buffer[end:].lstrip()
        return messages

    def call(self, method: str, params: list[Any]) -> Any:
        """Send a request and wait for its reply (only before the loop starts)."""
        request = self.send(method, params)
        while True:
            for message in self.receive():
                if message.get("id") == request:
                    if message.get("error"):
                        raise SystemExit(f"floor_plugger: {method}: {message['error']}")
                    return message["result"]


class Floor:
    def __init__(self, sb_remote: str, ovs_remote: str, chassis: str, bridge: str) -> None:
        self.sb = Connection(sb_remote)
        self.ovs = Connection(ovs_remote)
        self.chassis_name = chassis
        self.bridge_name = bridge
        self.chassis_uuid: str | None = None
        self.bridge_uuid: str | None = None
        self.bindings: dict[str, tuple[str, dict[str, str], str | None]] = {}
        self.ports: dict[str, str] = {}  # Port uuid -> name
        self.in_flight: set[str] = set()  # lports plugged or unplugged, not seen yet
        self.mine: set[str] = set()  # lports this process plugged

    def start(self) -> None:
        local = self.ovs.call(
            "monitor",
            [
                "Open_vSwitch",
                "local",
                {"Bridge": {"columns": ["name"]}, "Port": {"columns": ["name"]}},
            ],
        )
        self.apply_ovs(local)
        remote = self.sb.call(
            "monitor",
            [
                "OVN_Southbound",
                "sb",
                {
                    "Chassis": {"columns": ["name"]},
                    "Port_Binding": {"columns": ["logical_port", "options", "requested_chassis"]},
                },
            ],
        )
        self.apply_sb(remote)
        print("ready", flush=True)

    # -- updates (the "monitor" protocol: {table: {uuid: {"old": ..., "new": ...}}}) --

    def apply_ovs(self, update: dict[str, Any]) -> None:
        for uuid, change in update.get("Bridge", {}).items():
            new = change.get("new")
            if new is not None and new.get("name") == self.bridge_name:
                self.bridge_uuid = uuid
        for uuid, change in update.get("Port", {}).items():
            new = change.get("new")
            if new is None:
                self.in_flight.discard(self.ports.pop(uuid, ""))
            else:
                self.ports[uuid] = new["name"]
                self.in_flight.discard(new["name"])

    def apply_sb(self, update: dict[str, Any]) -> None:
        for uuid, change in update.get("Chassis", {}).items():
            new = change.get("new")
            if new is not None and new.get("name") == self.chassis_name:
                self.chassis_uuid = uuid
        for uuid, change in update.get("Port_Binding", {}).items():
            new = change.get("new")
            if new is None:
                self.bindings.pop(uuid, None)
                continue
            requested = new.get("requested_chassis")
            requested_uuid = (
                requested[1] if isinstance(requested, list) and requested[0] == "uuid" else None
            )
            options = dict(new.get("options", ["map", []])[1])
            self.bindings[uuid] = (new["logical_port"], options, requested_uuid)

    # -- the one decision --------------------------------------------------------------

    def plug_and_unplug(self) -> None:
        if self.bridge_uuid is None or self.chassis_uuid is None:
            return
        wanted = {
            lport
            for lport, options, requested in self.bindings.values()
            if requested == self.chassis_uuid and options.get("vif-plug-type") == "dummy"
        }
        present = set(self.ports.values())
        ops: list[Any] = ["Open_vSwitch"]
        added: list[list[str]] = []
        for lport in sorted(wanted - present - self.in_flight):
            iface = f"i{len(added)}"
            port = f"p{len(added)}"
            ops.append(
                {
                    "op": "insert",
                    "table": "Interface",
                    "uuid-name": iface,
                    "row": {
                        "name": lport,
                        "type": "internal",
                        "options": ["map", [["vif-plug-dummy-option", "value"]]],
                        "external_ids": [
                            "map",
                            [["iface-id", lport], ["ovn-plugged", "dummy"]],
                        ],
                    },
                }
            )
            ops.append(
                {
                    "op": "insert",
                    "table": "Port",
                    "uuid-name": port,
                    "row": {"name": lport, "interfaces": ["named-uuid", iface]},
                }
            )
            added.append(["named-uuid", port])
            self.in_flight.add(lport)
            self.mine.add(lport)
        removed = []
        for uuid, name in self.ports.items():
            if name in self.mine and name not in wanted and name not in self.in_flight:
                removed.append(["uuid", uuid])
                self.in_flight.add(name)
                self.mine.discard(name)
        mutations = []
        if added:
            mutations.append(["ports", "insert", ["set", added]])
        if removed:
            mutations.append(["ports", "delete", ["set", removed]])
        if mutations:
            ops.append(
                {
                    "op": "mutate",
                    "table": "Bridge",
                    "where": [["_uuid", "==", ["uuid", self.bridge_uuid]]],
                    "mutations": mutations,
                }
            )
            self.ovs.send("transact", ops)

    def loop(self) -> None:
        by_socket = {self.sb.sock: self.sb, self.ovs.sock: self.ovs}
        while True:
            readable, _, _ = select.select(list(by_socket), [], [])
            for sock in readable:
                conn = by_socket[sock]
                for message in conn.receive():
                    method = message.get("method")
                    if method == "update":
                        update = message["params"][1]
                        (self.apply_sb if conn is self.sb else self.apply_ovs)(update)
                    elif method == "echo":
                        conn.sock.sendall(
                            json.dumps({"result": message["params"], "id": message["id"]}).encode()
                        )
                    elif message.get("error"):
                        print(f"floor_plugger: {message['error']}", file=sys.stderr, flush=True)
            self.plug_and_unplug()


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    floor = Floor(argv[0], argv[1], argv[2], argv[3] if len(argv) == 4 else "br-int")
    floor.start()
    floor.plug_and_unplug()
    floor.loop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
