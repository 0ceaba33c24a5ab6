"""The conformance kit against a suite of deliberately broken providers.

Each entry of ``BROKEN`` is a distinct bug a vendor could ship, and the
rule the kit must report it under. ``test_each_broken_provider_is_caught``
runs one test per bug; ``test_catch_rate`` runs them all and reports the
rate (``pytest -s`` prints it). ``Good`` -- which the broken ones each break
in one way -- must pass.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import json
import logging
import os
import time
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
    default_registry,
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


def slot_options(lport: str) -> dict[str, str]:
    # kit-lsp-1 ... kit-lsp-4 each ask for their own slot
    return {PORT: lport[-1] if lport[-1].isdigit() else "9", MODE: "fast"}


class Slotted(Good):
    """A slot table -- which lport each plugged slot is for, rebuilt by
    restore() -- as the tutorial's provider keeps one."""

    kit_options = staticmethod(slot_options)

    def __init__(self) -> None:
        super().__init__()
        self.in_use: dict[str, str] = {}  # slot -> lport

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        slot = ctx.lport_options.get(PORT, "")
        owner = self.in_use.get(slot, ctx.lport_name)
        if owner != ctx.lport_name:
            return Decline(f"slot {slot} is plugged for lport {owner}")
        return super().prepare_create(ctx)

    def name(self, ctx: PortContext, port: str) -> str:
        return f"kit{port}"

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        if spec is None:
            for slot in [s for s, lport in self.in_use.items() if lport == ctx.lport_name]:
                del self.in_use[slot]
        else:
            self.in_use[spec.name[3:]] = ctx.lport_name

    def restore(self, ports: Sequence[RestoredPort]) -> None:
        self.in_use = {p.name[3:]: p.lport_name for p in ports}


class TableInOutstanding(Slotted):
    """outstanding() lists the plugged-slot table too, as its docstring allows."""

    def outstanding(self) -> list[str]:
        plugged = [f"slot {s} plugged for {lport}" for s, lport in sorted(self.in_use.items())]
        return super().outstanding() + plugged


class ConstantClassTable(Good):
    """A class-level table that is only read: not shared state."""

    QUEUES: dict[str, str] = {"fast": "8", "slow": "1"}  # noqa: RUF012

    def queues(self, ctx: PortContext) -> str | None:
        return self.QUEUES.get(ctx.lport_options.get(MODE, "fast"))


class RunsOnce(Good):
    """run() reports a change once (its table was loaded), then none."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False

    def run(self) -> bool:
        changed, self.loaded = not self.loaded, True
        return changed


#: Correct providers the kit must pass (each close to a bug below).
CORRECT: list[Callable[[], Any]] = [Good, Slotted, TableInOutstanding, ConstantClassTable, RunsOnce]


# --- broken ones found by a vendor's provider, written as a new user would ----


class DefaultsMissingPort(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        options = {PORT: "0", **ctx.lport_options}  # slot 0 unless told
        return super().prepare_create(attrs.evolve(ctx, lport_options=options))


class OverDeclared(Good):
    def maintained_iface_options(self) -> frozenset[str]:
        return frozenset({"kit-queues", "n_rxq"})  # n_rxq: never written


class RestoresPortNames(Slotted):
    def restore(self, ports: Sequence[RestoredPort]) -> None:
        self.in_use = {p.name[3:]: p.name for p in ports}  # the port, not the lport


class NeverFreesSlot(Slotted):
    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        if spec is not None:
            self.in_use[spec.name[3:]] = ctx.lport_name


class ClassLevelTable(Slotted):
    in_use: dict[str, str] = {}  # noqa: RUF012 - the bug

    def __init__(self) -> None:
        Good.__init__(self)  # no self.in_use: every instance shares the class's


class AlwaysChanged(Good):
    def run(self) -> bool:
        return True


class DestroyRaises(Good):
    def destroy(self) -> None:
        raise RuntimeError("firmware handle already closed")


class HugeDeclineReason(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        result = super().prepare_create(ctx)
        if isinstance(result, Decline):
            return Decline(f"bad options: {dict(ctx.lport_options)!r}\x00\x1b[2J" * 2000)
        return result


class UmaskAtInit(Good):
    def init(self) -> None:
        os.umask(0)


class LoggingAtInit(Good):
    def init(self) -> None:
        logging.getLogger().addHandler(logging.NullHandler())


class RegistersItself(Good):
    def __init__(self) -> None:
        super().__init__()
        if "kit-self" not in default_registry:
            other = Good()
            other.type = "kit-self"
            default_registry.register(other)


class IntOptionValue(Good):
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        result = super().prepare_create(ctx)
        if isinstance(result, PlugSpec):
            return PlugSpec(name=result.name, options={"kit-queues": 8})  # type: ignore[dict-item]
        return result


class SpecOrDecline(Good):
    """`return ok and PlugSpec(...)` with a Decline as ok: fine now (falsy)."""

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        port = ctx.lport_options.get(PORT, "")
        ok = (port.isdigit() and port.isascii()) or Decline(f"{PORT} is not a number")
        return ok and super().prepare_create(ctx)


CORRECT.append(SpecOrDecline)


def umask_at_import() -> Callable[[], Any]:
    mask = os.umask(0o022)
    try:
        module = importlib.import_module("tests.ovn_vif.testing.umask_at_import")
    finally:
        os.umask(mask)
    return module.UmaskAtImport  # type: ignore[no-any-return]


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
    ("defaults a missing required option", DefaultsMissingPort, "required-option"),
    ("declares a maintained option it never writes", OverDeclared, "overdeclared-options"),
    ("restore() rebuilds the table wrongly", RestoresPortNames, "restore-round-trip"),
    ("never frees a slot on unplug", NeverFreesSlot, "freed-on-unplug"),
    ("keeps its table in a class attribute", ClassLevelTable, "shared-state"),
    ("run() always reports a change", AlwaysChanged, "run-always-changed"),
    ("destroy() raises", DestroyRaises, "destroy-raised"),
    ("a 64 KiB decline reason with control characters", HugeDeclineReason, "decline-reason"),
    ("sets the umask in init()", UmaskAtInit, "global-side-effects"),
    ("adds a root logging handler in init()", LoggingAtInit, "global-side-effects"),
    ("registers into the default registry", RegistersItself, "global-side-effects"),
    ("sets the umask at import", umask_at_import(), "global-side-effects"),
    ("an int Interface option value", IntOptionValue, "spec-invalid"),
]


@functools.cache
def run_kit(factory: Callable[[], Any]) -> ProviderCheckReport:
    """The kit's report on *factory* (each provider is checked once per session)."""
    CLOCK[0] = 0.0
    return check_provider(
        factory,
        lport_options=getattr(factory, "kit_options", kit_options),
        required_options=[PORT],  # the mode defaults to "fast"
        raise_on_violation=False,
        clock=lambda: CLOCK[0],
    )


