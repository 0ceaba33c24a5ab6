"""The provider conformance kit: DummyProvider passes; each broken provider shows its message."""

from __future__ import annotations

from typing import Any

import pytest

from ovn_vif import PlugSpec, PortContext, ProviderUnavailableError, VifPlugProvider
from ovn_vif.testing import ProviderCheckError, check_provider
from ovn_vif_dummy import DummyProvider


class Good(VifPlugProvider):
    """A well-behaved provider the broken ones below each break in one way."""

    type = "kit"

    def __init__(self) -> None:
        self.reserved: set[str] = set()

    def maintained_iface_options(self) -> frozenset[str]:
        return frozenset({"kit-queues"})

    def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
        if "vif-plug:kit:port" not in ctx.lport_options:
            return None
        self.reserved.add(ctx.lport_name)
        name = "kit" + ctx.lport_options["vif-plug:kit:port"] + ctx.lport_name[-1]
        return PlugSpec(name=name, options={"kit-queues": "4"})

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        self.reserved.discard(ctx.lport_name)


OPTIONS = {"vif-plug:kit:port": "7"}


def messages(factory: Any, **kwargs: Any) -> list[str]:
    kwargs.setdefault("lport_options", OPTIONS)
    report = check_provider(factory, raise_on_violation=False, **kwargs)
    return report.messages()


def test_dummy_provider_passes() -> None:
    report = check_provider(DummyProvider)
    assert report.ok
    assert report.provider_type == "dummy"
    for hook in (
        "init()",
        "prepare_create(kit-lsp-1)",
        "finish(kit-lsp-1)",
        "release(kit-lsp-2)",
        "prepare_remove(kit-lsp-2)",
        "fresh.prepare_remove(kit-lsp-1)",
        "destroy()",
    ):
        assert hook in report.calls, hook


def test_good_provider_passes() -> None:
    assert check_provider(Good, lport_options=OPTIONS).ok


def test_violations_raise_an_assertion_error_listing_them() -> None:
    class Raising(Good):
        def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
            raise KeyError("vif-plug:kit:port")

    with pytest.raises(ProviderCheckError) as info:
        check_provider(Raising, lport_options=OPTIONS)
    assert isinstance(info.value, AssertionError)
    assert "VIF plug provider 'kit' breaks the provider contract" in str(info.value)
    assert "[prepare-raised]" in str(info.value)


def test_prepare_raising_instead_of_declining() -> None:
    class Raising(Good):
        def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
            raise KeyError("vif-plug:kit:port")

    (msg,) = messages(Raising)
    assert msg == (
        "[prepare-raised] prepare_create(kit-lsp-1) raised KeyError: 'vif-plug:kit:port'; "
        "return a Decline saying why (or None) when the port cannot be plugged yet (exceptions "
        "are treated as bugs)"
    )


@pytest.mark.parametrize(
    ("name", "why"),
    [("", "empty"), ("x" * 16, "15"), ("kit/1", "/"), ("kit 1", "whitespace")],
    ids=["empty", "too-long", "slash", "space"],
)
def test_port_name_that_cannot_be_a_netdev(name: str, why: str) -> None:
    class BadName(Good):
        def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
            return PlugSpec(name=name)

    (msg,) = [m for m in messages(BadName) if m.startswith("[netdev-name]")]
    assert f"named port {name!r}" in msg
    assert why in msg


def test_options_not_declared_as_maintained() -> None:
    class Undeclared(Good):
        def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
            return PlugSpec(
                name="kit7" + ctx.lport_name[-1], options={"kit-queues": "4", "kit-secret": "1"}
            )

    (msg,) = [m for m in messages(Undeclared) if m.startswith("[undeclared-options]")]
    assert msg.startswith(
        "[undeclared-options] prepare_create(kit-lsp-1) writes Interface "
        "options kit-secret that maintained_iface_options() does not declare"
    )


def test_mutating_its_input() -> None:
    class Mutating(Good):
        def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
            ctx.lport_options._data["vif-plug:kit:seen"] = "yes"
            return super().prepare_create(ctx)

    msgs = messages(Mutating)
    assert any(
        m.startswith("[mutated-input] prepare_create(kit-lsp-1) changed its PortContext")
        and m.endswith("inputs are read-only")
        for m in msgs
    ), msgs


