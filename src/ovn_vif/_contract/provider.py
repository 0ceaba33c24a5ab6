"""The VIF plug provider contract.

A provider knows how to find, on this chassis, the network device that
backs a logical switch port, and which Interface ``type`` and ``options``
OVS needs for it. It never writes to a database itself: the engine
(:func:`ovn_vif.reconcile`) asks the provider, then stages the rows in the
caller's transaction, and tells the provider how the commit ended.

The life cycle mirrors OVN's ``struct vif_plug_class`` (see
``docs/provider-contract.rst`` for the C-to-Python table):

1. :meth:`VifPlugProvider.init` once, when the provider is registered;
2. :meth:`VifPlugProvider.run` once per main-loop iteration;
3. for each lport to plug or update, :meth:`VifPlugProvider.prepare_create`
   returns a :class:`PlugSpec` (or ``None`` to decline for now);
4. for each interface to unplug, :meth:`VifPlugProvider.prepare_remove`
   returns ``True`` to allow it or ``False`` to veto it;
5. after the transaction committed, :meth:`VifPlugProvider.finish`, and for a
   create or update :meth:`VifPlugProvider.release`; if it failed, only
   :meth:`VifPlugProvider.release` (creates and updates only);
6. :meth:`VifPlugProvider.destroy` once, when the provider is unregistered.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence

import attrs

from ovn_vif._contract.frozenmap import FrozenMap, freeze


class OpType(enum.IntEnum):
    """What the engine is preparing (C ``enum vif_plug_op_type``)."""

    #: Create the port, or update an existing one (``PLUG_OP_CREATE``).
    CREATE = 1
    #: Remove the port (``PLUG_OP_REMOVE``).
    REMOVE = 2


@attrs.frozen(slots=True, kw_only=True)
class PortContext:
    """What the engine tells a provider about one port (C ``ctx_in``).

    Instances are immutable and their mappings are :class:`FrozenMap`
    copies, so a provider cannot change the engine's view by mutating them.
    """

    #: Whether a create/update or a removal is being prepared.
    op_type: OpType = attrs.field(converter=OpType)
    #: Name of the logical port (SB ``Port_Binding.logical_port``; for a
    #: removal whose Port_Binding is gone, the interface's ``iface-id``).
    lport_name: str
    #: Copy of the Port_Binding ``options`` (by convention a provider only
    #: reads ``vif-plug*`` keys). Empty for a removal without Port_Binding.
    lport_options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    #: Name of the integration bridge (C ``br_int``).
    bridge: str = "br-int"
    #: Name of this chassis.
    chassis: str = ""
    #: For :attr:`OpType.REMOVE`: the name of the interface being removed.
    #: ``None`` for :attr:`OpType.CREATE` (OVN never fills it there).
    iface_name: str | None = None
    #: For :attr:`OpType.REMOVE`: the interface's ``type``.
    iface_type: str | None = None
    #: For :attr:`OpType.REMOVE`: the interface's ``options``.
    iface_options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)


def _optional_str(value: str | None) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"PlugSpec.type must be a str or None, got {value!r}")
    return value


@attrs.frozen(slots=True, kw_only=True)
class PlugSpec:
    """A provider's answer for a create or update (C ``ctx_out``).

    >>> PlugSpec(name="pf0vf3")
    PlugSpec(name='pf0vf3', type=None, options=FrozenMap({}))
    """

    #: Name of the Port and Interface rows: the netdev to plug. The engine
    #: refuses names that cannot be netdev names
    #: (see :func:`ovn_vif.netdev_name_problem`).
    name: str
    #: Interface ``type`` (for example ``"internal"``); ``None`` leaves the
    #: column at its default on create and untouched on update.
    type: str | None = attrs.field(default=None, converter=_optional_str)
    #: Interface ``options`` to write. On update only the keys listed by
    #: :meth:`VifPlugProvider.maintained_iface_options` are set or removed.
    options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)


class VifPlugProvider(abc.ABC):
    """Base class of every VIF plug provider.

    Subclasses set :attr:`type` and implement :meth:`prepare_create`; every
    other hook has a default that does nothing. A minimal provider::

        class LoopbackProvider(VifPlugProvider):
            type = "loopback"

            def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
                return PlugSpec(name=ctx.lport_name[:15], type="internal")

    Hooks are called from the thread that drives the engine, never
    concurrently for one provider. They must not block: the engine runs
    them inside the agent's poll loop.
    """

    #: The plug type: the value of the LSP option ``vif-plug-type`` this
    #: provider serves, and what is written to ``external_ids:ovn-plugged``.
    #: A class attribute; an instance may override it (to run two
    #: providers of one class under different types).
    type: str

    def init(self) -> None:
        """Prepare the provider; called once by :meth:`Registry.register`.

        Raise to refuse registration (the exception reaches the caller of
        ``register`` and the provider is not registered). Raise
        :class:`~ovn_vif.ProviderUnavailableError` when the host lacks
        what the provider needs.
        """

    def destroy(self) -> None:
        """Release everything ``init`` acquired; called by ``unregister``.

        Raise to refuse: the provider then stays registered.
        """

    def run(self) -> bool:
        """Do periodic work; return ``True`` if the lookup tables changed.

        Called once per loop iteration by :meth:`Registry.run_all`, before
        the engine runs. A ``True`` makes the agent reconcile again even if
        no database changed.
        """
        return False

    def maintained_iface_options(self) -> frozenset[str] | None:
        """Return the Interface ``options`` keys this provider owns.

        On update the engine sets each of these keys to the value in
        :attr:`PlugSpec.options` and removes those absent from it; other
        keys are left alone. ``None`` (the default) means the provider owns
        none: on update, keys of :attr:`PlugSpec.options` are added or
        changed but never removed.
        """
        return None

    @abc.abstractmethod
    def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
        """Describe the port to create or update for ``ctx.lport_name``.

        Return ``None`` to decline for now (nothing is written for this
        lport in this iteration; the engine asks again next time).
        Anything :meth:`release` must undo may be reserved here.
        """

    def prepare_remove(self, ctx: PortContext) -> bool:
        """Allow (``True``) or veto (``False``) unplugging ``ctx.iface_name``."""
        return True

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        """Called once the transaction carrying this port committed.

        *spec* is the :class:`PlugSpec` for a create or update and ``None``
        for a removal.
        """

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        """Free what :meth:`prepare_create` reserved (C ``ctx_destroy``).

        Called after :meth:`finish` when the commit succeeded, alone when
        it failed, and when the engine drops the spec without writing it
        (for example an incompatible change). Never called for removals.
        """

    def wait_fds(self) -> Sequence[int]:
        """File descriptors whose readability should wake the agent's loop."""
        return ()

    def next_wakeup(self) -> float | None:
        """A ``time.monotonic()`` deadline by which ``run`` wants to be called."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} type={getattr(self, 'type', None)!r}>"
