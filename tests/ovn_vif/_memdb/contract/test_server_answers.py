"""Regression tests for the divergences the differential fuzzer found (``../fakediff``).

Each test runs on FakeDatabase and on a real ovsdb-server (see conftest) and pins
the server's answer: the replies of raw ``transact`` requests, commit statuses,
what clients see, lock hand-over.  One test (or parameter) per divergence class.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from ovs.db.idl import Idl, Transaction

from ovn_vif.testing import wait_for

from .conftest import Backend, settle
from .test_idl_contract import OVS, SB, one, register_ovs, register_sb, root_of, seed_sb

SB_ROOT = {"op": "select", "table": "SB_Global", "where": []}


def _root_uuid(backend: Backend, db: str, table: str) -> str:
    rows = backend.raw(db, {"op": "select", "table": table, "where": [], "columns": ["_uuid"]})
    return str(rows[0]["rows"][0]["_uuid"][1])


def _error(result: Any) -> dict[str, Any]:
    errors = [r for r in result if isinstance(r, dict) and "error" in r]
    assert errors, result
    return dict(errors[0])


# 1. ------------------------------------------------------------ locks
def test_lock_goes_to_the_waiter_when_the_holder_reconnects(backend: Backend) -> None:
    a = backend.client(OVS, register_ovs)
    a.set_lock("ovn_vif")
    wait_for(a, lambda: a.has_lock)
    b = backend.client(OVS, register_ovs)
    b.set_lock("ovn_vif")
    wait_for(b, lambda: b.is_lock_contended)
    a.force_reconnect()
    wait_for(a, lambda: a.is_lock_contended and not a.has_lock)
    wait_for(b, lambda: b.has_lock)


# 2.-4. ----------------------------------------------------- conditions
def test_refused_condition_change_leaves_the_monitor_working(backend: Backend) -> None:
    watcher = backend.client(SB, register_sb)
    writer = backend.client(SB, register_sb)
    seed_sb(writer)
    watcher.cond_change("Port_Binding", [["nonexistent", "==", 1]])
    settle(watcher)
    # The old condition (all rows) still applies; commits and updates work.
    txn = Transaction(writer)
    pb = one(writer, "Port_Binding", logical_port="lsp-a")
    pb.external_ids = {"k": "v"}
    assert txn.commit_block() == Transaction.SUCCESS
    settle(watcher)
    assert one(watcher, "Port_Binding", logical_port="lsp-a").external_ids == {"k": "v"}
    assert len(watcher.tables["Port_Binding"].rows) == 3
    # The refused request was never acknowledged: the client keeps asking.
    assert watcher.tables["Port_Binding"].condition_state.requested is not None


@pytest.mark.parametrize(
    "condition",
    [
        ["logical_port", "<", "lsp2"],  # ordering on a string column is refused
        ["tunnel_key", "==", "x"],  # a wrongly typed value is refused, run() goes on
    ],
)
def test_refused_condition_is_never_applied(backend: Backend, condition: Any) -> None:
    writer = backend.client(SB, register_sb)
    seed_sb(writer)
    watcher = backend.client(SB, register_sb)
    watcher.cond_change("Port_Binding", [condition])
    settle(watcher)
    assert len(watcher.tables["Port_Binding"].rows) == 3
    assert watcher.tables["Port_Binding"].condition_state.requested == [condition]


@pytest.mark.parametrize(
    ("where", "details"),
    [
        (
            ["logical_port", "<", "lsp2"],
            'Type mismatch: "<" operator may not be applied to column logical_port of type string.',
        ),
        (
            ["up", ">=", True],
            None,  # the details are not compared
        ),
        (
            ["tunnel_key", "==", ["set", [1, 2]]],
            "set must have exactly one member but 2 are present",
        ),
        (["tunnel_key", "==", "x"], "expected integer"),
    ],
)
def test_condition_checked_when_parsed(backend: Backend, where: Any, details: Any) -> None:
    result = backend.raw(SB, {"op": "select", "table": "Port_Binding", "where": [where]})
    error = _error(result)
    assert error["error"] == "syntax error"
    if details is not None:
        assert error["details"] == details


# 5.-6. --------------------------------------------- integrity and defaults
def test_unreferenced_row_pointing_at_a_missing_row_is_an_error(backend: Backend) -> None:
    missing = str(uuid.uuid4())
    result = backend.raw(
        OVS,
        {
            "op": "insert",
            "table": "Bridge",
            "row": {"name": "br-x", "ports": ["set", [["uuid", missing]]]},
        },
    )
    error = _error(result)
    assert error["error"] == "referential integrity violation"
    assert error["details"].endswith(f"references nonexistent row {missing} in table Port.")


def test_omitted_column_default_must_meet_constraints(backend: Backend) -> None:
    result = backend.raw(SB, {"op": "insert", "table": "Encap", "row": {"ip": "192.0.2.9"}})
    assert _error(result) == {
        "error": "constraint violation",
        "details": '"" is not one of the allowed values ([geneve, stt, vxlan])',
    }
    result = backend.raw(SB, {"op": "insert", "table": "Datapath_Binding", "row": {}})
    error = _error(result)
    assert error["error"] == "constraint violation"
    assert error["details"].startswith("0 is not in the valid range 1 to ")


# 7.-8. ----------------------------------------------------------- mutations
def _nb_cfg_after(backend: Backend, *mutations: Any) -> Any:
    ops = [
        {"op": "update", "table": "SB_Global", "where": [], "row": {"nb_cfg": -7}},
        *({"op": "mutate", "table": "SB_Global", "where": [], "mutations": [m]} for m in mutations),
        {"op": "select", "table": "SB_Global", "where": [], "columns": ["nb_cfg"]},
    ]
    return backend.raw(SB, *ops)


def test_integer_division_and_remainder_round_toward_zero(backend: Backend) -> None:
    assert _nb_cfg_after(backend, ["nb_cfg", "/=", 2])[-1] == {"rows": [{"nb_cfg": -3}]}
    assert _nb_cfg_after(backend, ["nb_cfg", "%=", 3])[-1] == {"rows": [{"nb_cfg": -1}]}


@pytest.mark.parametrize(
    ("mutation", "error"),
    [
        (["nb_cfg", "/=", 0], {"error": "domain error", "details": "Division by zero."}),
        (["nb_cfg", "%=", 0], {"error": "domain error", "details": "Division by zero."}),
        (
            ["nb_cfg", "-=", 9223372036854775807],
            {"error": "range error", "details": 'Result of "-=" operation is out of range.'},
        ),
        (
            ["external_ids", "+=", 1],
            {
                "error": "syntax error",
                "details": 'Type mismatch: "+=" operator may not be applied to column '
                "external_ids of type map of (string, string) pairs.",
                "syntax": '["external_ids","+=",1]',
            },
        ),
        (
            ["nb_cfg", "+=", 1.5],
            {"error": "syntax error", "details": "expected integer", "syntax": "1.5"},
        ),
        (
            ["ipsec", "insert", True],
            {
                "error": "syntax error",
                "details": 'Type mismatch: "insert" operator may not be applied to column ipsec '
                "of type boolean.",
                "syntax": '["ipsec","insert",true]',
            },
        ),
        (["nb_cfg", "frob", 1], {"error": "unknown mutator", "details": "No mutator named frob."}),
        (
            ["external_ids", "insert", ["set", ["a"]]],
            {
                "error": "syntax error",
                "details": 'expected ["map", <array>]',
                "syntax": '["set",["a"]]',
            },
        ),
    ],
)
def test_mutation_errors(backend: Backend, mutation: Any, error: Any) -> None:
    assert _error(_nb_cfg_after(backend, mutation)) == error


def test_immutable_column_cannot_be_mutated(backend: Backend) -> None:
    chassis = str(uuid.uuid4())
    encap = str(uuid.uuid4())
    backend.raw(
        SB,
        {
            "op": "insert",
            "table": "Encap",
            "uuid": encap,
            "row": {"type": "geneve", "ip": "192.0.2.1", "chassis_name": "hv1"},
        },
        {
            "op": "insert",
            "table": "Chassis",
            "uuid": chassis,
            "row": {"name": "hv1", "encaps": ["uuid", encap]},
        },
    )
    result = backend.raw(
        OVS,
        {"op": "mutate", "table": "Port", "where": [], "mutations": [["name", "insert", "x"]]},
    )
    assert _error(result) == {
        "error": "constraint violation",
        "details": "Cannot mutate immutable column name in table Port.",
        "syntax": '["name","insert","x"]',
    }


# 9. ------------------------------------------------ operations parsed first
@pytest.mark.parametrize(
    ("op", "error"),
    [
        (
            {"op": "select", "table": "SB_Global"},
            {
                "error": "syntax error",
                "details": "Parsing ovsdb operation 1 of 1 failed: Required 'where' member is "
                "missing.",
                "syntax": '{"op":"select","table":"SB_Global"}',
            },
        ),
        (
            {"op": "select", "table": "SB_Global", "where": [], "columns": ["nope"]},
            {
                "error": "syntax error",
                "details": "nope is not a valid column name",
                "syntax": '["nope"]',
            },
        ),
        (
            {"op": "select", "table": "Nope", "where": []},
            {
                "error": "syntax error",
                "details": "Parsing ovsdb operation 1 of 1 failed: No table named Nope.",
                "syntax": '{"op":"select","table":"Nope","where":[]}',
            },
        ),
        (
            {"op": "select", "table": "SB_Global", "where": [["nb_cfg", "frob", 1]]},
            {"error": "unknown function", "details": "No function named frob."},
        ),
        (
            {"op": "select", "table": "SB_Global", "where": [["nope", "==", 1]]},
            {
                "error": "unknown column",
                "details": "No column nope in table SB_Global.",
                "syntax": '["nope","==",1]',
            },
        ),
    ],
)
def test_operation_errors_without_matching_rows(backend: Backend, op: Any, error: Any) -> None:
    assert _error(backend.raw(SB, op)) == error


# 10. ---------------------------------------------------------- bad strings
@pytest.mark.parametrize("text", ["nul\u0000", "surrogate\ud800"])
def test_text_the_server_cannot_parse_drops_the_connection(backend: Backend, text: str) -> None:
    result = backend.raw(
        SB,
        {
            "op": "update",
            "table": "SB_Global",
            "where": [],
            "row": {"options": ["map", [["k", text]]]},
        },
    )
    assert result == "disconnected"
    idl = backend.client(SB, register_sb)
    txn = Transaction(idl)
    txn.add_op(
        {
            "op": "update",
            "table": "SB_Global",
            "where": [],
            "row": {"options": ["map", [["k", text]]]},
        }
    )
    assert txn.commit_block() == Transaction.TRY_AGAIN
    wait_for(idl, lambda: idl.state == idl.IDL_S_MONITORING)


# 11. --------------------------------------------------------------- replies
def test_replies(backend: Backend) -> None:
    shared = str(uuid.uuid4())
    result = backend.raw(
        SB,
        {
            "op": "insert",
            "table": "Datapath_Binding",
            "uuid": shared,
            "row": {"tunnel_key": 7, "_version": ["uuid", str(uuid.uuid4())]},
        },
        {
            "op": "insert",
            "table": "Encap",
            "uuid": shared,  # UUIDs are unique per table only
            "row": {"type": "geneve", "ip": "192.0.2.1", "chassis_name": "hv1"},
        },
        {"op": "insert", "table": "Chassis", "row": {"name": "hv1", "encaps": ["uuid", shared]}},
        {"op": "select", "table": "SB_Global", "where": [], "columns": []},
    )
    assert result[:2] == [{"uuid": ["uuid", shared]}, {"uuid": ["uuid", shared]}]
    assert result[3] == {"rows": [{}]}
    where = [["_uuid", "==", ["uuid", shared]]]
    select = {"op": "select", "table": "Datapath_Binding", "where": where, "columns": ["_version"]}
    before = backend.raw(SB, select)[0]["rows"][0]["_version"]
    backend.raw(
        SB, {"op": "update", "table": "Datapath_Binding", "where": where, "row": {"tunnel_key": 8}}
    )
    after = backend.raw(SB, select)[0]["rows"][0]["_version"]
    assert before[0] == after[0] == "uuid"
    assert before != after
    assert uuid.UUID(before[1]).int != 0


def test_root_row_select(backend: Backend) -> None:
    assert backend.raw(SB, SB_ROOT)[0]["rows"][0]["_uuid"][1] == _root_uuid(
        backend, SB, "SB_Global"
    )
    assert root_of(backend.client(OVS, register_ovs)) is not None


# Monitors: the methods an older client falls back to, and resuming -------
def _strip_row_uuids(result: Any) -> Any:
    return {table: sorted(rows.values(), key=repr) for table, rows in result.items()}


@pytest.mark.parametrize(
    ("method", "extra", "row_key"),
    [("monitor_cond_since", [str(uuid.UUID(int=0))], "initial"), ("monitor_cond", [], "initial")],
)
def test_monitor_methods_answer_alike(
    backend: Backend, method: str, extra: list[Any], row_key: str
) -> None:
    backend.raw(SB, {"op": "update", "table": "SB_Global", "where": [], "row": {"nb_cfg": 5}})
    request = [SB, "m", {"SB_Global": [{"columns": ["nb_cfg", "ipsec"]}]}, *extra]
    result = backend._request(method, request)
    if method == "monitor_cond_since":
        # A standalone server keeps no transaction history: it never resumes.
        found, last_id, result = result
        assert (found, last_id) == (False, str(uuid.UUID(int=0)))
    assert _strip_row_uuids(result) == {"SB_Global": [{row_key: {"nb_cfg": 5}}]}


def test_plain_monitor_answers_whole_rows(backend: Backend) -> None:
    """The oldest method (update notifications of version 1) sends every column."""
    result = backend._request("monitor", [SB, "m", {"SB_Global": [{"columns": ["nb_cfg"]}]}])
    assert _strip_row_uuids(result) == {"SB_Global": [{"new": {"nb_cfg": 0}}]}


def test_monitor_cond_since_with_a_last_id_sends_everything(backend: Backend) -> None:
    stale = str(uuid.uuid4())
    request = [SB, "m", {"SB_Global": [{"columns": ["nb_cfg"]}]}, stale]
    found, last_id, result = backend._request("monitor_cond_since", request)
    assert (found, last_id) == (False, str(uuid.UUID(int=0)))
    assert _strip_row_uuids(result) == {"SB_Global": [{"initial": {}}]}


def test_reconnect_reloads_and_notifies(backend: Backend) -> None:
    from .test_idl_contract import RecordingIdl

    idl = backend.client(SB, register_sb, idl_class=RecordingIdl)
    seed_sb(idl)
    rows = {t: set(idl.tables[t].rows) for t in idl.tables}
    idl.events.clear()
    seqno = idl.change_seqno
    idl.force_reconnect()
    wait_for(idl, lambda: idl.state == idl.IDL_S_MONITORING and idl.change_seqno != seqno)
    settle(idl)
    assert {t: set(idl.tables[t].rows) for t in idl.tables} == rows
    assert idl.last_id == str(uuid.UUID(int=0))
    # Not resumed: the IDL loaded every row again, one "create" each. (ovs
    # before 4.0 also reports the _Server database's own Database row.)
    events = [e for e in idl.events if e[1] in idl.tables]
    assert {e[0] for e in events} == {"create"}
    assert len(events) == sum(len(r) for r in rows.values())


def test_echo_is_answered(backend: Backend) -> None:
    assert backend._request("echo", [SB, "ping"]) == [SB, "ping"]


def test_server_database_rows(backend: Backend) -> None:
    result = backend._request(
        "monitor_cond",
        ["_Server", "s", {"Database": [{"columns": ["name", "model", "connected", "leader"]}]}],
    )
    rows = [r["initial"] for r in result["Database"].values()]
    assert {"name": SB, "model": "standalone", "connected": True, "leader": True} in rows


@pytest.mark.parametrize(
    ("method", "extra", "notification", "change"),
    [
        (
            "monitor",
            [],
            "update",
            {"old": {"nb_cfg": 0}, "new": {"nb_cfg": 3, "options": ["map", []]}},
        ),
        ("monitor_cond", [], "update2", {"modify": {"nb_cfg": 3}}),
        ("monitor_cond_since", [str(uuid.UUID(int=0))], "update3", {"modify": {"nb_cfg": 3}}),
    ],
)
def test_update_notifications_of_each_monitor_method(
    backend: Backend, method: str, extra: list[Any], notification: str, change: Any
) -> None:
    """What an IDL that fell back to an older method (for an older server) receives."""
    conn = backend.connection(SB)
    conn.request(method, [SB, "m", {"SB_Global": [{"columns": ["nb_cfg", "options"]}]}, *extra])
    backend.raw(SB, {"op": "update", "table": "SB_Global", "where": [], "row": {"nb_cfg": 3}})
    backend.raw(SB, {"op": "update", "table": "SB_Global", "where": [], "row": {"nb_cfg": 3}})
    conn.request("echo", [])
    assert len(conn.notifications) == 1, conn.notifications
    name, params = conn.notifications[0]
    assert name == notification
    assert params[0] == "m"
    if method == "monitor_cond_since":
        assert params[1] == str(uuid.UUID(int=0))
    assert [list(rows.values()) for rows in params[-1].values()] == [[change]]


# Found by longer fuzzer runs ------------------------------------------------
def test_lock_passes_back_and_forth_over_reconnects(backend: Backend) -> None:
    a = backend.client(OVS, register_ovs)
    a.set_lock("ovn_vif")
    wait_for(a, lambda: a.has_lock)
    b = backend.client(OVS, register_ovs)
    b.set_lock("ovn_vif")
    wait_for(b, lambda: b.is_lock_contended)
    for old, new in ((a, b), (b, a)):
        old.force_reconnect()

        def handed_over(old: Idl = old) -> bool:
            return bool(old.is_lock_contended and not old.has_lock)

        def taken_over(new: Idl = new) -> bool:
            return bool(new.has_lock)

        wait_for(old, handed_over)
        wait_for(new, taken_over)


def test_mutation_beyond_the_set_size(backend: Backend) -> None:
    mutate = {"op": "mutate", "table": "Open_vSwitch", "where": []}
    result = backend.raw(
        OVS,
        {**mutate, "mutations": [["db_version", "insert", "a"]]},
        {**mutate, "mutations": [["db_version", "insert", "b"]]},
    )
    assert _error(result) == {
        "error": "constraint violation",
        "details": "Attempted to store 2 elements in set of up to 1 strings.",
    }


@pytest.mark.parametrize(
    ("table", "where", "details"),
    [
        (
            "Chassis",
            ["encaps", "==", ["set", []]],
            "set must have 1 to 4294967295 members but 0 are present",
        ),
        (
            "Port_Binding",
            ["tunnel_key", "<", ["set", [1, 2]]],
            "set must have exactly one member but 2 are present",
        ),
    ],
)
def test_condition_argument_sizes(backend: Backend, table: str, where: Any, details: str) -> None:
    error = _error(backend.raw(SB, {"op": "select", "table": table, "where": [where]}))
    assert (error["error"], error["details"]) == ("syntax error", details)


# Found by the fuzzer's larger CI profile ---------------------------------
_WAIT = {"op": "wait", "table": "Open_vSwitch", "timeout": 0, "where": [], "until": "=="}


@pytest.mark.parametrize(
    ("wait", "answer"),
    [
        # A row parsed with the column's full type: set sizes too.
        (
            {"columns": ["ovs_version"], "rows": [{"ovs_version": ["set", ["a", "b"]]}]},
            {
                "error": "syntax error",
                "details": "set must have 0 to 1 members but 2 are present",
                "syntax": '["set",["a","b"]]',
            },
        ),
        # columns are checked before rows.
        (
            {"columns": ["nope"], "rows": [{"nope2": 1}]},
            {
                "error": "syntax error",
                "details": "nope is not a valid column name",
                "syntax": '["nope"]',
            },
        ),
        (
            {"columns": ["bridges"], "rows": [{"nope": 1}]},
            {
                "error": "unknown column",
                "details": "No column nope in table Open_vSwitch.",
                "syntax": '{"nope":1}',
            },
        ),
        # Only "columns" are compared; one the row omits is compared as its default.
        ({"columns": ["bridges", "next_cfg"], "rows": [{"bridges": ["set", []]}]}, {}),
        (
            {
                "columns": ["bridges"],
                "rows": [{"bridges": ["set", []], "external_ids": ["map", [["a", "b"]]]}],
            },
            {},
        ),
        # Expected rows are a set: a duplicate counts once.
        ({"columns": ["bridges"], "rows": [{"bridges": ["set", []]}, {}]}, {}),
        # Without "columns", _uuid and _version are compared too.
        (
            {"rows": [{"bridges": ["set", []]}]},
            {"error": "timed out", "details": '"where" clause test failed'},
        ),
    ],
)
def test_wait_rows(backend: Backend, wait: Any, answer: Any) -> None:
    result = backend.raw(OVS, {**_WAIT, **wait})
    assert (result[0] if not answer else _error(result)) == answer


def test_lock_requests(backend: Backend) -> None:
    """lock/steal/unlock as ovsdb-server answers them, notifications included."""
    a, b, c = (backend.connection(OVS) for _ in range(3))

    def syntax(params: list[Any], details: str) -> dict[str, Any]:
        syntax = "[" + ",".join(f'"{p}"' if isinstance(p, str) else str(p) for p in params) + "]"
        return {"rpc-error": {"error": "syntax error", "details": details, "syntax": syntax}}

    assert a.request("lock", ["x"]) == {"locked": True}
    assert b.request("lock", ["x"]) == {"locked": False}
    # One request per lock and session until it unlocks.
    assert b.request("lock", ["x"]) == syntax(["x"], 'must issue "unlock" before new "lock"')
    assert b.request("steal", ["x"]) == syntax(["x"], 'must issue "unlock" before new "steal"')
    assert c.request("unlock", ["x"]) == syntax(["x"], 'unlock: "unlock" without "lock" or "steal"')
    for method, params in (("lock", ["1x"]), ("steal", [3]), ("unlock", ["x", "y"])):
        assert a.request(method, params) == syntax(params, f"{method} request params must be <id>")
    # A waiter leaving tells the owner "locked" again.
    assert c.request("lock", ["x"]) == {"locked": False}
    assert c.request("unlock", ["x"]) == {}
    a.request("echo", [])
    assert a.notifications == [("locked", ["x"])]
    # A thief goes first; a thief robbed in turn leaves the line.
    assert c.request("steal", ["x"]) == {"locked": True}
    assert a.request("echo", []) == []
    assert a.notifications[-1] == ("stolen", ["x"])
    assert b.request("steal", ["x"]) == syntax(["x"], 'must issue "unlock" before new "steal"')
    assert b.request("unlock", ["x"]) == {}  # a waiter left: the owner hears "locked"
    assert b.request("steal", ["x"]) == {"locked": True}
    c.request("echo", [])
    assert c.notifications == [("locked", ["x"]), ("stolen", ["x"])]
    assert b.request("unlock", ["x"]) == {}  # c left the line when robbed: a is next
    a.request("echo", [])
    assert a.notifications[-1] == ("locked", ["x"])
    assert c.request("unlock", ["x"]) == {}


@pytest.mark.parametrize(
    ("op", "answer"),
    [
        # A value is parsed before the column's immutability is looked at.
        (
            {"op": "update", "table": "Bridge", "where": [], "row": {"name": ["set", ["a", "b"]]}},
            {
                "error": "syntax error",
                "details": "set must have exactly one member but 2 are present",
                "syntax": '["set",["a","b"]]',
            },
        ),
        (
            {"op": "update", "table": "Bridge", "where": [], "row": {"_uuid": 5}},
            {"error": "syntax error", "details": 'expected ["uuid", <string>]', "syntax": "5"},
        ),
        (
            {"op": "insert", "table": "Bridge", "row": {"name": "a", "_version": 5}},
            {"error": "syntax error", "details": 'expected ["uuid", <string>]', "syntax": "5"},
        ),
    ],
)
def test_row_values_parsed_first(backend: Backend, op: Any, answer: Any) -> None:
    assert _error(backend.raw(OVS, op)) == answer


def test_insert_ignores_uuid_in_row(backend: Backend) -> None:
    """An insert's row may carry _uuid (and _version): both ignored; the
    operation's "uuid" member is what names the row."""
    mine, given = str(uuid.uuid4()), str(uuid.uuid4())
    result = backend.raw(
        OVS,
        {
            "op": "insert",
            "table": "Bridge",
            "uuid": mine,
            "row": {"name": "a", "_uuid": ["uuid", given]},
        },
        {"op": "select", "table": "Bridge", "where": [], "columns": ["_uuid"]},
    )
    # (Unreferenced, the row is collected at commit, after the select.)
    assert result == [{"uuid": ["uuid", mine]}, {"rows": [{"_uuid": ["uuid", mine]}]}]


