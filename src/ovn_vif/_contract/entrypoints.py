"""Entry points and this distribution's version, without ``importlib.metadata`` where possible.

``importlib.metadata`` imports the ``email`` package, ``zipfile``, ``csv``
and ``importlib.resources`` (about 2.5 MB resident) although an agent only
needs the names and targets of a few entry points and one version string.
In the usual case (every ``sys.path`` entry a directory, or missing, and
no import hook that finds distributions of its own) this module reads the
``*.dist-info`` and ``*.egg-info`` directories itself, in the order and
with the shadowing rules of ``importlib.metadata``: path entries in order,
the first distribution of each normalised name wins. Anything else (a zip
file or an ``.egg`` on ``sys.path``, a ``find_distributions`` hook) falls
back to ``importlib.metadata``, as does :func:`distribution_version` when
the metadata does not say it plainly.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Iterator
from importlib.machinery import PathFinder
from typing import Any

#: ``module[:attr]`` with optional ``[extras]``, as ``importlib.metadata`` reads it.
_PATTERN = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")
_INFO_SUFFIXES = (".dist-info", ".egg-info")


class EntryPoint:
    """One entry point read from an ``entry_points.txt`` (the part of
    ``importlib.metadata.EntryPoint`` the registry uses)."""

    __slots__ = ("group", "name", "value")

    def __init__(self, name: str, value: str, group: str) -> None:
        self.name = name
        self.value = value
        self.group = group

    @property
    def module(self) -> str:
        match = _PATTERN.match(self.value)
        if match is None:
            raise ValueError(f"invalid entry point value {self.value!r}")
        return str(match.group("module"))

    @property
    def attr(self) -> str | None:
        match = _PATTERN.match(self.value)
        return None if match is None else match.group("attr")

    def load(self) -> Any:
        """Import the module and return the attribute the value names."""
        import importlib

        module = importlib.import_module(self.module)
        return functools.reduce(getattr, filter(None, (self.attr or "").split(".")), module)

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _name(info_dir: str) -> str:
    """The normalised distribution name of a ``NAME[-VERSION].dist-info`` path."""
    return _normalize(os.path.basename(info_dir).lower().rpartition(".")[0].partition("-")[0])


def _distributions() -> list[str] | None:
    """The metadata directories of the distributions ``importlib.metadata``
    would find, first of each name only; ``None`` when only it can tell."""
    for finder in sys.meta_path:
        if hasattr(finder, "find_distributions") and finder is not PathFinder:
            return None
    found: list[str] = []
    seen: set[str] = set()
    for entry in sys.path:
        root = entry or "."
        if not os.path.isdir(root):
            if os.path.exists(root):
                return None  # a zip file
            continue
        if os.path.basename(root).lower().endswith(".egg"):
            return None
        try:
            children = os.listdir(root)
        except OSError:
            continue
        # Grouped by name in the order of the directory listing, as
        # importlib.metadata does; the first of each name on sys.path wins.
        groups: dict[str, list[str]] = {}
        for child in children:
            low = child.lower()
            if low.endswith(_INFO_SUFFIXES):
                groups.setdefault(_name(child), []).append(os.path.join(root, child))
        for key, paths in groups.items():
            if key not in seen:
                seen.add(key)
                found.append(paths[0])
    return found


def _read_entry_points(path: str, group: str) -> Iterator[EntryPoint]:
    try:
        with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section != group:
            continue
        name, _, value = line.partition("=")
        yield EntryPoint(name.strip(), value.strip(), group)


def entry_points(group: str) -> list[Any]:
    """The entry points of *group* of every installed distribution, in the
    order of ``importlib.metadata.entry_points(group=group)``."""
    paths = _distributions()
    if paths is None:
        import importlib.metadata

        return list(importlib.metadata.entry_points(group=group))
    return [ep for path in paths for ep in _read_entry_points(path, group)]


def distribution_version(name: str) -> str:
    """The version of the installed distribution *name*, as
    ``importlib.metadata.version(name)`` gives it.

    :raises importlib.metadata.PackageNotFoundError: not installed.
    """
    paths = _distributions()
    if paths is not None:
        wanted = _normalize(name)
        for path in paths:
            if _name(path) != wanted:
                continue
            version = _metadata_version(path)
            if version is not None:
                return version
            break
    import importlib.metadata

    return importlib.metadata.version(name)


def _metadata_version(path: str) -> str | None:
    """The ``Version:`` header of a metadata directory, if it is plain."""
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(path, filename), encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        return None  # end of the headers
                    if line[0] in " \t":
                        continue  # a folded header's continuation
                    key, sep, value = line.partition(":")
                    if sep and key.strip().lower() == "version":
                        return value.strip() or None
        except OSError:
            continue
    return None
