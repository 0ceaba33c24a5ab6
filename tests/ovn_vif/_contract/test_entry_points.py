"""Entry-point discovery with plugins installed in a temporary environment.

The plugins are real distributions (a ``.dist-info`` directory with an
``entry_points.txt`` and their modules) in a temporary ``site`` directory
put on the path, which is what an installed distribution is to
``importlib.metadata``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ovn_vif import Registry, installed_providers


def test_good_plugins_load_and_broken_ones_are_reported(plugin_site: Path) -> None:
    reg = Registry()
    report = reg.load_entry_points()
    assert "good" in report.registered
    assert "dummy" in report.registered
    assert reg.get("good") is not None
    failures = {f.name: f for f in report.failed}
    # This project's own representor provider needs kernel devlink; on a
    # machine without it, it is reported like any other unusable plugin
    # (tests/representor pins its reason).
    representor = failures.pop("representor", None)
    assert representor is None or "devlink" in representor.reason
    assert set(failures) == {"broken", "initfail", "notaprovider"}
    assert "failed to import broken_vendor_plugin:Provider" in failures["broken"].reason
    assert "libvendor.so.3" in failures["broken"].reason
    assert isinstance(failures["broken"].error, ImportError)
    assert "failed to register initfail_vendor_plugin:Provider" in failures["initfail"].reason
    assert "no vendor NIC found" in failures["initfail"].reason
    assert "VifPlugProvider instance" in failures["notaprovider"].reason
    assert reg.get("initfail") is None
    reg.destroy_all()


def test_only_loads_the_named_entry_points(plugin_site: Path) -> None:
    reg = Registry()
    report = reg.load_entry_points(only=["good"])
    assert report.registered == ("good",)
    assert report.failed == ()
    assert "broken" in report.skipped
    assert reg.types() == ("good",)


def test_failures_are_logged_with_name_and_reason(
    plugin_site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Registry().load_entry_points(only=["broken"])
    (record,) = [r for r in caplog.records if r.name == "ovn_vif._contract.registry"]
    assert "'broken'" in record.getMessage()
    assert "libvendor.so.3" in record.getMessage()


def test_installed_providers_lists_without_loading(plugin_site: Path) -> None:
    found = {p.name: p for p in installed_providers()}
    assert found["broken"].distribution == "vendor-plugins"
    assert found["broken"].version == "1.2.3"
    assert found["broken"].module == "broken_vendor_plugin"
    assert found["dummy"].module == "ovn_vif_dummy"
    assert "broken_vendor_plugin" not in sys.modules


def test_discovery_never_happens_at_import(plugin_site: Path) -> None:
    code = (
        "import ovn_vif, ovn_vif_dummy, sys\n"
        "print(sorted(m for m in sys.modules if 'vendor_plugin' in m))\n"
        "print(ovn_vif.default_registry.types())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(plugin_site)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["[]", "()"]


def test_providers_command_reports_each_plugin(plugin_site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(plugin_site)}
    proc = subprocess.run(
        [sys.executable, "-m", "ovn_vif.cli", "providers", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {row["type"]: row for row in json.loads(proc.stdout)}
    assert rows["good"]["usable"] is True
    assert rows["good"]["version"] == "1.2.3"
    assert rows["broken"]["usable"] is False
    assert "libvendor.so.3" in rows["broken"]["reason"]
    assert rows["initfail"]["usable"] is False
    assert rows["dummy"]["usable"] is True
