"""The VIF plug provider contract.

A provider knows how to find, on this chassis, the network device that
backs a logical switch port, and which Interface ``type`` and ``options``
OVS needs for it. It never writes to a database itself: the engine
(:meth:`ovn_vif.Reconciler.reconcile`) asks the provider, then stages the rows in the
caller's transaction, and tells the provider how the commit ended.

The life cycle mirrors OVN's ``struct vif_plug_class`` (see
``docs/provider-contract.rst`` for the C-to-Python table):

1. :meth:`VifPlugProvider.init` once, when the provider is registered;
2. :meth:`VifPlugProvider.run` once per main-loop iteration;
3. for each lport to plug or update, :meth:`VifPlugProvider.prepare_create`
   returns a :class:`PlugSpec`, or declines for now with ``None`` or a
   :class:`Decline` that says why;
4. for each interface to unplug, :meth:`VifPlugProvider.prepare_remove`
   returns ``True`` to allow it, or ``False`` or a :class:`Decline` to veto it;
5. after the transaction committed, :meth:`VifPlugProvider.finish`, and for a
   create or update :meth:`VifPlugProvider.release`; if it failed, only
   :meth:`VifPlugProvider.release` (creates and updates only);
6. :meth:`VifPlugProvider.destroy` once, when the provider is unregistered.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence

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

    Fields (each documented below): ``op_type``, ``lport_name``,
    ``lport_options``, ``bridge``, ``chassis``, ``current_port``,
    ``iface_name``, ``iface_type``, ``iface_options``.

    A create and an in-place update are both :attr:`OpType.CREATE` (as in
    OVN); :attr:`current_port` (and :attr:`is_update`) tell them apart:

    >>> ctx = PortContext(op_type=OpType.CREATE, lport_name="lsp1", current_port="pf0vf3")
    >>> ctx.is_update, ctx.lport_options.get("vif-plug-type")
    (True, None)
    """

    #: Whether a create/update (:attr:`OpType.CREATE`) or a removal
    #: (:attr:`OpType.REMOVE`) is being prepared.
    op_type: OpType = attrs.field(converter=OpType)
    #: Name of the logical port (SB ``Port_Binding.logical_port``, the
    #: Interface's ``external_ids:iface-id``). For a removal whose
    #: Port_Binding is gone, the interface's ``iface-id``.
    lport_name: str
    #: Copy of the Port_Binding ``options``, set by the CMS on the Logical
    #: Switch Port: ``vif-plug-type``, ``requested-chassis``,
    #: ``vif-plug-mtu-request`` and the provider's own keys (by convention
    #: ``vif-plug:<type>:<key>``; a provider only reads ``vif-plug*`` keys).
    #: Values are whatever the CMS wrote: validate them, and decline (never
    #: raise) when they are missing or malformed. Empty for a removal
    #: whose Port_Binding is gone.
    lport_options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    #: Name of the integration bridge the port is (to be) plugged into
    #: (C ``br_int``; ``external_ids:ovn-bridge``, default ``br-int``).
    bridge: str = "br-int"
    #: Name of this chassis (SB ``Chassis.name``, the local
    #: ``external_ids:system-id``).
    chassis: str = ""
    #: For :attr:`OpType.CREATE`: the name of the Interface already plugged
    #: for this lport by this provider type (``iface-id`` = the lport and
    #: ``ovn-plugged`` set), which the engine will update in place if the
    #: answer names the same port; ``None`` when the engine will create a
    #: new port. OVN's C contract has no such field (its iface fields are
    #: empty for both cases); ovn-vif adds it. Always ``None`` for
    #: :attr:`OpType.REMOVE` (see :attr:`iface_name`).
    current_port: str | None = None
    #: For :attr:`OpType.REMOVE`: the name of the Interface being removed.
    #: ``None`` for :attr:`OpType.CREATE` (OVN never fills it there).
    iface_name: str | None = None
    #: For :attr:`OpType.REMOVE`: the Interface's ``type`` (``""`` for a
    #: system device). ``None`` for :attr:`OpType.CREATE`.
    iface_type: str | None = None
    #: For :attr:`OpType.REMOVE`: the Interface's ``options``. Empty for
    #: :attr:`OpType.CREATE`.
    iface_options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)

    @property
    def is_update(self) -> bool:
        """Whether a create/update concerns a port that is already plugged
        (``current_port`` is set)."""
        return self.op_type is OpType.CREATE and self.current_port is not None


def _optional_str(value: str | None) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"PlugSpec.type must be a str or None, got {value!r}")
    return value


def _spec_name(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"PlugSpec.name must be a str, got {type(value).__name__} {value!r}")
    return value