def test_excludes_takes_any_number_of_values(backend: Backend) -> None:
    select = {"op": "select", "table": "Bridge"}
    assert backend.raw(
        OVS, {**select, "where": [["datapath_id", "excludes", ["set", ["a", "b"]]]]}
    ) == [{"rows": []}]
    assert (
        _error(
            backend.raw(
                OVS, {**select, "where": [["datapath_id", "includes", ["set", ["a", "b"]]]]}
            )
        )["details"]
        == "set must have 0 to 1 members but 2 are present"
    )
    assert _error(
        backend.raw(OVS, {**select, "where": [["datapath_id", "excludes", ["set", ["a", 1]]]]})
    ) == {
        "error": "syntax error",
        "details": "expected string",
        "syntax": "1",
    }


def test_select_answers_distinct_rows(backend: Backend) -> None:
    other = str(uuid.uuid4())
    select = {"op": "select", "table": "Open_vSwitch", "where": []}
    result = backend.raw(
        OVS,
        {"op": "insert", "table": "Open_vSwitch", "uuid": other, "row": {}},
        {**select, "columns": ["next_cfg"]},
        {**select, "columns": []},
        {**select, "columns": ["_uuid"]},
        {"op": "abort"},
    )
    assert result[1:3] == [{"rows": [{"next_cfg": 0}]}, {"rows": [{}]}]
    assert len(result[3]["rows"]) == 2


