"""What the engine needs each IDL to monitor, and its one index.

Call the ``register_*`` functions on each ``ovs.db.idl.SchemaHelper``
before building the ``Idl``, and :func:`create_sb_indexes` on the
Southbound ``Idl`` before its first ``run()``: ``ovs.db.idl`` never
back-fills an index created after rows were loaded.

>>> import ovs.db.idl
>>> from ovn_vif import register_ovs_columns
>>> helper = ovs.db.idl.SchemaHelper("/usr/share/openvswitch/vswitch.ovsschema")
>>> register_ovs_columns(helper)
>>> idl = ovs.db.idl.Idl("unix:/nonexistent.sock", helper)
>>> sorted(idl.tables)
['Bridge', 'Interface', 'Port']

The registrations add to whatever the caller registered; a table the
caller registered whole (``register_table``) or ``register_all()`` stay
whole. Columns that the server's schema lacks (older OVN) are skipped when
the engine can do without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ovn_vif._ovs_private import helper_readonly, helper_registered, helper_registers_all

#: Open_vSwitch tables and columns the engine reads (and writes).
OVS_COLUMNS: Mapping[str, Sequence[str]] = {
    "Bridge": ("name", "ports"),
    "Port": ("name", "interfaces"),
    "Interface": ("name", "type", "options", "external_ids", "mtu_request", "ofport"),
}
#: Southbound tables and columns the engine reads. ``Chassis`` is needed
#: even for the references alone: the IDL cannot resolve
#: ``Port_Binding.requested_chassis`` into an unregistered table.
SB_COLUMNS: Mapping[str, Sequence[str]] = {
    "Chassis": ("name", "hostname"),
    "Port_Binding": (
        "logical_port",
        "type",
        "parent_port",
        "options",
        "requested_chassis",
        "requested_additional_chassis",
    ),
}
# Columns whose absence (an older schema) the engine tolerates.
_OPTIONAL = frozenset({("Port_Binding", "requested_additional_chassis")})

#: The one index the engine creates (``idl.index_equal(table, name, entry)``).
INDEX_CHASSIS_BY_NAME = "ovn_vif_chassis_by_name"


def _register(helper: Any, wanted: Mapping[str, Sequence[str]]) -> None:
    if helper_registers_all(helper):
        return  # register_all(): every column already
    schema = getattr(helper, "schema_json", None)
    if schema is None:
        raise ValueError(
            "this SchemaHelper was already used to build an Idl; register columns before that"
        )
    tables = schema.get("tables", {})
    registered = helper_registered(helper)
    readonly = helper_readonly(helper)
    for table, columns in wanted.items():
        if table not in tables:
            raise ValueError(f"the schema {schema.get('name')!r} has no table {table!r}")
        if table in registered and not registered[table]:
            continue  # register_table(): the whole table already
        present = tables[table].get("columns", {})
        keep = []
        for column in columns:
            if column in present:
                keep.append(column)
            elif (table, column) not in _OPTIONAL:
                raise ValueError(f"the schema has no column {table}.{column}")
        helper.register_columns(table, keep, readonly=list(readonly.get(table, [])))


def register_ovs_columns(schema_helper: Any) -> None:
    """Register what the engine reads in the local Open_vSwitch database."""
    _register(schema_helper, OVS_COLUMNS)


def register_sb_columns(schema_helper: Any) -> None:
    """Register what the engine reads in the OVN Southbound database."""
    _register(schema_helper, SB_COLUMNS)


def _index(idl: Any, table: str, name: str, column: str) -> None:
    rows = idl.tables[table].rows
    if name in getattr(rows, "indexes", {}):
        return
    if getattr(idl, "change_seqno", 0):
        raise RuntimeError(
            f"create the {table} index before the IDL's first run(): "
            "ovs.db.idl does not fill an index created after rows were loaded"
        )
    idl.index_create(table, name).add_column(column)


def create_sb_indexes(idl: Any) -> None:
    """Create the engine's indexes on the Southbound IDL (before ``run()``).

    Chassis by ``name``. Idempotent.

    Port_Binding has no index: the engine reads the Port_Bindings
    requested for this chassis in one pass and looks up others (rare: the
    lports of local ports requested elsewhere) in one scan, which is
    cheaper than keeping a pure-Python ``ovs.db.idl`` index (about 10 µs per
    Port_Binding change). There is deliberately no index on
    ``Port_Binding.requested_chassis`` either: ``ovs.db.idl`` computes index
    keys from resolved references, and a weak reference whose Chassis row
    left the cache first resolves to ``None``, which breaks the index (and
    ``run()``) when the Port_Binding changes next.
    """
    _index(idl, "Chassis", INDEX_CHASSIS_BY_NAME, "name")
