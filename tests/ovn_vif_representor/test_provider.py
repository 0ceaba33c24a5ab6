"""RepresentorProvider: options, lookup, refresh, life cycle, registry.

Every test drives the provider through the simulated kernel
(``kernel`` fixture): real netlink bytes into the provider's real sources.
"""

from __future__ import annotations

import json
import logging
import select
from collections.abc import Callable
from pathlib import Path

import pytest

from ovn_vif import (
    Decline,
    OpType,
    PlugSpec,
    PortContext,
    ProviderUnavailableError,
    Registry,
    VifPlugProvider,
)
from ovn_vif_representor import (
    OPTION_PF_MAC,
    OPTION_SF_NUM,
    OPTION_VF_NUM,
    DevlinkPort,
    NetlinkDevlinkSource,
    PortFlavour,
    RepresentorProvider,
    RepresentorState,
    format_representors,
    list_representors,
    representors_json,
)
from ovn_vif_representor._provider import parse_function_number
from ovn_vif_representor.testing import FakeKernel, ManualClock

ProviderFactory = Callable[..., RepresentorProvider]

PF_MAC = "00:53:00:00:00:42"


def create(lport: str = "lsp1", **options: str) -> PortContext:
    opts = {"vif-plug-type": "representor", "requested-chassis": "hv1"}
    opts.update({_KEYS.get(k, k): v for k, v in options.items()})
    return PortContext(op_type=OpType.CREATE, lport_name=lport, lport_options=opts)


_KEYS = {"pf_mac": OPTION_PF_MAC, "vf_num": OPTION_VF_NUM, "sf_num": OPTION_SF_NUM}


@pytest.fixture
def nic(kernel: FakeKernel) -> FakeKernel:
    """ovn-vif's fixture: p0, p0hpf (MAC …:42) and VFs 0 and 1."""
    kernel.add_physical("p0", ifindex=10)
    kernel.add_pf("p0hpf", ifindex=100, mac=PF_MAC)
    kernel.add_vf("pf0vf0", ifindex=1000, vf=0)
    kernel.add_vf("pf0vf1", ifindex=1001, vf=1)
    return kernel


# -- the prepare scenarios of upstream ovn-vif's representor plug tests -----


def test_port_prepare_vf(nic: FakeKernel, make_provider: ProviderFactory) -> None:
    provider = make_provider()
    assert provider.prepare_create(create(pf_mac=PF_MAC, vf_num="0")) == PlugSpec(name="pf0vf0")


def test_port_prepare_pf(nic: FakeKernel, make_provider: ProviderFactory) -> None:
    provider = make_provider()
    spec = provider.prepare_create(create(pf_mac=PF_MAC))
    assert spec == PlugSpec(name="p0hpf")
    assert spec.type is None
    assert spec.options == {}


