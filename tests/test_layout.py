"""The test tree mirrors ``src/`` and test modules share helpers only through ``tests.support``.

``docs/architecture.rst`` ("The tests") describes the layout this test holds.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import REPO

TESTS = REPO / "tests"
SRC = REPO / "src"

#: Folders that are not a package of src/, and why each one is there.
NOT_PACKAGES = {
    "support": "the helpers the tests share",
    "docs": "the examples the docs show",
    "benchmarks": "the benchmarks' own tests",
    "ovn_vif_representor/kernel": "the kernel tier (its qemu guest runs it)",
    "ovn_vif_representor/data": "recordings of a real kernel",
    "ovn_vif/_memdb/contract": "the IDL contract suite, against two backends",
    "ovn_vif/_memdb/fakediff": "the fake database's differential fuzzer",
}


def _folders() -> list[str]:
    return sorted(
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*")
        if path.is_dir() and "__pycache__" not in path.parts
    )


def _packages() -> set[str]:
    return {str(init.parent.relative_to(SRC)) for init in SRC.rglob("__init__.py")}


def _inside(folder: str, allowed: str) -> bool:
    return folder == allowed or folder.startswith(allowed + "/")


def test_every_folder_is_a_package_of_src_or_says_why_it_is_not() -> None:
    packages = _packages()
    strays = [
        folder
        for folder in _folders()
        if folder not in packages and not any(_inside(folder, extra) for extra in NOT_PACKAGES)
    ]
    assert strays == [], f"folders under tests/ that mirror nothing in src/: {strays}"


def test_every_package_of_src_has_its_folder() -> None:
    missing = sorted(_packages() - set(_folders()))
    assert missing == [], f"packages of src/ without a folder under tests/: {missing}"


def _imported_test_modules(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "tests" and any(part.startswith("test_") for part in parts):
                found.append(name)
    return found


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(TESTS)): names
        for path in sorted(TESTS.rglob("*.py"))
        if (names := _imported_test_modules(path))
    }
    assert offenders == {}, f"import shared helpers from tests.support instead: {offenders}"


def test_the_checks_see_a_stray_folder_and_a_test_module_import(tmp_path: Path) -> None:
    # The checks above can fail: a module importing a test module is seen.
    module = tmp_path / "test_x.py"
    module.write_text("from tests.ovn_vif.agent.test_agent_e2e import wait_for\n")
    assert _imported_test_modules(module) == [
        "tests.ovn_vif.agent.test_agent_e2e",
        "tests.ovn_vif.agent.test_agent_e2e.wait_for",
    ]
    assert not _inside("engine", "ovn_vif/_engine")
    assert "ovn_vif/_engine" in _packages()
