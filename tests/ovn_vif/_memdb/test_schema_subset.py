"""The schema subsets ovn-vif carries match the schemas the Debian packages install."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ovs.db.schema
import ovs.json
import pytest

from ovn_vif._memdb.schemas import SERVER_SCHEMA
from ovn_vif.testing import OVS_SCHEMA_SUBSET, SB_SCHEMA_SUBSET

INSTALLED = [
    (OVS_SCHEMA_SUBSET, Path("/usr/share/openvswitch/vswitch.ovsschema")),
    (SB_SCHEMA_SUBSET, Path("/usr/share/ovn/ovn-sb.ovsschema")),
]


def load(path: Path) -> Any:
    return ovs.db.schema.DbSchema.from_json(ovs.json.from_file(str(path)))


def index_names(table: Any) -> list[list[str]]:
    return sorted([c.name for c in index] for index in table.indexes)


@pytest.mark.parametrize(("subset", "path"), INSTALLED, ids=["Open_vSwitch", "OVN_Southbound"])
def test_subset_matches_installed_schema_column_by_column(subset: Any, path: Path) -> None:
    real = load(path)
    ours = ovs.db.schema.DbSchema.from_json(subset)
    assert ours.name == real.name
    assert ours.version == real.version, "subset written against another schema version"
    for table_name, table in ours.tables.items():
        assert table_name in real.tables, table_name
        real_table = real.tables[table_name]
        assert table.is_root == real_table.is_root, table_name
        assert table.max_rows == real_table.max_rows, table_name
        assert table.mutable == real_table.mutable, table_name
        for column_name, column in table.columns.items():
            assert column_name in real_table.columns, f"{table_name}.{column_name}"
            assert column.to_json() == real_table.columns[column_name].to_json(), (
                f"{table_name}.{column_name}"
            )
        # every index whose columns the subset has is there, and no other
        expected = sorted(
            [c.name for c in index]
            for index in real_table.indexes
            if all(c.name in table.columns for c in index)
        )
        assert index_names(table) == expected, table_name


@pytest.mark.parametrize(("subset", "path"), INSTALLED, ids=["Open_vSwitch", "OVN_Southbound"])
def test_subset_leaves_out_only_references_to_other_tables(subset: Any, path: Path) -> None:
    real = load(path)
    ours = ovs.db.schema.DbSchema.from_json(subset)
    for table_name, table in ours.tables.items():
        for column_name, column in real.tables[table_name].columns.items():
            if column_name in table.columns:
                continue
            refs = {
                base.ref_table_name
                for base in (column.type.key, column.type.value)
                if base is not None and base.ref_table_name
            }
            assert refs, f"{table_name}.{column_name} left out but refers to no table"
            assert not refs <= set(ours.tables), f"{table_name}.{column_name} could be kept"


def test_server_schema_parses() -> None:
    schema = ovs.db.schema.DbSchema.from_json(SERVER_SCHEMA)
    assert set(schema.tables["Database"].columns) >= {"name", "model", "connected", "leader"}
