"""All rate-limited warnings share one budget: 60 refused lports do not make
60 warnings a burst and 300 a minute; a summary line counts the rest."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from tests.support import wait_for
from tests.support.agent import AgentProcess

from ovn_vif._contract.ratelimit import BUDGET
from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons

REFUSED = 60


def test_warnings_about_many_lports_share_one_budget(
    ovn_stack: Sandbox, start_agent: Callable[..., AgentProcess]
) -> None:
    commands: list[str] = []
    for i in range(REFUSED):
        commands += [
            "--", "lsp-add", "sw0", f"bad{i}",
            "--", "lsp-set-options", f"bad{i}", "requested-chassis=hv1", "vif-plug-type=bogus",
        ]  # fmt: skip
    ovn_stack.nbctl("--may-exist", "ls-add", "sw0", *commands)
    agent = start_agent(ovn_stack, "--log-level", "info")
    summary = re.compile(
        r"\|WARNING\|ovn_vif\._contract\.ratelimit\|\.\.\. and (\d+) more similar warnings "
        r"suppressed in the last \d+ s \(at most 60 a minute in all\)"
    )
    wait_for(lambda: summary.search(agent.log()), "a summary of the suppressed warnings")
    log = agent.log()
    warned = log.count("Unable to open VIF plug provider for vif-plug-type: 'bogus'")
    # Before: one line per lport at once. Now: the burst, then the refill.
    assert BUDGET.burst <= warned < REFUSED, warned
    assert int(summary.search(log).group(1)) >= 1  # type: ignore[union-attr]
    assert agent.stop() == 0
