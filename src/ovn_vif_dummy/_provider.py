"""OVN's dummy plug provider, re-implemented on :class:`ovn_vif.VifPlugProvider`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ovn_vif import (
    Decline,
    OpType,
    PlugSpec,
    PortContext,
    RestoredPort,
    VifPlugProvider,
    truncate_netdev_name,
)

if TYPE_CHECKING:
    from typing_extensions import override
else:
    # The decorator is for type checkers; importing typing_extensions for it
    # would cost every agent that loads this provider half a megabyte.
    def override(method: Any) -> Any:
        return method


LOG = logging.getLogger(__name__)

#: The Interface option the dummy provider owns.
DUMMY_OPTION = "vif-plug-dummy-option"
_MAINTAINED = frozenset({DUMMY_OPTION})


class DummyProvider(VifPlugProvider):
    """Plug an ``internal`` port named after the lport.

    >>> from ovn_vif import PortContext, OpType
    >>> DummyProvider().prepare_create(PortContext(op_type=OpType.CREATE, lport_name="lsp1"))
    PlugSpec(name='lsp1', type='internal', options=FrozenMap({'vif-plug-dummy-option': 'value'}))

    Like OVN's, it never declines a create and never vetoes a removal. Unlike
    OVN's, it keeps the table a stateful provider keeps, as an example of the
    state story (``docs/provider-contract.rst``): :attr:`plugged` maps each
    lport to its port, filled by :meth:`restore` at start-up and kept up to
    date by :meth:`finish`; :meth:`outstanding` lists the specs prepared and
    not released yet.
    """

    type = "dummy"

    # Created on first use, so that subclasses need not call __init__.
    _plugged: dict[str, str]
    _reserved: dict[str, int]

    def __getattr__(self, name: str) -> dict[str, int] | dict[str, str]:
        if name in ("_plugged", "_reserved"):
            value: dict[str, int] | dict[str, str] = {}
            setattr(self, name, value)
            return value
        raise AttributeError(name)

    @property
    def plugged(self) -> Mapping[str, str]:
        """``{lport: port name}`` of the ports plugged through this provider."""
        return dict(self._plugged)

    @override
    def run(self) -> bool:
        LOG.debug("dummy VIF plug provider run")
        return False

    @override
    def restore(self, ports: Sequence[RestoredPort]) -> None:
        self._plugged = {p.lport_name: p.name for p in ports}
        LOG.debug("dummy provider restored %d plugged port(s)", len(self._plugged))

    @override
    def maintained_iface_options(self) -> frozenset[str]:
        return _MAINTAINED

    # Typed as the hook it overrides, although this provider never declines:
    # subclasses (test doubles that gate or decline) may.
    @override
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        self._reserved[ctx.lport_name] = self._reserved.get(ctx.lport_name, 0) + 1
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
        if spec is None:
            self._plugged.pop(ctx.lport_name, None)
        else:
            self._plugged[ctx.lport_name] = spec.name

    @override
    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        if ctx.op_type is not OpType.CREATE:
            raise ValueError(f"release() is only for creates, got {ctx.op_type.name}")
        left = self._reserved.get(ctx.lport_name, 0) - 1
        if left > 0:
            self._reserved[ctx.lport_name] = left
        else:
            self._reserved.pop(ctx.lport_name, None)

    @override
    def outstanding(self) -> Sequence[str]:
        return [f"spec prepared for lport {lport}" for lport in sorted(self._reserved)]
