"""docs/examples/minimal_agent.py runs against a real sandbox and plugs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.engine_driver import switch_rows

from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "minimal_agent.py"


def run_agent(stack: Sandbox, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--until-settled",
            "--ovs",
            stack.ovs_remote,
            "--sb",
            stack.sb_remote,
            "--chassis",
            "hv1",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.parametrize("policy", ["recommended", "ovn-compatible"])
def test_minimal_agent_plugs_and_unplugs(ovn_stack: Sandbox, policy: str) -> None:
    for lsp in ("lsp1", "lsp2"):
        ovn_stack.nbctl(
            "--may-exist",
            "ls-add",
            "sw0",
            "--",
            "lsp-add",
            "sw0",
            lsp,
            "--",
            "lsp-set-options",
            lsp,
            "requested-chassis=hv1",
            "vif-plug-type=dummy",
        )
    ovn_stack.nbctl("--wait=sb", "sync")
    proc = run_agent(ovn_stack, "--policy", policy)
    assert "plugged lsp1 lsp1" in proc.stdout.splitlines()
    assert "plugged lsp2 lsp2" in proc.stdout.splitlines()
    assert "Plugging port lsp1 into br-int for lport lsp1 on this chassis." in proc.stderr
    assert set(switch_rows(ovn_stack.vsctl)) == {"lsp1", "lsp2"}

    ovn_stack.nbctl("lsp-del", "lsp2")
    ovn_stack.nbctl("--wait=sb", "sync")
    proc = run_agent(ovn_stack, "--policy", policy)
    assert proc.stdout.splitlines() == ["unplugged lsp2 lsp2"]
    assert set(switch_rows(ovn_stack.vsctl)) == {"lsp1"}


def test_minimal_agent_needs_its_remotes() -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 2
    assert "--ovs, --sb and --chassis are required" in proc.stderr