def test_reference_to_a_row_deleted_in_the_same_transaction(backend: Backend) -> None:
    """It counts as a reference to the deleted row (before garbage collection:
    also from a new row nothing references)."""
    interface, port, bridge, other = (str(uuid.uuid4()) for _ in range(4))
    backend.raw(
        OVS,
        {"op": "insert", "table": "Interface", "uuid": interface, "row": {"name": "i1"}},
        {
            "op": "insert",
            "table": "Port",
            "uuid": port,
            "row": {"name": "p1", "interfaces": ["uuid", interface]},
        },
        {
            "op": "insert",
            "table": "Bridge",
            "uuid": bridge,
            "row": {"name": "b1", "ports": ["uuid", port]},
        },
        {
            "op": "mutate",
            "table": "Open_vSwitch",
            "where": [],
            "mutations": [["bridges", "insert", ["set", [["uuid", bridge]]]]],
        },
    )
    result = backend.raw(
        OVS,
        {"op": "delete", "table": "Interface", "where": [["_uuid", "==", ["uuid", interface]]]},
        {
            "op": "insert",
            "table": "Port",
            "uuid": other,
            "row": {"name": "q", "interfaces": ["uuid", interface]},
        },
    )
    assert _error(result) == {
        "error": "referential integrity violation",
        "details": f"cannot delete Interface row {interface} because of 2 remaining reference(s)",
    }


