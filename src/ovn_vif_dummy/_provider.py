"""OVN's dummy plug provider, re-implemented on :class:`ovn_vif.VifPlugProvider`."""

from __future__ import annotations

import logging

from typing_extensions import override

from ovn_vif import OpType, PlugSpec, PortContext, VifPlugProvider, truncate_netdev_name

LOG = logging.getLogger(__name__)

#: The Interface option the dummy provider owns.
DUMMY_OPTION = "vif-plug-dummy-option"
_MAINTAINED = frozenset({DUMMY_OPTION})


class DummyProvider(VifPlugProvider):
    """Plug an ``internal`` port named after the lport.

    >>> from ovn_vif import PortContext, OpType
    >>> DummyProvider().prepare_create(PortContext(op_type=OpType.CREATE, lport_name="lsp1"))
    PlugSpec(name='lsp1', type='internal', options=FrozenMap({'vif-plug-dummy-option': 'value'}))

    Like OVN's, it never declines a create and never vetoes a removal.
    """

    type = "dummy"

    @override
    def run(self) -> bool:
        LOG.debug("dummy VIF plug provider run")
        return False

    @override
    def maintained_iface_options(self) -> frozenset[str]:
        return _MAINTAINED

    @override
    def prepare_create(self, ctx: PortContext) -> PlugSpec:
        return PlugSpec(
            name=truncate_netdev_name(ctx.lport_name),
            type="internal",
            options={DUMMY_OPTION: "value"},
        )

    @override
    def prepare_remove(self, ctx: PortContext) -> bool:
        return True

    @override
    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        LOG.debug("dummy provider finish for lport %s (%s)", ctx.lport_name, ctx.op_type.name)

    @override
    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        if ctx.op_type is not OpType.CREATE:
            raise ValueError(f"release() is only for creates, got {ctx.op_type.name}")
