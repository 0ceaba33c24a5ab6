"""What the agent asks the Southbound database for: its monitor conditions.

The agent monitors only this chassis's ``Chassis`` row and the
``Port_Binding`` rows that concern it (conditional monitoring), so that
its memory and traffic do not grow with other chassis' ports: those whose
``requested_chassis`` is this chassis, and those of the ports plugged here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ovn_vif._engine.reconciler import Reconciler
    from ovn_vif.agent._settings import ChassisSettings

#: The Southbound tables the agent monitors, each under a condition.
MONITORED = ("Chassis", "Port_Binding")


def chassis_row(sb_idl: Any, chassis: str) -> Any | None:
    """The ``Chassis`` row named *chassis* in *sb_idl*, if it arrived."""
    for row in sb_idl.tables["Chassis"].rows.values():
        if row.name == chassis:
            return row
    return None


class SouthboundConditions:
    """The conditions of one agent, sent again only when they change."""

    def __init__(self, reconciler: Reconciler) -> None:
        self._reconciler = reconciler
        self._pb_condition: list[Any] | None = None

    def forget(self) -> None:
        """Send the ``Port_Binding`` condition at the next :meth:`update`, even if unchanged.

        For a new IDL, a new chassis name, or a connection made to reload
        every row.
        """
        self._pb_condition = None

    def update(self, sb_idl: Any, ovs_idl: Any | None, settings: ChassisSettings) -> None:
        """Monitor this chassis's row, the Port_Bindings requesting it and
        those of the ports plugged here.

        The last clause keeps a plugged port's Port_Binding in view when
        its ``requested-chassis`` is removed: without it the binding would
        look deleted, and even the ``ovn-compatible`` policy (under which
        ovn-controller keeps such a port) would unplug it.
        """
        sb_idl.cond_change("Chassis", [["name", "==", settings.chassis]])
        chassis = chassis_row(sb_idl, settings.chassis)
        clauses: list[Any] = []
        if chassis is not None:
            clauses.append(["requested_chassis", "==", ["uuid", str(chassis.uuid)]])
        plugged = self._plugged_here(sb_idl, ovs_idl, settings)
        clauses.extend(["logical_port", "==", lport] for lport in sorted(plugged))
        condition: list[Any] = clauses or [False]
        if condition != self._pb_condition:
            sb_idl.cond_change("Port_Binding", condition)
            self._pb_condition = condition

    def _plugged_here(
        self, sb_idl: Any, ovs_idl: Any | None, settings: ChassisSettings
    ) -> frozenset[str]:
        """The ``iface-id`` of every ``ovn-plugged`` Interface in the local DB.

        Read from the engine's copy of the databases, which the next
        ``reconcile()`` reuses while neither IDL changes.
        """
        if ovs_idl is None:
            return frozenset()
        ovs_view, _ = self._reconciler.snapshot(
            ovs_idl, sb_idl, chassis=settings.chassis, bridge=settings.bridge
        )
        return ovs_view.plugged_lports
