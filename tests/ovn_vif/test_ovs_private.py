"""Pins each read of ``ovs`` private state (``ovn_vif._ovs_private``).

These run against the installed ``ovs``; the constraint sessions run them
with the other releases in ``CHECKED_VERSIONS``. A new ``ovs`` release that
moves one of these attributes fails here, not in the engine.
"""

from __future__ import annotations

import importlib.metadata
import logging
import socket
import subprocess
import sys
from collections.abc import Iterator

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.reconnect
import ovs.stream
import ovs.unixctl.server
import ovs.vlog
import pytest

from ovn_vif._ovs_private import (
    CHECKED_VERSIONS,
    close_session,
    committed_datums,
    helper_readonly,
    helper_registered,
    helper_registers_all,
    idl_schema_name,
    route_ovs_logging,
    session_connected,
    session_name,
    set_session,
    ssl_open,
    stream_recv,
    stream_send,
    unroute_ovs_logging,
)
from ovn_vif.sandbox import DATABASES, OvsdbServer, SandboxDir

VSWITCH = str(DATABASES["Open_vSwitch"])


def test_the_installed_ovs_is_a_series_we_checked() -> None:
    def series(version: str) -> str:
        return ".".join(version.split(".")[:2])

    installed = importlib.metadata.version("ovs")
    assert series(installed) in {series(v) for v in CHECKED_VERSIONS}, (
        f"ovs {installed}: run tests/ovn_vif/test_ovs_private.py with it and add it to "
        "ovn_vif._ovs_private.CHECKED_VERSIONS"
    )


def test_schema_helper_registrations() -> None:
    helper = ovs.db.idl.SchemaHelper(location=VSWITCH)
    assert not helper_registers_all(helper)
    assert dict(helper_registered(helper)) == {}
    helper.register_columns("Interface", ["name", "type"], readonly=["type"])
    helper.register_table("Bridge")
    assert dict(helper_registered(helper)) == {"Interface": {"name", "type"}, "Bridge": set()}
    assert dict(helper_readonly(helper))["Interface"] == ["type"]
    helper.register_all()
    assert helper_registers_all(helper)


def _run_until(idl: ovs.db.idl.Idl, condition: object) -> None:
    for _ in range(500):
        idl.run()
        if callable(condition) and condition():
            return
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(20)
        poller.block()
    raise AssertionError("the IDL did not get there")


@pytest.mark.daemons
def test_rows_committed_data_and_the_session(
    ovsdb_server: OvsdbServer, sandbox_dir: SandboxDir
) -> None:
    sandbox_dir.run("ovs-vsctl", f"--db={ovsdb_server.remote}", "--no-wait", "add-br", "br0")
    helper = ovs.db.idl.SchemaHelper(location=VSWITCH)
    helper.register_columns("Bridge", ["name", "external_ids"])
    idl = ovs.db.idl.Idl(ovsdb_server.remote, helper)
    try:
        assert idl_schema_name(idl) == "Open_vSwitch"
        _run_until(idl, lambda: idl.has_ever_connected() and idl.tables["Bridge"].rows)
        assert session_connected(idl)
        assert session_name(idl) == ovsdb_server.remote
        (row,) = idl.tables["Bridge"].rows.values()
        data = committed_datums(row)
        assert data is not None
        assert data["name"].as_scalar() == "br0" == row.name
        # A row with staged writes has no committed view: read it through attributes.
        txn = ovs.db.idl.Transaction(idl)
        row.setkey("external_ids", "k", "v")
        assert committed_datums(row) is None
        txn.abort()
        assert committed_datums(object()) is None
    finally:
        idl.close()


def test_a_session_can_be_replaced() -> None:
    helper = ovs.db.idl.SchemaHelper(location=VSWITCH)
    helper.register_all()
    idl = ovs.db.idl.Idl("unix:/nonexistent/ovn-vif.sock", helper)

    class Session:
        closed = False

        def is_connected(self) -> bool:
            return True

        def close(self) -> None:
            self.closed = True

    close_session(idl)
    assert not session_connected(idl)
    replacement = Session()
    set_session(idl, replacement)
    assert session_connected(idl)
    idl.close()
    assert replacement.closed


