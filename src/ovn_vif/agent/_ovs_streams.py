"""Imported first by :mod:`ovn_vif.agent`: the ``ovs`` stream modules, without ``ssl``.

``ovs.stream``, ``ovs.poller`` and ``ovs.socket_util`` import the ``ssl``
module (about 6 MB resident) at import time although only ``ssl:``
remotes use it; :func:`ovn_vif._ovs_private.import_ovs_streams` imports
them with a stand-in that loads ``ssl`` on first use. This module exists
so that the call runs before any other module of the agent imports
``ovs``, while the package's imports stay at the top of the file.
"""

from __future__ import annotations

from ovn_vif._ovs_private import import_ovs_streams

import_ovs_streams()
