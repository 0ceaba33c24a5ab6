"""A minimal agent loop over real ``ovs.db.idl`` IDLs, for the engine's tests.

:class:`EngineDriver` connects to a local Open_vSwitch database and an SB
database, and runs ``reconcile`` / ``commit`` / ``complete`` iterations on
demand, so that tests decide when the "agent" runs (for example to let
several changes accumulate, like ``ovn-appctl debug/pause`` does for the
real ovn-controller).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import ovs.db.idl
import ovs.poller

from ovn_vif import (
    Policy,
    Reconciler,
    ReconcileReport,
    Registry,
    create_sb_indexes,
    register_ovs_columns,
    register_sb_columns,
)

VSWITCH_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
SB_SCHEMA = "/usr/share/ovn/ovn-sb.ovsschema"


def connect(
    remote: str, schema: str, register: Callable[[Any], None], index: Callable[[Any], None] | None
) -> Any:
    helper = ovs.db.idl.SchemaHelper(location=schema)
    register(helper)
    idl = ovs.db.idl.Idl(remote, helper)
    if index is not None:
        index(idl)
    deadline = time.monotonic() + 30
    while not idl.has_ever_connected():
        idl.run()
        if idl.has_ever_connected():
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"cannot connect to {remote}")
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()
    return idl


class EngineDriver:
    """Run the engine against real databases, one iteration at a time."""

    def __init__(
        self,
        ovs_remote: str | Any,
        sb_remote: str | Any,
        registry: Registry,
        policy: Policy,
        *,
        chassis: str = "hv1",
        bridge: str = "br-int",
        can_unplug: bool = True,
    ) -> None:
        # A remote to connect to, or an already connected IDL (a FakeIdl).
        self.ovs_idl = (
            connect(ovs_remote, VSWITCH_SCHEMA, register_ovs_columns, None)
            if isinstance(ovs_remote, str)
            else ovs_remote
        )
        self.sb_idl = (
            connect(sb_remote, SB_SCHEMA, register_sb_columns, create_sb_indexes)
            if isinstance(sb_remote, str)
            else sb_remote
        )
        self.reconciler = Reconciler(registry, policy=policy)
        self.chassis = chassis
        self.bridge = bridge
        self.can_unplug = can_unplug
        self.reports: list[ReconcileReport] = []
        self.statuses: list[str] = []
        self._pending: Any = None

    def close(self) -> None:
        self.ovs_idl.close()
        self.sb_idl.close()

    def run_idls(self) -> None:
        self.ovs_idl.run()
        self.sb_idl.run()

    def step(self) -> ReconcileReport | None:
        """One agent iteration; returns the report if reconcile() ran."""
        self.run_idls()
        if self._pending is not None:
            status = self._pending.commit()
            self.reconciler.complete(status, txn=self._pending)
            if status == ovs.db.idl.Transaction.INCOMPLETE:
                return None
            self.statuses.append(status)
            self._pending = None
        txn = ovs.db.idl.Transaction(self.ovs_idl)
        report = self.reconciler.reconcile(
            self.ovs_idl,
            self.sb_idl,
            txn,
            chassis=self.chassis,
            bridge=self.bridge,
            can_unplug=self.can_unplug,
        )
        self.reports.append(report)
        status = txn.commit()
        self.reconciler.complete(status, txn=txn)
        if status == ovs.db.idl.Transaction.INCOMPLETE:
            self._pending = txn
        else:
            self.statuses.append(status)
        return report

    def wait(self, timeout_ms: int = 100) -> None:
        poller = ovs.poller.Poller()
        self.ovs_idl.wait(poller)
        self.sb_idl.wait(poller)
        poller.timer_wait(timeout_ms)
        poller.block()

    def settle(self, timeout: float = 60.0, quiet_steps: int = 3) -> list[ReconcileReport]:
        """Iterate until *quiet_steps* consecutive iterations stage nothing,
        nothing is in flight and no IDL changed in between; return the
        reports of the iterations that ran."""
        start = len(self.reports)
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < quiet_steps:
            if time.monotonic() > deadline:
                raise TimeoutError("the engine did not settle")
            seqnos = (self.ovs_idl.change_seqno, self.sb_idl.change_seqno)
            report = self.step()
            busy = report is None or report.changed or self.reconciler.in_flight
            if busy or seqnos != (self.ovs_idl.change_seqno, self.sb_idl.change_seqno):
                quiet = 0
            else:
                quiet += 1
            self.wait(50 if busy else 20)
            self.run_idls()
        return self.reports[start:]

    def decisions(self, since: int = 0) -> Iterator[Any]:
        for report in self.reports[since:]:
            yield from report.decisions


# --- reading the switch back, for comparisons ------------------------------------

_COMPARED = ("name", "type", "options", "external_ids", "mtu_request")
#: External ids written by ovn-controller's binding module, not by plugging.
_BINDING_KEYS = ("ovn-installed", "ovn-installed-ts")


def _atom(value: Any) -> Any:
    # ovs-vsctl JSON: ["map", [[k, v], ...]], ["set", [...]], ["uuid", u] or a scalar.
    if isinstance(value, list) and value and value[0] == "map":
        return {k: _atom(v) for k, v in value[1]}
    if isinstance(value, list) and value and value[0] == "set":
        return [_atom(v) for v in value[1]]
    if isinstance(value, list) and value and value[0] == "uuid":
        return value[1]
    return value


def _table(vsctl: Callable[..., str], table: str, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    out = vsctl("--format=json", "--data=json", f"--columns={','.join(columns)}", "list", table)
    doc = json.loads(out)
    return [
        {col: _atom(val) for col, val in zip(doc["headings"], row, strict=True)}
        for row in doc["data"]
    ]


def switch_rows(vsctl: Callable[..., str], bridge: str = "br-int") -> dict[str, dict[str, Any]]:
    """The bridge's interfaces: ``{name: {port, type, options, external_ids,
    mtu_request, port_external_ids}}``.

    Skipped: the bridge's own port and tunnel ports (ovn-controller makes
    those for other chassis). ``ovn-installed*`` external ids are dropped.
    """
    bridges = _table(vsctl, "Bridge", ("_uuid", "name", "ports"))
    br = next(b for b in bridges if b["name"] == bridge)
    port_uuids = set(br["ports"] if isinstance(br["ports"], list) else [br["ports"]])
    ports = {
        p["_uuid"]: p
        for p in _table(vsctl, "Port", ("_uuid", "name", "interfaces", "external_ids"))
    }
    ifaces = {i["_uuid"]: i for i in _table(vsctl, "Interface", ("_uuid", *_COMPARED))}
    result: dict[str, dict[str, Any]] = {}
    for port_uuid in port_uuids:
        port = ports[port_uuid]
        if port["name"] == bridge or "ovn-chassis-id" in port["external_ids"]:
            continue
        members = (
            port["interfaces"] if isinstance(port["interfaces"], list) else [port["interfaces"]]
        )
        for iface_uuid in members:
            iface = ifaces[iface_uuid]
            mtu = iface["mtu_request"]
            result[iface["name"]] = {
                "port": port["name"],
                "type": iface["type"],
                "options": iface["options"],
                "external_ids": {
                    k: v for k, v in iface["external_ids"].items() if k not in _BINDING_KEYS
                },
                "mtu_request": mtu if isinstance(mtu, int) else None,
                "port_external_ids": port["external_ids"],
            }
    return result


def iface_uuid(vsctl: Callable[..., str], name: str) -> str | None:
    for iface in _table(vsctl, "Interface", ("_uuid", "name")):
        if iface["name"] == name:
            return str(iface["_uuid"])
    return None
