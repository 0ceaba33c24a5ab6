"""Host names in ``tcp:`` and ``ssl:`` remotes, against a real ovsdb-server reached by name.

The ``ovs`` package resolves names only with the optional ``unbound``
module; the agent resolves them itself (``ovn_vif.agent._resolve``), on
every connection attempt. ``OVN_VIF_HOSTS_FILE`` gives the tests names they
control, and lets one test move a name to another address.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support import wait_for
from tests.support.agent import (
    AgentProcess,
    add_lsps,
    appctl,
    free_port,
    run_agent,
    serve_sb,
    wait_plugged,
)

from ovn_vif.agent import _resolve
from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons


@pytest.fixture
def hosts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "hosts"
    path.write_text("")
    monkeypatch.setenv(_resolve.HOSTS_FILE_ENV, str(path))
    return path


def test_southbound_by_host_names_ipv4_and_ipv6(
    ovn_stack: Sandbox,
    start_agent: Callable[..., AgentProcess],
    hosts_file: Path,
    tmp_path: Path,
) -> None:
    # A cluster of three members named in every way ovn-controller accepts:
    # one name that does not resolve, localhost, and a name for ::1.
    port = free_port()
    serve_sb(ovn_stack, ("127.0.0.1", port), ("::1", port))
    hosts_file.write_text("::1 sb6.test\n")
    remotes = f"tcp:nowhere.invalid:{port},tcp:localhost:{port},tcp:sb6.test:{port}"
    ctl = tmp_path / "agent.ctl"
    agent = start_agent(
        ovn_stack, "--ovn-remote", remotes, "--unixctl", str(ctl), "--audit-interval", "1"
    )
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")

    # The self-audit opens its own connection to the member in use, by name.
    def audited() -> Any:
        status = json.loads(appctl(ctl, "status", "--json").stdout or "{}")
        return (status.get("self_audit") or {}).get("last")

    last = wait_for(audited, "a self-audit")
    assert last["outcome"] == "ok", last
    log = agent.log()
    assert "Traceback" not in log
    assert "Exec format error" not in log
    assert agent.stop() == 0


def test_ipv6_literal_and_name(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], hosts_file: Path
) -> None:
    port = free_port("::1")
    serve_sb(ovn_stack, ("::1", port))
    hosts_file.write_text("::1 sb6.test\n")
    for remote in (f"tcp:[::1]:{port}", f"tcp:sb6.test:{port}"):
        agent = start_agent(ovn_stack, "--ovn-remote", remote)
        name = f"lsp-{len(remote)}"
        add_lsps(ovn_stack, name)
        wait_plugged(ovn_stack, name)
        assert agent.stop() == 0


def test_a_name_is_resolved_again_on_reconnect(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], hosts_file: Path
) -> None:
    # The name moves to another address while the server moves there too.
    port = free_port()
    serve_sb(ovn_stack, ("127.0.0.1", port))
    hosts_file.write_text("127.0.0.1 sb.test\n")
    agent = start_agent(ovn_stack, "--ovn-remote", f"tcp:sb.test:{port}")
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    hosts_file.write_text("127.0.0.2 sb.test\n")
    serve_sb(ovn_stack, ("127.0.0.2", port))
    add_lsps(ovn_stack, "lsp2")
    wait_plugged(ovn_stack, "lsp2")
    assert agent.stop() == 0


@pytest.mark.parametrize("remote", ["tcp:localhost", "ssl:sb.example.org", "tcp:[::1]"])
def test_a_remote_without_a_port_is_refused(ovn_stack: Sandbox, remote: str) -> None:
    result = run_agent("--ovs-remote", ovn_stack.ovs_remote, "--ovn-remote", remote)
    assert result.returncode == 2
    assert f"{remote!r} has no port" in result.stderr
    assert "6642" in result.stderr
