"""What the engine decided: typed, immutable reports.

:meth:`ovn_vif.Reconciler.reconcile` returns a :class:`ReconcileReport`, a
tuple of :class:`Decision` values (one or more per logical port it acted on
or refused), and :meth:`ovn_vif.Reconciler.complete` returns a
:class:`CompletionReport`. Agents log them; tests assert on them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

import attrs


class Policy(enum.Enum):
    """Which decision rules the engine applies.

    See ``docs/engine.rst`` for the table of differences.
    """

    #: The default: OVN's rules with its known defects fixed (unplug when
    #: the request is withdrawn, replace a port whose name changed, never a
    #: second create for a port that exists or is in flight, rate-limited
    #: warnings).
    RECOMMENDED = "recommended"
    #: The same decisions and resulting rows as ovn-controller 23.03.
    OVN_COMPATIBLE = "ovn-compatible"


class Outcome(enum.Enum):
    """What happened to one logical port in one reconcile run."""

    #: A Port and Interface were created (staged in the transaction).
    PLUGGED = "plugged"
    #: An existing OVN-plugged Interface was changed (staged).
    UPDATED = "updated"
    #: An OVN-plugged Port and its Interface were removed (staged).
    UNPLUGGED = "unplugged"
    #: The old port was removed and a new one created in the same
    #: transaction because the provider now names a different port
    #: (:attr:`Policy.RECOMMENDED` only).
    REPLACED = "replaced"
    #: The provider's ``prepare_create`` declined (returned ``None`` or a
    #: :class:`~ovn_vif.Decline`, or raised :class:`~ovn_vif.DeclineError`):
    #: nothing written. :attr:`Decision.detail` gives the provider's reason.
    DECLINED = "declined"
    #: The provider's ``prepare_remove`` vetoed (returned ``False`` or a
    #: :class:`~ovn_vif.Decline`): nothing removed.
    VETOED = "vetoed"
    #: An unplug was due but the caller passed ``can_unplug=False``.
    DEFERRED = "deferred"
    #: The engine refused to act; :attr:`Decision.reason` says why.
    REFUSED = "refused"


class Reason(enum.Enum):
    """Why the engine refused to act on a logical port, or why the
    provider declined (:attr:`PROVIDER_DECLINED`, :attr:`PROVIDER_VETOED`)."""

    #: No provider is registered for the lport's ``vif-plug-type`` (or for
    #: the ``ovn-plugged`` type of an interface to unplug).
    UNKNOWN_PLUG_TYPE = "unknown-plug-type"
    #: An Interface bound to the lport lacks ``external_ids:ovn-plugged``;
    #: the engine never touches it.
    NOT_PLUGGED_BY_OVN = "not-plugged-by-ovn"
    #: A Port or Interface of the name the provider chose exists and was
    #: not plugged by ovn-vif for this lport.
    NAME_COLLISION = "name-collision"
    #: The provider returned something that cannot be written (bad name,
    #: wrong type).
    INVALID_SPEC = "invalid-spec"
    #: The provider named a port other than the one plugged, and the policy
    #: (:attr:`Policy.OVN_COMPATIBLE`) does not replace ports.
    INCOMPATIBLE_CHANGE = "incompatible-change"
    #: The provider raised; see the log for the traceback.
    PROVIDER_ERROR = "provider-error"
    #: :attr:`Outcome.DECLINED`: the provider declined the create/update.
    #: :attr:`Decision.detail` holds its reason when it gave one.
    PROVIDER_DECLINED = "provider-declined"
    #: :attr:`Outcome.VETOED`: the provider vetoed the unplug.
    #: :attr:`Decision.detail` holds its reason when it gave one.
    PROVIDER_VETOED = "provider-vetoed"
    #: Deciding for this lport failed unexpectedly (an option or row the
    #: engine could not handle, a provider answer it could not use, or an
    #: engine bug confined to this lport): it was skipped in this run,
    #: nothing of it was staged, and it is decided again on the next run.
    #: The log line names the lport, the provider and the cause.
    DECISION_ERROR = "decision-error"
    #: A row the lport's writes refer to left the IDL's cache between the
    #: snapshot and the staging: nothing of it was staged; it is decided
    #: again on the next run.
    STALE_ROW = "stale-row"


#: The reasons that mean "something failed for this lport", as opposed to a
#: refusal on purpose (:attr:`ReconcileReport.faults`).
FAULT_REASONS = frozenset({Reason.PROVIDER_ERROR, Reason.DECISION_ERROR, Reason.STALE_ROW})


@attrs.frozen(slots=True, kw_only=True)
class Decision:
    """The engine's decision about one logical port."""

    #: Logical port name (the interface's ``iface-id`` for an unplug whose
    #: Port_Binding is gone).
    lport: str
    #: What happened.
    outcome: Outcome
    #: The plug type involved (``vif-plug-type`` or ``ovn-plugged``), if known.
    plug_type: str | None = None
    #: Name of the Port/Interface written, removed or refused, if known.
    port: str | None = None
    #: For :attr:`Outcome.REPLACED`: the name of the port removed.
    old_port: str | None = None
    #: Why: for :attr:`Outcome.REFUSED`, :attr:`Outcome.DECLINED` and
    #: :attr:`Outcome.VETOED`; ``None`` otherwise.
    reason: Reason | None = None
    #: One human-readable sentence (for a decline or veto, the provider's
    #: :attr:`Decline.reason <ovn_vif.Decline.reason>` when it gave one).
    detail: str = ""
    #: For a decline or veto: the provider's
    #: :attr:`Decline.retry_after <ovn_vif.Decline.retry_after>` hint (seconds).
    retry_after: float | None = None
    #: For a decline or veto: the reason the provider gave, if any.
    provider_reason: str | None = None


