"""Pins each read of ``ovs`` private state (``ovn_vif._ovs_private``).

These run against the installed ``ovs``; the constraint sessions run them
with the other releases in ``CHECKED_VERSIONS``. A new ``ovs`` release that
moves one of these attributes fails here, not in the engine.
"""

from __future__ import annotations

import importlib.metadata
import socket
from collections.abc import Iterator

import ovs.db.idl
import ovs.poller
import ovs.stream
import pytest

from ovn_vif._ovs_private import (
    CHECKED_VERSIONS,
    close_session,
    committed_datums,
    helper_readonly,
    helper_registered,
    helper_registers_all,
    idl_schema_name,
    session_connected,
    session_name,
    set_session,
    ssl_open,
    stream_recv,
    stream_send,
)
from ovn_vif.sandbox import DATABASES, OvsdbServer, SandboxDir

VSWITCH = str(DATABASES["Open_vSwitch"])


def test_the_installed_ovs_is_a_series_we_checked() -> None:
    def series(version: str) -> str:
        return ".".join(version.split(".")[:2])

    installed = importlib.metadata.version("ovs")
    assert series(installed) in {series(v) for v in CHECKED_VERSIONS}, (
        f"ovs {installed}: run tests/unit/test_ovs_private.py with it and add it to "
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