def test_a_call_that_blocks() -> None:
    now = [0.0]

    class Slow(Good):
        def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
            now[0] += 3.0  # what a blocking lookup costs, on the kit's clock
            return super().prepare_create(ctx)

    msgs = messages(Slow, clock=lambda: now[0])
    assert any(
        m.startswith("[blocking-call] prepare_create(kit-lsp-1) took 3.00 s (bound 0.5 s)")
        for m in msgs
    ), msgs


def test_remove_depending_on_state_create_never_set() -> None:
    class Stateful(Good):
        def __init__(self) -> None:
            super().__init__()
            self.ports: dict[str, str] = {}

        def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
            spec = super().prepare_create(ctx)
            if spec is not None:
                self.ports[ctx.lport_name] = spec.name
            return spec

        def prepare_remove(self, ctx: PortContext) -> bool:
            return bool(self.ports[ctx.lport_name])

    (msg,) = messages(Stateful)
    assert msg.startswith(
        "[remove-needs-create-state] prepare_remove(kit-lsp-1) on a fresh provider instance "
        "raised KeyError: 'kit-lsp-1': removal must not depend on state prepare_create() kept"
    )


def test_remove_vetoed_by_a_fresh_instance() -> None:
    class Forgetful(Good):
        def prepare_remove(self, ctx: PortContext) -> bool:
            return ctx.lport_name in self.reserved or ctx.lport_name.endswith("2")

    (msg,) = messages(Forgetful)
    assert msg.startswith(
        "[remove-needs-create-state] prepare_remove(kit-lsp-1) on a fresh provider instance "
        "vetoed the removal of kit71"
    )


def test_release_not_tolerating_a_failed_commit() -> None:
    class Strict(Good):
        def __init__(self) -> None:
            super().__init__()
            self.done: set[str] = set()

        def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
            self.done.add(ctx.lport_name)

        def release(self, ctx: PortContext, spec: PlugSpec) -> None:
            if ctx.lport_name not in self.done:
                raise RuntimeError("release before finish")
            super().release(ctx, spec)

    msgs = messages(Strict)
    assert (
        "[release-after-failed-commit] release(kit-lsp-2) raised RuntimeError: release before "
        "finish after a failed commit; release() must free what prepare_create() reserved "
        "whether or not the commit succeeded"
    ) in msgs


def test_a_provider_that_always_declines() -> None:
    (msg,) = messages(Good, lport_options={})
    assert msg.startswith("[declined] prepare_create(kit-lsp-1) declined (returned None)")
    assert "pass check_provider(lport_options=...)" in msg


def test_a_provider_unavailable_on_this_host() -> None:
    class Absent(Good):
        def init(self) -> None:
            raise ProviderUnavailableError("no kit hardware")

    (msg,) = messages(Absent)
    assert msg.startswith("[unavailable] init() raised ProviderUnavailableError (no kit hardware)")


def test_other_hooks_raising_and_bad_results() -> None:
    class Sloppy(Good):
        def run(self) -> bool:
            return None  # type: ignore[return-value]

        def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
            raise ValueError("oops")

    msgs = messages(Sloppy)
    assert "[run-result] run() returned None; it must return True or False" in msgs
    assert any(
        m.startswith("[hook-raised] finish(kit-lsp-1) raised ValueError: oops") for m in msgs
    )


def test_factory_must_build_a_provider() -> None:
    (msg,) = messages(object)
    assert msg == "[not-a-provider] the factory returned a object, not a VifPlugProvider"


def test_init_raising_and_a_bad_type() -> None:
    class Broken(Good):
        def init(self) -> None:
            raise OSError("firmware missing")

    assert messages(Broken) == ["[init-raised] init() raised OSError: firmware missing"]

    class Spaced(Good):
        type = "kit type"

    (msg,) = messages(Spaced)
    assert msg.startswith("[type] the registry refused the provider: ValueError")
