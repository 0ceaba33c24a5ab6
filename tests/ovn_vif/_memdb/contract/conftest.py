"""Backends for the IDL contract suite: every test runs against FakeIdl and a real ovsdb-server.

A behaviour where the two backends differ is a bug in the fake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import ovs.db.idl
import ovs.jsonrpc
import ovs.stream
import pytest

from ovn_vif.sandbox import DATABASES, OvsdbServer
from ovn_vif.testing import FakeDatabase, FakeIdl, FakeSession, wait_for

SCHEMAS = {name: DATABASES[name] for name in ("Open_vSwitch", "OVN_Southbound")}
ROOT_TABLES = {"Open_vSwitch": "Open_vSwitch", "OVN_Southbound": "SB_Global"}

Register = Callable[[Any], None]


class Backend:
    """Makes connected IDL clients of one backend; all clients of a backend share its databases."""

    name: str

    def helper(self, db: str) -> Any:
        raise NotImplementedError

    def _idl(self, db: str, helper: Any, idl_class: type[Any]) -> Any:
        raise NotImplementedError

    def client(
        self,
        db: str,
        register: Register,
        *,
        idl_class: type[Any] | None = None,
        before_connect: Callable[[Any], None] | None = None,
    ) -> Any:
        """A connected client of ``db``; ``register(schema_helper)`` picks tables/columns."""
        helper = self.helper(db)
        register(helper)
        idl = self._idl(db, helper, idl_class or ovs.db.idl.Idl)
        self._clients.append(idl)
        if before_connect is not None:
            before_connect(idl)
        wait_for(idl, idl.has_ever_connected)
        return idl

    def unconnected(self, db: str, register: Register) -> Any:
        helper = self.helper(db)
        register(helper)
        idl = self._idl(db, helper, ovs.db.idl.Idl)
        self._clients.append(idl)
        return idl

    def __init__(self) -> None:
        self._clients: list[Any] = []
        self._raw: list[Any] = []

    def raw(self, db: str, *ops: Any) -> Any:
        """Send one ``transact`` request as written on a fresh connection; the result,
        ``{"rpc-error": ...}``, or ``"disconnected"`` if the server dropped the connection."""
        return self._request("transact", [db, *ops])

    def _request(self, method: str, params: list[Any]) -> Any:
        return self.connection(params[0] if params else "").request(method, params)

    def connection(self, db: str) -> RawConnection:
        """A raw JSON-RPC connection (requests as written, notifications as received)."""
        raise NotImplementedError

    def close(self) -> None:
        for idl in self._clients:
            idl.close()
        for conn in self._raw:
            conn.close()


class RawConnection:
    """One JSON-RPC connection; notifications that arrive are kept in ``notifications``."""

    def __init__(self, send: Callable[[Any], Any], recv: Callable[[], Any], close: Any) -> None:
        self._send, self._recv, self.close = send, recv, close
        self.notifications: list[tuple[str, Any]] = []

    def request(self, method: str, params: list[Any]) -> Any:
        """The result, ``{"rpc-error": ...}``, or ``"disconnected"``."""
        request = ovs.jsonrpc.Message.create_request(method, params)
        self._send(request)
        while True:
            reply = self._recv()
            if reply is None:
                return "disconnected"
            if reply.type == ovs.jsonrpc.Message.T_NOTIFY:
                self.notifications.append((reply.method, reply.params))
            elif reply.id == request.id:
                if reply.type == ovs.jsonrpc.Message.T_REPLY:
                    return reply.result
                return {"rpc-error": reply.error}


class FakeBackend(Backend):
    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.databases = {name: FakeDatabase(path) for name, path in SCHEMAS.items()}
        for name, db in self.databases.items():
            db.insert(ROOT_TABLES[name])

    def helper(self, db: str) -> Any:
        return self.databases[db].schema_helper()

    def connection(self, db: str) -> RawConnection:
        session = FakeSession(self.databases[db if db in self.databases else "OVN_Southbound"])
        conn = RawConnection(session.send, session.recv, session.close)
        self._raw.append(conn)
        return conn

    def _idl(self, db: str, helper: Any, idl_class: type[Any]) -> Any:
        if idl_class is ovs.db.idl.Idl:
            idl_class = FakeIdl
        elif not issubclass(idl_class, FakeIdl):
            idl_class = type(idl_class.__name__, (idl_class, FakeIdl), {})
        return idl_class(self.databases[db], helper)


class RealBackend(Backend):
    name = "real"

    def __init__(self, server: OvsdbServer) -> None:
        super().__init__()
        self.server = server

    def helper(self, db: str) -> Any:
        return ovs.db.idl.SchemaHelper(location=str(SCHEMAS[db]))

    def _idl(self, db: str, helper: Any, idl_class: type[Any]) -> Any:
        return idl_class(self.server.remote, helper)

    def connection(self, db: str) -> RawConnection:
        error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(self.server.remote))
        assert not error, error
        conn = ovs.jsonrpc.Connection(stream)

        def recv() -> Any:
            error, msg = conn.recv_block()
            return None if error else msg

        raw = RawConnection(conn.send, recv, conn.close)
        self._raw.append(raw)
        return raw


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.daemons)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each contract test runs once on FakeIdl and once on a real ovsdb-server.

    The real one is the shared ``ovsdb_server`` fixture (tests/daemons.py): both
    databases, root rows present, in a fresh temp dir per test.
    """
    chosen: Backend
    if request.param == "fake":
        chosen = FakeBackend()
    else:
        chosen = RealBackend(request.getfixturevalue("ovsdb_server"))
    yield chosen
    chosen.close()


def settle(*idls: Any) -> None:
    """Barrier: each client does a read-only round trip, so it has processed every update
    the server sent before (ovsdb-server sends a commit's updates before later replies)."""
    for idl in idls:
        txn = ovs.db.idl.Transaction(idl)
        txn.add_op({"op": "comment", "comment": "settle"})
        txn.commit_block()
