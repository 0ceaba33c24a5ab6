"""The control socket's status forgets lports that left the Southbound.

Before, the latest decision of every lport ever seen stayed (up to 10,000
entries), deleted ones included. An in-process agent against real daemons,
with a short age so the test does not wait ten minutes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.agent import add_lsps

from ovn_vif.agent import Agent, AgentConfig
from ovn_vif.agent._loop_status import LoopStatus
from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons

TIMEOUT = 60.0


@pytest.fixture
def agent(ovn_stack: Sandbox) -> Iterator[Agent]:
    a = Agent(
        AgentConfig(
            ovs_remote=ovn_stack.ovs_remote,
            ovn_remote=ovn_stack.sb_remote,
            providers=("dummy",),
            status_file="",
            audit_interval=0,
        )
    )
    yield a
    a.close()


def test_deleted_lports_age_out_of_the_status(ovn_stack: Sandbox, agent: Agent) -> None:
    status = LoopStatus(forget_after=0.5, sweep_every=0.1)
    agent.observers.add(status)
    agent.start()
    add_lsps(ovn_stack, "lsp1", "lsp2")
    ovn_stack.nbctl(
        "lsp-add", "sw0", "odd", "--",
        "lsp-set-options", "odd", "requested-chassis=hv1", "vif-plug-type=bogus",
    )  # fmt: skip
    assert agent.run_until(lambda: {"lsp1", "lsp2", "odd"} <= set(status.lports), TIMEOUT)
    # A plugged lport and a refused one are deleted; lsp2 stays.
    ovn_stack.nbctl("lsp-del", "lsp1", "--", "lsp-del", "odd")
    assert agent.run_until(lambda: set(status.lports) == {"lsp2"}, TIMEOUT), status.lports
    # lsp2 stays however long: it is still there.
    assert agent.run_until(lambda: False, 1.5) is False
    assert set(status.lports) == {"lsp2"}