def test_session_name_of_a_cluster_list() -> None:
    helper = ovs.db.idl.SchemaHelper(location=VSWITCH)
    helper.register_all()
    idl = ovs.db.idl.Idl("unix:/nonexistent/a.sock,unix:/nonexistent/b.sock", helper)
    try:
        assert session_name(idl) in ("unix:/nonexistent/a.sock", "unix:/nonexistent/b.sock")
    finally:
        idl.close()


@pytest.fixture
def _no_tls_files() -> Iterator[None]:
    yield
    for setter in (
        ovs.stream.Stream.ssl_set_private_key_file,
        ovs.stream.Stream.ssl_set_certificate_file,
        ovs.stream.Stream.ssl_set_ca_cert_file,
    ):
        setter(None)


@pytest.mark.usefixtures("_no_tls_files")
def test_ssl_open_raises_for_missing_files() -> None:
    # What ovn_vif.agent._tls turns into an errno and a sentence.
    ovs.stream.Stream.ssl_set_ca_cert_file("/nonexistent/cacert.pem")
    with pytest.raises(FileNotFoundError):
        ssl_open("127.0.0.1:9", 0)


def test_stream_recv_and_send_use_the_socket() -> None:
    ours, theirs = socket.socketpair()
    stream = ovs.stream.Stream(ours, "unix:test", 0)
    try:
        theirs.sendall(b"hello")
        error, data = stream_recv(stream, 16)
        assert (error, bytes(data)) == (0, b"hello")
        assert stream_send(stream, b"world") == 5
        assert theirs.recv(16) == b"world"
    finally:
        stream.close()
        theirs.close()


@pytest.fixture
def routed() -> Iterator[None]:
    assert route_ovs_logging(escape=lambda text: text.replace("\n", "\\n"))
    yield
    unroute_ovs_logging()
    for name in ("ovs", "ovs.reconnect", "ovs.jsonrpc"):
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.usefixtures("routed")
def test_ovs_messages_go_to_the_standard_loggers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ovs")
    vlog = ovs.reconnect.vlog
    vlog.emer("e")
    vlog.err("r")
    vlog.warn("unix:/nonexistent: connection attempt failed (Connection refused)")
    vlog.info("unix:/x: connecting...\nforged line")
    vlog.dbg("d")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("ovs.reconnect", logging.CRITICAL, "e"),
        ("ovs.reconnect", logging.ERROR, "r"),
        (
            "ovs.reconnect",
            logging.WARNING,
            "unix:/nonexistent: connection attempt failed (Connection refused)",
        ),
        ("ovs.reconnect", logging.INFO, "unix:/x: connecting...\\nforged line"),
        ("ovs.reconnect", logging.DEBUG, "d"),
    ]
    # The record names the ovs code that logged, not the bridge.
    assert {r.pathname for r in caplog.records} == {__file__}
    caplog.clear()
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        vlog.exception("failed")
    (record,) = caplog.records
    assert (record.levelno, record.getMessage()) == (logging.ERROR, "failed")
    assert record.exc_info is not None


@pytest.mark.usefixtures("routed")
def test_levels_and_enabled_checks_follow_the_standard_loggers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ovs")
    vlog = ovs.jsonrpc.vlog
    assert not vlog.dbg_is_enabled()
    assert vlog.info_is_enabled()
    vlog.dbg("a message dump")
    assert caplog.records == []
    logging.getLogger("ovs.jsonrpc").setLevel(logging.DEBUG)
    assert vlog.dbg_is_enabled()
    assert not ovs.reconnect.vlog.dbg_is_enabled()
    logging.getLogger("ovs").setLevel(logging.CRITICAL + 10)  # -v ovs:off
    assert not ovs.reconnect.vlog.emer_is_enabled()
    ovs.reconnect.vlog.emer("silenced")
    assert vlog.dbg_is_enabled()  # a module's own level wins
    assert [r.name for r in caplog.records] == []
    for name, level in (("err", logging.ERROR), ("warn", logging.WARNING)):
        logging.getLogger("ovs").setLevel(level)
        assert getattr(ovs.reconnect.vlog, f"{name}_is_enabled")()
        assert not ovs.reconnect.vlog.info_is_enabled()


