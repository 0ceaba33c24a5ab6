from __future__ import annotations

import subprocess
import sys


def test_demo_on_the_fake_idl_runs_the_story() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ovn_vif.cli", "demo", "--fake"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "Running on the fake IDL" in proc.stdout
    assert "[5/5]" in proc.stdout
