"""Which lports this chassis may plug, and the options the engine itself reads.

The LSP options every provider shares (``vif-plug-type``,
``vif-plug-mtu-request``, ``requested-chassis``), OVN's ``can_bind`` rule and
the MTU request parser. Pure functions over snapshot values.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from ovn_vif._engine.snapshot import (
    BindingView,
    ChassisView,
)

#: LSP/Port_Binding option naming the plug type.
PLUG_TYPE_OPTION = "vif-plug-type"
#: LSP/Port_Binding option asking for an MTU.
MTU_REQUEST_OPTION = "vif-plug-mtu-request"
#: LSP/Port_Binding option listing the chassis (comma separated).
REQUESTED_CHASSIS_OPTION = "requested-chassis"

_INT_MIN = -(2**31)
_INT_MAX = 2**31 - 1


class CanBind(enum.IntEnum):
    """Result of :func:`can_bind` (OVN ``enum can_bind``)."""

    CANNOT = 0
    MAIN = 1
    ADDITIONAL = 2


def can_bind(chassis: ChassisView, binding: BindingView) -> CanBind:
    """Whether *binding* may be bound on *chassis* (OVN ``lport.c``).

    MAIN if ``requested_chassis`` is this chassis, ADDITIONAL if
    ``requested_additional_chassis`` lists it; otherwise the
    ``requested-chassis`` option decides: absent or empty means MAIN, else
    the first comma-separated token matching the chassis name or hostname
    gives MAIN, a later one ADDITIONAL, none CANNOT.
    """
    if binding.requested_chassis == chassis.uuid:
        return CanBind.MAIN
    if chassis.uuid in binding.requested_additional_chassis:
        return CanBind.ADDITIONAL
    option = binding.options.get(REQUESTED_CHASSIS_OPTION)
    if not option:
        return CanBind.MAIN
    verdict = CanBind.MAIN
    for token in option.split(","):
        if not token:  # strtok() skips empty tokens
            continue
        if token in (chassis.name, chassis.hostname):
            return verdict
        verdict = CanBind.ADDITIONAL
    return CanBind.CANNOT


def parse_mtu_request(options: Mapping[str, str]) -> tuple[int, str | None]:
    """Return (MTU, problem) from ``vif-plug-mtu-request``.

    Parsed like OVS ``str_to_int`` (base 10, optional leading whitespace
    and sign, nothing after the digits, within ``int``). A value that does
    not parse gives ``(0, "why")``; 0 means "no request", as does any value
    ≤ 0.

    >>> parse_mtu_request({"vif-plug-mtu-request": "9000"})
    (9000, None)
    >>> parse_mtu_request({"vif-plug-mtu-request": "9k"})
    (0, "'9k' is not an integer")
    """
    raw = options.get(MTU_REQUEST_OPTION)
    if raw is None:
        return 0, None
    text = raw.lstrip(" \t\n\v\f\r")
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return 0, f"{raw!r} is not an integer"
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        return 0, f"{raw!r} is out of range"
    return max(value, 0), None
