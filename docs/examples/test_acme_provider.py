"""How a vendor tests its VIF plug provider with ovn_vif.testing.

A test module as it would sit in the vendor's own repository. Run it with
``pytest docs/examples/test_acme_provider.py`` (the fixtures come from the
pytest plugin that installing ovn-vif registers).
"""

from __future__ import annotations

from collections.abc import Callable

from ovn_vif import Decline, Outcome, PlugSpec, PortContext, Reason, VifPlugProvider
from ovn_vif.testing import ProviderHarness, check_provider

PORT_OPTION = "vif-plug:acme:port"


class AcmeProvider(VifPlugProvider):
    """The vendor's provider: plugs netdev ``acme<N>`` for ``vif-plug:acme:port=<N>``."""

    type = "acme"

    def __init__(self) -> None:
        self.reserved: set[str] = set()

    def maintained_iface_options(self) -> frozenset[str]:
        return frozenset({"acme-queues"})

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        raw = ctx.lport_options.get(PORT_OPTION, "")
        if not raw.isdigit() or len(raw) > 3:
            return Decline(f"{PORT_OPTION}={raw!r} is not a port number")
        name = f"acme{int(raw)}"
        self.reserved.add(name)
        return PlugSpec(name=name, options={"acme-queues": "8"})

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        self.reserved.discard(spec.name)

    def outstanding(self) -> list[str]:
        return sorted(self.reserved)  # lets the kit find leaks


# 1. The contract, in one call: the whole life cycle through the real engine.
def test_acme_keeps_the_provider_contract() -> None:
    check_provider(
        AcmeProvider,
        # each of the kit's ports gets its own device
        lport_options=lambda lport: {PORT_OPTION: lport.rsplit("-", 1)[-1]},
    )


# 2. The provider in an agent's loop, one iteration at a time.
def test_acme_port_is_plugged_updated_and_unplugged(
    provider_harness: Callable[..., ProviderHarness],
) -> None:
    h = provider_harness(AcmeProvider())
    h.add_lport("vm1-eth0", {PORT_OPTION: "3"})
    assert h.iterate().outcomes == {"vm1-eth0": (Outcome.PLUGGED,)}
    port = h.plugged()["vm1-eth0"]
    assert (port.name, port.options) == ("acme3", {"acme-queues": "8"})

    h.set_options("vm1-eth0", {"vif-plug-mtu-request": "9000"})  # one option changes
    assert h.iterate().outcomes == {"vm1-eth0": (Outcome.UPDATED,)}

    h.move_lport("vm1-eth0", "hv2")  # the VM moved to another chassis
    assert h.iterate().outcomes == {"vm1-eth0": (Outcome.UNPLUGGED,)}
    assert h.plugged() == {}


def test_acme_declines_with_a_reason_and_releases_after_a_failed_commit(
    provider_harness: Callable[..., ProviderHarness],
) -> None:
    provider = AcmeProvider()
    h = provider_harness(provider)
    h.add_lport("vm1-eth0", {PORT_OPTION: "three"})
    [decision] = h.iterate().report.for_lport("vm1-eth0")
    assert decision.reason is Reason.PROVIDER_DECLINED
    assert decision.provider_reason == "vif-plug:acme:port='three' is not a port number"

    h.set_options("vm1-eth0", {PORT_OPTION: "3"})
    assert h.iterate(commit="try again").status == "try again"  # another writer won
    assert provider.reserved == set()  # released
    assert h.plugged() == {}
    assert h.iterate().status == "success"
    assert "vm1-eth0" in h.plugged()
