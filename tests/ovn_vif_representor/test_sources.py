"""The devlink and rtnetlink sources: real receive path, fake socket ends,
plus what can run against this machine's real kernel."""

from __future__ import annotations

import errno
import select

import attrs
import pytest
from pyroute2.netlink import GENL_ID_CTRL, NETLINK_GENERIC

from ovn_vif import ProviderUnavailableError
from ovn_vif_representor import (
    LinkName,
    NetlinkDevlinkSource,
    Overflow,
    PortDel,
    PortNew,
    RtnlLinkSource,
)
from ovn_vif_representor._devlink import (
    CMD_PORT_GET,
    CMD_PORT_NEW,
    _DevlinkMarshal,
    devlink_port_msg,
    resolve_genl_family,
)
from ovn_vif_representor._nlsock import KernelNetlinkSocket, NetlinkChannel
from ovn_vif_representor.testing import (
    DEVLINK_CONFIG_GROUP,
    DEVLINK_FAMILY_ID,
    FakeKernel,
    encode_link,
    pf_port,
    physical_port,
    vf_port,
)


def readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


# -- devlink over the simulated kernel ------------------------------------


def test_source_resolves_the_family_and_joins_the_config_group(kernel: FakeKernel) -> None:
    source = kernel.devlink_source()
    (sock,) = kernel.sockets
    assert sock.groups == {DEVLINK_CONFIG_GROUP}
    assert kernel.requests == [("genl", GENL_ID_CTRL, 3)]
    source.close()
    assert sock.closed


def test_dump_reads_every_port_across_datagrams(kernel: FakeKernel) -> None:
    ports = [physical_port(), pf_port(mac="00:53:00:00:00:42")] + [
        vf_port(f"pf0vf{n}", ifindex=1000 + n, vf=n) for n in range(8)
    ]
    for port in ports:
        kernel.add_port(port)
    source = kernel.devlink_source()
    assert source.dump() == ports
    assert kernel.requests[-1] == ("genl", DEVLINK_FAMILY_ID, CMD_PORT_GET)
    assert source.poll() == []
    source.close()


def test_notifications_arrive_as_typed_events(kernel: FakeKernel) -> None:
    source = kernel.devlink_source()
    assert not readable(source.fileno())
    pf = kernel.add_pf(mac="00:53:00:00:00:42")
    vf = kernel.add_vf("pf0vf0", ifindex=1000)
    kernel.del_port(vf)
    assert readable(source.fileno())
    gone = attrs.evolve(vf, ifindex=None, netdev=None, port_type=0)
    assert source.poll() == [PortNew(pf), PortNew(vf), PortNew(gone), PortDel(gone)]
    assert not readable(source.fileno())
    assert source.poll() == []
    source.close()


def test_notification_received_during_the_dump_is_kept_for_poll(kernel: FakeKernel) -> None:
    source = kernel.devlink_source()
    kernel.add_pf(mac="00:53:00:00:00:42")  # queued before the dump is asked for
    assert len(source.dump()) == 1
    assert source.poll() == [PortNew(kernel.ports[("pci", "0000:03:00.0", 0x1000)])]
    source.close()


def test_overflow_is_reported_after_what_was_read(kernel: FakeKernel) -> None:
    kernel.capacity = 2
    source = kernel.devlink_source()
    for n in range(5):
        kernel.add_vf(f"pf0vf{n}", ifindex=1000 + n, vf=n)
    events = source.poll()
    assert [type(e) for e in events] == [PortNew, PortNew, Overflow]
    assert source.poll() == []
    source.close()


def test_overflow_while_dumping_restarts_the_dump(kernel: FakeKernel) -> None:
    kernel.add_pf(mac="00:53:00:00:00:42")
    source = kernel.devlink_source()
    (sock,) = kernel.sockets
    sock.overflow()
    assert [p.netdev for p in source.dump()] == ["p0hpf"]
    # The lost notifications are still reported, so the caller can resync.
    assert source.poll() == [Overflow()]
    source.close()


