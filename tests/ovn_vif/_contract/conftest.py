"""Fixtures of the contract's tests: plugin distributions installed in a temporary site."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovn_vif import ENTRY_POINT_GROUP

PLUGINS = {
    "good_vendor_plugin.py": """
        from ovn_vif import PlugSpec, VifPlugProvider

        class GoodProvider(VifPlugProvider):
            type = "good"

            def prepare_create(self, ctx):
                return PlugSpec(name="good0")
    """,
    "broken_vendor_plugin.py": """
        raise ImportError("libvendor.so.3: cannot open shared object file")
    """,
    "initfail_vendor_plugin.py": """
        from ovn_vif import ProviderUnavailableError, VifPlugProvider

        class Provider(VifPlugProvider):
            type = "initfail"

            def init(self):
                raise ProviderUnavailableError("no vendor NIC found on this host")

            def prepare_create(self, ctx):
                return None
    """,
}

ENTRY_POINTS = f"""
[{ENTRY_POINT_GROUP}]
good = good_vendor_plugin:GoodProvider
broken = broken_vendor_plugin:Provider
initfail = initfail_vendor_plugin:Provider
notaprovider = collections:OrderedDict
"""


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    site.mkdir()
    for name, source in PLUGINS.items():
        (site / name).write_text(textwrap.dedent(source))
    dist_info = site / "vendor_plugins-1.2.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vendor-plugins\nVersion: 1.2.3\n"
    )
    (dist_info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module in ("good_vendor_plugin", "broken_vendor_plugin", "initfail_vendor_plugin"):
        sys.modules.pop(module, None)
