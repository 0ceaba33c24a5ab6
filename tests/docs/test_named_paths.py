"""Every file of the repository that the docs, README, nox or a script names exists.

Moving a file without following every page that names it leaves readers
(and ``nox`` sessions) pointing at nothing; this test names each such path.
"""

from __future__ import annotations

import re

from tests.support import REPO

#: Where a reader (or a tool) follows a path.
READERS = [
    *sorted((REPO / "docs").rglob("*.rst")),
    REPO / "README.md",
    *sorted(REPO.glob("CONTRIBUTING*")),
    REPO / "noxfile.py",
    REPO / "pyproject.toml",
    *sorted(p for p in (REPO / "scripts").iterdir() if p.is_file()),
    REPO / ".ci" / "run",
]

#: A path in the repository: one of its top folders, then path characters.
PATH = re.compile(
    r"(?<![\w/.-])((?:tests|src|benchmarks|contrib|scripts|docs)/[\w./-]*[\w/])(?:::[\w\[\]-]+)?"
)


#: Paths named on purpose that are not in this repository, and where they are.
ELSEWHERE = {
    "src/acme_ovn/__init__.py": "the tutorial's vendor project",
    "tests/test_acme.py": "the tutorial's vendor project",
    "docs/_build/html": "what the docs build writes",
    "src/drivers/net/netdevsim": "the kernel's source tree",
    "src/drivers/net/netdevsim/dev.c": "the kernel's source tree",
}


def named_paths(text: str) -> set[str]:
    return {match.group(1).rstrip("/") for match in PATH.finditer(text)}


def test_every_named_path_exists() -> None:
    missing = {
        str(reader.relative_to(REPO)): sorted(
            path
            for path in named_paths(reader.read_text())
            if not (REPO / path).exists() and path not in ELSEWHERE
        )
        for reader in READERS
        if reader.exists()
    }
    missing = {reader: paths for reader, paths in missing.items() if paths}
    assert missing == {}, f"paths named but not in the repository: {missing}"


def test_a_moved_file_is_seen() -> None:
    text = (
        "see ``tests/unit/test_layers.py`` and tests/ovn_vif/test_layers.py::test_x, src/ovn_vif/"
    )
    assert named_paths(text) == {
        "tests/unit/test_layers.py",
        "tests/ovn_vif/test_layers.py",
        "src/ovn_vif",
    }
    assert not (REPO / "tests/unit/test_layers.py").exists()
