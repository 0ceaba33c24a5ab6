"""register_*_columns and create_sb_indexes."""

from __future__ import annotations

import json

import ovs.db.idl
import pytest

from ovn_vif import create_sb_indexes, register_ovs_columns, register_sb_columns
from ovn_vif._engine.columns import INDEX_CHASSIS_BY_NAME, OVS_COLUMNS, SB_COLUMNS
from ovn_vif.sandbox import DATABASES

VSWITCH = str(DATABASES["Open_vSwitch"])
SB = str(DATABASES["OVN_Southbound"])


def _columns(idl: ovs.db.idl.Idl) -> dict[str, set[str]]:
    return {name: set(table.columns) for name, table in idl.tables.items()}


def test_registers_what_the_engine_reads() -> None:
    helper = ovs.db.idl.SchemaHelper(location=VSWITCH)
    register_ovs_columns(helper)
    idl = ovs.db.idl.Idl("unix:/nonexistent", helper)
    assert _columns(idl) == {t: set(c) for t, c in OVS_COLUMNS.items()}
    helper = ovs.db.idl.SchemaHelper(location=SB)
    register_sb_columns(helper)
    idl = ovs.db.idl.Idl("unix:/nonexistent", helper)
    assert _columns(idl) == {t: set(c) for t, c in SB_COLUMNS.items()}


def test_adds_to_the_callers_registrations() -> None:
    helper = ovs.db.idl.SchemaHelper(location=VSWITCH)
    helper.register_columns("Interface", ["statistics"], readonly=["statistics"])
    helper.register_table("Bridge")
    helper.register_columns("Open_vSwitch", ["external_ids"])
    register_ovs_columns(helper)
    idl = ovs.db.idl.Idl("unix:/nonexistent", helper)
    columns = _columns(idl)
    assert "statistics" in columns["Interface"]
    assert "mtu_request" in columns["Interface"]
    assert "fail_mode" in columns["Bridge"]  # still the whole table
    assert columns["Open_vSwitch"] == {"external_ids"}
    assert idl.readonly["Interface"] == ["statistics"]


def test_register_all_is_left_alone() -> None:
    helper = ovs.db.idl.SchemaHelper(location=VSWITCH)
    helper.register_all()
    register_ovs_columns(helper)
    assert "QoS" in ovs.db.idl.Idl("unix:/nonexistent", helper).tables


def test_older_sb_schema_without_additional_chassis() -> None:
    with open(SB) as f:
        schema = json.load(f)
    del schema["tables"]["Port_Binding"]["columns"]["requested_additional_chassis"]
    helper = ovs.db.idl.SchemaHelper(schema_json=schema)
    register_sb_columns(helper)
    idl = ovs.db.idl.Idl("unix:/nonexistent", helper)
    assert "requested_additional_chassis" not in idl.tables["Port_Binding"].columns


def test_wrong_schema_or_used_helper_is_refused() -> None:
    helper = ovs.db.idl.SchemaHelper(location=VSWITCH)
    with pytest.raises(ValueError, match="no table 'Chassis'"):
        register_sb_columns(helper)
    with open(SB) as f:
        schema = json.load(f)
    del schema["tables"]["Port_Binding"]["columns"]["parent_port"]
    with pytest.raises(ValueError, match=r"no column Port_Binding\.parent_port"):
        register_sb_columns(ovs.db.idl.SchemaHelper(schema_json=schema))
    helper = ovs.db.idl.SchemaHelper(location=VSWITCH)
    register_ovs_columns(helper)
    ovs.db.idl.Idl("unix:/nonexistent", helper)
    with pytest.raises(ValueError, match="already used"):
        register_ovs_columns(helper)


def test_indexes_are_created_once_and_only_before_run() -> None:
    helper = ovs.db.idl.SchemaHelper(location=VSWITCH)
    register_ovs_columns(helper)
    idl = ovs.db.idl.Idl("unix:/nonexistent", helper)
    # The engine needs no index on the local database (ovs.db.idl's
    # pure-Python indexes cost more to keep up than the engine's lookups).
    assert not any(table.rows.indexes for table in idl.tables.values())
    helper = ovs.db.idl.SchemaHelper(location=SB)
    register_sb_columns(helper)
    sb = ovs.db.idl.Idl("unix:/nonexistent", helper)
    sb.change_seqno = 3  # as if run() had loaded rows
    with pytest.raises(RuntimeError, match="before the IDL's first run"):
        create_sb_indexes(sb)
    sb.change_seqno = 0
    create_sb_indexes(sb)
    create_sb_indexes(sb)  # idempotent
    assert set(sb.tables["Chassis"].rows.indexes) == {INDEX_CHASSIS_BY_NAME}
    assert not sb.tables["Port_Binding"].rows.indexes
