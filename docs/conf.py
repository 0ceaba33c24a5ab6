"""Sphinx configuration for the ovn-vif documentation."""

from __future__ import annotations

from importlib.metadata import version as _version

project = "ovn-vif"
author = "The ovn-vif developers"
copyright = "2026, The ovn-vif developers"
release = _version("ovn-vif")
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "sphinx.ext.graphviz",
]

graphviz_output_format = "svg"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
autoclass_content = "both"

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = f"ovn-vif {release}"
