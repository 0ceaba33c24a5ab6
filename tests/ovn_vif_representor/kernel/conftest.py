"""Fixtures of the kernel tier: netdevsim devices in the tier's qemu guest.

These tests need root in a throw-away kernel (they load modules and create
and destroy netdevs), so they run only inside the guest that
``scripts/kernel-tier`` (``nox -s kernel``) boots, which sets
``OVN_VIF_KERNEL_GUEST=1``. Everywhere else the tests marked ``kernel`` are
deselected (whatever ``-m`` says), so that no other run loads modules into
the host's kernel; CI runs them through the kernel session.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from tests.support import netdevsim
from tests.support.netdevsim import Netdevsim

IN_GUEST = os.environ.get("OVN_VIF_KERNEL_GUEST") == "1"
_IDS = itertools.count(10)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_GUEST:
        return
    kernel = [item for item in items if item.get_closest_marker("kernel")]
    if kernel:
        config.hook.pytest_deselected(items=kernel)
        items[:] = [item for item in items if not item.get_closest_marker("kernel")]


@pytest.fixture
def stock() -> str:
    """The stock 6.1 netdevsim module is loaded (no PCI PF ports, no hw_addr)."""
    netdevsim.load("stock")
    return "stock"


@pytest.fixture
def patched() -> str:
    """The patched netdevsim module is loaded (PCI PF ports, port function hw_addr)."""
    netdevsim.load("patched")
    return "patched"


@pytest.fixture
def nsim() -> Iterator[Netdevsim]:
    """A fresh netdevsim device with one physical port (load a module first)."""
    with Netdevsim(next(_IDS)) as device:
        yield device
