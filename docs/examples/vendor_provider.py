"""A small vendor provider, registered by hand and asked about two lports.

Run it with ``python docs/examples/vendor_provider.py``.
"""

from __future__ import annotations

from ovn_vif import (
    Decline,
    OpType,
    PlugSpec,
    PortContext,
    ProviderUnavailableError,
    Registry,
    VifPlugProvider,
)

#: The provider's own LSP option, namespaced as OVN recommends.
PORT_OPTION = "vif-plug:acme:port"


class AcmeProvider(VifPlugProvider):
    """Plugs the netdev ``acme<N>`` for ``vif-plug:acme:port=<N>``."""

    type = "acme"

    def __init__(self, ports: int = 4) -> None:
        self.ports = ports
        self.reserved: set[str] = set()

    def init(self) -> None:
        if self.ports <= 0:
            raise ProviderUnavailableError("no ACME ports on this host")

    def maintained_iface_options(self) -> frozenset[str]:
        return frozenset({"acme-queues"})

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        raw = ctx.lport_options.get(PORT_OPTION, "")
        # Options come from the CMS, of any length: bound them before converting.
        if len(raw) > 4 or not (raw.isascii() and raw.isdigit()) or int(raw) >= self.ports:
            # Decline: nothing is written, the engine asks again on the next
            # change; the reason reaches the log (escaped), the report and
            # `ovn-vif status`.
            return Decline(f"bad {PORT_OPTION}={raw[:16]!r}: expected 0 to {self.ports - 1}")
        name = f"acme{int(raw)}"
        self.reserved.add(name)
        return PlugSpec(name=name, options={"acme-queues": "8"})

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        self.reserved.discard(spec.name)


def main() -> None:
    registry = Registry()
    registry.register(AcmeProvider())
    provider = registry.get("acme")
    assert provider is not None
    for lport, port in (("vm1-eth0", "2"), ("vm2-eth0", "nine")):
        ctx = PortContext(
            op_type=OpType.CREATE,
            lport_name=lport,
            lport_options={"vif-plug-type": "acme", PORT_OPTION: port},
        )
        spec = provider.prepare_create(ctx)
        print(f"{lport}: {spec}")
        if isinstance(spec, PlugSpec):
            provider.finish(ctx, spec)  # the transaction committed
            provider.release(ctx, spec)
    registry.destroy_all()


if __name__ == "__main__":
    main()