@pytest.mark.parametrize("where", [["flow_tables", "includes", True], ["flow_tables", "==", 1]])
def test_map_column_takes_only_a_map(backend: Backend, where: Any) -> None:
    error = _error(backend.raw(OVS, {"op": "select", "table": "Bridge", "where": [where]}))
    assert (error["error"], error["details"]) == ("syntax error", 'expected ["map", <array>]')


def test_index_conflict_with_a_row_modified_outside_the_index(backend: Backend) -> None:
    """The existing row was modified, not in its index columns."""
    existing, new = str(uuid.uuid4()), str(uuid.uuid4())
    backend.raw(SB, {"op": "insert", "table": "Chassis_Private", "uuid": existing, "row": {}})
    result = backend.raw(
        SB,
        {"op": "update", "table": "Chassis_Private", "where": [], "row": {"nb_cfg": 7}},
        {"op": "insert", "table": "Chassis_Private", "uuid": new, "row": {}},
    )
    details = _error(result)["details"]
    assert (
        f"with UUID {existing}, existed in the database before this transaction, which "
        "modified some of the row's columns but not any columns in this index."
    ) in details
    assert f"with UUID {new}, was inserted by this transaction." in details


def test_lock_set_before_connecting_is_asked_for_once(backend: Backend) -> None:
    """Clients that set the lock before their first run() ask for it once, so
    it passes down the line as each holder closes (the fake once queued such
    a client twice and handed the lock to it after it had closed)."""
    clients = []
    for _ in range(3):
        idl = backend.unconnected(OVS, register_ovs)
        idl.set_lock("ovn_vif")

        def answered(idl: Idl = idl) -> bool:
            return bool(idl.has_lock or idl.is_lock_contended)

        wait_for(idl, answered)
        clients.append(idl)
    first, second, third = clients
    assert first.has_lock
    first.close()
    wait_for(second, lambda: second.has_lock)
    second.close()
    wait_for(third, lambda: third.has_lock)


