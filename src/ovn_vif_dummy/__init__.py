"""The dummy VIF plug provider, behaving like OVN's ``--enable-dummy-vif-plug``.

It plugs an OVS ``internal`` port named after the lport (cut to 15 bytes)
and owns one Interface option, ``vif-plug-dummy-option``. It needs no
hardware, which makes it the provider of choice for demos and for testing
the engine and agents.
"""

from __future__ import annotations

from ovn_vif_dummy._provider import DUMMY_OPTION, DummyProvider

__all__ = ["DUMMY_OPTION", "DummyProvider"]
