"""Fixtures for the representor provider tests.

The devlink and rtnetlink sides are simulated at the socket boundary only
(:class:`ovn_vif_representor.testing.FakeKernel`): the provider's real
sources, marshal, table and lookup code run on real netlink bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ovn_vif_representor import RepresentorProvider
from ovn_vif_representor.testing import FakeKernel, ManualClock

#: The host PF MAC the sysfs stub of ``p0`` reports (ovn-vif's test value).
SYSFS_PF_MAC = "00:53:00:00:00:51"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def kernel() -> FakeKernel:
    return FakeKernel()


def write_smart_nic_config(root: Path, physical: str, mac: str | None) -> Path:
    """Create ``class/net/<physical>/smart_nic/pf/config`` under *root*."""
    path = root / "class" / "net" / physical / "smart_nic" / "pf" / "config"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["MaxTxRate  : 0", "MinTxRate  : 0", "State      : Up"]
    if mac is not None:
        lines.insert(0, f"MAC        : {mac}")
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


SmartNicWriter = Callable[[Path, str, "str | None"], Path]


@pytest.fixture
def smart_nic_config() -> SmartNicWriter:
    """:func:`write_smart_nic_config`, for tests that build their own sysfs."""
    return write_smart_nic_config


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    """A sysfs root whose ``p0`` reports :data:`SYSFS_PF_MAC` (the C test's stub)."""
    root = tmp_path / "sys"
    write_smart_nic_config(root, "p0", "00:53:00:00:00:51")
    return root


ProviderFactory = Callable[..., RepresentorProvider]


@pytest.fixture
def make_provider(kernel: FakeKernel, clock: ManualClock, sysfs: Path) -> Iterator[ProviderFactory]:
    """Build (and by default init) providers on the fake kernel; destroyed after."""
    made: list[RepresentorProvider] = []

    def make(*, init: bool = True, **kw: object) -> RepresentorProvider:
        options: dict[str, object] = {
            "devlink": kernel.devlink_source,
            "links": kernel.link_source,
            "clock": clock,
            "sysfs_root": sysfs,
        }
        options.update(kw)
        provider = RepresentorProvider(**options)  # type: ignore[arg-type]
        if init:
            provider.init()
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.destroy()