# 12. ------------------------------------- lone surrogates, ids, UUIDs across tables
#: ovsdb-server reads a low surrogate escape alone (a high one alone is a JSON
#: error: the connection drops, see 10.) as the bytes ed bf bf, and refuses
#: them wherever a string atom is parsed.
LONE = "\udfff"
NOT_UTF8 = {
    "error": "constraint violation",
    "details": "not a valid UTF-8 string: invalid UTF-8 sequence 0xed 0xbf",
}
_GLOBAL = {"table": "SB_Global", "where": []}


@pytest.mark.parametrize(
    "op",
    [
        pytest.param({"op": "insert", "table": "Address_Set", "row": {"name": LONE}}, id="value"),
        pytest.param(
            {"op": "insert", "table": "Address_Set", "row": {"name": "é" + LONE + "x"}},
            id="value-middle",
        ),
        pytest.param(
            {"op": "insert", "table": "Address_Set", "row": {"name": "s", "addresses": LONE}},
            id="set-atom",
        ),
        pytest.param(
            {"op": "update", **_GLOBAL, "row": {"external_ids": ["map", [[LONE, "1"]]]}},
            id="map-key",
        ),
        pytest.param(
            {"op": "update", **_GLOBAL, "row": {"external_ids": ["map", [["k", LONE + "v"]]]}},
            id="map-value",
        ),
        pytest.param(
            {
                "op": "mutate",
                **_GLOBAL,
                "mutations": [["external_ids", "insert", ["map", [["k", LONE]]]]],
            },
            id="mutate-insert",
        ),
        pytest.param(
            {"op": "mutate", **_GLOBAL, "mutations": [["external_ids", "delete", ["set", [LONE]]]]},
            id="mutate-delete-keys",
        ),
        pytest.param(
            {"op": "select", "table": "Address_Set", "where": [["name", "==", LONE]]},
            id="where",
        ),
        pytest.param(
            {
                "op": "mutate",
                "table": "SB_Global",
                "where": [["external_ids", "includes", ["map", [[LONE, "1"]]]]],
                "mutations": [],
            },
            id="where-map",
        ),
        pytest.param(
            {
                "op": "wait",
                **_GLOBAL,
                "timeout": 0,
                "columns": ["options"],
                "until": "==",
                "rows": [{"options": ["map", [["k", LONE]]]}],
            },
            id="wait-rows",
        ),
        pytest.param(
            {
                "op": "insert",
                "table": "Address_Set",
                "row": {"name": "s", "addresses": ["set", ["a", LONE, 5]]},
            },
            id="before-a-bad-atom",
        ),
    ],
)
def test_a_lone_surrogate_in_a_string_atom_is_refused(backend: Backend, op: Any) -> None:
    """The fake stored these (and matched them in conditions); the server
    refuses them as not UTF-8, each where the string is parsed."""
    assert backend.raw(SB, op) == [NOT_UTF8]
    assert backend.raw(SB, {"op": "select", "table": "Address_Set", "where": []}) == [{"rows": []}]