@attrs.frozen(slots=True, kw_only=True)
class PlugSpec:
    """A provider's answer for a create or update (C ``ctx_out``).

    Fields (each documented below): ``name``, ``type``, ``options``.

    >>> PlugSpec(name="pf0vf3")
    PlugSpec(name='pf0vf3', type=None, options=FrozenMap({}))
    """

    #: Name of the Port and Interface rows: the netdev to plug (for a
    #: system device, the kernel's interface name). The engine refuses
    #: names that cannot be netdev names (1 to 15 bytes, no ``/``, ``:``,
    #: whitespace or control characters; see
    #: :func:`ovn_vif.netdev_name_problem`). A name that differs from
    #: :attr:`PortContext.current_port` replaces the plugged port
    #: (:attr:`~ovn_vif.Policy.RECOMMENDED`) or is refused as an
    #: incompatible change (:attr:`~ovn_vif.Policy.OVN_COMPATIBLE`).
    name: str = attrs.field(converter=_spec_name)
    #: Interface ``type``: ``None`` or ``""`` for a system device (a
    #: netdev that exists in the kernel), or one of the types
    #: ``ovs-vswitchd`` knows, for example ``"internal"`` (it creates the
    #: netdev) or ``"dpdk"``. ``None`` leaves the column at its default on
    #: create and untouched on update.
    type: str | None = attrs.field(default=None, converter=_optional_str)
    #: Interface ``options`` to write (``str`` to ``str``; for example
    #: ``{"dpdk-devargs": "0000:3b:00.0"}`` for a ``dpdk`` interface). On
    #: create every key is written; on update only the keys listed by
    #: :meth:`VifPlugProvider.maintained_iface_options` are set or removed.
    options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)


#: The longest :attr:`Decline.reason` kept, in characters: longer reasons
#: are cut at construction (ending with ``"..."``), so that no status file,
#: log line or :attr:`Decision.detail <ovn_vif.Decision.detail>` carries more.
DECLINE_REASON_LIMIT = 300


def _reason_text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"Decline.reason must be a str, got {type(value).__name__} {value!r}")
    # Written to the status file and logs once per lport: one line, bounded.
    # Only the kept prefix is scanned, so a huge reason costs no more.
    head = value[: 4 * DECLINE_REASON_LIMIT]
    text = " ".join("".join(c if c.isprintable() else " " for c in head).split())
    if not text:
        raise ValueError("Decline.reason must say why (got an empty string)")
    if len(text) > DECLINE_REASON_LIMIT or len(head) < len(value):
        text = text[: DECLINE_REASON_LIMIT - 3].rstrip() + "..."
    return text


def _retry_after(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"Decline.retry_after must be seconds or None, got {value!r}")
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"Decline.retry_after must be >= 0 seconds, got {value!r}")
    return float(value)


@attrs.frozen(slots=True)
class Decline:
    """A provider's "not now", with the reason.

    Return it from :meth:`VifPlugProvider.prepare_create` to decline a
    create or update, or from :meth:`VifPlugProvider.prepare_remove` to
    veto an unplug (``None`` and ``False`` still work: they decline
    without a reason, as in OVN). Raising
    :class:`~ovn_vif.DeclineError` does the same from deep inside helper
    code. The engine writes nothing for the lport in this iteration, puts
    the reason in :attr:`Decision.detail <ovn_vif.Decision.detail>` (with
    :attr:`~ovn_vif.Reason.PROVIDER_DECLINED` or
    :attr:`~ovn_vif.Reason.PROVIDER_VETOED` as the decision's ``reason``)
    and in a rate-limited INFO log line naming the lport and the
    provider, and the agent shows it in ``ovn-vif status``.

    Fields: ``reason``, ``retry_after``. A decline is falsy, like the
    ``None`` and ``False`` it stands in for.

    >>> Decline("no VF 3 behind PF 0c:42:a1:00:00:01", retry_after=5)
    Decline(reason='no VF 3 behind PF 0c:42:a1:00:00:01', retry_after=5.0)
    """

    #: One human-readable sentence: why the port is not plugged (or not
    #: unplugged) now, and if possible what would change that. It must not
    #: be empty. Stored as one line: control characters (newlines
    #: included) become spaces, runs of whitespace one space, and a reason
    #: longer than :data:`~ovn_vif.DECLINE_REASON_LIMIT` (300) characters
    #: is cut, ending with ``"..."``.
    reason: str = attrs.field(converter=_reason_text)
    #: Seconds after which the provider wants to be asked again even if
    #: nothing in the databases changed (for example: a device that is
    #: still being set up). ``None`` (the default): ask again when
    #: something changes, or when :meth:`VifPlugProvider.run` returns
    #: ``True``. The engine reports the smallest hint as
    #: :attr:`ReconcileReport.retry_after <ovn_vif.ReconcileReport.retry_after>`;
    #: the agent reconciles again by then.
    retry_after: float | None = attrs.field(default=None, converter=_retry_after)

    def __bool__(self) -> bool:
        # A decline is a "no": `return ok and PlugSpec(...)` and
        # `if not provider.prepare_remove(ctx)` read it as one, as they
        # would read None or False.
        return False


