from __future__ import annotations

import subprocess
import sys


def test_demo_runs_the_installed_providers() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ovn_vif.cli", "demo"], capture_output=True, text=True, check=True
    )
    assert "registered provider 'dummy'" in proc.stdout
    assert "plug port 'a-very-long-log' type=internal" in proc.stdout