@attrs.frozen(slots=True, kw_only=True)
class ReconcileReport:
    """Everything one :meth:`~ovn_vif.Reconciler.reconcile` run decided.

    Lports that needed nothing (already in sync, or in flight from an
    earlier transaction) do not appear.

    >>> report = ReconcileReport(decisions=())
    >>> report.changed, len(report)
    (False, 0)
    """

    decisions: tuple[Decision, ...] = ()
    #: Whether any write was staged in the caller's transaction.
    changed: bool = False
    #: Set when the engine did nothing at all, saying why (no chassis row,
    #: no integration bridge, no provider registered).
    skipped: str | None = None

    def __iter__(self) -> Iterator[Decision]:
        return iter(self.decisions)

    def __len__(self) -> int:
        return len(self.decisions)

    @property
    def retry_after(self) -> float | None:
        """The smallest :attr:`Decision.retry_after` of this run: seconds
        after which a provider wants to be asked again even if nothing
        changes (``None``: no such wish)."""
        hints = [d.retry_after for d in self.decisions if d.retry_after is not None]
        return min(hints) if hints else None

    def for_lport(self, lport: str) -> tuple[Decision, ...]:
        """The decisions about *lport*, in the order they were taken."""
        return tuple(d for d in self.decisions if d.lport == lport)

    def with_outcome(self, outcome: Outcome) -> tuple[Decision, ...]:
        """The decisions with *outcome*."""
        return tuple(d for d in self.decisions if d.outcome is outcome)

    @property
    def faults(self) -> tuple[Decision, ...]:
        """The lports skipped in this run because something failed for them
        (a provider raised, their decision failed, their rows went stale);
        every other lport was decided as usual.

        >>> ReconcileReport().faults
        ()
        """
        return tuple(d for d in self.decisions if d.reason in FAULT_REASONS)

    def outcomes(self) -> dict[str, tuple[Outcome, ...]]:
        """``{lport: (outcome, ...)}``, handy in tests and logs."""
        result: dict[str, tuple[Outcome, ...]] = {}
        for d in self.decisions:
            result[d.lport] = (*result.get(d.lport, ()), d.outcome)
        return result


@attrs.frozen(slots=True, kw_only=True)
class CompletionReport:
    """What :meth:`~ovn_vif.Reconciler.complete` did with a commit status."""

    #: The ``ovs.db.idl.Transaction`` status it was given.
    status: str
    #: Lports whose provider got ``finish`` (the change is in the database).
    finished: tuple[str, ...] = ()
    #: Lports whose provider got ``release`` without ``finish`` (the
    #: change was not written).
    released: tuple[str, ...] = ()
    #: Whether the transaction is still in progress (its lports stay in
    #: flight until ``complete`` is called again with its final status).
    pending: bool = False
