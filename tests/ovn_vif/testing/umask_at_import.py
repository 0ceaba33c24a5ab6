"""A provider module that changes the process's umask when imported.

A vendor's way to make "its" files private -- and every file and socket the
agent creates afterwards world-writable. ``test_broken_providers`` imports it
(putting the umask back) to check that the kit reports the import.
"""

from __future__ import annotations

import os

from ovn_vif import PlugSpec, PortContext, VifPlugProvider

os.umask(0)


class UmaskAtImport(VifPlugProvider):
    type = "kit"

    def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
        port = ctx.lport_options.get("vif-plug:kit:port")
        return PlugSpec(name=f"kit{port}{ctx.lport_name[-1]}") if port else None
