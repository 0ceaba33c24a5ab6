"""ovn_vif.ovsdbapp: the engine inside ovsdbapp's transaction machinery, on real daemons.

Every test drives ovsdbapp connections to a real sandbox (NB/SB
ovsdb-servers, ovn-northd, a local ovsdb-server and ovs-vswitchd) and
checks that each attempt ovsdbapp makes is completed exactly once, with
the providers told accordingly, whatever the commit ended with.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ovsdbapp.backend.ovs_idl import connection
from ovsdbapp.schema.open_vswitch import impl_idl as ovs_impl
from ovsdbapp.schema.ovn_southbound import impl_idl as sb_impl

from ovn_vif import Decline, Outcome, PlugSpec, Policy, PortContext, Registry
from ovn_vif.ovsdbapp import NotifyingIdl, OvsdbappEngine
from ovn_vif.sandbox import Sandbox
from ovn_vif_dummy import DummyProvider

pytestmark = pytest.mark.daemons

TIMEOUT = 20.0


class Recording(DummyProvider):
    """The dummy provider, recording its completions; *hook* runs in
    ``prepare_create`` (in ovsdbapp's thread) before it answers."""

    type = "rec"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.hook: Callable[[PortContext], None] | None = None
        self.finished = threading.Event()

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook(ctx)
        return super().prepare_create(ctx)

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        self.calls.append(("finish", ctx.lport_name))
        self.finished.set()

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        self.calls.append(("release", ctx.lport_name))


def _api(cls: type, idl: Any) -> Any:
    # ovsdbapp keeps an API class's connection on the class: one subclass
    # per connection keeps the tests' connections apart.
    fresh = type(cls.__name__, (cls,), {"_ovsdb_connection": None})
    return fresh(connection.Connection(idl, timeout=TIMEOUT))


@pytest.fixture
def apis(ovn_stack: Sandbox) -> Iterator[tuple[Any, Any]]:
    ovs_api = _api(
        ovs_impl.OvsdbIdl, NotifyingIdl.from_server(ovn_stack.ovs_remote, "Open_vSwitch")
    )
    sb_api = _api(
        sb_impl.OvnSbApiIdlImpl, NotifyingIdl.from_server(ovn_stack.sb_remote, "OVN_Southbound")
    )
    yield ovs_api, sb_api
    for api in (ovs_api, sb_api):
        api.ovsdb_connection.stop(TIMEOUT)
        api.idl.notify_handler.shutdown()


def _engine(apis: tuple[Any, Any], provider: Any, **kwargs: Any) -> OvsdbappEngine:
    registry = Registry()
    registry.register(provider)
    return OvsdbappEngine(*apis, registry, chassis="hv1", **kwargs)


def _add_lsp(stack: Sandbox, sb_api: Any, lport: str, *options: str) -> None:
    stack.nbctl("--may-exist", "ls-add", "sw0")
    stack.nbctl(
        "lsp-add", "sw0", lport, "--", "lsp-set-options", lport,
        "requested-chassis=hv1", "vif-plug-type=rec", *options,
    )  # fmt: skip
    _wait_sb(stack, sb_api, lambda pbs: lport in pbs and bool(pbs[lport].requested_chassis))


def _wait_sb(stack: Sandbox, sb_api: Any, ready: Callable[[dict[str, Any]], bool]) -> None:
    def check() -> bool:
        with sb_api.ovsdb_connection.lock:
            rows = sb_api.idl.tables["Port_Binding"].rows.values()
            return ready({pb.logical_port: pb for pb in rows})

    stack.wait_until(check, what="the Southbound IDL")


def _wait_ofport(stack: Sandbox, ovs_api: Any, name: str) -> None:
    def check() -> bool:
        with ovs_api.ovsdb_connection.lock:
            rows = ovs_api.idl.tables["Interface"].rows.values()
            return any(i.name == name and i.ofport and i.ofport[0] > 0 for i in rows)

    stack.wait_until(check, what=f"an ofport for {name} in the IDL")


def _get(stack: Sandbox, *args: str) -> str:
    return stack.vsctl("get", *args).strip()


def _ports(stack: Sandbox) -> list[str]:
    return stack.vsctl("list-ports", "br-int").split()


def test_plug_update_unplug(ovn_stack: Sandbox, apis: tuple[Any, Any]) -> None:
    provider = Recording()
    with _engine(apis, provider) as engine:
        _add_lsp(ovn_stack, apis[1], "lsp1")
        run = engine.run_once(can_unplug=True)
        assert [a.status for a in run.attempts] == ["success"]
        assert [(d.outcome, d.lport) for d in run.attempts[0].report] == [(Outcome.PLUGGED, "lsp1")]
        assert run.changed
        assert _get(ovn_stack, "Interface", "lsp1", "external_ids:iface-id") == "lsp1"
        assert provider.calls == [("finish", "lsp1"), ("release", "lsp1")]

        ovn_stack.nbctl("lsp-set-options", "lsp1", "requested-chassis=hv1",
                        "vif-plug-type=rec", "vif-plug-mtu-request=9000")  # fmt: skip
        _wait_sb(ovn_stack, apis[1], lambda p: p["lsp1"].options.get("vif-plug-mtu-request"))
        run = engine.run_once(can_unplug=True)
        assert [a.status for a in run.attempts] == ["success"]
        assert _get(ovn_stack, "Interface", "lsp1", "mtu_request") == "9000"

        ovn_stack.nbctl("lsp-del", "lsp1")
        _wait_sb(ovn_stack, apis[1], lambda p: "lsp1" not in p)
        run = engine.run_once(can_unplug=True)
        assert [(d.outcome, d.lport) for d in run.attempts[0].report] == [
            (Outcome.UNPLUGGED, "lsp1")
        ]
        assert "lsp1" not in _ports(ovn_stack)
        assert not engine.reconciler.in_flight


def test_try_again_is_completed_before_the_retry(ovn_stack: Sandbox, apis: tuple[Any, Any]) -> None:
    provider = Recording()
    with _engine(apis, provider) as engine:
        _add_lsp(ovn_stack, apis[1], "lsp1")
        engine.run_once(can_unplug=True)
        provider.calls.clear()
        ovn_stack.nbctl("lsp-set-options", "lsp1", "requested-chassis=hv1",
                        "vif-plug-type=rec", "vif-plug-mtu-request=9000")  # fmt: skip
        _wait_sb(ovn_stack, apis[1], lambda p: p["lsp1"].options.get("vif-plug-mtu-request"))

        # Another client changes the MTU between the engine's read and its
        # commit: the engine verified the column, so the commit says "try again".
        def concurrent_write(ctx: PortContext) -> None:
            ovn_stack.vsctl("set", "Interface", "lsp1", "mtu_request=1400", wait=False)

        provider.hook = concurrent_write
        run = engine.run_once(can_unplug=True)

        assert [a.status for a in run.attempts] == ["try again", "success"]
        assert run.attempts[0].completion.released == ("lsp1",)
        assert run.attempts[1].completion.finished == ("lsp1",)
        # The failed attempt was released once; the retry finished once.
        assert provider.calls == [("release", "lsp1"), ("finish", "lsp1"), ("release", "lsp1")]
        assert _get(ovn_stack, "Interface", "lsp1", "mtu_request") == "9000"
        assert not engine.reconciler.in_flight


def test_unchanged_commit_leaves_flight(ovn_stack: Sandbox, apis: tuple[Any, Any]) -> None:
    provider = Recording()
    with _engine(apis, provider, policy=Policy.OVN_COMPATIBLE) as engine:
        _add_lsp(ovn_stack, apis[1], "lsp1")
        assert engine.run_once(can_unplug=True).status == "success"
        # Until vswitchd gives the port an ofport, OVN's rules create it
        # again (and the commit fails): wait for it, as ovn-controller does.
        _wait_ofport(ovn_stack, apis[0], "lsp1")

        # In sync: OVN's rules still ask the provider, and nothing is
        # written; ovsdbapp skips post_commit for "unchanged".
        run = engine.run_once(can_unplug=True)
        assert [a.status for a in run.attempts] == ["unchanged"]
        assert run.attempts[0].completion.finished == ("lsp1",)
        assert not engine.reconciler.in_flight

        ovn_stack.nbctl("lsp-set-options", "lsp1", "requested-chassis=hv1",
                        "vif-plug-type=rec", "vif-plug-mtu-request=1300")  # fmt: skip
        _wait_sb(ovn_stack, apis[1], lambda p: p["lsp1"].options.get("vif-plug-mtu-request"))
        assert engine.run_once(can_unplug=True).status == "success"
        assert _get(ovn_stack, "Interface", "lsp1", "mtu_request") == "1300"


def test_error_releases_once(ovn_stack: Sandbox, apis: tuple[Any, Any]) -> None:
    provider = Recording()
    with _engine(apis, provider) as engine:
        _add_lsp(ovn_stack, apis[1], "lsp1")

        # Another client takes the name on another bridge after the engine
        # read the database: the Interface name index makes the commit fail.
        def take_the_name(ctx: PortContext) -> None:
            ovn_stack.vsctl("add-br", "br-x", "--", "add-port", "br-x", "lsp1", wait=False)

        provider.hook = take_the_name
        run = engine.run_once(can_unplug=True)
        assert [a.status for a in run.attempts] == ["error"]
        assert run.failed
        assert provider.calls == [("release", "lsp1")]
        assert not engine.reconciler.in_flight

        # The next run sees the foreign port and refuses, writing nothing.
        run = engine.run_once(can_unplug=True)
        assert [d.outcome for d in run.attempts[0].report] == [Outcome.REFUSED]
        assert run.attempts[0].status == "unchanged"
        # The refused spec was released at once (never in flight).
        assert provider.calls == [("release", "lsp1"), ("release", "lsp1")]


def test_timeout_still_completes_in_ovsdbapps_thread(
    ovn_stack: Sandbox, apis: tuple[Any, Any]
) -> None:
    provider = Recording()
    entered, go_on = threading.Event(), threading.Event()

    def block(ctx: PortContext) -> None:
        entered.set()
        go_on.wait(TIMEOUT)

    provider.hook = block
    with _engine(apis, provider) as engine:
        _add_lsp(ovn_stack, apis[1], "lsp1")
        run = engine.run_once(can_unplug=True, timeout=0.2)
        assert run.timed_out
        assert run.attempts == ()
        assert entered.wait(TIMEOUT)
        go_on.set()
        assert provider.finished.wait(TIMEOUT)
        ovn_stack.wait_until(lambda: len(provider.calls) == 2)
        assert provider.calls == [("finish", "lsp1"), ("release", "lsp1")]
        assert "lsp1" in _ports(ovn_stack)


class Gated(DummyProvider):
    """Declines until its pipe is written (``wait_fds``) or, with *delay*,
    until *delay* seconds after it was first asked (``next_wakeup``)."""

    type = "rec"

    def __init__(self, *, delay: float | None = None) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        self.delay = delay
        self.deadline: float | None = None
        self.ready = False
        self.asked = threading.Event()

    def destroy(self) -> None:
        os.close(self.r)
        os.close(self.w)

    def wait_fds(self) -> tuple[int, ...]:
        return (self.r,)

    def next_wakeup(self) -> float | None:
        return None if self.ready else self.deadline

    def run(self) -> bool:
        try:
            data = os.read(self.r, 64)
        except BlockingIOError:
            data = b""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            data = b"due"
        if data and not self.ready:
            self.ready = True
            return True
        return False

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        if self.delay is not None and self.deadline is None:
            self.deadline = time.monotonic() + self.delay
        self.asked.set()
        return super().prepare_create(ctx) if self.ready else None


def test_provider_fd_wakes_the_engine(ovn_stack: Sandbox, apis: tuple[Any, Any]) -> None:
    provider = Gated()
    with _engine(apis, provider) as engine:
        engine.start(can_unplug=True)
        _add_lsp(ovn_stack, apis[1], "lsp1")
        assert provider.asked.wait(TIMEOUT)
        assert "lsp1" not in _ports(ovn_stack)
        os.write(provider.w, b"x")  # no database change: only the fd can wake it
        ovn_stack.wait_until(lambda: "lsp1" in _ports(ovn_stack))
        engine.stop(TIMEOUT)
    provider.destroy()


def test_provider_deadline_wakes_the_engine(ovn_stack: Sandbox, apis: tuple[Any, Any]) -> None:
    provider = Gated(delay=0.5)
    with _engine(apis, provider) as engine:
        engine.start(can_unplug=True)
        _add_lsp(ovn_stack, apis[1], "lsp1")
        assert provider.asked.wait(TIMEOUT)
        ovn_stack.wait_until(lambda: "lsp1" in _ports(ovn_stack))
        engine.stop(TIMEOUT)
    provider.destroy()


def test_watch_needs_row_events(ovn_stack: Sandbox) -> None:
    plain = connection.OvsdbIdl.from_server(ovn_stack.ovs_remote, "Open_vSwitch")
    ovs_api = _api(ovs_impl.OvsdbIdl, plain)
    try:
        with pytest.raises(TypeError, match="NotifyingIdl"):
            OvsdbappEngine(ovs_api, ovs_api, Registry(), chassis="hv1")
    finally:
        ovs_api.ovsdb_connection.stop(TIMEOUT)


def test_command_in_a_transaction_of_ones_own(ovn_stack: Sandbox, apis: tuple[Any, Any]) -> None:
    provider = Recording()
    ovs_api = apis[0]
    with _engine(apis, provider, policy=Policy.OVN_COMPATIBLE, watch=False) as engine:
        _add_lsp(ovn_stack, apis[1], "lsp1")
        with ovs_api.transaction(check_error=True) as txn:
            plug = txn.add(engine.command(can_unplug=True))
            txn.add(ovs_api.db_set("Open_vSwitch", ".", ("external_ids", {"k": "v"})))
        assert [a.status for a in plug.result] == ["success"]  # completed in post_commit
        assert provider.calls == [("finish", "lsp1"), ("release", "lsp1")]
        assert _get(ovn_stack, "Open_vSwitch", ".", "external_ids:k") == "v"
        _wait_ofport(ovn_stack, ovs_api, "lsp1")

        # "unchanged": ovsdbapp tells the commands nothing, so this one's
        # attempt is completed when the engine's next command runs.
        provider.calls.clear()
        with ovs_api.transaction(check_error=True) as txn:
            quiet = txn.add(engine.command(can_unplug=True))
        assert quiet.result == ()
        assert provider.calls == []
        nxt = engine.command(can_unplug=True)
        with ovs_api.transaction(check_error=True) as txn:
            txn.add(nxt)
        assert [a.status for a in quiet.result] == ["unchanged"]
        assert provider.calls[:2] == [("finish", "lsp1"), ("release", "lsp1")]
