"""Rules for Linux network device names, which OVS port names become.

The kernel limits a name to ``IFNAMSIZ - 1 = 15`` bytes and refuses ``/``,
``:`` (alias syntax), whitespace and control characters; ``.`` and ``..``
are reserved. ovn-vif checks every name a provider returns against these
rules before writing it.
"""

from __future__ import annotations

import re

#: The kernel's ``IFNAMSIZ`` (the terminating NUL included).
IFNAMSIZ = 16
#: The longest valid name, in bytes of UTF-8.
MAX_NETDEV_NAME_BYTES = IFNAMSIZ - 1
#: Names of letters, digits, ``_``, ``-`` and ``.`` that fit: valid unless
#: ``.`` or ``..`` (the names almost every provider gives, checked at once).
_PLAIN = re.compile(rf"[A-Za-z0-9_.\-]{{1,{MAX_NETDEV_NAME_BYTES}}}")


def netdev_name_problem(name: object) -> str | None:
    """Say why *name* cannot be a netdev name, or return ``None`` if it can.

    >>> netdev_name_problem("pf0vf3") is None
    True
    >>> netdev_name_problem("a-very-long-logical-port")
    'is 24 bytes long, the limit is 15'
    """
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not a str"
    if _PLAIN.fullmatch(name) is not None and name not in (".", ".."):
        return None
    if not name:
        return "is empty"
    size = len(name.encode("utf-8"))
    if size > MAX_NETDEV_NAME_BYTES:
        return f"is {size} bytes long, the limit is {MAX_NETDEV_NAME_BYTES}"
    if name in (".", ".."):
        return "is reserved"
    for char in name:
        if char == "/":
            return "contains '/'"
        if char == ":":
            return "contains ':'"
        if char.isspace():
            return "contains whitespace"
        if ord(char) < 0x20 or ord(char) == 0x7F or not char.isprintable():
            return f"contains the control character {char!r}"
    return None


def truncate_netdev_name(name: str) -> str:
    """Cut *name* to at most 15 bytes of UTF-8, on a character boundary.

    This is how OVN's dummy provider derives a port name from an lport name
    (it cuts at ``IFNAMSIZ - 1``).

    >>> truncate_netdev_name("a-very-long-logical-port-name")
    'a-very-long-log'
    >>> truncate_netdev_name("ünïcödé-pört-nämé")
    'ünïcödé-pö'
    """
    encoded = name.encode("utf-8")
    if len(encoded) <= MAX_NETDEV_NAME_BYTES:
        return name
    return encoded[:MAX_NETDEV_NAME_BYTES].decode("utf-8", errors="ignore")
