"""The conformance kit against a suite of deliberately broken providers.

Each entry of ``BROKEN`` is a distinct bug a vendor could ship, and the
rule the kit must report it under. ``test_each_broken_provider_is_caught``
runs one test per bug; ``test_catch_rate`` runs them all and reports the
rate (``pytest -s`` prints it). ``Good`` -- which the broken ones each break
in one way -- must pass.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest

from ovn_vif import (
    Decline,
    PlugSpec,
    PortContext,
    RestoredPort,
    VifPlugProvider,
)
from ovn_vif.testing import ProviderCheckReport, check_provider

PORT = "vif-plug:kit:port"
MODE = "vif-plug:kit:mode"
MODES = {"fast": "8", "slow": "1"}


def kit_options(lport: str) -> dict[str, str]:
    return {PORT: "7", MODE: "fast"}


class Good(VifPlugProvider):
    """Two options (a port number and a mode), a reservation per spec."""

    type = "kit"

    def __init__(self) -> None:
        self.reserved: dict[str, int] = {}

    def maintained_iface_options(self) -> frozenset[str]:
        return frozenset({"kit-queues"})

    def queues(self, ctx: PortContext) -> str | None:
        return MODES.get(ctx.lport_options.get(MODE, "fast"))

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        port = ctx.lport_options.get(PORT, "")
        queues = self.queues(ctx)
        if not (port.isascii() and port.isdigit() and len(port) <= 3) or queues is None:
            return Decline(f"{PORT}={port!r} / {MODE} not usable")
        self.reserved[ctx.lport_name] = self.reserved.get(ctx.lport_name, 0) + 1
        return PlugSpec(name=self.name(ctx, port), options={"kit-queues": queues})

    def name(self, ctx: PortContext, port: str) -> str:
        return f"kit{port}{ctx.lport_name[-1]}"

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        left = self.reserved.get(ctx.lport_name, 0) - 1
        if left > 0:
            self.reserved[ctx.lport_name] = left
        else:
            self.reserved.pop(ctx.lport_name, None)

    def outstanding(self) -> list[str]:
        return [f"spec for {lport}" for lport in sorted(self.reserved)]


# --- the broken ones ---------------------------------------------------------


class RaisesOnCreate(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        raise RuntimeError("no device table")


class RaisesOnMalformedPort(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        slot = int(ctx.lport_options.get(PORT, "0"))  # "garbage" raises
        return super().prepare_create(ctx) if slot >= 0 else Decline("negative")


class RaisesOnMissingMode(Good):
    def queues(self, ctx: PortContext) -> str | None:
        return MODES.get(ctx.lport_options[MODE])  # KeyError when missing


class RaisesOnUnknownMode(Good):
    def queues(self, ctx: PortContext) -> str | None:
        return MODES[ctx.lport_options.get(MODE, "fast")]  # KeyError on "garbage"


class RaisesOnNonAscii(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        ctx.lport_options.get(MODE, "").encode("ascii")
        return super().prepare_create(ctx)


class RaisesOnHugeValue(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        if len(ctx.lport_options.get(PORT, "")) > 1000:
            raise OverflowError("port number too long")
        return super().prepare_create(ctx)


class NeverReleases(Good):
    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        pass


class LeaksOnFailedCommit(Good):
    def __init__(self) -> None:
        super().__init__()
        self.finished: set[str] = set()

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        self.finished.add(ctx.lport_name)

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        if ctx.lport_name in self.finished:  # forgets failed commits
            super().release(ctx, spec)


class LeakyPoolWithoutOutstanding(Good):
    """Takes a slot per spec from a finite pool and never gives it back; no outstanding()."""

    def __init__(self) -> None:
        super().__init__()
        self.free = 16

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        if self.free == 0:
            return Decline("no free slot")
        self.free -= 1
        return super().prepare_create(ctx)

    def outstanding(self) -> None:  # type: ignore[override]
        return None


class SameNameForEveryLport(Good):
    def name(self, ctx: PortContext, port: str) -> str:
        return f"kit{port}"


class CounterInName(Good):
    counter = itertools.count()

    def name(self, ctx: PortContext, port: str) -> str:
        return f"kit{next(self.counter) % 1000}"


class FlipFlops(Good):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        self.calls += 1
        if self.calls % 2 == 0:
            return Decline("busy, try later")
        return super().prepare_create(ctx)


class DeclinesUpdates(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        if ctx.is_update:
            return Decline("already plugged")
        return super().prepare_create(ctx)


class RenamesOnUpdate(Good):
    def name(self, ctx: PortContext, port: str) -> str:
        return super().name(ctx, port) + ("u" if ctx.is_update else "")


def _spec_with(**changes: Any) -> type[Good]:
    class Changed(Good):
        def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
            spec = super().prepare_create(ctx)
            return attrs.evolve(spec, **changes) if isinstance(spec, PlugSpec) else spec

    return Changed


class MaintainedAsStr(Good):
    def maintained_iface_options(self) -> frozenset[str]:
        return "kit-queues"  # type: ignore[return-value]


class MaintainedAsInts(Good):
    def maintained_iface_options(self) -> frozenset[str]:
        return [1, 2]  # type: ignore[return-value]


class MutatesInput(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        object.__setattr__(ctx, "lport_name", ctx.lport_name.upper())
        return super().prepare_create(ctx)


class ReturnsDict(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        return {"name": "kit7"}  # type: ignore[return-value]


class RemoveReturnsStr(Good):
    def prepare_remove(self, ctx: PortContext) -> bool:
        return "yes"  # type: ignore[return-value]


class RunReturnsNone(Good):
    def run(self) -> bool:
        return None  # type: ignore[return-value]


class WaitFdsReturnsInt(Good):
    def wait_fds(self) -> Sequence[int]:
        return 5  # type: ignore[return-value]


class NextWakeupReturnsStr(Good):
    def next_wakeup(self) -> float | None:
        return "soon"  # type: ignore[return-value]


class NextWakeupReturnsBool(Good):
    def next_wakeup(self) -> float | None:
        return True


class FinishRaises(Good):
    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        raise ValueError("oops")


class ReleaseNeedsFinish(Good):
    def __init__(self) -> None:
        super().__init__()
        self.done: set[str] = set()

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        self.done.add(ctx.lport_name)

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        if ctx.lport_name not in self.done:
            raise RuntimeError("release before finish")
        super().release(ctx, spec)


class RemoveNeedsCreateState(Good):
    def __init__(self) -> None:
        super().__init__()
        self.ports: dict[str, str] = {}

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        if spec is not None:
            self.ports[ctx.lport_name] = spec.name

    def prepare_remove(self, ctx: PortContext) -> bool:
        return bool(self.ports[ctx.lport_name])


class VetoesUnknownPorts(RemoveNeedsCreateState):
    def prepare_remove(self, ctx: PortContext) -> bool:
        return ctx.lport_name in self.ports


class AlwaysDeclines(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        return Decline("not today")


class OnlyTheFirstPort(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        if not ctx.lport_name.endswith("1"):
            return Decline("only one port supported")
        return super().prepare_create(ctx)


class InitRaises(Good):
    def init(self) -> None:
        raise OSError("firmware missing")


class NoType(Good):
    type = ""


class RestoreRaises(Good):
    def restore(self, ports: Sequence[RestoredPort]) -> None:
        raise KeyError("slot table")


class OutstandingAsStr(Good):
    def outstanding(self) -> str:  # type: ignore[override]
        return "nothing"


class SlowCreate(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        CLOCK[0] += 2.0  # the kit's clock: 2 s per call
        return super().prepare_create(ctx)


CLOCK = [0.0]

#: (bug, factory, rule the kit must report)
BROKEN: list[tuple[str, Callable[[], Any], str]] = [
    ("raises in prepare_create", RaisesOnCreate, "prepare-raised"),
    ("raises on a malformed port number", RaisesOnMalformedPort, "fuzz-raised"),
    ("raises when the mode option is missing", RaisesOnMissingMode, "fuzz-raised"),
    ("raises on an unknown mode", RaisesOnUnknownMode, "fuzz-raised"),
    ("raises on a non-ASCII value", RaisesOnNonAscii, "fuzz-raised"),
    ("raises on a huge value", RaisesOnHugeValue, "fuzz-raised"),
    ("never releases (leak, with outstanding())", NeverReleases, "leak"),
    ("leaks on failed commits", LeaksOnFailedCommit, "leak"),
    ("leaks a finite pool (no outstanding())", LeakyPoolWithoutOutstanding, "leak"),
    ("same port name for every lport", SameNameForEveryLport, "not-plugged"),
    ("a counter in the port name", CounterInName, "unstable"),
    ("answers differently on each call", FlipFlops, "unstable"),
    ("declines updates of a plugged port", DeclinesUpdates, "unstable"),
    ("renames the port on update", RenamesOnUpdate, "unstable"),
    ("a tunnel Interface type", _spec_with(type="vxlan"), "iface-type"),
    ("a nonsense Interface type", _spec_with(type="smartnic"), "iface-type"),
    ("a patch Interface type", _spec_with(type="patch"), "iface-type"),
    (
        "a control character in an option",
        _spec_with(options={"kit-queues": "4\n"}),
        "iface-options",
    ),
    ("an empty option key", _spec_with(options={"": "4", "kit-queues": "4"}), "iface-options"),
    (
        "an undeclared Interface option",
        _spec_with(options={"kit-other": "1"}),
        "undeclared-options",
    ),
    ("a port name with a slash", _spec_with(name="kit/7"), "netdev-name"),
    ("a port name over 15 bytes", _spec_with(name="kit-port-number-7"), "netdev-name"),
    ("maintained_iface_options() returns a str", MaintainedAsStr, "maintained-result"),
    ("maintained_iface_options() returns ints", MaintainedAsInts, "maintained-result"),
    ("mutates its PortContext", MutatesInput, "mutated-input"),
    ("prepare_create returns a dict", ReturnsDict, "spec-type"),
    ("prepare_remove returns a str", RemoveReturnsStr, "remove-result"),
    ("run() returns None", RunReturnsNone, "run-result"),
    ("wait_fds() returns an int", WaitFdsReturnsInt, "wait-fds"),
    ("next_wakeup() returns a str", NextWakeupReturnsStr, "next-wakeup"),
    ("next_wakeup() returns a bool", NextWakeupReturnsBool, "next-wakeup"),
    ("finish() raises", FinishRaises, "hook-raised"),
    ("release() needs a successful commit", ReleaseNeedsFinish, "release-after-failed-commit"),
    ("prepare_remove needs create-time state", RemoveNeedsCreateState, "remove-needs-create-state"),
    ("vetoes removals it did not see created", VetoesUnknownPorts, "remove-needs-create-state"),
    ("declines the kit's port", AlwaysDeclines, "declined"),
    ("plugs only one port", OnlyTheFirstPort, "declined"),
    ("init() raises", InitRaises, "init-raised"),
    ("no plug type", NoType, "type"),
    ("restore() raises", RestoreRaises, "hook-raised"),
    ("outstanding() returns a str", OutstandingAsStr, "outstanding-result"),
    ("prepare_create blocks", SlowCreate, "blocking-call"),
]


@functools.cache
def run_kit(factory: Callable[[], Any]) -> ProviderCheckReport:
    """The kit's report on *factory* (each provider is checked once per session)."""
    CLOCK[0] = 0.0
    return check_provider(
        factory, lport_options=kit_options, raise_on_violation=False, clock=lambda: CLOCK[0]
    )


