"""Entry points and versions read without importlib.metadata (ovn_vif._contract.entrypoints)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ovn_vif._contract import entrypoints
from ovn_vif._contract.entrypoints import distribution_version, entry_points

GROUPS = ("ovn_vif.providers", "ovn_vif.commands", "pytest11", "console_scripts")


def _pairs(eps: list[object]) -> list[tuple[str, str, str]]:
    return [(e.name, e.value, e.group) for e in eps]  # type: ignore[attr-defined]


def as_importlib(group: str) -> list[tuple[str, str, str]]:
    return _pairs(list(importlib.metadata.entry_points(group=group)))


@pytest.mark.usefixtures("plugin_site")
def test_same_entry_points_and_versions_as_importlib_metadata(tmp_path: Path) -> None:
    # A second copy of the plugin distribution, later on the path, is shadowed.
    later = tmp_path / "later"
    (later / "Vendor_Plugins-9.9.dist-info").mkdir(parents=True)
    (later / "Vendor_Plugins-9.9.dist-info" / "entry_points.txt").write_text(
        "[ovn_vif.providers]\nshadowed = nowhere:Nothing\n"
    )
    sys.path.append(str(later))
    try:
        assert entrypoints._distributions() is not None  # the lean path is taken
        for group in GROUPS:
            assert _pairs(entry_points(group)) == as_importlib(group), group
        for name in ("ovn-vif", "vendor-plugins", "VENDOR_PLUGINS", "ovs", "pytest"):
            assert distribution_version(name) == importlib.metadata.version(name), name
        with pytest.raises(importlib.metadata.PackageNotFoundError):
            distribution_version("no-such-distribution")
        good = next(e for e in entry_points("ovn_vif.providers") if e.name == "good")
        assert good.module == "good_vendor_plugin"
        assert good.load().__name__ == "GoodProvider"
    finally:
        sys.path.remove(str(later))


def test_a_zip_on_the_path_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
        z.writestr("zipped-1.0.dist-info/entry_points.txt", "[ovn_vif.providers]\nzipped = zm:Z\n")
    monkeypatch.syspath_prepend(str(archive))
    assert entrypoints._distributions() is None
    assert ("zipped", "zm:Z", "ovn_vif.providers") in _pairs(entry_points("ovn_vif.providers"))
    assert distribution_version("zipped") == "1.0"


def test_the_agent_path_does_not_import_importlib_metadata() -> None:
    script = (
        "import logging, sys\n"
        "from ovn_vif import __version__\n"
        "from ovn_vif._contract.registry import Registry\n"
        "from ovn_vif.agent._providers import load_providers\n"
        "from ovn_vif.cli._commands import _parser\n"
        "_parser(plugins=True)\n"
        "load_providers(Registry(), ('dummy',), logging.getLogger())\n"
        "print(__version__, 'importlib.metadata' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{importlib.metadata.version('ovn-vif')} False\n"