def test_port_prepare_missing_pf_mac(
    nic: FakeKernel, make_provider: ProviderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make_provider()
    assert provider.prepare_create(create("lsp-nomac", vf_num="0")) == Decline(
        "option vif-plug:representor:pf-mac is missing"
    )
    assert "lport lsp-nomac: option vif-plug:representor:pf-mac is missing" in caplog.text


def test_port_prepare_missing_vf_num_returns_the_pf(
    nic: FakeKernel, make_provider: ProviderFactory
) -> None:
    provider = make_provider()
    assert provider.prepare_create(create(pf_mac=PF_MAC)) == PlugSpec(name="p0hpf")


def test_uppercase_pf_mac_is_accepted(nic: FakeKernel, make_provider: ProviderFactory) -> None:
    provider = make_provider()
    spec = provider.prepare_create(create(pf_mac=PF_MAC.upper(), vf_num="1"))
    assert spec == PlugSpec(name="pf0vf1")


def test_sf_num(kernel: FakeKernel, make_provider: ProviderFactory) -> None:
    kernel.add_pf("p0hpf", ifindex=100, mac=PF_MAC)
    kernel.add_sf("en3f0pf0sf88", ifindex=3088, sf=88)
    provider = make_provider()
    assert provider.prepare_create(create(pf_mac=PF_MAC, sf_num="88")) == PlugSpec(
        name="en3f0pf0sf88"
    )


# -- bad input -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "option", "why"),
    [
        ({"pf_mac": "00:53:00:00:00"}, OPTION_PF_MAC, "is not a host PF MAC address"),
        ({"pf_mac": "p0hpf"}, OPTION_PF_MAC, "is not a host PF MAC address"),
        ({"pf_mac": " " + PF_MAC}, OPTION_PF_MAC, "is not a host PF MAC address"),
        ({"pf_mac": "00:00:00:00:00:00"}, OPTION_PF_MAC, "not all zero"),
        ({"pf_mac": ""}, OPTION_PF_MAC, "is not a host PF MAC address"),
        ({"pf_mac": PF_MAC, "vf_num": "3abc"}, OPTION_VF_NUM, "plain non-negative decimal"),
        ({"pf_mac": PF_MAC, "vf_num": "-1"}, OPTION_VF_NUM, "plain non-negative decimal"),
        ({"pf_mac": PF_MAC, "vf_num": " 3"}, OPTION_VF_NUM, "plain non-negative decimal"),
        ({"pf_mac": PF_MAC, "vf_num": "+3"}, OPTION_VF_NUM, "plain non-negative decimal"),
        ({"pf_mac": PF_MAC, "vf_num": "0x3"}, OPTION_VF_NUM, "plain non-negative decimal"),
        ({"pf_mac": PF_MAC, "vf_num": "\u0663"}, OPTION_VF_NUM, "plain non-negative decimal"),
        ({"pf_mac": PF_MAC, "vf_num": ""}, OPTION_VF_NUM, "is empty"),
        ({"pf_mac": PF_MAC, "vf_num": "65536"}, OPTION_VF_NUM, "out of range (0 to 65535)"),
        ({"pf_mac": PF_MAC, "vf_num": "9" * 40}, OPTION_VF_NUM, "out of range"),
        ({"pf_mac": PF_MAC, "sf_num": "4294967296"}, OPTION_SF_NUM, "out of range"),
        ({"pf_mac": PF_MAC, "sf_num": "x"}, OPTION_SF_NUM, "plain non-negative decimal"),
        ({"pf_mac": PF_MAC, "vf_num": "0", "sf_num": "0"}, OPTION_VF_NUM, "are both set"),
    ],
)
@pytest.mark.usefixtures("nic")
def test_bad_input_declines_with_a_warning_naming_lport_and_option(
    make_provider: ProviderFactory,
    caplog: pytest.LogCaptureFixture,
    options: dict[str, str],
    option: str,
    why: str,
) -> None:
    provider = make_provider()
    assert isinstance(provider.prepare_create(create("lsp-bad", **options)), Decline)
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert message.startswith("lport lsp-bad: ")
    assert option in message
    assert why in message


