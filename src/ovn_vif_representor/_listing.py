"""Listing the representors of this host: what ``ovn-vif representors`` prints."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ovn_vif import ProviderUnavailableError
from ovn_vif_representor._devlink import DevlinkSourceFactory, NetlinkDevlinkSource
from ovn_vif_representor._table import NodeSource, PortTable, RepresentorRow

_COLUMNS = ("PF MAC", "CTRL", "EXT", "PF", "VF", "SF", "NETDEV", "STATE")


def list_representors(
    *,
    sysfs_root: Path | str = "/sys",
    devlink: DevlinkSourceFactory | None = None,
) -> tuple[RepresentorRow, ...]:
    """Read devlink once and list the PF, VF and SF representors of this host.

    Rows are as of the dump: none is "awaiting rename". *devlink* builds
    the source (default: the kernel's).

    :raises ProviderUnavailableError: no devlink on this kernel, or the dump
        failed.
    """
    source = (devlink or NetlinkDevlinkSource)()
    try:
        table = PortTable(sysfs_root=sysfs_root, rename_wait=0.0)
        try:
            table.load(source.dump(), NodeSource.DUMP)
        except OSError as exc:
            raise ProviderUnavailableError(f"devlink port dump failed: {exc}") from exc
        return table.rows()
    finally:
        source.close()


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def format_representors(rows: Sequence[RepresentorRow]) -> str:
    """A text table of *rows*, one line per representor, with a header.

    >>> from ovn_vif_representor import RepresentorState
    >>> row = RepresentorRow(kind="vf", pf_mac="00:53:00:00:00:42", controller=1,
    ...     external=True, pf_number=0, vf_number=3, sf_number=None, netdev="pf0vf3",
    ...     ifindex=1003, handle="pci/0000:03:00.0/8195", state=RepresentorState.READY)
    >>> print(format_representors([row]))
    PF MAC             CTRL  EXT  PF  VF  SF  NETDEV  STATE
    00:53:00:00:00:42  1     yes  0   3   -   pf0vf3  ready
    """
    table = [list(_COLUMNS)] + [
        [
            _cell(r.pf_mac),
            _cell(r.controller),
            _cell(r.external),
            _cell(r.pf_number),
            _cell(r.vf_number),
            _cell(r.sf_number),
            _cell(r.netdev),
            r.state.value,
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


def representors_json(rows: Sequence[RepresentorRow]) -> str:
    """*rows* as a JSON array of objects (see :meth:`RepresentorRow.to_dict`)."""
    return json.dumps([r.to_dict() for r in rows], indent=2)
