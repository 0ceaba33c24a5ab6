"""DummyProvider answers like OVN's dummy provider (``--enable-dummy-vif-plug``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ovn_vif import OpType, Outcome, PlugSpec, PortContext
from ovn_vif.testing import ProviderHarness, check_provider
from ovn_vif_dummy import DUMMY_OPTION, DummyProvider


def create(lport: str) -> PlugSpec:
    spec = DummyProvider().prepare_create(PortContext(op_type=OpType.CREATE, lport_name=lport))
    assert isinstance(spec, PlugSpec)
    return spec


@pytest.mark.parametrize(
    ("lport", "expected"),
    [
        ("lsp1", "lsp1"),
        ("exactly15bytes!", "exactly15bytes!"),
        ("a-very-long-logical-port-name", "a-very-long-log"),
        # 'é' is 2 bytes: 14 ASCII + 'é' would be 16 bytes, so it is dropped whole.
        ("abcdefghijklmné", "abcdefghijklmn"),
        ("ünïcödé-pört-nämé", "ünïcödé-pö"),
        ("日本語のポート名前", "日本語のポ"),
    ],
)
def test_port_name_is_the_lport_cut_to_15_bytes(lport: str, expected: str) -> None:
    spec = create(lport)
    assert spec.name == expected
    assert len(spec.name.encode()) <= 15
    assert lport.startswith(spec.name)


def test_type_and_options() -> None:
    spec = create("lsp1")
    assert spec.type == "internal"
    assert spec.options == {DUMMY_OPTION: "value"}
    assert DummyProvider().maintained_iface_options() == frozenset({DUMMY_OPTION})


def test_never_vetoes_a_remove_and_run_reports_no_change() -> None:
    provider = DummyProvider()
    ctx = PortContext(op_type=OpType.REMOVE, lport_name="lsp1", iface_name="lsp1")
    assert provider.prepare_remove(ctx) is True
    provider.finish(ctx, None)
    assert provider.run() is False


def test_release_is_only_for_creates() -> None:
    provider = DummyProvider()
    spec = create("lsp1")
    provider.release(PortContext(op_type=OpType.CREATE, lport_name="lsp1"), spec)
    with pytest.raises(ValueError, match="only for creates"):
        provider.release(PortContext(op_type=OpType.REMOVE, lport_name="lsp1"), spec)


def test_lport_options_do_not_change_the_answer() -> None:
    provider = DummyProvider()
    plain = provider.prepare_create(PortContext(op_type=OpType.CREATE, lport_name="x"))
    with_options = provider.prepare_create(
        PortContext(
            op_type=OpType.CREATE,
            lport_name="x",
            lport_options={"vif-plug-type": "dummy", "vif-plug-mtu-request": "9000"},
        )
    )
    assert plain == with_options


def test_plugs_updates_and_unplugs_through_the_engine(
    provider_harness: Callable[..., ProviderHarness],
) -> None:
    provider = DummyProvider()
    h = provider_harness(provider)
    h.add_lport("lsp1", {"vif-plug-mtu-request": "1500"})
    assert h.iterate().outcomes == {"lsp1": (Outcome.PLUGGED,)}
    port = h.plugged()["lsp1"]
    assert (port.name, port.type) == ("lsp1", "internal")
    assert port.options == {DUMMY_OPTION: "value"}
    assert provider.plugged == {"lsp1": "lsp1"}
    h.set_options("lsp1", {"vif-plug-mtu-request": "9000"})
    assert h.iterate().outcomes == {"lsp1": (Outcome.UPDATED,)}
    h.move_lport("lsp1", "hv2")
    assert h.iterate().outcomes == {"lsp1": (Outcome.UNPLUGGED,)}
    assert provider.plugged == {}
    assert provider.outstanding() == []


def test_keeps_the_contract() -> None:
    assert check_provider(DummyProvider).ok


def test_rebuilds_its_table_after_a_restart(
    provider_harness: Callable[..., ProviderHarness],
) -> None:
    h = provider_harness(DummyProvider())
    h.add_lport("lsp1")
    h.add_lport("lsp2")
    h.iterate(commit="error")  # nothing written; specs released
    h.iterate()
    fresh = DummyProvider()
    h.restart(fresh)
    h.iterate()
    assert fresh.plugged == {"lsp1": "lsp1", "lsp2": "lsp2"}
