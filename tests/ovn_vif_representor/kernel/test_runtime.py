"""Runtime changes on a real kernel, seen by a running provider without a restart.

Each test starts :class:`RepresentorProvider` (the kernel's devlink and
rtnetlink sockets, as the agent does), changes the NIC with the operator's
tools, then calls ``run()`` (what the agent's loop does when the provider's
sockets are readable) until the table shows the change.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator

import pytest
from tests.support import wait_for
from tests.support.netdevsim import VF_PORT_BASE, Netdevsim, rename, settle

from ovn_vif_representor import RepresentorProvider, RepresentorRow, RepresentorState

pytestmark = pytest.mark.kernel

PF_MAC = "00:53:00:00:00:42"
Summary = list[tuple[str, int | None, str | None, RepresentorState]]


@pytest.fixture
def provider() -> Iterator[Callable[[], RepresentorProvider]]:
    made: list[RepresentorProvider] = []

    def start() -> RepresentorProvider:
        provider = RepresentorProvider()
        provider.init()
        made.append(provider)
        return provider

    yield start
    for provider in made:
        provider.destroy()


def summary(provider: RepresentorProvider, nsim: Netdevsim) -> Summary:
    rows: list[RepresentorRow] = [
        r for r in provider.representors() if r.handle.startswith(nsim.handle + "/")
    ]
    return [(r.kind, r.vf_number, r.netdev, r.state) for r in rows]


def settled(provider: RepresentorProvider, nsim: Netdevsim, expected: Summary) -> None:
    """Run the provider until its rows for *nsim* are *expected*."""

    def matches() -> bool:
        provider.run()
        return summary(provider, nsim) == expected

    try:
        wait_for(matches, "the representor table to follow the kernel")
    except AssertionError:
        assert summary(provider, nsim) == expected  # shows the difference
        raise


def pending_vfs(nsim: Netdevsim, count: int) -> Summary:
    return [
        ("vf", vf, netdev, RepresentorState.PENDING_PF)
        for vf, netdev in enumerate(nsim.vf_netdevs(count))
    ]


def test_vfs_created_and_destroyed(
    stock: str, nsim: Netdevsim, provider: Callable[[], RepresentorProvider]
) -> None:
    nsim.switchdev_with_vfs(2)
    running = provider()
    settled(running, nsim, pending_vfs(nsim, 2))

    nsim.set_numvfs(0)
    settled(running, nsim, [])
    # The trap: destroying the VFs also put the eswitch back in legacy mode.
    assert nsim.eswitch_mode() == "legacy"

    nsim.switchdev_with_vfs(3)
    settle()
    settled(running, nsim, pending_vfs(nsim, 3))


def test_eswitch_mode_change(
    stock: str, nsim: Netdevsim, provider: Callable[[], RepresentorProvider]
) -> None:
    nsim.switchdev_with_vfs(2)
    running = provider()
    settled(running, nsim, pending_vfs(nsim, 2))
    nsim.set_eswitch_mode("legacy")
    settled(running, nsim, [])
    nsim.set_eswitch_mode("switchdev")
    settled(running, nsim, pending_vfs(nsim, 2))


def test_representor_renamed(
    stock: str, nsim: Netdevsim, provider: Callable[[], RepresentorProvider]
) -> None:
    nsim.switchdev_with_vfs(2)
    running = provider()
    old = nsim.vf_netdev(1)
    settled(running, nsim, pending_vfs(nsim, 2))
    # A rename (as udev does it) comes as RTM_NEWLINK only: 6.1 sends no
    # devlink notification for it.
    rename(old, f"kt{nsim.id}vf1")
    assert nsim.vf_netdev(1) == f"kt{nsim.id}vf1"
    settled(running, nsim, pending_vfs(nsim, 2))


def test_new_vfs_get_their_udev_names(
    patched: str, nsim: Netdevsim, provider: Callable[[], RepresentorProvider]
) -> None:
    nsim.add_pf(0)
    nsim.set_hw_addr(nsim.pf_index(0), PF_MAC)
    nsim.set_numvfs(2)
    running = provider()
    nsim.set_eswitch_mode("switchdev")  # settles udev: the VFs are renamed
    pf = ("pf", None, nsim.netdev(nsim.pf_index(0)), RepresentorState.READY)
    # Notifications carry the kernel's ethN names; the renames follow.
    settled(
        running,
        nsim,
        [pf, *[("vf", vf, nsim.vf_netdev(vf), RepresentorState.READY) for vf in range(2)]],
    )
    assert all(
        row[2] is not None and f"eni{nsim.id}npf0vf" in row[2] for row in summary(running, nsim)[1:]
    )


def test_pf_goes_away_and_comes_back(
    patched: str, nsim: Netdevsim, provider: Callable[[], RepresentorProvider]
) -> None:
    nsim.switchdev_with_vfs(2)
    pf_netdev = nsim.add_pf(0)
    nsim.set_hw_addr(nsim.pf_index(0), PF_MAC)
    running = provider()
    ready = [("vf", vf, nsim.vf_netdev(vf), RepresentorState.READY) for vf in range(2)]
    settled(running, nsim, [("pf", None, pf_netdev, RepresentorState.READY), *ready])
    assert {r.pf_mac for r in running.representors() if r.handle.startswith(nsim.handle)} == {
        PF_MAC
    }

    nsim.del_port(nsim.pf_index(0))
    settled(running, nsim, pending_vfs(nsim, 2))

    pf_netdev = nsim.add_pf(0)
    # Back, but without a MAC until one is set: found by nothing yet.
    settled(
        running,
        nsim,
        [
            ("pf", None, pf_netdev, RepresentorState.NO_PF_MAC),
            *[("vf", vf, nsim.vf_netdev(vf), RepresentorState.NO_PF_MAC) for vf in range(2)],
        ],
    )
    nsim.set_hw_addr(nsim.pf_index(0), PF_MAC)
    settled(running, nsim, [("pf", None, pf_netdev, RepresentorState.READY), *ready])


def shrink_receive_buffers(provider: RepresentorProvider) -> None:
    """Make the provider's sockets as small as the kernel allows."""
    for fd in provider.wait_fds():
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        finally:
            sock.close()


def test_overflow_then_a_correct_redump(
    stock: str,
    nsim: Netdevsim,
    provider: Callable[[], RepresentorProvider],
    caplog: pytest.LogCaptureFixture,
) -> None:
    nsim.switchdev_with_vfs(2)
    running = provider()
    settled(running, nsim, pending_vfs(nsim, 2))
    shrink_receive_buffers(running)
    # A burst while the provider does not read: far more than fits.
    nsim.set_numvfs(0)
    nsim.set_max_vfs(16)
    nsim.switchdev_with_vfs(16)
    settle()
    with caplog.at_level(logging.WARNING, logger="ovn_vif_representor"):
        settled(running, nsim, pending_vfs(nsim, 16))
    assert "notifications were lost (ENOBUFS); re-reading all devlink ports" in caplog.text
    assert [r.handle for r in running.representors() if r.handle.startswith(nsim.handle)] == [
        f"{nsim.handle}/{VF_PORT_BASE + vf}" for vf in range(16)
    ]