def test_good_passes() -> None:
    report = run_kit(Good)
    assert report.ok, report.messages()
    assert report.fuzzed_options == (MODE, PORT)


@pytest.mark.parametrize("factory", CORRECT, ids=[c.__name__ for c in CORRECT])
def test_correct_providers_pass(factory: Callable[[], Any]) -> None:
    report = run_kit(factory)
    assert report.ok, report.messages()


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
        assert check_provider(Good, lport_options=kit_options, required_options=[PORT]).ok
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


class SleepsInCreate(Good):
    """Really blocks (the other tests use the kit's fake clock)."""

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        time.sleep(0.15)
        return super().prepare_create(ctx)


def test_a_blocking_hook_is_called_once_and_the_run_stays_short() -> None:
    start = time.monotonic()
    report = check_provider(
        SleepsInCreate,
        lport_options=kit_options,
        required_options=[PORT],
        call_bound=0.1,
        raise_on_violation=False,
    )
    elapsed = time.monotonic() - start
    assert report.rules == ("blocking-call",), report.messages()
    assert sum(c.endswith("prepare_create(kit-lsp-1)") for c in report.calls) == 1
    assert "stopped calling prepare_create()" in report.messages()[0]
    assert elapsed < 3, elapsed  # it was ~0.15 s times every call: 46 s at 0.6 s a call


def test_a_raising_destroy_is_reported_not_raised() -> None:
    report = run_kit(DestroyRaises)
    [msg] = [m for m in report.messages() if m.startswith("[destroy-raised]")]
    assert "RuntimeError: firmware handle already closed" in msg
    with pytest.raises(AssertionError, match="destroy-raised"):
        check_provider(DestroyRaises, lport_options=kit_options, required_options=[PORT])


def test_an_invalid_spec_is_not_advised_to_be_declined() -> None:
    [msg] = [m for m in run_kit(IntOptionValue).messages() if "spec-invalid" in m]
    assert "FrozenMap holds str -> str only" in msg
    assert "convert numbers with str()" in msg
    assert "return a Decline" not in msg


def test_messages_name_the_frozenmap_the_provider_sees() -> None:
    class Serialises(Good):
        def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
            json.dumps(ctx.lport_options)
            return super().prepare_create(ctx)

    messages = check_provider(
        Serialises, lport_options=kit_options, raise_on_violation=False
    ).messages()
    assert any("Object of type FrozenMap is not JSON serializable" in m for m in messages)
    assert not any("_ReadRecorder" in m for m in messages)


def test_required_option_message_says_how_to_decline_and_how_to_name_optional_ones() -> None:
    [msg] = [m for m in run_kit(DefaultsMissingPort).messages() if "required-option" in m]
    assert msg.startswith(
        "[required-option] prepare_create(kit-required) plugged 'kit0d' when option "
        "vif-plug:kit:port was missing"
    )
    assert "required_options=[...]" in msg
    # Without required_options=, every option of lport_options is required.
    report = check_provider(Good, lport_options=kit_options, raise_on_violation=False)
    assert report.rules == ("required-option",)
    assert "when option vif-plug:kit:mode was missing" in report.messages()[0]


def test_restore_round_trip_message_names_both_answers() -> None:
    [msg] = [m for m in run_kit(RestoresPortNames).messages() if "restore-round-trip" in m]
    assert "prepare_create(kit-lsp-1) (plugged as kit1) with Decline(" in msg
    assert "slot 1 is plugged for lport kit1" in msg
    assert "the first answered PlugSpec(name='kit1'" in msg
    assert "restored_ports()" in msg


def test_side_effects_are_reported_and_put_back() -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    handlers = list(logging.getLogger().handlers)
    [msg] = [m for m in run_kit(UmaskAtInit).messages() if "global-side-effects" in m]
    assert "the umask (" in msg
    assert "-> 000)" in msg
    [msg] = [m for m in run_kit(RegistersItself).messages() if "global-side-effects" in m]
    assert "the default registry (registered kit-self)" in msg
    assert "kit-self" not in default_registry
    assert os.umask(mask) == mask
    run_kit(LoggingAtInit)
    assert logging.getLogger().handlers == handlers
