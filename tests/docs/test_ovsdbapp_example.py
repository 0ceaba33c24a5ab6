"""docs/examples/ovsdbapp_agent.py runs against a real sandbox: plugs, then unplugs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ovsdbapp_agent.py"


def run_agent(stack: Sandbox) -> list[str]:
    argv = [sys.executable, str(EXAMPLE), "--until-settled", "--ovs", stack.ovs_remote,
            "--sb", stack.sb_remote, "--chassis", "hv1"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    return proc.stdout.splitlines()


def test_ovsdbapp_agent_plugs_and_unplugs(ovn_stack: Sandbox) -> None:
    ovn_stack.nbctl("ls-add", "sw0", "--", "lsp-add", "sw0", "lsp1", "--", "lsp-set-options",
                    "lsp1", "requested-chassis=hv1", "vif-plug-type=dummy")  # fmt: skip
    ovn_stack.nbctl("--wait=sb", "sync")
    assert "plugged lsp1 success" in run_agent(ovn_stack)
    assert "lsp1" in ovn_stack.vsctl("list-ports", "br-int").split()

    ovn_stack.nbctl("--wait=sb", "lsp-del", "lsp1")
    assert "unplugged lsp1 success" in run_agent(ovn_stack)
    assert "lsp1" not in ovn_stack.vsctl("list-ports", "br-int").split()
