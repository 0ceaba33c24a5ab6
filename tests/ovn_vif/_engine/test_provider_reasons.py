"""Declines and vetoes with a reason, create vs update, and restore() after a restart.

Driven through :class:`ovn_vif.testing.ProviderHarness` (fake databases, the real engine).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import pytest

from ovn_vif import (
    Decline,
    DeclineError,
    Outcome,
    PlugSpec,
    Policy,
    PortContext,
    Reason,
    RestoredPort,
    VifPlugProvider,
)
from ovn_vif.testing import ProviderHarness
from ovn_vif_dummy import DummyProvider

SLOT = "vif-plug:acme:slot"


class Acme(VifPlugProvider):
    """Plugs ``acme<slot>``; declines with a reason without a usable slot."""

    type = "acme"

    def __init__(self) -> None:
        self.contexts: list[PortContext] = []
        self.restored: list[tuple[RestoredPort, ...]] = []
        self.veto: object = True

    def restore(self, ports: Sequence[RestoredPort]) -> None:
        self.restored.append(tuple(ports))

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        self.contexts.append(ctx)
        slot = ctx.lport_options.get(SLOT)
        if slot is None:
            return None
        if slot == "busy":
            raise DeclineError("slot is busy", retry_after=2)
        if not slot.isdigit():
            return Decline(f"{SLOT}={slot!r} is not a slot number", retry_after=0.5)
        return PlugSpec(name=f"acme{slot}")

    def prepare_remove(self, ctx: PortContext) -> bool:
        return self.veto  # type: ignore[return-value]


@pytest.fixture(params=list(Policy), ids=lambda p: p.value)
def harness(request: pytest.FixtureRequest) -> Iterator[ProviderHarness]:
    with ProviderHarness(Acme(), policy=request.param) as h:
        yield h


def provider(h: ProviderHarness) -> Acme:
    p = h.registry.get("acme")
    assert isinstance(p, Acme)
    return p


def test_decline_with_reason_reaches_report_and_log(
    harness: ProviderHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.add_lport("lsp1", {SLOT: "x"})
    with caplog.at_level(logging.INFO):
        step = harness.iterate()
    [d] = step.report.for_lport("lsp1")
    assert d.outcome is Outcome.DECLINED
    assert d.reason is Reason.PROVIDER_DECLINED
    assert d.provider_reason == "vif-plug:acme:slot='x' is not a slot number"
    assert d.detail == (
        "provider acme declined to plug lport lsp1: vif-plug:acme:slot='x' is not a slot number"
    )
    assert d.retry_after == 0.5
    assert step.report.retry_after == 0.5
    assert (
        "Not plugging/updating lport lsp1 on direction from VIF plug provider acme: "
        "vif-plug:acme:slot='x' is not a slot number"
    ) in caplog.messages
    # Rate-limited: the same decline again is not logged again at once.
    caplog.clear()
    with caplog.at_level(logging.INFO):
        harness.iterate()
    assert not [m for m in caplog.messages if "lsp1" in m]


def test_decline_without_reason_keeps_ovn_wording(
    harness: ProviderHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.add_lport("lsp1")
    with caplog.at_level(logging.INFO):
        step = harness.iterate()
    [d] = step.report.for_lport("lsp1")
    assert (d.outcome, d.reason, d.provider_reason, d.retry_after) == (
        Outcome.DECLINED,
        Reason.PROVIDER_DECLINED,
        None,
        None,
    )
    assert (
        "Not plugging/updating lport lsp1 on direction from VIF plug provider." in caplog.messages
    )


def test_raised_decline_error_is_a_decline_not_an_error(
    harness: ProviderHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.add_lport("lsp1", {SLOT: "busy"})
    with caplog.at_level(logging.INFO):
        step = harness.iterate()
    [d] = step.report.for_lport("lsp1")
    assert (d.outcome, d.provider_reason, d.retry_after) == (Outcome.DECLINED, "slot is busy", 2.0)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_veto_with_reason(harness: ProviderHarness) -> None:
    harness.add_lport("lsp1", {SLOT: "1"})
    harness.iterate()
    provider(harness).veto = Decline("VF still in use by the guest")
    harness.delete_lport("lsp1")
    step = harness.iterate()
    [d] = step.report.for_lport("lsp1")
    assert d.outcome is Outcome.VETOED
    assert d.reason is Reason.PROVIDER_VETOED
    assert d.provider_reason == "VF still in use by the guest"
    assert "lsp1" in harness.plugged()


def test_prepare_remove_wrong_type_is_refused_and_nothing_unplugged(
    harness: ProviderHarness,
) -> None:
    harness.add_lport("lsp1", {SLOT: "1"})
    harness.iterate()
    provider(harness).veto = "yes"
    harness.delete_lport("lsp1")
    [d] = harness.iterate().report.for_lport("lsp1")
    assert (d.outcome, d.reason) == (Outcome.REFUSED, Reason.INVALID_SPEC)
    assert "returned a str from prepare_remove()" in d.detail
    assert "lsp1" in harness.plugged()


def test_current_port_tells_create_from_update(harness: ProviderHarness) -> None:
    harness.add_lport("lsp1", {SLOT: "1"})
    harness.iterate()
    first = provider(harness).contexts[-1]
    assert (first.current_port, first.is_update) == (None, False)
    harness.set_options("lsp1", {"vif-plug-mtu-request": "1400"})
    harness.iterate()
    second = provider(harness).contexts[-1]
    assert (second.current_port, second.is_update) == ("acme1", True)
    assert harness.plugged()["lsp1"].mtu_request == 1400


def test_restore_once_per_start_with_the_plugged_ports(harness: ProviderHarness) -> None:
    harness.add_lport("lsp1", {SLOT: "1", "k": "v"})
    harness.add_lport("lsp2", {SLOT: "2"})
    harness.iterate()
    harness.iterate()
    assert provider(harness).restored == [()]  # once, before anything was plugged
    fresh = Acme()
    harness.restart(fresh)
    harness.iterate()
    harness.iterate()
    [ports] = fresh.restored
    assert [(p.lport_name, p.name) for p in ports] == [("lsp1", "acme1"), ("lsp2", "acme2")]
    assert ports[0].lport_options is not None
    assert ports[0].lport_options["k"] == "v"
    assert ports[0].external_ids["ovn-plugged"] == "acme"
    assert ports[0].ofport is not None
    # After a local DB reconnect the provider hears it again.
    harness.reconnect_local_db()
    harness.iterate()
    assert len(fresh.restored) == 2


def test_restore_of_a_gone_port_has_no_lport_options() -> None:
    with ProviderHarness(Acme()) as h:
        h.add_lport("lsp1", {SLOT: "1"})
        h.iterate()
        h.delete_lport("lsp1")
        fresh = Acme()
        h.restart(fresh)
        h.iterate(can_unplug=False)
        [[port]] = fresh.restored
        assert (port.lport_name, port.lport_options) == ("lsp1", None)


def test_restore_raising_is_logged_and_the_engine_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Acme):
        def restore(self, ports: Sequence[RestoredPort]) -> None:
            raise RuntimeError("table corrupt")

    with ProviderHarness(Broken()) as h:
        h.add_lport("lsp1", {SLOT: "1"})
        step = h.iterate()
    assert step.outcomes == {"lsp1": (Outcome.PLUGGED,)}
    assert "VIF plug provider acme raised in restore() (0 plugged port(s))" in caplog.messages


def test_dummy_provider_rebuilds_its_table_after_a_restart() -> None:
    with ProviderHarness(DummyProvider()) as h:
        h.add_lport("lsp1")
        h.add_lport("lsp2")
        h.iterate()
        fresh = DummyProvider()
        h.restart(fresh)
        h.iterate()
        assert fresh.plugged == {"lsp1": "lsp1", "lsp2": "lsp2"}
        h.delete_lport("lsp1")
        h.iterate()
        assert fresh.plugged == {"lsp2": "lsp2"}
        assert fresh.outstanding() == []


def test_decline_value_checks() -> None:
    with pytest.raises(ValueError, match="must say why"):
        Decline("  ")
    with pytest.raises(TypeError):
        Decline(None)
    with pytest.raises(ValueError):
        Decline("x", retry_after=-1)
    with pytest.raises(ValueError):
        Decline("x", retry_after=float("nan"))
    assert Decline(" spaced ").reason == "spaced"


def test_maintained_options_of_the_wrong_type_are_refused_with_a_clear_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class StrKeys(Acme):
        def maintained_iface_options(self) -> frozenset[str]:
            return "acme-queues"  # type: ignore[return-value]

    with ProviderHarness(StrKeys()) as h:
        h.add_lport("lsp1", {SLOT: "1"})
        h.iterate()
        h.set_options("lsp1", {"vif-plug-mtu-request": "1400"})
        [d] = h.iterate().report.for_lport("lsp1")
    assert (d.outcome, d.reason) == (Outcome.REFUSED, Reason.INVALID_SPEC)
    assert "returned a str from maintained_iface_options() ('acme-queues')" in d.detail
    assert d.detail in caplog.messages


def test_a_slow_provider_call_is_logged_naming_provider_and_lport(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [100.0]
    monkeypatch.setattr("ovn_vif._engine.decision.time.monotonic", lambda: now[0])

    class Slow(Acme):
        def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
            now[0] += 2.0
            return super().prepare_create(ctx)

    with ProviderHarness(Slow()) as h:
        h.add_lport("lsp1", {SLOT: "1"})
        assert h.iterate().outcomes == {"lsp1": (Outcome.PLUGGED,)}
    assert (
        "VIF plug provider acme took 2.00 s in prepare_create() for lport lsp1 (budget 0.5 s): "
        "the agent's loop waited for it"
    ) in caplog.messages
