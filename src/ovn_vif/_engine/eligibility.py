"""Which lports this chassis may plug, and the options the engine itself reads.

The LSP options every provider shares (``vif-plug-type``,
``vif-plug-mtu-request``, ``requested-chassis``), OVN's ``can_bind`` rule and
the MTU request parser. Pure functions over snapshot values.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from ovn_vif._engine.views import (
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
# Digits of the largest magnitude a C int holds (2147483648).
_INT_DIGITS = 10

#: The smallest MTU a Linux Ethernet-like netdev accepts (``ETH_MIN_MTU``).
MIN_NETDEV_MTU = 68
#: The largest MTU Linux netdevs accept (``IP_MAX_MTU``; ovs-vswitchd's own
#: userspace netdevs refuse more too).
MAX_NETDEV_MTU = 65535

# Longest raw value quoted in full in a problem sentence.
_QUOTE_LIMIT = 64


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
    # Like a walk over strtok() tokens (empty ones skipped), without
    # splitting: a CMS-written value may hold millions of commas.
    first = option.lstrip(",").split(",", 1)[0]
    names = [n for n in (chassis.name, chassis.hostname) if n and "," not in n]
    if first in names:
        return CanBind.MAIN
    padded = f",{option},"
    if any(f",{name}," in padded for name in names):
        return CanBind.ADDITIONAL
    return CanBind.CANNOT


def quote_option(raw: str) -> str:
    """``repr()`` of a CMS-written value, cut to a readable length."""
    if len(raw) <= _QUOTE_LIMIT:
        return repr(raw)
    return f"{raw[:_QUOTE_LIMIT]!r}... ({len(raw)} characters)"


def parse_mtu_request(options: Mapping[str, str]) -> tuple[int, str | None]:
    """Return (MTU, problem) from ``vif-plug-mtu-request``.

    Parsed like OVS ``str_to_int`` (base 10, optional leading whitespace
    and sign, leading zeros, nothing after the digits, within a C ``int``),
    as ovn-controller 23.03 does. A value that does not parse gives
    ``(0, "why")``; 0 means "no request", as does any value ≤ 0. Values of
    any length are handled without converting more than ten digits.

    >>> parse_mtu_request({"vif-plug-mtu-request": "9000"})
    (9000, None)
    >>> parse_mtu_request({"vif-plug-mtu-request": "9k"})
    (0, "'9k' is not an integer")
    >>> parse_mtu_request({"vif-plug-mtu-request": "9" * 10_000})[1][-38:]
    '... (10000 characters) is out of range'

    Whether a parsed value suits a netdev is another question
    (:data:`MIN_NETDEV_MTU`, :data:`MAX_NETDEV_MTU`), which the policies
    answer differently.
    """
    raw = options.get(MTU_REQUEST_OPTION)
    if raw is None:
        return 0, None
    text = raw.lstrip(" \t\n\v\f\r")
    sign = text[:1] if text[:1] in ("+", "-") else ""
    digits = text[len(sign) :]
    if not digits or not digits.isascii() or not digits.isdigit():
        return 0, f"{quote_option(raw)} is not an integer"
    significant = digits.lstrip("0")
    if len(significant) > _INT_DIGITS:
        return 0, f"{quote_option(raw)} is out of range"
    value = int(significant or "0")
    if sign == "-":
        value = -value
    if not _INT_MIN <= value <= _INT_MAX:
        return 0, f"{quote_option(raw)} is out of range"
    return max(value, 0), None