def test_the_first_bad_atom_is_the_one_reported(backend: Backend) -> None:
    op = {
        "op": "insert",
        "table": "Address_Set",
        "row": {"name": "s", "addresses": ["set", [5, LONE]]},
    }
    assert backend.raw(SB, op) == [
        {"error": "syntax error", "details": "expected string", "syntax": "5"}
    ]


@pytest.mark.parametrize(
    "op",
    [
        pytest.param({"op": "select", "table": "SB_Global" + LONE, "where": []}, id="table"),
        pytest.param({"op": "select" + LONE, **_GLOBAL}, id="op"),
        pytest.param(
            {"op": "insert", "table": "Address_Set", "row": {"name" + LONE: "x"}}, id="column"
        ),
        pytest.param({"op": "select", **_GLOBAL, "columns": [LONE]}, id="columns"),
        pytest.param(
            {"op": "select", "table": "SB_Global", "where": [["options" + LONE, "==", "x"]]},
            id="where-column",
        ),
        pytest.param(
            {"op": "insert", "table": "Address_Set", "uuid-name": "a" + LONE, "row": {}},
            id="uuid-name",
        ),
        pytest.param({"op": "assert", "lock": LONE}, id="lock"),
        pytest.param(
            {"op": "insert", "table": "Encap", "row": {"type": LONE}}, id="enum-value-quoted"
        ),
        pytest.param(
            {
                "op": "mutate",
                **_GLOBAL,
                "mutations": [["external_ids", "delete", ["map", [["k", LONE]]]]],
            },
            id="map-delete-falls-back-to-keys",
        ),
        pytest.param(
            {"op": "insert", "table": "Address_Set", "row": {"name": ["uuid", LONE]}},
            id="uuid-atom",
        ),
    ],
)
def test_an_error_that_quotes_a_lone_surrogate_drops_the_connection(
    backend: Backend, op: Any
) -> None:
    """The server's error names the bad text, written as is: not UTF-8, and
    the client drops the connection (the fake answered the error)."""
    assert backend.raw(SB, op) == "disconnected"


