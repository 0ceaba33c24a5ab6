"""How a vendor tests its VIF plug provider with ovn_vif.testing.

A test module as it would sit in the vendor's own repository. Run it with
``pytest docs/examples/test_acme_provider.py`` (the fixtures come from the
pytest plugin that installing ovn-vif registers).
"""

from __future__ import annotations

from ovs.db.idl import Transaction

from ovn_vif import PlugSpec, PortContext, Reconciler, Registry, VifPlugProvider
from ovn_vif.testing import FakeDatabase, FakeIdl, PortBindingFactory, check_provider

PORT_OPTION = "vif-plug:acme:port"


class AcmeProvider(VifPlugProvider):
    """The vendor's provider: plugs netdev ``acme<N>`` for ``vif-plug:acme:port=<N>``."""

    type = "acme"

    def __init__(self) -> None:
        self.reserved: set[str] = set()

    def maintained_iface_options(self) -> frozenset[str]:
        return frozenset({"acme-queues"})

    def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
        raw = ctx.lport_options.get(PORT_OPTION, "")
        if not raw.isdigit():
            return None  # decline; the engine asks again next time
        name = f"acme{int(raw)}"
        self.reserved.add(name)
        return PlugSpec(name=name, options={"acme-queues": "8"})

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        self.reserved.discard(spec.name)


# 1. The contract, in one call: the whole life cycle through the real engine.
def test_acme_keeps_the_provider_contract() -> None:
    check_provider(
        AcmeProvider,
        # each of the kit's two ports gets its own device
        lport_options=lambda lport: {PORT_OPTION: lport[-1]},
    )


# 2. The provider in an agent's loop, on the fixtures' fake databases.
def plug_iteration(rec: Reconciler, ovs_idl: FakeIdl, sb_idl: FakeIdl, chassis: str) -> str:
    ovs_idl.run()
    sb_idl.run()
    txn = Transaction(ovs_idl)
    rec.reconcile(ovs_idl, sb_idl, txn, chassis=chassis, can_unplug=True)
    status: str = txn.commit_block()
    rec.complete(status, txn=txn)
    return status


def test_acme_port_is_plugged(
    fake_ovs_idl: FakeIdl,
    fake_sb_idl: FakeIdl,
    fake_ovs_db: FakeDatabase,
    port_binding_factory: PortBindingFactory,
    fake_chassis: str,
) -> None:
    registry = Registry()
    registry.register(AcmeProvider())
    rec = Reconciler(registry)
    port_binding_factory("vm1-eth0", plug_type="acme", options={PORT_OPTION: "3"})

    assert plug_iteration(rec, fake_ovs_idl, fake_sb_idl, fake_chassis) == "success"

    (iface,) = fake_ovs_db.find("Interface", name="acme3")
    row = fake_ovs_db.get("Interface", iface)
    assert row["options"] == {"acme-queues": "8"}
    assert row["external_ids"]["iface-id"] == "vm1-eth0"
    assert row["external_ids"]["ovn-plugged"] == "acme"


def test_acme_releases_when_the_commit_fails(
    fake_ovs_idl: FakeIdl,
    fake_sb_idl: FakeIdl,
    fake_ovs_db: FakeDatabase,
    port_binding_factory: PortBindingFactory,
    fake_chassis: str,
) -> None:
    provider = AcmeProvider()
    registry = Registry()
    registry.register(provider)
    rec = Reconciler(registry)
    port_binding_factory("vm1-eth0", plug_type="acme", options={PORT_OPTION: "3"})
    fake_ovs_db.script_commit("try again")  # another writer won the race

    assert plug_iteration(rec, fake_ovs_idl, fake_sb_idl, fake_chassis) == "try again"
    assert provider.reserved == set()  # released
    assert fake_ovs_db.find("Interface", name="acme3") == []

    assert plug_iteration(rec, fake_ovs_idl, fake_sb_idl, fake_chassis) == "success"
    assert fake_ovs_db.find("Interface", name="acme3") != []
