"""The ``ovn-vif`` command (``ovn-vif --help``); :func:`main` is its entry point."""

from __future__ import annotations

from ovn_vif.cli._commands import main

__all__ = ["main"]
