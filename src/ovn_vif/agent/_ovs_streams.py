"""Imported first by :mod:`ovn_vif.agent`: the ``ovs`` modules, without ``ssl``
and ``sortedcontainers``.

``ovs.stream``, ``ovs.poller`` and ``ovs.socket_util`` import the ``ssl``
module (about 6 MB resident) at import time although only ``ssl:``
remotes use it, and ``ovs.db.custom_index`` imports ``sortedcontainers``
although the agent's IDLs make no index;
:func:`ovn_vif._ovs_private.import_ovs_streams` and
:func:`~ovn_vif._ovs_private.import_ovs_idl` import them with stand-ins that
load those modules on first use. This module exists so that the calls run
before any other module of the agent imports ``ovs``, while the package's
imports stay at the top of the file.
"""

from __future__ import annotations

from ovn_vif._ovs_private import import_ovs_idl, import_ovs_streams

import_ovs_streams()
import_ovs_idl()
