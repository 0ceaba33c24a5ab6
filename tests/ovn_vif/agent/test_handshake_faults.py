"""Faults at every point of the OVSDB handshake, injected deterministically.

The agent runs as ``ovn-vif agent`` against real daemons, with a
:class:`~tests.support.faultproxy.FaultProxy` between it and one database.
Each case breaks one point of the connect / monitor / condition change /
reconnect exchange (drops the connection before or right after a chosen
message, or delays a reply) and then changes the Northbound: the agent must
plug what is new, unplug what is gone and say it is in sync, whatever
happened to that message.

Every case first brings the agent through one plain reconnection, after
which its full run finds nothing to do: that is the state in which, before
the engine fix of this test's first commit, a second reconnection that the
change log could not explain (a condition change in flight, a dropped
monitor reply) left the agent deciding nothing for good while it reported
being in sync.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.support import wait_for
from tests.support.agent import AgentProcess, add_lsps, plugged
from tests.support.cluster import ClusterStack
from tests.support.faultproxy import FaultProxy

from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons

IN_SYNC = "both databases in sync: unplugging enabled"


@dataclass(frozen=True)
class Fault:
    """Which message to break, and how (see :meth:`FaultProxy.on`)."""

    direction: str
    method: str
    action: str
    kw: dict[str, Any]


def _case(name: str, direction: str, method: str, action: str, **kw: Any) -> Any:
    return pytest.param(Fault(direction, method, action, kw), id=name)


# The Southbound exchange, in the order python-ovs makes it on (re)connection,
# then the condition change that follows a plugged port's binding leaving the
# requested_chassis view.
SB_CASES = [
    _case("server-schema-request-lost", "to_server", "get_schema", "drop", database="_Server"),
    _case("server-schema-reply-lost", "to_client", "get_schema", "drop", database="_Server"),
    _case("server-monitor-request-lost", "to_server", "monitor_cond", "drop", database="_Server"),
    _case("server-monitor-reply-lost", "to_client", "monitor_cond", "drop", database="_Server"),
    _case("monitor-request-lost", "to_server", "monitor_cond_since", "drop"),
    _case("monitor-request-served-reply-lost", "to_server", "monitor_cond_since", "drop",
          forward=True),
    _case("monitor-reply-lost", "to_client", "monitor_cond_since", "drop"),
    _case("monitor-reply-late", "to_client", "monitor_cond_since", "delay", seconds=2.0),
    _case("db-change-aware-reply-lost", "to_client", "set_db_change_aware", "drop"),
    _case("condition-change-lost", "to_server", "monitor_cond_change", "drop"),
    _case("condition-change-served-reply-lost", "to_server", "monitor_cond_change", "drop",
          forward=True),
    _case("condition-change-reply-lost", "to_client", "monitor_cond_change", "drop"),
    _case("condition-change-reply-late", "to_client", "monitor_cond_change", "delay",
          seconds=2.0),
]  # fmt: skip

# The local database: the same handshake, and the plugging transaction.
OVS_CASES = [
    _case("server-schema-reply-lost", "to_client", "get_schema", "drop", database="_Server"),
    _case("server-monitor-reply-lost", "to_client", "monitor_cond", "drop", database="_Server"),
    _case("monitor-request-lost", "to_server", "monitor_cond_since", "drop"),
    _case("monitor-reply-lost", "to_client", "monitor_cond_since", "drop"),
    _case("monitor-reply-late", "to_client", "monitor_cond_since", "delay", seconds=2.0),
    _case("transaction-lost", "to_server", "transact", "drop"),
    _case("transaction-served-reply-lost", "to_server", "transact", "drop", forward=True),
    _case("transaction-reply-lost", "to_client", "transact", "drop"),
    _case("transaction-reply-late", "to_client", "transact", "delay", seconds=2.0),
]  # fmt: skip

# Points of the handshake reached by breaking the connection; condition
# changes by removing a plugged lport's requested-chassis, transactions by
# plugging a new lport.
HANDSHAKE = {"get_schema", "monitor_cond", "monitor_cond_since", "set_db_change_aware"}


@pytest.fixture
def agent_log(tmp_path: Path) -> Path:
    return tmp_path / "agent.log"


@contextlib.contextmanager
def _agent(stack: Sandbox, log: Path, *extra: str) -> Iterator[AgentProcess]:
    agent = AgentProcess(stack, log, "--provider", "dummy", *extra)
    try:
        yield agent
    finally:
        agent.kill()


def _syncs(log: Path) -> int:
    return log.read_text(errors="replace").count(IN_SYNC) if log.exists() else 0


def _converged(stack: Sandbox, want: set[str]) -> Callable[[], bool]:
    def check() -> bool:
        rows = plugged(stack)
        return set(rows) == want and all(len(r) == 1 for r in rows.values())

    return check


def _run_case(stack: Sandbox, proxy: FaultProxy, log: Path, fault: Fault) -> None:
    add_lsps(stack, "lsp1")
    wait_for(_converged(stack, {"lsp1"}), "lsp1 plugged")
    # One plain reconnection, whose full run finds everything in sync.
    syncs = _syncs(log)
    proxy.disconnect_all()
    wait_for(lambda: _syncs(log) > syncs, "the agent in sync again")

    rule = proxy.on(fault.direction, fault.method, fault.action, **fault.kw)  # type: ignore[arg-type]
    if fault.method in HANDSHAKE:
        proxy.disconnect_all()
        want = {"lsp1"}
    elif fault.method == "monitor_cond_change":
        # The binding of a plugged port leaves the agent's requested_chassis
        # view (its requested-chassis removed): the agent asks for it by name
        # before deciding (the recommended policy then unplugs it).
        stack.nbctl("lsp-set-options", "lsp1", "vif-plug-type=dummy")
        want = set()
    else:
        add_lsps(stack, "lsp2")
        want = {"lsp1", "lsp2"}
    wait_for(lambda: rule.fired, f"the fault on {fault.method}")
    # What changed meanwhile must be done, whatever happened to that message.
    add_lsps(stack, "lsp3")
    stack.nbctl("lsp-del", "lsp1")
    want = (want | {"lsp3"}) - {"lsp1"}
    wait_for(_converged(stack, want), f"exactly {sorted(want)} plugged", timeout=30)
    # And it still follows later changes, in sync.
    add_lsps(stack, "lsp4")
    wait_for(_converged(stack, want | {"lsp4"}), "lsp4 plugged", timeout=30)


@pytest.mark.parametrize("fault", SB_CASES)
def test_southbound_handshake_fault(
    ovn_stack: Sandbox, agent_log: Path, tmp_path: Path, fault: Fault
) -> None:
    with (
        FaultProxy(tmp_path / "sb.sock", ovn_stack.sb.socket_path) as proxy,
        _agent(ovn_stack, agent_log, "--ovn-remote", proxy.remote),
    ):
        wait_for(lambda: _syncs(agent_log), "the agent in sync")
        _run_case(ovn_stack, proxy, agent_log, fault)


@pytest.mark.parametrize("fault", OVS_CASES)
def test_local_database_handshake_fault(
    ovn_stack: Sandbox, agent_log: Path, tmp_path: Path, fault: Fault
) -> None:
    # The agent reads its settings through the proxy too.
    with (
        FaultProxy(tmp_path / "ovs.sock", ovn_stack.vswitch.ovsdb.socket_path) as proxy,
        _agent(
            ovn_stack, agent_log, "--ovs-remote", proxy.remote, "--ovn-remote", ovn_stack.sb_remote
        ),
    ):
        wait_for(lambda: _syncs(agent_log), "the agent in sync")
        _run_case(ovn_stack, proxy, agent_log, fault)


class ProxiedCluster(ClusterStack):
    """A cluster stack with a fault proxy in front of each member."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.proxies = [
            FaultProxy(root / f"m{m.index}.sock", m.socket_path) for m in self.cluster.members
        ]

    @property
    def proxied_remote(self) -> str:
        return ",".join(p.remote for p in self.proxies)

    def start_front(self) -> None:
        for proxy in self.proxies:
            proxy.start()

    def close(self) -> None:
        for proxy in self.proxies:
            proxy.close()
        super().close()


