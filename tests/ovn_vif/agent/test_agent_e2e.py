"""The ``ovn-vif agent`` command end to end, against real OVS/OVN daemons.

The agent runs as a subprocess exactly as a user starts it (the ``ovn-vif``
console script of this environment); the Northbound changes go through
``ovn-nbctl`` and the results are read back with ``ovs-vsctl``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support import wait_for
from tests.support.agent import (
    PLUG,
    TIMEOUT,
    AgentProcess,
    add_lsps,
    bridge_ports,
    ovn_vif_command,
    plugged,
    run_agent,
    wait_plugged,
    wait_unplugged,
)

from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons

#: What the agent logs (at debug) when the server acknowledged a condition change.
ACKED = "Southbound monitor conditions acknowledged: unplugging enabled again"


def test_lsp_created_updated_deleted(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(ovn_stack)
    add_lsps(ovn_stack, "lsp1", "lsp2")
    ovn_stack.nbctl(
        "lsp-add",
        "sw0",
        "elsewhere",
        "--",
        "lsp-set-options",
        "elsewhere",
        "requested-chassis=hv2",
        "vif-plug-type=dummy",
    )
    ovn_stack.nbctl(
        "lsp-add", "sw0", "noplug", "--", "lsp-set-options", "noplug", "requested-chassis=hv1"
    )

    rows = wait_plugged(ovn_stack, "lsp1", "lsp2")
    lsp1 = rows["lsp1"][0]
    assert lsp1["name"] == "lsp1"
    assert lsp1["type"] == "internal"
    assert lsp1["options"] == {"vif-plug-dummy-option": "value"}
    assert lsp1["external_ids"]["ovn-plugged"] == "dummy"
    assert lsp1["mtu_request"] is None
    assert sorted(bridge_ports(ovn_stack)) == ["lsp1", "lsp2"]

    ovn_stack.nbctl("lsp-set-options", "lsp1", *PLUG, "vif-plug-mtu-request=1400")
    updated = wait_for(
        lambda: (r := plugged(ovn_stack)["lsp1"][0])["mtu_request"] == 1400 and r,
        "the MTU of lsp1",
    )
    assert updated["_uuid"] == lsp1["_uuid"]

    ovn_stack.nbctl("lsp-del", "lsp1")
    wait_unplugged(ovn_stack, "lsp1")
    assert bridge_ports(ovn_stack) == ["lsp2"]
    assert set(plugged(ovn_stack)) == {"lsp2"}

    log = agent.log()
    assert log.count("Plugging port lsp1 into br-int for lport lsp1") == 1
    assert log.count("Updated port lsp1 for lport lsp1") == 1
    assert log.count("Unplugging port lsp1 from br-int for iface-id lsp1") == 1
    assert "Plugging port elsewhere" not in log
    assert "Plugging port noplug" not in log
    assert agent.stop() == 0


@pytest.mark.parametrize("policy", ["ovn-compatible", "recommended"])
def test_a_binding_whose_requested_chassis_is_removed_is_still_seen(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], policy: str
) -> None:
    """The binding leaves the agent's ``requested_chassis`` view and looks
    deleted; the agent must ask for it by name before deciding, so that the
    ``ovn-compatible`` policy keeps the port, as ovn-controller does."""
    agent = start_agent(ovn_stack, "--policy", policy)
    add_lsps(ovn_stack, "lsp1", "lsp2")
    before = wait_plugged(ovn_stack, "lsp1", "lsp2")
    acked = agent.log().count(ACKED)
    # The options replaced: requested-chassis removed, the plug type kept.
    ovn_stack.nbctl("lsp-set-options", "lsp1", "vif-plug-type=dummy")
    if policy == "recommended":
        wait_unplugged(ovn_stack, "lsp1")  # the CMS withdrew the request
    else:
        # The agent asked for the binding by name and the server answered.
        wait_for(lambda: agent.log().count(ACKED) > acked, "the condition acknowledged")
        add_lsps(ovn_stack, "lsp3")  # a later decision, after that answer
        after = wait_plugged(ovn_stack, "lsp3")
        assert after["lsp1"][0]["_uuid"] == before["lsp1"][0]["_uuid"]
        assert "Unplugging port lsp1" not in agent.log()
        ovn_stack.nbctl("lsp-del", "lsp1")
        wait_unplugged(ovn_stack, "lsp1")
    assert plugged(ovn_stack)["lsp2"][0]["_uuid"] == before["lsp2"][0]["_uuid"]
    assert agent.stop() == 0


@pytest.mark.parametrize("which", ["local", "southbound"])
def test_database_restart(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], which: str
) -> None:
    agent = start_agent(ovn_stack)
    add_lsps(ovn_stack, "lsp1", "lsp2")
    before = wait_plugged(ovn_stack, "lsp1", "lsp2")

    if which == "local":
        ovn_stack.vswitch.restart()
    else:
        ovn_stack.sb.restart()

    # The agent is back in business once it plugs a new port.
    add_lsps(ovn_stack, "lsp3")
    after = wait_plugged(ovn_stack, "lsp3")
    for name in ("lsp1", "lsp2", "lsp3"):
        assert len(after[name]) == 1, after[name]
    for name in ("lsp1", "lsp2"):
        assert after[name][0]["_uuid"] == before[name][0]["_uuid"]
    assert sorted(bridge_ports(ovn_stack)) == ["lsp1", "lsp2", "lsp3"]
    assert "Unplugging port" not in agent.log()

    # And unplugging works again after the reconnection.
    ovn_stack.nbctl("lsp-del", "lsp2")
    wait_unplugged(ovn_stack, "lsp2")
    assert agent.stop() == 0


def test_restart_removes_orphan_after_sync(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]
) -> None:
    first = start_agent(ovn_stack)
    add_lsps(ovn_stack, "keep", "orphan")
    before = wait_plugged(ovn_stack, "keep", "orphan")
    assert first.stop() == 0
    assert set(plugged(ovn_stack)) == {"keep", "orphan"}

    ovn_stack.nbctl("lsp-del", "orphan")
    second = start_agent(ovn_stack)
    wait_unplugged(ovn_stack, "orphan")

    after = plugged(ovn_stack)
    assert set(after) == {"keep"}
    assert after["keep"][0]["_uuid"] == before["keep"][0]["_uuid"]
    log = second.log()
    synced = log.index("both databases in sync")
    assert log.index("Unplugging port orphan") > synced
    assert "lport keep" not in log
    assert second.stop() == 0


def test_sigterm_and_sigint_leave_ports_plugged(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(ovn_stack)
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    assert agent.stop(signal.SIGTERM) == 0
    assert "plugged ports stay plugged" in agent.log()
    assert set(plugged(ovn_stack)) == {"lsp1"}

    again = start_agent(ovn_stack)
    add_lsps(ovn_stack, "lsp2")
    wait_plugged(ovn_stack, "lsp2")
    assert again.stop(signal.SIGINT) == 0
    assert set(plugged(ovn_stack)) == {"lsp1", "lsp2"}


def test_missing_system_id_exits_2(ovn_stack: Sandbox) -> None:
    ovn_stack.vsctl("remove", "Open_vSwitch", ".", "external_ids", "system-id")
    result = run_agent("--ovs-remote", ovn_stack.ovs_remote)
    assert result.returncode == 2
    assert "external_ids:system-id is not set" in result.stderr


def test_unknown_provider_exits_2(ovn_stack: Sandbox) -> None:
    result = run_agent("--ovs-remote", ovn_stack.ovs_remote, "--provider", "bogus")
    assert result.returncode == 2
    assert "unknown VIF plug provider type(s): bogus; installed: dummy" in result.stderr


def test_bad_southbound_remote_exits_2(ovn_stack: Sandbox) -> None:
    result = run_agent("--ovs-remote", ovn_stack.ovs_remote, "--ovn-remote", "nonsense")
    assert result.returncode == 2
    assert "Southbound database remote 'nonsense' is not a valid OVSDB remote" in result.stderr


def test_bad_local_remote_exits_2() -> None:
    result = run_agent("--ovs-remote", "bogus:/x")
    assert result.returncode == 2
    assert "'bogus:/x' is not a valid OVSDB remote" in result.stderr


def test_unreachable_local_remote_exits_2(tmp_path: Path) -> None:
    remote = f"unix:{tmp_path}/missing.sock"
    result = run_agent("--ovs-remote", remote, "--connect-timeout", "0.5")
    assert result.returncode == 2
    assert "cannot read the Open_vSwitch schema" in result.stderr
    assert "No such file or directory" in result.stderr


def test_sigterm_while_waiting_for_the_database(tmp_path: Path) -> None:
    remote = f"unix:{tmp_path}/missing.sock"
    log = (tmp_path / "agent.log").open("wb")
    proc = subprocess.Popen(
        [*ovn_vif_command(), "agent", "--ovs-remote", remote, "--connect-timeout", "600"],
        stdout=log,
        stderr=log,
    )
    wait_for(lambda: "retrying" in (tmp_path / "agent.log").read_text(), "a retry")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=TIMEOUT) == 0
    log.close()


def test_status_shows_plugged_ports(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(ovn_stack)
    add_lsps(ovn_stack, "lsp1", extra=("vif-plug-mtu-request=1500",))
    wait_plugged(ovn_stack, "lsp1")
    run = [*ovn_vif_command(), "status", "--ovs-remote", ovn_stack.ovs_remote]
    data = json.loads(
        subprocess.run(
            [*run, "--json"], capture_output=True, text=True, check=True, timeout=TIMEOUT
        ).stdout
    )
    assert data["chassis"] == "hv1"
    [port] = data["ports"]
    assert port["lport"] == "lsp1"
    assert port["plug_type"] == "dummy"
    assert port["port"] == "lsp1"
    assert port["bridge"] == "br-int"
    assert port["mtu_request"] == 1500
    text = subprocess.run(run, capture_output=True, text=True, check=True, timeout=TIMEOUT).stdout
    assert "lsp1" in text
    assert "chassis: hv1" in text
    assert agent.stop() == 0


def test_demo_exits_0() -> None:
    result = subprocess.run(
        [*ovn_vif_command(), "demo"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[5/5]" in result.stdout
    assert "Done in" in result.stdout


def test_demo_interrupted_stops_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from ovn_vif.cli import _demo as demo

    seen: list[Path] = []

    def interrupted(stage: Any, say: Any) -> bool:
        seen.append(Path(stage.sandbox.root))
        assert stage.agent.synced or stage.converge(lambda: stage.agent.synced)
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "_tell_story", interrupted)
    out = io.StringIO()
    assert demo.run_demo(out=out) == 130
    assert "Interrupted: everything the demo started is stopped and removed." in out.getvalue()
    [root] = seen
    assert not root.exists()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert str(root) not in cmdline.read_text(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue


def test_southbound_remote_with_several_members(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    # Like a clustered Southbound DB with one member down: the agent uses the other.
    remotes = f"unix:{tmp_path}/down.sock,{ovn_stack.sb_remote}"
    agent = start_agent(ovn_stack, "--ovn-remote", remotes)
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    ovn_stack.nbctl("lsp-del", "lsp1")
    wait_unplugged(ovn_stack, "lsp1")
    assert agent.stop() == 0


def test_waits_for_the_integration_bridge(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(ovn_stack, "--ovn-bridge", "br-vif")
    add_lsps(ovn_stack, "lsp1")
    wait_for(lambda: "nothing plugged: bridge br-vif does not exist" in agent.log(), "a warning")
    assert plugged(ovn_stack) == {}
    ovn_stack.vsctl("add-br", "br-vif")
    wait_plugged(ovn_stack, "lsp1")
    assert ovn_stack.vsctl("port-to-br", "lsp1").strip() == "br-vif"
    assert agent.stop() == 0


def test_follows_a_new_southbound_remote(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(ovn_stack)
    add_lsps(ovn_stack, "lsp1")
    wait_plugged(ovn_stack, "lsp1")
    second = ovn_stack.dir.run_dir / "sb2.sock"
    subprocess.run(
        [
            "ovs-appctl",
            "-t",
            str(ovn_stack.sb.ctl_path),
            "ovsdb-server/add-remote",
            f"punix:{second}",
        ],
        check=True,
        capture_output=True,
        env=ovn_stack.env,
        timeout=TIMEOUT,
    )
    wait_for(second.is_socket, "the second Southbound socket")
    ovn_stack.vsctl("set", "Open_vSwitch", ".", f'external_ids:ovn-remote="unix:{second}"')
    wait_for(lambda: f"Southbound remote changed to unix:{second}" in agent.log(), "the switch")
    add_lsps(ovn_stack, "lsp2")
    wait_plugged(ovn_stack, "lsp2")
    assert set(plugged(ovn_stack)) == {"lsp1", "lsp2"}
    assert "Unplugging port" not in agent.log()
    assert agent.stop() == 0
