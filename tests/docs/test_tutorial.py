"""docs/tutorial.rst, run as written: every file it creates and every command it shows.

The page is read top to bottom. A ``literalinclude`` of
``examples/tutorial/<path>`` creates ``<path>`` in the current directory
(the reader copies the file shown); each ``$ `` line of a ``console`` block
runs in bash (``cd`` changes the directory for the next ones), must exit 0,
and the output lines shown under it must appear in its output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "tutorial.rst"


def steps(text: str) -> list[tuple[str, str, list[str]]]:
    """``("file", path, [])`` and ``("run", command, expected_lines)``, in page order."""
    result: list[tuple[str, str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".. literalinclude:: examples/tutorial/"):
            result.append(("file", line.split("examples/tutorial/", 1)[1].strip(), []))
        elif line.strip() == ".. code-block:: console":
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
                body = lines[i][3:]
                if body.startswith("$ "):
                    result.append(("run", body[2:], []))
                elif body.strip() and result and result[-1][0] == "run":
                    result[-1][2].append(body.strip())
                i += 1
            continue
        i += 1
    return result


def test_the_page_has_files_and_commands() -> None:
    kinds = [kind for kind, _, _ in steps(PAGE.read_text())]
    assert kinds.count("file") == 2
    assert kinds.count("run") == 5


@pytest.mark.daemons
def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    bindir = Path(sys.executable).parent
    assert (bindir / "ovn-vif").exists(), "ovn-vif must be installed in this environment"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")},
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    cwd = tmp_path
    for kind, what, expected in steps(PAGE.read_text()):
        if kind == "file":
            target = cwd / what
            assert target.parent.is_dir(), f"{what}: the tutorial has not created its directory"
            shutil.copyfile(DOCS / "examples" / "tutorial" / what, target)
            continue
        if what.startswith("cd "):
            cwd = cwd / what[3:].strip()
            assert cwd.is_dir(), what
            continue
        proc = subprocess.run(
            ["bash", "-c", what],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"$ {what}\n{output}"
        for line in expected:
            assert line in output, f"$ {what}\nmissing: {line!r}\n{output}"
