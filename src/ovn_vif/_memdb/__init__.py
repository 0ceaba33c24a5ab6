"""An in-memory OVSDB server and the real ``ovs.db.idl`` connected to it.

The server (``server``), the JSON-RPC session that connects a real IDL to
it (``idl``), the schema subsets it serves (``schemas``) and the helpers
that build a chassis on it (``topology``). Used by :mod:`ovn_vif.testing`
(its public face) and by ``ovn-vif demo`` where no OVS/OVN is installed.
Private.
"""
