"""Every public name is imported from its one public path.

The public paths are the packages listed in :data:`PUBLIC`; each promises
the names in its ``__all__``. Everything else (a module or package whose
dotted path has a component starting with ``_``) is private.

* Docs, their examples and the README import from public paths only:
  they show users what to write.
* Tests and benchmarks import every public name from its public path; they
  may import private names from private modules (white-box tests of the
  rules, the snapshot, the writes ...), never a public name through a
  private path.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = (
    "ovn_vif",
    "ovn_vif.agent",
    "ovn_vif.cli",
    "ovn_vif.ovsdbapp",
    "ovn_vif.sandbox",
    "ovn_vif.testing",
    "ovn_vif_dummy",
    "ovn_vif_representor",
    "ovn_vif_representor.testing",
)
# An import statement in rst or doctest text: one line, or a parenthesised
# list over several lines.
_IMPORT = re.compile(
    r"^[ \t]*(?:>>> |\.\.\. )?"
    r"(from[ \t]+[\w.]+[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]+)|import[ \t]+[\w., \t]+)",
    re.M,
)


def _public_names() -> dict[str, str]:
    owner: dict[str, str] = {}
    for path in PUBLIC:
        module = importlib.import_module(path)
        for name in module.__all__:
            owner.setdefault(name, path)
    return owner


OWNER = _public_names()


def _is_ours(module: str) -> bool:
    return module.split(".", maxsplit=1)[0] in {"ovn_vif", "ovn_vif_dummy", "ovn_vif_representor"}


def _is_private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def _imports(source: str) -> Iterator[tuple[str, str | None]]:
    """(module, name) pairs; name is None for ``import module``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # text around the code: read the import statements alone
        for statement in _IMPORT.findall(source):
            cleaned = re.sub(r"\n[ \t]*(?:\.\.\. )?", " ", statement)
            cleaned = re.sub(r"#[^\n)]*", "", cleaned)
            try:
                tree = ast.parse(cleaned)
            except SyntaxError:
                continue
            yield from _walk(tree)
        return
    yield from _walk(tree)


def _walk(tree: ast.AST) -> Iterator[tuple[str, str | None]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None


def _files(*patterns: str) -> list[Path]:
    return sorted({p for pattern in patterns for p in ROOT.glob(pattern)})


def _rst_code(path: Path) -> str:
    text = path.read_text()
    if path.suffix == ".py":
        return text
    return "\n".join(re.sub(r"\n[ \t]*(?:\.\.\. )?", " ", s) for s in _IMPORT.findall(text))


DOCS = _files("docs/**/*.rst", "docs/**/*.py", "README.md")
CODE = _files("tests/**/*.py", "benchmarks/**/*.py")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_import_public_paths_only(path: Path) -> None:
    bad = [
        f"{module}.{name}" if name else module
        for module, name in _imports(_rst_code(path))
        if _is_ours(module) and (_is_private(module) or (name or "").startswith("_"))
    ]
    assert not bad, f"{path.name} imports private modules: {bad}"


@pytest.mark.parametrize("path", CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_public_names_come_from_their_public_path(path: Path) -> None:
    bad = []
    for module, name in _imports(path.read_text()):
        if not _is_ours(module) or name is None:
            continue
        home = OWNER.get(name)
        if home is not None and module != home and _is_private(module):
            bad.append(f"{name} from {module} (public path: {home})")
    assert not bad, f"{path.relative_to(ROOT)}: {bad}"


def test_the_checker_sees_a_public_name_through_a_private_path() -> None:
    source = "from ovn_vif._engine.reconciler import Reconciler\nfrom ovn_vif import Policy\n"
    found = [(m, n) for m, n in _imports(source) if OWNER.get(n or "") not in (None, m)]
    assert found == [("ovn_vif._engine.reconciler", "Reconciler")]
    assert _is_private("ovn_vif.agent._loop")
    assert not _is_private("ovn_vif.agent")


PROVIDERS = _files("src/ovn_vif_dummy/**/*.py", "src/ovn_vif_representor/**/*.py")


@pytest.mark.parametrize("path", PROVIDERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_provider_packages_use_the_core_through_public_paths(path: Path) -> None:
    # A provider package is a user of the core: what it imports, a vendor may.
    bad = [
        f"{module}.{name}" if name else module
        for module, name in _imports(path.read_text())
        if module.split(".")[0] == "ovn_vif" and _is_private(module)
    ]
    assert not bad, f"{path.relative_to(ROOT)} imports private core modules: {bad}"