def _optional_map(value: Mapping[str, str] | None) -> FrozenMap | None:
    return None if value is None else freeze(value)


@attrs.frozen(slots=True, kw_only=True)
class RestoredPort:
    """One Interface already plugged for a provider, as the engine found it
    in the local database: what :meth:`VifPlugProvider.restore` receives.

    Fields (each documented below): ``lport_name``, ``lport_options``,
    ``name``, ``type``, ``options``, ``external_ids``, ``mtu_request``,
    ``ofport``.
    """

    #: The lport it is plugged for (``external_ids:iface-id``).
    lport_name: str
    #: The lport's Port_Binding ``options`` as the Southbound database has
    #: them now, or ``None`` when the Port_Binding is gone (the port will
    #: be unplugged once unplugging is allowed) or not known yet.
    lport_options: FrozenMap | None = attrs.field(default=None, converter=_optional_map)
    #: The Interface (and Port) name: what :attr:`PlugSpec.name` was.
    name: str
    #: The Interface ``type`` (``""`` for a system device).
    type: str = ""
    #: The Interface ``options``.
    options: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    #: The Interface ``external_ids`` (``iface-id``, ``ovn-plugged`` and
    #: whatever else is there).
    external_ids: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
    #: The Interface ``mtu_request``, or ``None`` if unset.
    mtu_request: int | None = None
    #: The OpenFlow port number ``ovs-vswitchd`` assigned, or ``None``
    #: (not yet, or the netdev is missing).
    ofport: int | None = None


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
        no database changed, so return it only when something
        :meth:`prepare_create` reads changed since the previous call
        (always ``True`` costs a full recompute on every wake-up).
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

    def restore(self, ports: Sequence[RestoredPort]) -> None:
        """Learn which Interfaces are already plugged for this provider.

        The engine calls it once before it first asks the provider
        anything (after each start of the agent, and for a fresh provider
        instance), and again after :meth:`Reconciler.resync
        <ovn_vif.Reconciler.resync>` (the agent calls that when its
        connection to the local database comes back, since the database
        may have lost or changed rows meanwhile). *ports* is the complete
        list of this provider type's Interfaces on the integration bridge
        (``ovn-plugged`` = :attr:`type`), each with its lport, options and
        row data: a provider that tracks which device, VF or slot is in
        use rebuilds that table from it, replacing what it had.

        It is not a request to plug anything: the engine asks about each
        of these lports through the usual hooks afterwards. The default
        does nothing, which is right for a provider that keeps no state
        (it reads everything from :class:`PortContext`). An exception is
        logged and the engine goes on.
        """

    @abc.abstractmethod
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        """Describe the port to create or update for ``ctx.lport_name``.

        Return a :class:`Decline` (or ``None``, a decline without a
        reason) to decline for now: nothing is written for this lport in
        this iteration and the engine asks again on the next change (or
        after :attr:`Decline.retry_after`). Decline, never raise, when the
        options are missing or malformed. :attr:`PortContext.current_port`
        tells a create (``None``) from an update of a plugged port.
        Anything :meth:`release` must undo may be reserved here.
        """

    def prepare_remove(self, ctx: PortContext) -> bool | Decline:
        """Allow (``True``) or veto (``False``, or a :class:`Decline` saying
        why) unplugging ``ctx.iface_name``.

        Must work on a fresh instance that never saw the create (after an
        agent restart only the database and :class:`PortContext` are
        known, plus what :meth:`restore` told).
        """
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

    def outstanding(self) -> Sequence[str] | None:
        """Describe what the provider holds for ports: reservations made in
        :meth:`prepare_create` and not yet given back by :meth:`release`,
        or per-lport entries of its tables.

        Optional; the conformance kit uses it to find leaks
        (:func:`ovn_vif.testing.check_provider` checks that it is empty
        whenever no port is plugged, and that a failed commit leaves it as
        it was before: entries for plugged ports may stay listed while they
        are plugged). Return one short text per item (``"VF 3 reserved for
        lsp1"``, ``"slot 2 plugged for lsp2"``), or ``None`` (the default)
        when the provider does not track anything.
        """
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} type={getattr(self, 'type', None)!r}>"