def test_good_passes() -> None:
    report = run_kit(Good)
    assert report.ok, report.messages()
    assert report.fuzzed_options == (MODE, PORT)


def test_the_bugs_are_distinct() -> None:
    assert len(BROKEN) >= 30
    assert len({bug for bug, _, _ in BROKEN}) == len(BROKEN)
    assert len({factory for _, factory, _ in BROKEN}) == len(BROKEN)


@pytest.mark.parametrize(("bug", "factory", "rule"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_provider_is_caught(bug: str, factory: Callable[[], Any], rule: str) -> None:
    report = run_kit(factory)
    assert rule in report.rules, (bug, report.messages())


def test_catch_rate(capsys: pytest.CaptureFixture[str]) -> None:
    caught = [bug for bug, factory, rule in BROKEN if rule in run_kit(factory).rules]
    with capsys.disabled():
        print(f"\nconformance kit catch rate: {len(caught)}/{len(BROKEN)} broken providers")
    assert len(caught) == len(BROKEN)


def test_precise_message_for_maintained_as_str() -> None:
    [msg] = [m for m in run_kit(MaintainedAsStr).messages() if "maintained-result" in m]
    assert msg == (
        "[maintained-result] maintained_iface_options() returned a str ('kit-queues'), which "
        "the engine would read as single characters; return frozenset({'kit-queues'}) (a "
        "frozenset of option keys) or None"
    )


def test_fuzz_message_names_the_option_and_value() -> None:
    msgs = run_kit(RaisesOnMissingMode).messages()
    [msg] = [m for m in msgs if m.startswith("[fuzz-raised]")]
    assert msg.startswith(
        "[fuzz-raised] prepare_create() raised KeyError: 'vif-plug:kit:mode' when option "
        "vif-plug:kit:mode was missing"
    )


def test_collision_message_carries_the_engines_reason() -> None:
    msg, *_ = [m for m in run_kit(SameNameForEveryLport).messages() if "not-plugged" in m]
    assert msg.startswith("[not-plugged] kit-lsp-2 was not plugged: the engine refused it ")
    assert "(name-collision)" in msg
    assert "give every lport its own port name" in msg


def test_the_kits_injected_failure_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert check_provider(Good, lport_options=kit_options).ok
    assert not [r for r in caplog.records if "injected by check_provider" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_kit_frames_are_hidden_from_pytest_tracebacks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_vendor="""
        from ovn_vif import PlugSpec, VifPlugProvider
        from ovn_vif.testing import check_provider

        class Broken(VifPlugProvider):
            type = "kit"

            def prepare_create(self, ctx):
                return PlugSpec(name="kit/" + ctx.lport_name[-1])

        def test_it():
            check_provider(Broken)
        """
    )
    # In a subprocess: a clean interpreter, as a vendor's test run is.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "[netdev-name]" in out
    assert "_conformance.py" not in out
    assert len(out.splitlines()) < 40, out
