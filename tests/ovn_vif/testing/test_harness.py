"""ProviderHarness: the CMS's moves, one iteration at a time, scripted commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from ovn_vif import (
    Decline,
    Outcome,
    PlugSpec,
    Policy,
    PortContext,
    RestoredPort,
    VifPlugProvider,
)
from ovn_vif.testing import ProviderHarness
from ovn_vif_dummy import DummyProvider


class Recording(DummyProvider):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        self.calls.append(f"finish({ctx.lport_name})")
        super().finish(ctx, spec)

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        self.calls.append(f"release({ctx.lport_name})")
        super().release(ctx, spec)


def test_plug_update_move_delete(provider_harness: Callable[..., ProviderHarness]) -> None:
    h = provider_harness(DummyProvider(), other_chassis=["hv2", "hv3"])
    h.add_lport("lsp1", {"vif-plug-mtu-request": "1500", "keep": "me"})
    h.add_lport("elsewhere", chassis="hv2")
    assert h.iterate().outcomes == {"lsp1": (Outcome.PLUGGED,)}
    assert list(h.plugged()) == ["lsp1"]
    port = h.plugged()["lsp1"]
    assert (port.name, port.type, port.mtu_request, port.plug_type) == (
        "lsp1",
        "internal",
        1500,
        "dummy",
    )
    assert port.ofport is not None
    h.set_options("lsp1", {"vif-plug-mtu-request": "9000"})
    assert h.options("lsp1")["keep"] == "me"
    assert h.iterate().outcomes == {"lsp1": (Outcome.UPDATED,)}
    assert h.plugged()["lsp1"].mtu_request == 9000
    h.set_options("lsp1", remove=["vif-plug-mtu-request"])
    h.iterate()
    assert h.plugged()["lsp1"].mtu_request is None
    h.move_lport("lsp1", "hv3")
    assert h.iterate().outcomes == {"lsp1": (Outcome.UNPLUGGED,)}
    assert h.plugged() == {}
    h.move_lport("lsp1", "hv1")
    h.iterate()
    h.delete_lport("lsp1")
    h.iterate()
    assert h.plugged() == {}
    assert h.converge().report.decisions == ()


def test_scripted_commit_failure_releases_only() -> None:
    provider = Recording()
    with ProviderHarness(provider) as h:
        h.add_lport("lsp1")
        step = h.iterate(commit="error", details="disk full")
        assert step.status == "error"
        assert step.completion.released == ("lsp1",)
        assert provider.calls == ["release(lsp1)"]
        assert h.plugged() == {}
        assert h.iterate().status == "success"
        assert provider.calls[1:] == ["finish(lsp1)", "release(lsp1)"]
        assert provider.outstanding() == []


def test_foreign_port_and_bad_arguments() -> None:
    with ProviderHarness(DummyProvider(), policy=Policy.OVN_COMPATIBLE) as h:
        h.add_foreign_port("lsp1", **{"iface-id": "lsp1"})
        h.add_lport("lsp1")
        [d] = h.iterate().report.for_lport("lsp1")
        assert d.outcome is Outcome.REFUSED
        with pytest.raises(ValueError, match="commit must be one of"):
            h.iterate(commit="maybe")
        with pytest.raises(LookupError):
            h.set_options("nope", {})
        with pytest.raises(LookupError):
            h.move_lport("lsp1", "hv9")


def test_plug_type_must_be_given_with_several_providers() -> None:
    class Other(VifPlugProvider):
        type = "other"

        def prepare_create(self, ctx: PortContext) -> PlugSpec:
            return PlugSpec(name="o1")

    with ProviderHarness(DummyProvider(), Other()) as h:
        with pytest.raises(ValueError, match="pass plug_type="):
            h.add_lport("lsp1")
        h.add_lport("lsp1", plug_type="other")
        h.iterate()
        assert h.plugged()["lsp1"].name == "o1"


class Discovering(DummyProvider):
    """Counts its ``run()`` calls, and notes how many came before each ``prepare_create``."""

    def __init__(self) -> None:
        super().__init__()
        self.runs = 0
        self.runs_before_create: list[int] = []
        self.restored: list[tuple[RestoredPort, ...]] = []

    def run(self) -> bool:
        self.runs += 1
        return self.runs == 1

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        self.runs_before_create.append(self.runs)
        return super().prepare_create(ctx)

    def restore(self, ports: Sequence[RestoredPort]) -> None:
        self.restored.append(tuple(ports))


def test_run_providers_then_iterate_without_running_again() -> None:
    provider = Discovering()
    with ProviderHarness(provider) as h:
        h.add_lport("lsp1")
        assert h.run_providers() is True
        assert h.run_providers() is False
        assert h.iterate(run=False).outcomes == {"lsp1": (Outcome.PLUGGED,)}
        assert provider.runs_before_create == [2]
        h.iterate()
        assert provider.runs == 3


class OtherDiscovering(Discovering):
    type = "other"


def test_restored_ports_are_what_restore_gets_after_a_restart() -> None:
    with ProviderHarness(DummyProvider(), OtherDiscovering()) as h:
        h.add_lport("lsp2", {"vif-plug-mtu-request": "1400"}, plug_type="dummy")
        h.add_lport("lsp1", plug_type="dummy")
        h.add_lport("lsp3", plug_type="other")
        h.converge()
        ports = h.restored_ports("dummy")
        assert [(p.lport_name, p.name, p.mtu_request) for p in ports] == [
            ("lsp1", "lsp1", None),
            ("lsp2", "lsp2", 1400),
        ]
        assert ports[1].lport_options is not None
        assert ports[1].lport_options["vif-plug-mtu-request"] == "1400"
        assert [p.lport_name for p in h.restored_ports("other")] == ["lsp3"]
        assert h.restored_ports("nobody") == ()
        with pytest.raises(ValueError, match="pass plug_type="):
            h.restored_ports()
        h.delete_lport("lsp1")  # the binding is gone, the Interface not yet
        assert h.restored_ports("dummy")[0].lport_options is None
        fresh = Discovering()
        h.restart(fresh)
        h.iterate(can_unplug=False)
        assert fresh.restored == [h.restored_ports()]


def test_a_provider_whose_init_fails_leaves_no_connection_open() -> None:
    closed: list[ProviderHarness] = []

    class Harness(ProviderHarness):
        def close(self) -> None:
            closed.append(self)
            super().close()

    class Failing(DummyProvider):
        def init(self) -> None:
            raise OSError("no such device")

    with pytest.raises(OSError, match="no such device"):
        Harness(Failing())
    assert len(closed) == 1
