"""Hostile Northbound input against ``ovn-vif agent`` on real daemons.

While hostile LSPs come and go, the agent keeps running and every valid LSP
created after each one is plugged (within a generous bound; this is not a
timing test). Database text never forges a log line, and ``ovn-vif status``
escapes it in its text output while its JSON stays exact.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest
from tests.support import wait_for
from tests.support.agent import PLUG, AgentProcess, ovn_vif_command, plugged

from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons


HUGE = "9" * 10_000

#: (title, LSP name, its options): each is a class of hostile input.
HOSTILE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("10,000-digit MTU", "h-mtu-huge", (*PLUG, f"vif-plug-mtu-request={HUGE}")),
    ("MTU no netdev accepts", "h-mtu-70000", (*PLUG, "vif-plug-mtu-request=70000")),
    ("MTU 0", "h-mtu-0", (*PLUG, "vif-plug-mtu-request=0")),
    ("MTU -5", "h-mtu-neg", (*PLUG, "vif-plug-mtu-request=-5")),
    ("MTU with a newline", "h-mtu-nl", (*PLUG, "vif-plug-mtu-request=14\n00")),
    ("newline in the name", "vm\neth0 FORGED", PLUG),
    ("terminal escape in the name", "\x1b[31mred", PLUG),
    ("unicode name over 15 bytes", "ünïcödé-pört-nämé", PLUG),
    ("15-byte collision, first", "collision-aaaaa-1", PLUG),
    ("15-byte collision, second", "collision-aaaaa-2", PLUG),
    ("collision with a foreign port", "foreign-port", PLUG),
    (
        "unknown plug type of 120,000 characters",
        "h-type",
        ("requested-chassis=hv1", "vif-plug-type=" + "x" * 120_000),
    ),
    (
        "requested-chassis of 50,000 tokens",
        "h-chassis",
        ("requested-chassis=" + "a," * 50_000 + "hv1", "vif-plug-type=dummy"),
    ),
    ("option value of 120,000 characters", "h-big-option", (*PLUG, "blob=" + "b" * 120_000)),
    ("iface-id claimed by a foreign interface", "h-claimed", PLUG),
)


def lsp_add(stack: Sandbox, name: str, options: tuple[str, ...]) -> None:
    stack.nbctl(
        "--may-exist", "ls-add", "sw0", "--", "lsp-add", "sw0", name,
        "--", "lsp-set-options", name, *options,
    )  # fmt: skip


def test_valid_lsps_are_plugged_while_hostile_ones_come_and_go(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]
) -> None:
    # Foreign rows the agent must never touch: a port holding a name a
    # hostile LSP's port would take, and an interface already bound to an
    # lport by someone else.
    ovn_stack.vsctl("add-port", "br-int", "foreign-port", "--", "set", "Interface",
                    "foreign-port", "type=internal")  # fmt: skip
    ovn_stack.vsctl("add-port", "br-int", "claimer", "--", "set", "Interface", "claimer",
                    "type=internal", "external_ids:iface-id=h-claimed")  # fmt: skip
    foreign_before = {
        name: ovn_stack.vsctl("--columns=external_ids,options,type", "list", "Interface", name)
        for name in ("foreign-port", "claimer")
    }
    agent = start_agent(ovn_stack, "--provider", "dummy")
    for number, (title, name, options) in enumerate(HOSTILE):
        lsp_add(ovn_stack, name, options)
        valid = f"ok-{number}"
        lsp_add(ovn_stack, valid, PLUG)

        def valid_plugged(v: str = valid) -> bool:
            return v in plugged(ovn_stack)

        wait_for(valid_plugged, f"{valid} plugged after {title}")
        assert agent.proc.poll() is None, f"the agent exited after {title}"
        if number % 2:
            # Every other hostile LSP goes away again; the rest stay.
            ovn_stack.nbctl("lsp-del", name)
    # Every valid lport is plugged once; the agent never gave up.
    rows = wait_for(
        lambda: (
            (r := plugged(ovn_stack)) and all(f"ok-{n}" in r for n in range(len(HOSTILE))) and r
        ),
        "every valid lport plugged",
    )
    for number in range(len(HOSTILE)):
        assert len(rows[f"ok-{number}"]) == 1
    foreign_after = {
        name: ovn_stack.vsctl("--columns=external_ids,options,type", "list", "Interface", name)
        for name in ("foreign-port", "claimer")
    }
    assert foreign_after == foreign_before
    # One port for the two colliding lports, the first one's.
    assert [r["external_ids"]["iface-id"] for r in rows.get("collision-aaaaa-1", [])] == [
        "collision-aaaaa-1"
    ]
    assert "collision-aaaaa-2" not in rows
    # The 10,000-digit MTU plugged its lport without an MTU.
    assert rows["h-mtu-huge"][0]["mtu_request"] is None
    # The agent's not-plugged list, in ovn-vif status text: escaped.
    status = [*ovn_vif_command(), "status", "--ovs-remote", ovn_stack.ovs_remote]
    text = wait_for(
        lambda: (
            (
                out := subprocess.run(
                    status, capture_output=True, text=True, check=True, timeout=60
                ).stdout
            )
            and "\\x1b[31mred" in out
            and out
        ),
        "the refused lports in ovn-vif status",
    )
    assert "\x1b" not in text
    assert all(not line.startswith("eth0") for line in text.splitlines())
    assert agent.stop() == 0
    log = agent.log()
    assert "FORGED" in log  # the name was logged...
    assert "\neth0 FORGED" not in log  # ...on its own line
    assert "\x1b" not in log
    assert "Exceeds the limit" not in log
    assert "the plugging engine failed" not in log
    assert all(len(line) < 20_000 for line in log.splitlines())


def test_status_text_escapes_database_text_and_json_stays_exact(ovn_stack: Sandbox) -> None:
    lport = "evil\nchassis: forged\x1b[2J"
    ovn_stack.vsctl(
        "add-port", "br-int", "p-evil", "--", "set", "Interface", "p-evil", "type=internal",
        f'external_ids:iface-id="{lport}"'.replace("\n", "\\n").replace("\x1b", "\\u001b"),
        "external_ids:ovn-plugged=dummy",
    )  # fmt: skip
    run = [*ovn_vif_command(), "status", "--ovs-remote", ovn_stack.ovs_remote]
    done = subprocess.run([*run, "--json"], capture_output=True, text=True, check=True, timeout=60)
    [port] = json.loads(done.stdout)["ports"]
    assert port["lport"] == lport
    text = subprocess.run(run, capture_output=True, text=True, check=True, timeout=60).stdout
    assert "evil\\nchassis: forged\\x1b[2J" in text
    assert "\x1b" not in text
    assert [line for line in text.splitlines() if line.startswith("chassis:")] == ["chassis: hv1"]
