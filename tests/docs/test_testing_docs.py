"""The examples docs/testing.rst shows run and print what the page says."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_fake_idl_tour_prints_what_the_page_shows() -> None:
    proc = subprocess.run(
        [sys.executable, str(DOCS / "examples" / "fake_idl_tour.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    page = (DOCS / "testing.rst").read_text()
    assert proc.stdout.strip()
    for line in proc.stdout.splitlines():
        assert f"    {line}\n" in page, line


def test_vendor_test_module_example_passes() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(DOCS / "examples" / "test_acme_provider.py"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


def test_harness_steps_example_passes() -> None:
    spec = importlib.util.spec_from_file_location(
        "harness_steps", DOCS / "examples" / "test_harness_steps.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = [test for name, test in vars(module).items() if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()


def test_every_kit_rule_is_listed_with_its_bug() -> None:
    source = (ROOT / "src" / "ovn_vif" / "testing" / "_conformance.py").read_text()
    emitted = set(re.findall(r'violate\(\s*"([a-z-]+)"', source))
    emitted.discard("engine")  # the engine's own bug, not the provider's
    page = (ROOT / "docs" / "testing.rst").read_text()
    listed = set(re.findall(r"^``([a-z-]+)``", page, re.MULTILINE))
    listed |= set(re.findall(r"^``[a-z-]+``(?:, ``([a-z-]+)``)", page, re.MULTILINE))
    for line in re.findall(r"^(``[a-z-]+``(?:, ``[a-z-]+``)+)$", page, re.MULTILINE):
        listed |= set(re.findall(r"``([a-z-]+)``", line))
    assert len(emitted) >= 30
    assert emitted <= listed, sorted(emitted - listed)