class AnyMember:
    """The same fault on each member's proxy (the agent may be on any of them)."""

    def __init__(self, stack: ProxiedCluster) -> None:
        self.stack = stack

    def on(self, *args: Any, **kwargs: Any) -> Any:
        rules = [p.on(*args, **kwargs) for p in self.stack.proxies]

        class Fired:
            @property
            def fired(self) -> int:
                return sum(r.fired for r in rules)

        return Fired()

    def disconnect_all(self) -> None:
        for proxy in self.stack.proxies:
            proxy.disconnect_all()


CLUSTER_CASES = [
    _case("server-monitor-reply-lost", "to_client", "monitor_cond", "drop", database="_Server"),
    _case("monitor-reply-lost", "to_client", "monitor_cond_since", "drop"),
    _case("monitor-request-served-reply-lost", "to_server", "monitor_cond_since", "drop",
          forward=True),
    _case("condition-change-lost", "to_server", "monitor_cond_change", "drop"),
    _case("condition-change-reply-lost", "to_client", "monitor_cond_change", "drop"),
]  # fmt: skip


@pytest.fixture
def cluster_stack(tmp_path: Path) -> Iterator[ProxiedCluster]:
    stack = ProxiedCluster(tmp_path)
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


@pytest.mark.parametrize("fault", CLUSTER_CASES)
def test_clustered_southbound_handshake_fault(
    cluster_stack: ProxiedCluster, agent_log: Path, fault: Fault
) -> None:
    # The self-audit runs every second: it must be able to ask whichever
    # member the agent is on (followers answer a select themselves).
    with _agent(
        cluster_stack,  # type: ignore[arg-type]
        agent_log,
        "--ovn-remote",
        cluster_stack.proxied_remote,
        "--audit-interval",
        "1",
    ):
        wait_for(lambda: _syncs(agent_log), "the agent in sync")
        _run_case(cluster_stack, AnyMember(cluster_stack), agent_log, fault)  # type: ignore[arg-type]
        log = agent_log.read_text(errors="replace")
        # A check cut by the fault is asked again at once, quietly; it never
        # fails twice in a row.
        assert not [
            ln for ln in log.splitlines() if "|WARNING|" in ln and "self-audit: could not" in ln
        ]
        assert "Port_Binding(s) requesting this chassis, as in the agent's view" in log
        assert "|ERROR|" not in log