def test_an_operation_without_a_table(backend: Backend) -> None:
    assert _error(backend.raw(SB, {"op": "select", "where": []})) == {
        "error": "syntax error",
        "details": "Parsing ovsdb operation 1 of 1 failed: Required 'table' member is missing.",
        "syntax": '{"op":"select","where":[]}',
    }


def test_a_lone_surrogate_in_a_comment_is_fine(backend: Backend) -> None:
    assert backend.raw(SB, {"op": "comment", "comment": LONE}) == [{}]


@pytest.mark.parametrize(
    ("op", "member"),
    [
        ({"op": "insert", "table": "Address_Set", "uuid-name": "a b", "row": {}}, "uuid-name"),
        ({"op": "insert", "table": "Address_Set", "uuid-name": "1st", "row": {}}, "uuid-name"),
        ({"op": "assert", "lock": "a-b"}, "lock"),
        ({"op": "select", "table": "SB Global", "where": []}, "table"),
        ({"op": "select", "table": "SB_Global\U0001f600", "where": []}, "table"),
        ({"op": "select", "table": 5, "where": []}, "table"),
        ({"op": "sel ect", "table": "SB_Global", "where": []}, "op"),
    ],
)
def test_uuid_names_and_locks_must_be_ids(backend: Backend, op: Any, member: str) -> None:
    assert backend.raw(SB, op) == [
        {
            "error": "syntax error",
            "details": f"Parsing ovsdb operation 1 of 1 failed: Type mismatch for member "
            f"'{member}'.",
            "syntax": json.dumps(op, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        }
    ]


def test_a_uuid_may_name_rows_of_two_tables(backend: Backend) -> None:
    """ovsdb-server 3.1 checks an insert's UUID against its own table only
    (and rows deleted in the same transaction): a row of another table, in
    the database or inserted by the same transaction, does not stop it. The
    fake does the same; the contract pins it so that neither drifts."""
    root = _root_uuid(backend, SB, "SB_Global")
    assert backend.raw(
        SB, {"op": "insert", "table": "Address_Set", "uuid": root, "row": {"name": "a"}}
    ) == [{"uuid": ["uuid", root]}]
    both = str(uuid.uuid4())
    assert backend.raw(
        SB,
        {"op": "insert", "table": "Address_Set", "uuid": both, "row": {"name": "b"}},
        {"op": "insert", "table": "Datapath_Binding", "uuid": both, "row": {"tunnel_key": 5}},
    ) == [{"uuid": ["uuid", both]}, {"uuid": ["uuid", both]}]
    same = {"op": "insert", "table": "Address_Set", "uuid": both, "row": {"name": "c"}}
    assert _error(backend.raw(SB, same)) == {
        "error": "duplicate uuid",
        "details": "This UUID would duplicate a UUID already present within the table or "
        "deleted within the same transaction.",
        "syntax": json.dumps(both),
    }