def test_dump_gives_up_after_repeated_overflows(kernel: FakeKernel) -> None:
    source = NetlinkDevlinkSource(kernel.socket("genl"), dump_attempts=1)
    kernel.sockets[0].overflow()
    with pytest.raises(OSError, match="overflowed") as info:
        source.dump()
    assert info.value.errno == errno.ENOBUFS
    source.close()


def test_kernel_without_devlink_is_refused_with_the_cause() -> None:
    kernel = FakeKernel(devlink=False)
    with pytest.raises(ProviderUnavailableError, match="the kernel has no devlink"):
        kernel.devlink_source()
    assert kernel.sockets[0].closed


def test_undecodable_notification_is_skipped(
    kernel: FakeKernel, caplog: pytest.LogCaptureFixture
) -> None:
    source = kernel.devlink_source()
    (sock,) = kernel.sockets
    sock.deliver(port_new_without_handle())
    kernel.add_pf(mac="00:53:00:00:00:42")
    events = source.poll()
    assert [type(e) for e in events] == [PortNew]
    assert "ignoring a devlink port notification" in caplog.text
    source.close()


def port_new_without_handle() -> bytes:
    msg = devlink_port_msg()
    msg["cmd"] = CMD_PORT_NEW
    msg["version"] = 1
    msg["attrs"] = [["DEVLINK_ATTR_PORT_NETDEV_NAME", "eth9"]]
    msg["header"]["type"] = DEVLINK_FAMILY_ID
    msg.encode()
    return bytes(msg.data)


# -- rtnetlink over the simulated kernel -----------------------------------


def test_link_source_reports_names_by_ifindex(kernel: FakeKernel) -> None:
    source = kernel.link_source()
    kernel.link_changed(1000, "eth5")
    kernel.rename(1000, "pf0vf0")
    assert source.poll() == [LinkName(1000, "eth5"), LinkName(1000, "pf0vf0")]
    assert source.poll() == []
    source.close()


def test_link_source_overflow(kernel: FakeKernel) -> None:
    source = kernel.link_source()
    with kernel.dropping():
        kernel.rename(1000, "pf0vf0")
    assert source.poll() == [Overflow()]
    source.close()


def test_link_source_ignores_other_rtnetlink_messages(kernel: FakeKernel) -> None:
    source = kernel.link_source()
    (sock,) = kernel.sockets
    raw = bytearray(encode_link(7, "x"))
    raw[4] = 20  # RTM_NEWADDR: not a link message
    sock.deliver(bytes(raw))
    sock.deliver(encode_link(8, "y"))
    assert source.poll() == [LinkName(8, "y")]
    source.close()


# -- the real kernel of this machine ---------------------------------------


def test_real_kernel_devlink_source_fails_with_a_clear_reason() -> None:
    # These build machines run a kernel without the devlink family.
    with pytest.raises(ProviderUnavailableError) as info:
        NetlinkDevlinkSource()
    assert "the kernel has no devlink" in str(info.value)
    assert "generic netlink family 'devlink' does not exist" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.ENOENT


def test_real_kernel_generic_netlink_request_path() -> None:
    # The same request code that resolves devlink, on a family every kernel has.
    channel = NetlinkChannel(KernelNetlinkSocket(NETLINK_GENERIC), _DevlinkMarshal(), "test")
    try:
        family_id, groups = resolve_genl_family(channel, "nlctrl")
        assert family_id == GENL_ID_CTRL
        assert "notify" in groups
        assert channel.drain().messages == ()
    finally:
        channel.close()


def test_real_kernel_rtnetlink_source_opens_and_polls_without_blocking() -> None:
    source = RtnlLinkSource()
    try:
        assert source.fileno() >= 0
        events = source.poll()
        assert all(isinstance(e, (LinkName, Overflow)) for e in events)
    finally:
        source.close()
