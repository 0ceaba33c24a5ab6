"""``ovn-vif status`` says why lports requested here are not plugged (real OVS/OVN)."""

from __future__ import annotations

import json
import os

import pytest

from ovn_vif import Decline, PlugSpec, PortContext, Registry, VifPlugProvider
from ovn_vif._engine.compatible import COMPATIBLE_WITH
from ovn_vif.agent import Agent, AgentConfig, default_status_file, read_agent_status
from ovn_vif.cli import main
from ovn_vif.sandbox import Sandbox

pytestmark = [pytest.mark.daemons, pytest.mark.usefixtures("root_logging")]
TIMEOUT = 60.0
SLOT = "vif-plug:acme:slot"


class Acme(VifPlugProvider):
    type = "acme"

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        slot = ctx.lport_options.get(SLOT, "")
        if not slot.isdigit():
            return Decline(f"{SLOT} must be a slot number, got {slot!r}")
        return PlugSpec(name=f"acme{slot}", type="internal")


def test_status_lists_declined_lports_with_the_providers_reason(
    ovn_stack: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = Registry()
    registry.register(Acme())
    agent = Agent(AgentConfig(ovs_remote=ovn_stack.ovs_remote), registry)
    path = default_status_file(ovn_stack.ovs_remote)
    assert path is not None
    assert agent.config.status_file is None
    try:
        agent.start()
        assert agent.status_file == path
        ovn_stack.nbctl(
            "ls-add", "sw0",
            "--", "lsp-add", "sw0", "good",
            "--", "lsp-set-options", "good", "requested-chassis=hv1", "vif-plug-type=acme",
            f"{SLOT}=1",
            "--", "lsp-add", "sw0", "bad",
            "--", "lsp-set-options", "bad", "requested-chassis=hv1", "vif-plug-type=acme",
            f"{SLOT}=x",
            "--", "lsp-add", "sw0", "nobody",
            "--", "lsp-set-options", "nobody", "requested-chassis=hv1", "vif-plug-type=other",
        )  # fmt: skip

        def written() -> bool:
            status = read_agent_status(path)
            return status is not None and len(status.not_plugged) == 2

        assert agent.run_until(written, timeout=TIMEOUT)
    finally:
        agent.close()
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert main(["status", "--ovs-remote", ovn_stack.ovs_remote]) == 0
    text = capsys.readouterr().out
    assert "good" in text
    assert "acme1" in text
    assert f"compatible policy follows: {COMPATIBLE_WITH}\n" in text
    assert (
        "  bad (acme) not plugged because declined: vif-plug:acme:slot must be a slot number, "
        "got 'x'" in text
    )
    assert (
        "  nobody (other) not plugged because refused: no provider is registered for "
        "vif-plug-type 'other'" in text
    )
    assert main(["status", "--json", "--ovs-remote", ovn_stack.ovs_remote]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status_file"] == path
    assert data["compatible_with"] == COMPATIBLE_WITH
    bad, nobody = data["not_plugged"]
    assert (bad["lport"], bad["outcome"], bad["reason"], bad["provider_reason"]) == (
        "bad",
        "declined",
        "provider-declined",
        "vif-plug:acme:slot must be a slot number, got 'x'",
    )
    assert (nobody["lport"], nobody["reason"]) == ("nobody", "unknown-plug-type")


def test_status_without_an_agent_says_unknown(
    ovn_stack: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--ovs-remote", ovn_stack.ovs_remote]) == 0
    out = capsys.readouterr().out
    assert "not plugged: unknown (no agent status at " in out