def test_the_jsonrpc_message_dump_is_built_only_for_debug(
    routed: None, caplog: pytest.LogCaptureFixture
) -> None:
    class Counted(ovs.jsonrpc.Message):  # type: ignore[misc]
        shown = 0

        def __str__(self) -> str:
            Counted.shown += 1
            return "request"

    caplog.set_level(logging.DEBUG, logger="ovs")
    jsonrpc_logger = logging.getLogger("ovs.jsonrpc")
    jsonrpc_logger.setLevel(logging.INFO)
    ours, theirs = socket.socketpair()
    connection = ovs.jsonrpc.Connection(ovs.stream.Stream(ours, "unix:test", 0))
    try:
        connection.send(Counted(ovs.jsonrpc.Message.T_NOTIFY, "echo", [], None, None, None))
        assert Counted.shown == 0
        jsonrpc_logger.setLevel(logging.DEBUG)
        connection.send(Counted(ovs.jsonrpc.Message.T_NOTIFY, "echo", [], None, None, None))
        assert Counted.shown == 1
        assert caplog.messages == ["unix:test: send request"]
    finally:
        connection.close()
        theirs.close()


@pytest.mark.usefixtures("routed")
def test_ovs_modules_still_import_and_create_vlogs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ovs")
    # A module first imported after the routing (in a fresh interpreter).
    script = (
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, format='%(name)s|%(message)s')\n"
        "from ovn_vif._ovs_private import route_ovs_logging\n"
        "assert route_ovs_logging()\n"
        "import ovs.unixctl.server\n"
        "ovs.unixctl.server.vlog.warn('imported after')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout) == (0, "ovs.unixctl_server|imported after\n"), (
        result.stderr
    )
    created = ovs.vlog.Vlog("ovn_vif_test_module")
    assert "ovs.ovn_vif_test_module" in logging.root.manager.loggerDict
    created.info("from a new module")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("ovs.ovn_vif_test_module", "from a new module")
    ]
    assert not ovs.vlog.Vlog._Vlog__inited
    # Routing again changes nothing: one line per message.
    assert route_ovs_logging(escape=str)
    caplog.clear()
    ovs.unixctl.server.vlog.warn("once")
    assert caplog.messages == ["once"]
    # The modules imported before are listed (vlog/list).
    for module in ("reconnect", "idl", "jsonrpc", "stream", "poller", "unixctl_server"):
        assert f"ovs.{module}" in logging.root.manager.loggerDict


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # in ovs's own formatting
def test_a_program_that_called_vlog_init_keeps_its_logging(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Vlog.init() itself cannot be undone in a test process: its flag is.
    monkeypatch.setattr(ovs.vlog.Vlog, "_Vlog__inited", True)
    warn = ovs.vlog.Vlog.warn
    try:
        assert not route_ovs_logging()
        assert ovs.vlog.Vlog.warn is warn
        monkeypatch.setattr(ovs.vlog.Vlog, "_Vlog__inited", False)
        assert route_ovs_logging()
        # Vlog.init() after routing: ovs logs its own way again.
        monkeypatch.setattr(ovs.vlog.Vlog, "_Vlog__inited", True)
        ovs.reconnect.vlog.warn("to ovs's own destinations")
        assert not [r for r in caplog.records if r.name.startswith("ovs.")]
        assert "to ovs's own destinations" in caplog.text  # through its "console" logger
    finally:
        unroute_ovs_logging()


def test_last_disconnect_says_why_the_session_lost_its_connection() -> None:
    import errno
    import types

    import ovs.reconnect
    import ovs.util

    from ovn_vif._ovs_private import last_disconnect, watch_disconnects

    fsm = ovs.reconnect.Reconnect(0)
    fsm.set_name("tcp:192.0.2.1:6642")
    fsm.set_quiet(True)
    idl = types.SimpleNamespace(_session=types.SimpleNamespace(reconnect=fsm))
    watch_disconnects(idl)
    watch_disconnects(idl)  # idempotent
    assert last_disconnect(idl) is None
    fsm.enable(0)
    fsm.connecting(0)
    fsm.connect_failed(1, errno.ECONNREFUSED)
    assert last_disconnect(idl) == ("tcp:192.0.2.1:6642", "Connection refused")
    fsm.connecting(2)
    fsm.connected(3)
    fsm.disconnected(4, ovs.util.EOF)
    assert last_disconnect(idl) == ("tcp:192.0.2.1:6642", "connection closed by peer")


def test_ref_set_follows_a_reference_set_changed_in_place() -> None:
    """ref_set and ref_pairs agree with the row's attribute through diffs
    the IDL applies to the stored Datum in place, and a row with staged
    writes is not read from its Datum."""
    from ovn_vif._ovs_private import ref_pairs, ref_set
    from ovn_vif.testing import connect, ovs_database

    db = ovs_database(system_id="hv1")
    idl = connect(db)
    [br] = db.find("Bridge", name="br-int")

    def check() -> None:
        idl.run()
        row = idl.tables["Bridge"].rows[br]
        expected = {p.uuid for p in row.ports}
        assert ref_set(row, "ports") == frozenset(expected)
        assert ref_pairs(row, "ports") == [["uuid", u] for u in sorted(map(str, expected))]

    check()
    ports = []
    for i in range(6):
        with db.batch() as t:
            iface = t.insert("Interface", name=f"i{i}")
            ports.append(t.insert("Port", name=f"p{i}", interfaces=[iface]))
            t.update("Bridge", br, ports=[*db.get("Bridge", br)["ports"], ports[-1]])
        check()
    kept = [p for p in db.get("Bridge", br)["ports"] if p not in ports[1:4]]
    db.update("Bridge", br, ports=kept)
    check()
    txn = ovs.db.idl.Transaction(idl)
    row = idl.tables["Bridge"].rows[br]
    row.ports = []
    assert ref_set(row, "ports") is None
    txn.abort()
    idl.close()


def test_table_rows_reads_what_the_indexed_rows_hold() -> None:
    import uuid

    from ovn_vif._ovs_private import table_rows
    from ovn_vif.testing import connect, ovs_database

    db = ovs_database(system_id="hv1")
    idl = connect(db)
    for table in ("Bridge", "Port", "Interface"):
        rows = idl.tables[table].rows
        view = table_rows(idl, table)
        assert type(view) is not type(rows)  # the quick view, not the UserDict
        assert len(view) == len(rows)
        assert set(view) == set(rows)
        assert list(view.values()) == list(rows.values())
        for key in rows:
            assert key in view
            assert view.get(key) is rows[key]
            assert view[key] is rows[key]
        missing = uuid.uuid4()
        assert missing not in view
        assert view.get(missing) is None
    idl.close()


def _fresh_python(script: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_ovs_streams_import_without_ssl_until_a_tls_stream_needs_it() -> None:
    # The three modules bind ``ssl`` at import (try: import ssl); a new ovs
    # release that binds it elsewhere, or reads more of it at import or on
    # every poll, fails here.
    script = (
        "import socket, sys\n"
        "from ovn_vif._ovs_private import SSL_IMPORTERS, SslOnDemand, import_ovs_streams\n"
        "import_ovs_streams()\n"
        "import ovs.poller, ovs.socket_util, ovs.stream\n"
        "assert 'ssl' not in sys.modules and '_ssl' not in sys.modules, 'ssl loaded'\n"
        "stand_in = ovs.stream.ssl\n"
        "assert isinstance(stand_in, SslOnDemand)\n"
        "holders = sorted(n for n, m in list(sys.modules.items())\n"
        "                 if getattr(m, '__dict__', {}).get('ssl') is stand_in)\n"
        "assert holders == sorted(SSL_IMPORTERS), holders\n"
        "assert ovs.stream.Stream._find_method('ssl:x') is ovs.stream.SSLStream\n"
        # A unix: stream and a poll on it, as the agent's loop does.
        "a, b = socket.socketpair()\n"
        "stream = ovs.stream.Stream(a, 'unix:test', 0)\n"
        "b.sendall(b'x')\n"
        "poller = ovs.poller.Poller()\n"
        "stream.run_wait(poller); stream.recv_wait(poller); poller.timer_wait(1000)\n"
        "poller.block()\n"
        "assert stream.recv(1) == (0, b'x')\n"
        "assert 'ssl' not in sys.modules, 'a unix: stream loaded ssl'\n"
        # The first TLS use loads the real module and puts it in their place.
        "ovs.stream.Stream.ssl_set_ca_cert_file('/nonexistent/cacert.pem')\n"
        "try:\n"
        "    ovs.stream.SSLStream._open('127.0.0.1:9', 0)\n"
        "except FileNotFoundError:\n"
        "    pass\n"
        "import ssl\n"
        "assert all(sys.modules[n].ssl is ssl for n in SSL_IMPORTERS)\n"
        "assert stand_in.SSLSocket is ssl.SSLSocket\n"
        "print('ok')\n"
    )
    assert _fresh_python(script) == "ok\n"


def test_ovs_idl_imports_without_sortedcontainers_until_an_index_is_made() -> None:
    # ovs.db.custom_index binds the name at import and reads it only in
    # MultiColumnIndex.clear(); a release that reads it elsewhere at import
    # (or in every IDL) fails here.
    script = (
        "import sys\n"
        "from ovn_vif._ovs_private import SortedOnDemand, import_ovs_idl\n"
        "import_ovs_idl()\n"
        "import ovs.db.custom_index, ovs.db.idl\n"
        "assert 'sortedcontainers' not in sys.modules, 'loaded'\n"
        "stand_in = ovs.db.custom_index.sortedcontainers\n"
        "assert isinstance(stand_in, SortedOnDemand)\n"
        "from ovn_vif.sandbox import DATABASES\n"
        "from ovn_vif.testing import FakeDatabase, FakeIdl\n"
        "helper = ovs.db.idl.SchemaHelper(location=str(DATABASES['OVN_Southbound']))\n"
        "helper.register_all()\n"
        "idl = FakeIdl(FakeDatabase(DATABASES['OVN_Southbound']), helper)\n"
        "assert 'sortedcontainers' not in sys.modules, 'an IDL without index loaded it'\n"
        # The first index loads the real module and puts it in its place.
        "from ovn_vif import create_sb_indexes\n"
        "create_sb_indexes(idl)\n"
        "import sortedcontainers\n"
        "assert ovs.db.custom_index.sortedcontainers is sortedcontainers\n"
        "assert not isinstance(sortedcontainers, SortedOnDemand)\n"
        "print('ok')\n"
    )
    assert _fresh_python(script) == "ok\n"


def test_ovs_streams_import_as_usual_once_ssl_is_loaded() -> None:
    script = (
        "import ssl, sys\n"
        "from ovn_vif._ovs_private import import_ovs_streams\n"
        "import_ovs_streams()\n"
        "import ovs.poller, ovs.stream\n"
        "assert ovs.stream.ssl is ssl and ovs.poller.ssl is ssl\n"
        "print('ok')\n"
    )
    assert _fresh_python(script) == "ok\n"
