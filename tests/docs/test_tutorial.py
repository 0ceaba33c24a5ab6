"""docs/tutorial.rst, run as written, from an empty directory: every file it
creates and every command it shows.

The page is read top to bottom. A ``literalinclude`` of
``examples/tutorial/<path>`` creates ``<path>`` in the current directory
(the reader copies the file shown); each ``$ `` line of a ``console`` block
runs in bash and must exit 0, and the output lines shown under it must
appear in its output. What a reader's shell keeps between commands is kept
too: ``cd`` changes the directory for the next ones, ``. venv/bin/activate``
puts the environment first on ``PATH``.

Nothing of the checkout is visible to the commands: they start with only a
``python3`` on ``PATH`` (this interpreter), the page's ``python3 -m venv``
makes a fresh environment, and its ``pip install ovn-vif`` installs the
wheel built from this checkout (``pip wheel --no-deps``) in place of
ovn-vif from PyPI; its dependencies, pytest and setuptools come from the
package index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
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
    found = steps(PAGE.read_text())
    assert [what for kind, what, _ in found if kind == "file"] == [
        "pyproject.toml",
        "src/acme_ovn/__init__.py",
        "tests/test_acme.py",
    ]
    commands = [what for kind, what, _ in found if kind == "run"]
    # What a new user needs before each step, in the order they need it.
    assert commands[:3] == [
        "python3 -m venv venv",
        ". venv/bin/activate",
        "pip install -q ovn-vif pytest",
    ]
    assert commands.index("pip install -q -e .") < commands.index("ovn-vif providers")
    assert len(commands) == 12


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ovn-vif's wheel, built from this checkout."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("ovn_vif-*.whl")
    return built


@pytest.mark.daemons
def test_tutorial_runs_as_written(tmp_path: Path, wheel: Path) -> None:
    home = tmp_path / "reader"
    home.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)
    ours = {str(Path(sys.executable).parent)}
    system_path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p not in ours]
    path = [str(bindir), *system_path]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    cwd = home
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
        if what.startswith(". ") and what.endswith("/bin/activate"):
            venv = cwd / what[2:].removesuffix("/bin/activate")
            assert (venv / "bin" / "activate").is_file(), what
            path.insert(0, str(venv / "bin"))
            env["VIRTUAL_ENV"] = str(venv)
            continue
        command = what
        if what.startswith("pip install") and " ovn-vif " in f"{what} ":
            command = f"{what} ".replace(" ovn-vif ", f" {wheel} ", 1).strip()
        proc = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env={**env, "PATH": os.pathsep.join(path)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"$ {what}\n{output}"
        for line in expected:
            assert line in output, f"$ {what}\nmissing: {line!r}\n{output}"
        if what.startswith("python3 -m venv"):
            # The reader's environment: nothing of this checkout in it.
            probe = subprocess.run(
                [str(cwd / "venv" / "bin" / "python"), "-c", "import ovn_vif"],
                capture_output=True,
                check=False,
                env=env,
            )
            assert probe.returncode != 0, "the fresh environment sees ovn_vif already"
