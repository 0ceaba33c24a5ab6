"""The row operations on the local Open_vSwitch database.

The only place where the engine writes. Like OVN's ``controller/ovsport.c``;
:func:`stage` writes one run's plan:

* creates: an Interface and a Port named alike,
  the Ports *mutate-added* to the bridge's ``ports`` (never a full rewrite
  of the set), after ``verify(ports)``;
* updates (:func:`update_iface`) apply an :class:`IfaceUpdate` computed by
  :func:`plan_iface_update`: ``type`` set when it differs, ``external_ids``
  merged additively, ``options`` merged through the provider's maintained
  key set, ``mtu_request`` set or cleared; each written column is verified
  first so that a concurrent writer makes the commit fail with
  ``try again`` instead of being overwritten;
* removals verify the bridge's ``ports`` and the
  Port's ``interfaces`` and mutate-delete the Port from the bridge (the
  server then deletes the Port and its Interfaces, which are not root
  rows).

Creates and removals are written as raw OVSDB operations
(``Transaction.add_op``) rather than through ``Row`` attributes: the IDL's
per-value validation, index upkeep and request building cost about 0.2 ms
per port, most of a thousand-port plug (see ``docs/performance.rst``). The
resulting rows are the same (the engine's tests compare both ways on a real
ovsdb-server).

The plan types (:class:`CreatePort`, :class:`IfaceUpdate`,
:class:`RemovePort`) are plain values so that the decision rules can be
tested without a database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ovn_vif._contract.frozenmap import FrozenMap, freeze
from ovn_vif._engine.views import IfaceView
from ovn_vif._errors import StaleRowError
from ovn_vif._ovs_private import ref_pairs, table_rows


@attrs.frozen(slots=True, kw_only=True)
class CreatePort:
    """Insert a Port and its Interface, both named :attr:`name`, on the bridge."""

    lport: str
    name: str
    #: Interface ``type``; ``None`` leaves the column at its default (``""``).
    type: str | None
    external_ids: FrozenMap = attrs.field(converter=freeze)
    options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    #: ``mtu_request``; ``None`` leaves the column empty.
    mtu_request: int | None = None


@attrs.frozen(slots=True, kw_only=True)
class IfaceUpdate:
    """The writes that bring one Interface in line with a plug request."""

    lport: str
    iface: uuid.UUID
    #: Interface name (for logs).
    name: str
    #: New ``type``, or ``None`` to leave it.
    set_type: str | None = None
    #: ``external_ids`` keys to set (never removes any).
    set_external_ids: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    #: ``options`` keys to set.
    set_options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    #: ``options`` keys to remove (only keys the provider maintains).
    del_options: frozenset[str] = frozenset()
    #: New ``mtu_request``, or ``None`` to leave it.
    set_mtu_request: int | None = None
    #: Clear ``mtu_request``.
    clear_mtu_request: bool = False

    def __bool__(self) -> bool:
        return bool(
            self.set_type is not None
            or self.set_external_ids
            or self.set_options
            or self.del_options
            or self.set_mtu_request is not None
            or self.clear_mtu_request
        )


@attrs.frozen(slots=True, kw_only=True)
class RemovePort:
    """Remove a Port and its Interfaces from the bridge."""

    lport: str
    port: uuid.UUID
    #: Port name (for logs).
    name: str
    ifaces: tuple[uuid.UUID, ...]


def plan_iface_update(
    lport: str,
    iface: IfaceView,
    *,
    type: str | None,
    external_ids: Mapping[str, str],
    options: Mapping[str, str],
    maintained_options: frozenset[str] | None,
    mtu_request: int,
) -> IfaceUpdate:
    """Compute what ``ovsport_update_iface`` would write; pure.

    * ``type``: ``None`` leaves it; otherwise written when different.
    * ``external_ids``: "update" mode, every given key set when absent or
      different, nothing removed.
    * ``options``: with ``maintained_options`` ``None``, "update" mode like
      external_ids; otherwise "maintain" mode: for each maintained key, set
      it when it is in *options* and differs, remove it when it is not in
      *options* but present; keys outside the set are never touched, even
      if *options* holds them.
    * ``mtu_request`` > 0: set when absent or different; ≤ 0: clear when
      present.
    """
    set_type = type if type is not None and type != iface.type else None
    set_ext = {k: v for k, v in external_ids.items() if iface.external_ids.get(k) != v}
    set_opts: dict[str, str] = {}
    del_opts: set[str] = set()
    if maintained_options is None:
        set_opts = {k: v for k, v in options.items() if iface.options.get(k) != v}
    else:
        for key in sorted(maintained_options):
            want = options.get(key)
            have = iface.options.get(key)
            if want is not None and want != have:
                set_opts[key] = want
            elif want is None and have is not None:
                del_opts.add(key)
    set_mtu = None
    clear_mtu = False
    if mtu_request > 0:
        if iface.mtu_request != mtu_request:
            set_mtu = mtu_request
    elif iface.mtu_request is not None:
        clear_mtu = True
    return IfaceUpdate(
        lport=lport,
        iface=iface.uuid,
        name=iface.name,
        set_type=set_type,
        set_external_ids=set_ext,
        set_options=set_opts,
        del_options=frozenset(del_opts),
        set_mtu_request=set_mtu,
        clear_mtu_request=clear_mtu,
    )


# --- staging in an ovs.db.idl transaction -----------------------------------


def _row(idl: Any, table: str, row_uuid: uuid.UUID) -> Any:
    row = table_rows(idl, table).get(row_uuid)
    if row is None:
        raise StaleRowError(f"{table} row {row_uuid} is not in the IDL cache")
    return row


def _ref_pairs(row: Any, column: str) -> list[list[str]]:
    """``[["uuid", u], ...]`` for each UUID a reference-set column holds,
    sorted, as the server has them.

    Read from the row's committed ``Datum`` (``ref_pairs``); a row with
    staged writes is read through attributes.
    """
    pairs = ref_pairs(row, column)
    if pairs is not None:
        return pairs
    return [["uuid", u] for u in sorted(str(r.uuid) for r in getattr(row, column) if r is not None)]


def _map_json(value: FrozenMap) -> list[Any]:
    return ["map", [[k, v] for k, v in sorted(value.items())]]


def _where(row_uuid: uuid.UUID) -> list[Any]:
    return [["_uuid", "==", ["uuid", str(row_uuid)]]]


def stage(
    idl: Any,
    txn: Any,
    bridge: uuid.UUID,
    *,
    removes: Iterable[RemovePort] = (),
    updates: Iterable[IfaceUpdate] = (),
    creates: Iterable[CreatePort] = (),
) -> None:
    """Stage removals, updates and creates in *txn*, all on one bridge.

    * Updates go through the IDL's ``Row`` writes (:func:`update_iface`).
    * Everything else is raw operations (``Transaction.add_op``), placed by
      the IDL after its own: a ``wait`` that the bridge is still there under
      its name, a ``wait`` on each removed Port's ``interfaces``
      (``verify``), an ``insert`` of each created Interface (its
      non-default columns, as the IDL would write them) and of its Port
      (referring to the Interface by ``uuid-name``), and one ``mutate`` of
      the bridge's ``ports`` (delete the removed Ports, insert the new
      ones). A concurrent change that either check sees makes the commit
      fail with ``try again``; a name taken meanwhile fails it on the
      server's unique index (``error``, as in ``ovn-controller``). A
      concurrent change of the bridge's other ports fails nothing: the
      mutation adds and removes exactly the engine's Ports, so nothing of
      the other writer's is lost (``ovn-controller``'s IDL mutates the set
      unverified too). Checking the whole of the bridge's ``ports`` instead
      would cost a message as long as the bridge for every plug. Removed
      Ports and Interfaces are not root rows: the server deletes them once
      the bridge no longer refers to them.

    ``ovs.db.idl`` emits a ``verify`` only for rows it also writes, which is
    why the checks are raw too; writing through ``Row`` attributes instead
    would cost the IDL's per-value validation and index upkeep (most of a
    thousand-port plug or unplug, see ``docs/performance.rst``).

    With neither removals nor creates the bridge is neither checked nor
    written. Call it once per transaction: a second call's ``wait`` would
    not see the first call's mutation.
    """
    removes = tuple(removes)
    creates = tuple(creates)
    bridge_ops: list[dict[str, Any]] = []
    mutations: list[list[Any]] = []
    if removes or creates:
        bridge_row = _row(idl, "Bridge", bridge)
        # The bridge is still there: a mutation of a row that is gone
        # matches nothing, and the new rows, referred to by nothing, would
        # be dropped by a commit that reports success.
        bridge_ops.append(
            {
                "op": "wait",
                "table": "Bridge",
                "timeout": 0,
                "where": _where(bridge),
                "until": "==",
                "columns": ["name"],
                "rows": [{"name": bridge_row.name}],
            }
        )
    removed: list[list[str]] = []
    for remove in removes:
        port = _row(idl, "Port", remove.port)
        members = _ref_pairs(port, "interfaces")
        # Port.verify("interfaces"). The Port and its Interfaces are not
        # root rows: the server deletes them once the bridge drops the Port
        # (the IDL sends no operation for deleting them either).
        bridge_ops.append(
            {
                "op": "wait",
                "table": "Port",
                "timeout": 0,
                "where": _where(remove.port),
                "until": "==",
                "columns": ["interfaces"],
                "rows": [{"interfaces": ["set", members]}],
            }
        )
        removed.append(["uuid", str(remove.port)])
    if removed:
        mutations.append(["ports", "delete", ["set", removed]])
    for update in updates:
        update_iface(idl, update)
    added: list[list[str]] = []
    for number, plan in enumerate(creates):
        # OVSDB <id>s, unique within the transaction (stage() runs once per
        # transaction; the IDL's own names are "row" + a uuid).
        iface_name = f"ovnvif_iface{number}"
        port_name = f"ovnvif_port{number}"
        iface_row: dict[str, Any] = {"name": plan.name}
        if plan.type:
            iface_row["type"] = plan.type
        if plan.external_ids:
            iface_row["external_ids"] = _map_json(plan.external_ids)
        if plan.options:
            iface_row["options"] = _map_json(plan.options)
        if plan.mtu_request is not None and plan.mtu_request > 0:
            iface_row["mtu_request"] = plan.mtu_request
        bridge_ops.append(
            {"op": "insert", "table": "Interface", "uuid-name": iface_name, "row": iface_row}
        )
        bridge_ops.append(
            {
                "op": "insert",
                "table": "Port",
                "uuid-name": port_name,
                "row": {"name": plan.name, "interfaces": ["named-uuid", iface_name]},
            }
        )
        added.append(["named-uuid", port_name])
    if added:
        mutations.append(["ports", "insert", ["set", added]])
    if mutations:
        bridge_ops.append(
            {"op": "mutate", "table": "Bridge", "where": _where(bridge), "mutations": mutations}
        )
    for op in bridge_ops:
        txn.add_op(op)


def update_iface(idl: Any, update: IfaceUpdate) -> None:
    """Stage *update* on its Interface, verifying each column it writes."""
    if not update:
        return
    row = _row(idl, "Interface", update.iface)
    if update.set_type is not None:
        row.verify("type")
        row.type = update.set_type
    if update.set_external_ids:
        row.verify("external_ids")
        for key, value in sorted(update.set_external_ids.items()):
            row.setkey("external_ids", key, value)
    if update.set_options or update.del_options:
        row.verify("options")
        for key in sorted(update.del_options):
            row.delkey("options", key)
        for key, value in sorted(update.set_options.items()):
            row.setkey("options", key, value)
    if update.set_mtu_request is not None:
        row.verify("mtu_request")
        row.mtu_request = [update.set_mtu_request]
    elif update.clear_mtu_request:
        row.verify("mtu_request")
        row.mtu_request = []