def test_bad_input_warnings_are_rate_limited_per_lport(
    nic: FakeKernel, make_provider: ProviderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make_provider()
    for _ in range(5):
        spec = provider.prepare_create(create("lsp-a", pf_mac=PF_MAC, vf_num="3abc"))
        assert isinstance(spec, Decline)
    spec = provider.prepare_create(create("lsp-b", pf_mac=PF_MAC, vf_num="3abc"))
    assert isinstance(spec, Decline)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith("lport lsp-a:")
    assert warnings[1].startswith("lport lsp-b:")


def test_lookup_failure_says_what_the_table_holds(
    nic: FakeKernel, make_provider: ProviderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make_provider()
    assert isinstance(provider.prepare_create(create("lsp7", pf_mac=PF_MAC, vf_num="7")), Decline)
    message = caplog.records[-1].getMessage()
    assert message.startswith("lport lsp7: no representor to plug for ")
    assert f"{OPTION_PF_MAC}={PF_MAC} {OPTION_VF_NUM}=7" in message
    assert "has no VF 7" in message
    assert "VFs 0-1" in message
    assert "netdev p0hpf" in message


def test_unknown_pf_mac_lists_the_known_pfs(
    nic: FakeKernel, make_provider: ProviderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make_provider()
    spec = provider.prepare_create(create("lsp8", pf_mac="00:53:00:00:00:99", vf_num="0"))
    assert isinstance(spec, Decline)
    message = caplog.records[-1].getMessage()
    assert "no PF representor has host MAC 00:53:00:00:00:99" in message
    assert "MAC 00:53:00:00:00:42" in message


@pytest.mark.parametrize(
    "options",
    [
        # the PHYSICAL port's own (zero) MAC and its sysfs MAC
        {"pf_mac": "00:53:00:00:00:51"},
        {"pf_mac": "00:53:00:00:00:51", "vf_num": "0"},
        # a VF's own function address is not a PF MAC
        {"pf_mac": "00:53:00:00:00:10", "vf_num": "0"},
        {"pf_mac": "00:53:00:00:00:10"},
        # a VIRTUAL port and a port without netdev
        {"pf_mac": PF_MAC, "vf_num": "2"},
        {"pf_mac": PF_MAC, "vf_num": "3"},
        # netdev names or interface types smuggled into options
        {"pf_mac": "p0", "vf_num": "0"},
        {"pf_mac": PF_MAC, "vf_num": "0", "vif-plug:representor:name": "p0"},
    ],
)
def test_cms_options_never_yield_a_non_representor(
    kernel: FakeKernel, make_provider: ProviderFactory, options: dict[str, str]
) -> None:
    kernel.add_physical("p0", ifindex=10)
    kernel.add_pf("p0hpf", ifindex=100, mac=PF_MAC)
    kernel.add_vf("pf0vf0", ifindex=1000, vf=0, mac="00:53:00:00:00:10")
    kernel.add_port(
        DevlinkPort(
            bus="pci",
            dev="0000:03:00.0",
            index=77,
            flavour=PortFlavour.VIRTUAL,
            port_type=2,
            ifindex=5,
            netdev="eth0",
            pf_number=0,
            vf_number=2,
        )
    )
    kernel.add_vf(None, ifindex=None, vf=3)
    provider = make_provider()
    spec = provider.prepare_create(create(**options))
    representors = {r.netdev for r in provider.representors() if r.state is RepresentorState.READY}
    assert isinstance(spec, Decline) or (
        spec.name in representors and spec.type is None and not spec.options
    )
    if options.get("vif-plug:representor:name"):
        assert spec == PlugSpec(name="pf0vf0")
    else:
        assert isinstance(spec, Decline)


def test_remove_is_never_vetoed(nic: FakeKernel, make_provider: ProviderFactory) -> None:
    provider = make_provider()
    for options in ({}, {OPTION_PF_MAC: "garbage"}, {OPTION_PF_MAC: PF_MAC, OPTION_VF_NUM: "0"}):
        ctx = PortContext(
            op_type=OpType.REMOVE,
            lport_name="lsp1",
            lport_options=options,
            iface_name="pf0vf0",
        )
        assert provider.prepare_remove(ctx) is True


def test_uninitialised_provider_declines(
    make_provider: ProviderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make_provider(init=False)
    assert isinstance(provider.prepare_create(create(pf_mac=PF_MAC, vf_num="0")), Decline)
    assert "not initialised" in caplog.text
    assert provider.run() is False
    assert provider.wait_fds() == ()
    assert provider.next_wakeup() is None
    with pytest.raises(ProviderUnavailableError, match="not initialised"):
        provider.representors()


# -- refresh: run-time changes ---------------------------------------------


def test_vf_appearing_later_is_plugged_after_its_rename(
    nic: FakeKernel, make_provider: ProviderFactory
) -> None:
    provider = make_provider()
    ctx = create(pf_mac=PF_MAC, vf_num="2")
    assert isinstance(provider.prepare_create(ctx), Decline)
    nic.add_vf("eth5", ifindex=1002, vf=2)
    assert provider.run() is True
    assert isinstance(provider.prepare_create(ctx), Decline)  # eth5 may still be renamed
    nic.rename(1002, "pf0vf2")
    assert provider.run() is True
    assert provider.prepare_create(ctx) == PlugSpec(name="pf0vf2")


def test_prepare_refreshes_before_the_lookup(
    nic: FakeKernel, make_provider: ProviderFactory
) -> None:
    provider = make_provider(rename_wait=0)
    nic.add_vf("pf0vf2", ifindex=1002, vf=2)
    # no run() in between: prepare drains the sockets itself
    assert provider.prepare_create(create(pf_mac=PF_MAC, vf_num="2")) == PlugSpec(name="pf0vf2")


def test_rename_reported_by_devlink_itself(
    make_provider: ProviderFactory, clock: ManualClock, sysfs: Path
) -> None:
    kernel = FakeKernel(devlink_notifies_rename=True)
    kernel.add_pf("p0hpf", ifindex=100, mac=PF_MAC)
    provider = make_provider(devlink=kernel.devlink_source, links=kernel.link_source)
    kernel.add_vf("eth5", ifindex=1002, vf=2)
    kernel.rename(1002, "pf0vf2")
    assert provider.run() is True
    assert provider.prepare_create(create(pf_mac=PF_MAC, vf_num="2")) == PlugSpec(name="pf0vf2")


def test_rename_wait_is_bounded_and_wakes_the_agent(
    nic: FakeKernel,
    make_provider: ProviderFactory,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    provider = make_provider(rename_wait=3.0)
    nic.add_vf("eth5", ifindex=1002, vf=2)
    assert provider.run() is True
    ctx = create("lsp2", pf_mac=PF_MAC, vf_num="2")
    decline = provider.prepare_create(ctx)
    assert isinstance(decline, Decline)
    assert "may still be renamed" in decline.reason
    assert decline.retry_after == 3.0
    assert "lport lsp2:" in caplog.text
    assert "may still be renamed" in caplog.text
    assert provider.next_wakeup() == clock.now + 3.0
    assert provider.run() is False
    clock.advance(3.0)
    assert provider.run() is True  # the wait ran out: reconcile again
    assert provider.next_wakeup() is None
    assert provider.prepare_create(ctx) == PlugSpec(name="eth5")
    assert provider.run() is False


def test_vf_deleted(nic: FakeKernel, make_provider: ProviderFactory) -> None:
    provider = make_provider()
    ctx = create(pf_mac=PF_MAC, vf_num="1")
    assert provider.prepare_create(ctx) == PlugSpec(name="pf0vf1")
    nic.del_port(nic.ports[("pci", "0000:03:00.0", 0x2001)])
    assert provider.run() is True
    assert isinstance(provider.prepare_create(ctx), Decline)


def test_pf_mac_change_at_run_time(nic: FakeKernel, make_provider: ProviderFactory) -> None:
    provider = make_provider()
    nic.add_pf("p0hpf", ifindex=100, mac="00:53:00:00:00:43")
    assert provider.run() is True
    assert isinstance(provider.prepare_create(create(pf_mac=PF_MAC, vf_num="0")), Decline)
    assert provider.prepare_create(create(pf_mac="00:53:00:00:00:43", vf_num="0")) == PlugSpec(
        name="pf0vf0"
    )


def test_overflow_triggers_a_full_redump(
    nic: FakeKernel, make_provider: ProviderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make_provider(rename_wait=0)
    with nic.dropping():
        nic.add_vf("pf0vf2", ifindex=1002, vf=2)
        nic.del_port(nic.ports[("pci", "0000:03:00.0", 0x2000)])
    assert provider.run() is True
    assert "re-reading all devlink ports" in caplog.text
    assert provider.prepare_create(create(pf_mac=PF_MAC, vf_num="2")) == PlugSpec(name="pf0vf2")
    assert isinstance(provider.prepare_create(create(pf_mac=PF_MAC, vf_num="0")), Decline)


def test_natural_overflow_of_a_small_socket(
    make_provider: ProviderFactory, clock: ManualClock
) -> None:
    kernel = FakeKernel(capacity=4)
    kernel.add_pf("p0hpf", ifindex=100, mac=PF_MAC)
    provider = make_provider(devlink=kernel.devlink_source, links=kernel.link_source)
    for n in range(32):
        kernel.add_vf(f"pf0vf{n}", ifindex=1000 + n, vf=n)
    assert provider.run() is True
    clock.advance(10)
    assert provider.prepare_create(create(pf_mac=PF_MAC, vf_num="31")) == PlugSpec(name="pf0vf31")
    assert len(provider.representors()) == 33


def test_rename_overflow_triggers_a_redump(nic: FakeKernel, make_provider: ProviderFactory) -> None:
    provider = make_provider()
    nic.add_vf("eth5", ifindex=1002, vf=2)
    provider.run()
    with nic.dropping():
        nic.rename(1002, "pf0vf2")
    assert provider.run() is True
    # the re-dump carries the current name; the port is still a run-time one
    rows = {r.vf_number: r for r in provider.representors()}
    assert rows[2].netdev == "pf0vf2"


def test_wait_fds_wake_on_kernel_events(nic: FakeKernel, make_provider: ProviderFactory) -> None:
    provider = make_provider()
    fds = list(provider.wait_fds())
    assert len(fds) == 2
    assert select.select(fds, [], [], 0)[0] == []
    nic.add_vf("eth5", ifindex=1002, vf=2)
    assert select.select(fds, [], [], 0)[0] == [fds[0]]
    nic.rename(1002, "pf0vf2")
    assert set(select.select(fds, [], [], 0)[0]) == set(fds)
    provider.run()
    assert select.select(fds, [], [], 0)[0] == []


# -- life cycle ------------------------------------------------------------


def test_type_is_configurable(nic: FakeKernel, make_provider: ProviderFactory) -> None:
    provider = make_provider(type="representor-py")
    assert provider.type == "representor-py"
    assert RepresentorProvider().type == "representor"
    assert isinstance(provider, VifPlugProvider)
    assert provider.maintained_iface_options() == frozenset()


def test_negative_rename_wait_is_refused() -> None:
    with pytest.raises(ValueError, match="rename_wait"):
        RepresentorProvider(rename_wait=-1)


def test_destroy_closes_the_sockets(nic: FakeKernel, make_provider: ProviderFactory) -> None:
    provider = make_provider()
    assert len(nic.open_sockets()) == 2
    provider.destroy()
    assert nic.open_sockets() == []
    assert isinstance(provider.prepare_create(create(pf_mac=PF_MAC, vf_num="0")), Decline)


def test_registry_registers_it_on_a_devlink_kernel(
    nic: FakeKernel, make_provider: ProviderFactory
) -> None:
    registry = Registry()
    provider = make_provider(init=False)
    registry.register(provider)
    assert registry.get("representor") is provider
    assert registry.run_all() is False
    registry.unregister("representor")
    assert nic.open_sockets() == []


def test_init_on_a_kernel_without_devlink_fails_with_the_cause(
    make_provider: ProviderFactory,
) -> None:
    kernel = FakeKernel(devlink=False)
    provider = make_provider(init=False, devlink=kernel.devlink_source, links=kernel.link_source)
    with pytest.raises(ProviderUnavailableError, match="the kernel has no devlink"):
        provider.init()
    assert kernel.open_sockets() == []


def test_init_on_this_machines_real_kernel_fails_with_the_cause() -> None:
    provider = RepresentorProvider()
    with pytest.raises(ProviderUnavailableError) as info:
        provider.init()
    assert "generic netlink family 'devlink' does not exist" in str(info.value)
    assert provider.wait_fds() == ()


def test_registry_refuses_it_with_a_readable_reason() -> None:
    registry = Registry()
    with pytest.raises(ProviderUnavailableError, match="kernel has no devlink"):
        registry.register(RepresentorProvider())
    assert "representor" not in registry


def test_entry_point_load_reports_the_reason() -> None:
    registry = Registry()
    report = registry.load_entry_points(only=["representor"])
    assert report.registered == ()
    (failure,) = report.failed
    assert failure.name == "representor"
    assert failure.value == "ovn_vif_representor:RepresentorProvider"
    assert failure.reason.startswith(
        "failed to register ovn_vif_representor:RepresentorProvider: ProviderUnavailableError: "
        "the kernel has no devlink"
    )
    assert isinstance(failure.error, ProviderUnavailableError)


def test_init_dump_failure_is_unavailability(
    make_provider: ProviderFactory, kernel: FakeKernel
) -> None:
    def source() -> NetlinkDevlinkSource:
        src = NetlinkDevlinkSource(kernel.socket("genl"), dump_attempts=1)
        kernel.sockets[-1].overflow()
        return src

    provider = make_provider(init=False, devlink=source)
    with pytest.raises(ProviderUnavailableError, match="devlink port dump failed"):
        provider.init()
    assert kernel.open_sockets() == []


# -- introspection ---------------------------------------------------------


def test_representors_lists_what_can_be_plugged(
    nic: FakeKernel, make_provider: ProviderFactory
) -> None:
    provider = make_provider()
    nic.add_vf("eth5", ifindex=1002, vf=2)
    rows = provider.representors()
    assert [(r.kind, r.pf_mac, r.pf_number, r.vf_number, r.netdev, r.state) for r in rows] == [
        ("pf", PF_MAC, 0, None, "p0hpf", RepresentorState.READY),
        ("vf", PF_MAC, 0, 0, "pf0vf0", RepresentorState.READY),
        ("vf", PF_MAC, 0, 1, "pf0vf1", RepresentorState.READY),
        ("vf", PF_MAC, 0, 2, "eth5", RepresentorState.AWAITING_RENAME),
    ]


def test_list_representors_with_a_kernel(nic: FakeKernel, sysfs: Path) -> None:
    nic.add_vf("pf0vf9", ifindex=1009, vf=9, controller=None)
    rows = list_representors(devlink=nic.devlink_source, sysfs_root=sysfs)
    assert [r.netdev for r in rows] == ["p0hpf", "pf0vf0", "pf0vf1", "pf0vf9"]
    assert all(r.state is RepresentorState.READY for r in rows)
    assert nic.open_sockets() == []


def test_list_representors_without_devlink() -> None:
    with pytest.raises(ProviderUnavailableError, match="kernel has no devlink"):
        list_representors()


def test_parse_function_number() -> None:
    assert parse_function_number("0", 0xFFFF) == (0, None)
    assert parse_function_number("65535", 0xFFFF) == (65535, None)
    assert parse_function_number("007", 0xFFFF) == (7, None)
    assert parse_function_number("65536", 0xFFFF)[0] is None


def test_text_and_json_listing(nic: FakeKernel, sysfs: Path) -> None:
    nic.add_vf("c1pf0vf0", ifindex=1100, vf=0, controller=1, external=True)
    nic.add_pf("c1pf0hpf", ifindex=110, controller=1, external=True, mac="00:53:00:00:01:00")
    rows = list_representors(devlink=nic.devlink_source, sysfs_root=sysfs)
    text = format_representors(rows).splitlines()
    assert text[0].split() == ["PF", "MAC", "CTRL", "EXT", "PF", "VF", "SF", "NETDEV", "STATE"]
    assert text[1].split() == ["00:53:00:00:00:42", "-", "no", "0", "-", "-", "p0hpf", "ready"]
    assert text[-1].split() == ["00:53:00:00:01:00", "1", "yes", "0", "0", "-", "c1pf0vf0", "ready"]
    data = json.loads(representors_json(rows))
    assert data[-1] == {
        "kind": "vf",
        "pf_mac": "00:53:00:00:01:00",
        "controller": 1,
        "external": True,
        "pf_number": 0,
        "vf_number": 0,
        "sf_number": None,
        "netdev": "c1pf0vf0",
        "ifindex": 1100,
        "handle": "pci/0000:03:00.0/73728",
        "state": "ready",
    }
    assert format_representors([]).split() == text[0].split()


def test_changes_seen_by_prepare_are_still_reported_by_run(
    nic: FakeKernel, make_provider: ProviderFactory
) -> None:
    provider = make_provider(rename_wait=0)
    nic.add_vf("pf0vf2", ifindex=1002, vf=2)
    # prepare drains the notification for its own lookup ...
    assert provider.prepare_create(create("lsp-x", pf_mac=PF_MAC, vf_num="0"))
    # ... and the next run still tells the agent that the table changed
    assert provider.run() is True
    assert provider.run() is False


def test_failed_redump_is_retried_by_the_next_run(
    make_provider: ProviderFactory, kernel: FakeKernel, caplog: pytest.LogCaptureFixture
) -> None:
    kernel.add_pf("p0hpf", ifindex=100, mac=PF_MAC)

    def source() -> NetlinkDevlinkSource:
        return NetlinkDevlinkSource(kernel.socket("genl"), dump_attempts=1)

    provider = make_provider(devlink=source, rename_wait=0)
    with kernel.dropping():
        kernel.add_vf("pf0vf0", ifindex=1000, vf=0)
    kernel.overflowing_dumps = 1  # the re-dump is lost in the storm too
    with pytest.raises(OSError, match="devlink port dump: netlink socket overflowed"):
        provider.run()
    assert provider.run() is True
    assert provider.prepare_create(create(pf_mac=PF_MAC, vf_num="0")) == PlugSpec(name="pf0vf0")
    assert caplog.text.count("re-reading all devlink ports") == 2


def test_kernel_enumerated_names_in_the_dump_wait_for_udev(
    nic: FakeKernel, make_provider: ProviderFactory, sysfs: Path, clock: ManualClock
) -> None:
    nic.add_vf("eth7", ifindex=1007, vf=7)
    (sysfs / "class" / "net" / "eth7").mkdir(parents=True)
    (sysfs / "class" / "net" / "eth7" / "name_assign_type").write_text("1\n")
    provider = make_provider(rename_wait=4.0)
    ctx = create(pf_mac=PF_MAC, vf_num="7")
    assert isinstance(provider.prepare_create(ctx), Decline)
    nic.rename(1007, "pf0vf7")
    assert provider.prepare_create(ctx) == PlugSpec(name="pf0vf7")


def test_runtime_port_whose_name_the_kernel_says_is_final_plugs_at_once(
    nic: FakeKernel, make_provider: ProviderFactory, sysfs: Path
) -> None:
    provider = make_provider(rename_wait=60.0)
    for netdev, kind in (("pf0vf2", "4"), ("pf0vf3", "2")):
        (sysfs / "class" / "net" / netdev).mkdir(parents=True)
        (sysfs / "class" / "net" / netdev / "name_assign_type").write_text(kind + "\n")
    nic.add_vf("pf0vf2", ifindex=1002, vf=2)
    nic.add_vf("pf0vf3", ifindex=1003, vf=3)
    assert provider.prepare_create(create(pf_mac=PF_MAC, vf_num="2")) == PlugSpec(name="pf0vf2")
    assert provider.prepare_create(create(pf_mac=PF_MAC, vf_num="3")) == PlugSpec(name="pf0vf3")
