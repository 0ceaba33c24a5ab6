"""The layers of ``ovn_vif`` and which may import which.

Each part of the package may import only the parts below it, as drawn on
the architecture page (``docs/architecture.rst``). A new import that
crosses a layer fails here: either it belongs elsewhere, or the
architecture changed and the table and the page change with it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ovn_vif

SRC = Path(ovn_vif.__file__).parent

#: part -> the parts it may import (beside itself).
ALLOWED: dict[str, set[str]] = {
    "_errors": set(),
    "_ovs_private": set(),
    "_contract": {"_errors"},
    "_engine": {"_contract", "_errors", "_ovs_private"},
    "_memdb": {"_errors", "_ovs_private"},
    "sandbox": {"_errors"},
    "(root)": {"_contract", "_engine", "_errors"},
    "agent": {"_contract", "_engine", "_errors", "_ovs_private"},
    "ovsdbapp": {"_contract", "_engine"},
    "testing": {"_contract", "_engine", "_errors", "_memdb", "sandbox"},
    "cli": {"(root)", "_contract", "_engine", "_errors", "_memdb", "agent", "sandbox"},
}


def _part(dotted: str) -> str:
    parts = dotted.split(".")
    return "(root)" if len(parts) == 1 else parts[1]


def _imported(path: Path) -> set[str]:
    """The ``ovn_vif`` modules *path* imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.split(".")[0] == "ovn_vif"}


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        here = _part(".".join(parts))
        for name in _imported(path):
            if _part(name) != here:
                edges.setdefault(here, set()).add(_part(name))
    return edges


def test_every_part_is_in_the_table() -> None:
    parts = {_part("ovn_vif." + p.stem) for p in SRC.iterdir() if p.suffix == ".py"}
    parts |= {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    parts = {"(root)" if p == "__init__" else p for p in parts} - {"py"}
    assert parts == set(ALLOWED)


def _crossing(edges: dict[str, set[str]], allowed: dict[str, set[str]]) -> dict[str, list[str]]:
    """The imports of *edges* that *allowed* does not allow."""
    return {
        here: sorted(there - allowed[here])
        for here, there in edges.items()
        if there - allowed[here]
    }


def test_each_part_imports_only_the_parts_below_it() -> None:
    assert not _crossing(_edges(), ALLOWED)


def test_the_layers_form_no_cycle() -> None:
    seen: dict[str, int] = {}

    def depth(part: str, stack: tuple[str, ...] = ()) -> int:
        assert part not in stack, f"cycle: {' -> '.join((*stack, part))}"
        if part not in seen:
            seen[part] = 1 + max((depth(p, (*stack, part)) for p in ALLOWED[part]), default=0)
        return seen[part]

    for part in ALLOWED:
        depth(part)


def test_the_architecture_page_names_every_part() -> None:
    page = (SRC.parents[1] / "docs" / "architecture.rst").read_text()
    for part in ALLOWED:
        name = "ovn_vif" if part == "(root)" else f"ovn_vif.{part}"
        assert name in page, name


#: The engine's modules, from the top, and the engine modules each may
#: import (``__init__`` holds no code).
ENGINE: dict[str, set[str]] = {
    "reconciler": {"incremental", "snapshot", "rules", "decision", "writes", "report", "views"},
    "incremental": {"rows", "decision", "writes", "report", "views"},
    "snapshot": {"rows", "columns", "views"},
    "rows": {"columns", "views"},
    "rules": {"compatible", "recommended", "decision", "report", "views"},
    "compatible": {"decision", "eligibility", "report", "views"},
    "recommended": {"decision", "eligibility", "report", "views"},
    "decision": {"eligibility", "writes", "report", "views"},
    "eligibility": {"views"},
    "writes": {"views"},
    "views": set(),
    "columns": set(),
    "report": set(),
}


def _engine_edges() -> dict[str, set[str]]:
    return {
        path.stem: {n.split(".")[2] for n in _imported(path) if n.startswith("ovn_vif._engine.")}
        for path in (SRC / "_engine").glob("*.py")
        if path.stem != "__init__"
    }


def test_every_engine_module_is_in_the_table() -> None:
    modules = {p.stem for p in (SRC / "_engine").glob("*.py")} - {"__init__"}
    assert modules == set(ENGINE)


def test_engine_modules_import_only_those_below_them() -> None:
    assert not _crossing(_engine_edges(), ENGINE)


def test_the_architecture_page_names_every_engine_module() -> None:
    page = (SRC.parents[1] / "docs" / "architecture.rst").read_text()
    for module in ENGINE:
        assert f"_engine/{module}.py" in page, module
