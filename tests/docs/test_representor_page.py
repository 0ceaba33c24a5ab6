"""The representor docs page shows what the code really prints and logs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ovn_vif_representor import OPTION_PF_MAC, OPTION_SF_NUM, OPTION_VF_NUM

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "providers" / "representor.rst"


def test_example_prints_and_logs_what_the_page_shows() -> None:
    proc = subprocess.run(
        [sys.executable, str(DOCS / "examples" / "representor_fake_kernel.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    page = PAGE.read_text()
    assert proc.stdout.strip()
    for line in proc.stdout.splitlines():
        assert f"    {line}\n" in page, line
    warnings = proc.stderr.splitlines()
    assert len(warnings) == 2
    for line in warnings:
        assert f"    {line}\n" in page, line


def test_page_names_the_exact_option_keys() -> None:
    page = PAGE.read_text()
    for key in (
        OPTION_PF_MAC,
        OPTION_VF_NUM,
        OPTION_SF_NUM,
        "vif-plug-type",
        "requested-chassis",
        "vif-plug-mtu-request",
    ):
        assert f"``{key}``" in page, key
