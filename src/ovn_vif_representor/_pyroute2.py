"""The pyroute2 names this provider uses whose home moved between releases.

pyroute2 0.9 moved ``Marshal`` from ``pyroute2.netlink.nlsocket`` to
``pyroute2.netlink.marshal`` (0.8.x, pinned by OpenStack 2025.1 and later,
only has the former). Its interface -- ``msg_map``, ``parse(data)``,
``fix_message`` -- is the same in both, and it is all this provider needs:
the socket is its own (see ``_nlsock``). Every other pyroute2 name it
imports (``pyroute2.netlink`` constants and message classes,
``pyroute2.netlink.devlink``, ``pyroute2.netlink.rtnl``) lives in the same
place in 0.8.1 and 0.9.x.
"""

from __future__ import annotations

try:  # pyroute2 >= 0.9
    from pyroute2.netlink.marshal import Marshal
except ImportError:  # pyroute2 0.8.x
    from pyroute2.netlink.nlsocket import Marshal

__all__ = ["Marshal"]
