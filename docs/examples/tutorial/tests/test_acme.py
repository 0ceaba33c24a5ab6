"""The ACME provider's tests: the conformance kit, then the provider at work."""

from collections.abc import Callable

from acme_ovn import AcmeProvider

from ovn_vif import Outcome, Reason
from ovn_vif.testing import ProviderHarness, check_provider


def test_acme_keeps_the_contract() -> None:
    # kit-lsp-1 ... kit-lsp-4 each get their own slot
    check_provider(AcmeProvider, lport_options=lambda lport: {"vif-plug:acme:slot": lport[-1]})


def test_plug_update_unplug(provider_harness: Callable[..., ProviderHarness]) -> None:
    h = provider_harness(AcmeProvider())
    h.add_lport("vm1", {"vif-plug:acme:slot": "3"})
    assert h.iterate().outcomes == {"vm1": (Outcome.PLUGGED,)}
    assert h.plugged()["vm1"].options == {"acme-queues": "8"}
    h.set_options("vm1", {"vif-plug:acme:mode": "slow"})
    assert h.iterate().outcomes == {"vm1": (Outcome.UPDATED,)}
    assert h.plugged()["vm1"].options == {"acme-queues": "1"}
    h.delete_lport("vm1")
    assert h.iterate().outcomes == {"vm1": (Outcome.UNPLUGGED,)}


def test_a_taken_slot_is_declined_with_a_reason(
    provider_harness: Callable[..., ProviderHarness],
) -> None:
    h = provider_harness(AcmeProvider())
    h.add_lport("vm1", {"vif-plug:acme:slot": "3"})
    h.iterate()
    h.add_lport("vm2", {"vif-plug:acme:slot": "3"})
    [decision] = h.iterate().report.for_lport("vm2")
    assert decision.reason is Reason.PROVIDER_DECLINED
    assert decision.provider_reason == "slot 3 is plugged for lport vm1"


def test_slots_survive_a_restart(provider_harness: Callable[..., ProviderHarness]) -> None:
    h = provider_harness(AcmeProvider())
    h.add_lport("vm1", {"vif-plug:acme:slot": "3"})
    h.iterate()
    fresh = AcmeProvider()
    h.restart(fresh)  # the agent restarted: restore() tells what is plugged
    h.add_lport("vm2", {"vif-plug:acme:slot": "3"})
    [decision] = h.iterate().report.for_lport("vm2")
    assert decision.provider_reason == "slot 3 is plugged for lport vm1"
    assert fresh.in_use == {3: "vm1"}
