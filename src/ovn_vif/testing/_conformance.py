"""The provider conformance kit: :func:`check_provider`.

One call drives a provider through its whole life cycle with the real engine
(:class:`ovn_vif.Reconciler`) on fake databases, and reports every
breach of the provider contract with a message that says what to fix::

    from ovn_vif.testing import check_provider

    def test_acme_keeps_the_contract():
        check_provider(AcmeProvider, lport_options={"vif-plug:acme:port": "1"})

The life cycle (each stage is one or more agent iterations):

0. the provider's module is imported in a clean interpreter, to see what
   the import changes in the process (``global-side-effects``);
1. ``init``; ``kit-lsp-1`` requested for this chassis with ``vif-plug-type``
   = the provider's type (plus ``lport_options``): ``prepare_create``, the
   commit succeeds (``finish``, ``release``);
2. nothing changes and the engine runs again: the answer must be the same
   (``stability``), and ``prepare_create`` called twice on one input must
   answer the same way; then with each required option left out it must
   decline (``required-option``);
3. ``kit-lsp-2`` and ``kit-lsp-3`` together; their commit fails (the kit
   injects the failure: ``release`` alone), the retry succeeds; both must
   end up plugged;
4. one option of ``kit-lsp-1`` changes (``vif-plug-mtu-request``): an
   update; a second instance given ``restore()`` of the rows must answer as
   the first (``restore-round-trip``);
5. ``kit-lsp-2`` is removed by the same instance, and ``kit-lsp-5`` asks
   for its options (``freed-on-unplug``);
6. a *fresh* instance from the factory, as after an agent restart
   (``restore`` tells it what is plugged), removes the other ports, and
   ``kit-lsp-6`` asks for the options ``kit-lsp-1`` had;
7. ``kit-lsp-4`` is plugged and unplugged several times, every other
   commit failing (reservations must come back);
8. option fuzzing: ``prepare_create`` is called with each option the
   provider reads missing, empty, garbage, huge, non-ASCII and padded;
9. two more instances side by side must not see each other's ports
   (``shared-state``); what the whole run showed (``run-always-changed``,
   ``overdeclared-options``); ``destroy``.

``run``, ``wait_fds`` and ``next_wakeup`` are called every iteration, as an
agent's loop does, and ``outstanding`` (when the provider implements it)
after every one. The iterations are a :class:`~ovn_vif.testing.ProviderHarness`'s;
the engine sees the provider through :class:`_Spy`, which records, times
and checks every call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import attrs

from ovn_vif._contract.frozenmap import FrozenMap
from ovn_vif._contract.netdev import netdev_name_problem
from ovn_vif._contract.provider import (
    DECLINE_REASON_LIMIT,
    Decline,
    OpType,
    PlugSpec,
    PortContext,
    RestoredPort,
    VifPlugProvider,
)
from ovn_vif._engine.reconciler import LOG as RECONCILER_LOG
from ovn_vif._engine.report import Decision, Outcome, Reason, ReconcileReport
from ovn_vif._errors import DeclineError, ProviderCheckError, ProviderUnavailableError
from ovn_vif.testing import _process_state
from ovn_vif.testing._harness import Iteration, ProviderHarness

#: Seconds a single provider call may take before the kit calls it blocking.
#: Hooks run inside the agent's loop; anything slower belongs in ``init`` or
#: in work that ``run`` advances a step at a time.
DEFAULT_CALL_BOUND: Final = 0.5

CHASSIS: Final = "hv1"
BRIDGE: Final = "br-int"
LPORT_CREATE: Final = "kit-lsp-1"
LPORT_FAIL: Final = "kit-lsp-2"
LPORT_FAIL_TOO: Final = "kit-lsp-3"
LPORT_CHURN: Final = "kit-lsp-4"
LPORT_FUZZ: Final = "kit-fuzz"
LPORT_REUSE: Final = "kit-lsp-5"
LPORT_REUSE_AFTER_RESTART: Final = "kit-lsp-6"
LPORT_REQUIRED: Final = "kit-required"
LPORT_SHARED: Final = "kit-shared"
#: Options the CMS sets on every plugged LSP: never a provider's own.
_CMS_OPTIONS: Final = frozenset({"vif-plug-type", "requested-chassis", "vif-plug-mtu-request"})
#: After how many ``run()`` calls that all returned ``True`` (nothing changing)
#: the kit calls it a provider that always claims a change.
RUN_ALWAYS_CALLS: Final = 5
#: What the kit answers for a hook it stopped calling because it blocked.
_SKIPPED: Final[dict[str, Any]] = {
    "prepare_create": Decline("check_provider stopped calling prepare_create() after it blocked"),
    "prepare_remove": True,
    "run": False,
    "wait_fds": (),
}
#: How many plug/unplug cycles the leak stage runs.
CHURN_CYCLES: Final = 20
_INJECTED: Final = "commit failure injected by check_provider"

#: Interface types ``ovs-vswitchd`` can plug a VIF as. Tunnel and patch
#: types exist too but are never a VIF.
VIF_IFACE_TYPES: Final = frozenset(
    {
        "",
        "system",
        "internal",
        "tap",
        "dpdk",
        "dpdkvhostuser",
        "dpdkvhostuserclient",
        "afxdp",
        "afxdp-nonpmd",
        "dummy",
        "dummy-internal",
        "dummy-pmd",
    }
)
_NOT_VIF_TYPES: Final = frozenset(
    {
        "patch",
        "geneve",
        "gre",
        "vxlan",
        "lisp",
        "stt",
        "bareudp",
        "erspan",
        "ip6erspan",
        "ip6gre",
        "gtpu",
        "srv6",
    }
)
#: What the option fuzzer writes into each option the provider reads
#: (``None``: the option is missing).
FUZZ_VALUES: Final[tuple[str | None, ...]] = (
    None,
    "",
    " ",
    "garbage",
    " 1",
    "1 ",
    "-1",
    "0x1f",
    "1e3",
    "99999999999999999999999",
    "9" * 4096,
    "ünïcødé-✓",
    "\u202e1",
    "a\tb\nc",
    "00:00:00:00:00:00",
    "../../etc/passwd",
)
_MAX_OPTION_LEN: Final = 4096


@attrs.frozen(slots=True)
class Violation:
    """One breach of the provider contract."""

    #: Short name of the rule (``"prepare-raised"``, ``"netdev-name"``, ...).
    rule: str
    #: What happened and what to do about it.
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


@attrs.frozen(slots=True)
class ProviderCheckReport:
    """What :func:`check_provider` found."""

    #: The provider's ``type``.
    provider_type: str
    violations: tuple[Violation, ...]
    #: Every provider call the kit saw, in order (``"prepare_create(kit-lsp-1)"``).
    calls: tuple[str, ...]
    #: The option keys the kit fuzzed (read by the provider or declared).
    fuzzed_options: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the provider kept the contract."""
        return not self.violations

    @property
    def rules(self) -> tuple[str, ...]:
        """The rules broken, in the order found."""
        return tuple(dict.fromkeys(v.rule for v in self.violations))

    def messages(self) -> list[str]:
        """The violations as text."""
        return [str(v) for v in self.violations]


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def _snapshot(value: Any) -> Any:
    if isinstance(value, PortContext):
        return (
            value.op_type,
            value.lport_name,
            value.lport_options.to_dict(),
            value.bridge,
            value.chassis,
            value.current_port,
            value.iface_name,
            value.iface_type,
            value.iface_options.to_dict(),
        )
    if isinstance(value, PlugSpec):
        return (value.name, value.type, value.options.to_dict())
    if isinstance(value, tuple) and all(isinstance(v, RestoredPort) for v in value):
        return value
    return repr(value)


class _ReadRecorder(FrozenMap):
    """A FrozenMap that notes which keys the provider looks up."""

    __slots__ = ("_sink",)

    def __init__(self, items: Mapping[str, str], sink: set[str]) -> None:
        super().__init__(items)
        self._sink = sink

    def __getitem__(self, key: str) -> str:
        self._sink.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._sink.add(key)
        return super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._sink.add(key)
        return super().get(key, default)


# The provider sees a FrozenMap, and its errors ("Object of type ... is not
# JSON serializable") must name the class it knows, not the kit's.
_ReadRecorder.__name__ = _ReadRecorder.__qualname__ = FrozenMap.__name__


def _answer(result: object) -> Any:
    """What to compare when checking that two answers are the same."""
    if isinstance(result, PlugSpec):
        return ("spec", result.name, result.type, dict(result.options))
    if isinstance(result, Decline) or result is None:
        return ("declined",)
    return ("other", type(result).__name__)


class _Spy(VifPlugProvider):
    """Sits between the engine and the provider: records, times and checks every call."""

    def __init__(self, kit: _Kit, provider: VifPlugProvider, label: str) -> None:
        self.type = provider.type
        self._kit = kit
        self.provider = provider
        self._label = label
        self.created: list[tuple[PortContext, PlugSpec]] = []
        self.declines: dict[str, Decline | None] = {}
        self.released: list[str] = []
        self.finished: list[str] = []

    def call(self, hook: str, *args: Any, lport: str | None = None) -> Any:
        __tracebackhide__ = True
        kit = self._kit
        name = f"{hook}({lport})" if lport else f"{hook}()"
        if hook in kit.blocked:
            # It blocked once: calling it again would only make the run slow.
            return _SKIPPED.get(hook)
        before = [_snapshot(a) for a in args]
        kit.calls.append(f"{self._label}.{name}" if self._label else name)
        start = kit.clock()
        try:
            result = getattr(self.provider, hook)(*args)
            if isinstance(result, Decline):
                kit.check_decline(name, result)
            return result
        except DeclineError:
            raise
        except Exception as exc:
            kit.raised(hook, lport, exc)
            raise
        finally:
            elapsed = kit.clock() - start
            if elapsed > kit.bound and hook not in ("init", "destroy"):
                kit.blocked.add(hook)
                kit.violate(
                    "blocking-call",
                    key=hook,
                    message=f"{name} took {elapsed:.2f} s (bound {kit.bound:g} s): hooks run "
                    "in the agent's loop and must not block; do slow work in init() or step it "
                    "forward in run(), and wake the loop with wait_fds()/next_wakeup() (the kit "
                    f"stopped calling {hook}() and ended its run early)",
                )
            for original, arg in zip(before, args, strict=True):
                if _snapshot(arg) != original:
                    kit.violate(
                        "mutated-input",
                        key=hook,
                        message=f"{name} changed its {type(arg).__name__} argument "
                        f"(before: {original!r}, after: {_snapshot(arg)!r}); inputs are "
                        "read-only",
                    )

    def init(self) -> None:
        with self._kit.process_kept(f"{self._label or 'the'} provider's init()", key="init"):
            self.call("init")

    def destroy(self) -> None:
        self.call("destroy")

    def run(self) -> bool:
        result = self.call("run")
        self._kit.run_results.append(result is True)
        if not isinstance(result, bool):
            self._kit.violate(
                "run-result",
                f"run() returned {_short(result)}; it must return True or False",
            )
        return bool(result)

    def restore(self, ports: Sequence[RestoredPort]) -> None:
        self.call("restore", tuple(ports))

    def wait_fds(self) -> Any:
        fds = self.call("wait_fds")
        if isinstance(fds, (str, bytes)) or not isinstance(fds, Collection):
            self._kit.violate(
                "wait-fds",
                f"wait_fds() returned a {type(fds).__name__} ({_short(fds)}); return a "
                "sequence of file descriptor numbers (ints), () for none",
            )
            return ()
        if not all(isinstance(fd, int) and not isinstance(fd, bool) for fd in fds):
            self._kit.violate("wait-fds", f"wait_fds() returned {_short(fds)}; expected ints")
            return ()
        return fds

    def next_wakeup(self) -> float | None:
        result = self.call("next_wakeup")
        if result is not None and (
            isinstance(result, bool) or not isinstance(result, (int, float))
        ):
            self._kit.violate(
                "next-wakeup",
                f"next_wakeup() returned a {type(result).__name__} ({_short(result)}); expected "
                "a time.monotonic() deadline (a float) or None",
            )
            return None
        return result

    def maintained_iface_options(self) -> frozenset[str] | None:
        return self._kit.maintained(self.provider)

    def outstanding(self) -> Sequence[str] | None:
        return self._kit.outstanding(self.provider)

    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline | None:
        __tracebackhide__ = True
        seen = attrs.evolve(ctx, lport_options=_ReadRecorder(ctx.lport_options, self._kit.read))
        try:
            spec = self.call("prepare_create", seen, lport=ctx.lport_name)
        except DeclineError as exc:
            decline = Decline(str(exc.reason) or "DeclineError")
            self._kit.check_decline(f"prepare_create({ctx.lport_name})", decline)
            self.declines[ctx.lport_name] = decline
            raise
        if isinstance(spec, PlugSpec):
            self._kit.check_spec(ctx, spec, self.provider)
            self.created.append((ctx, spec))
        elif spec is None or isinstance(spec, Decline):
            self.declines[ctx.lport_name] = spec
        else:
            self._kit.violate(
                "spec-type",
                key=type(spec).__name__,
                message=f"prepare_create({ctx.lport_name}) returned a {type(spec).__name__} "
                f"({_short(spec)}); return a PlugSpec, or a Decline (or None) to decline",
            )
        return spec  # type: ignore[no-any-return]

    def prepare_remove(self, ctx: PortContext) -> bool | Decline:
        allowed = self.call("prepare_remove", ctx, lport=ctx.lport_name)
        if not isinstance(allowed, (bool, Decline)):
            self._kit.violate(
                "remove-result",
                key=type(allowed).__name__,
                message=f"prepare_remove({ctx.lport_name}) returned a {type(allowed).__name__} "
                f"({_short(allowed)}); return True to allow the unplug, False or a Decline to "
                "veto it",
            )
        return allowed  # type: ignore[no-any-return]

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        self.finished.append(ctx.lport_name)
        self.call("finish", ctx, spec, lport=ctx.lport_name)

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        self.released.append(ctx.lport_name)
        self.call("release", ctx, spec, lport=ctx.lport_name)


class _Kit:
    def __init__(
        self,
        factory: Callable[[], VifPlugProvider],
        *,
        lport_options: Mapping[str, str] | Callable[[str], Mapping[str, str]],
        bound: float,
        clock: Callable[[], float],
        fuzz_options: Sequence[str] | None,
        required_options: Collection[str] | None = None,
    ) -> None:
        self.factory = factory
        self.required_options = None if required_options is None else tuple(required_options)
        self._lport_options = lport_options
        self.bound = bound
        self.clock = clock
        self.fuzz_options = fuzz_options
        self.calls: list[str] = []
        self.violations: list[Violation] = []
        self._seen: set[tuple[str, str]] = set()
        self.stage = "init"
        #: Option keys the provider looked up.
        self.read: set[str] = set()
        self.fuzzed: tuple[str, ...] = ()
        #: Whether the fresh instance (after a "restart") is in use.
        self.restarted = False
        #: Hooks that blocked once: the kit calls them no more.
        self.blocked: set[str] = set()
        #: What each run() call returned (``True`` or not).
        self.run_results: list[bool] = []
        #: Interface option keys of every PlugSpec the provider gave.
        self.written: set[str] = set()
        #: ``{"Class.attribute": repr}`` of the provider classes' mutable
        #: class attributes, as they were before any instance ran.
        self.class_state: dict[str, str] = {}

    def options_for(self, lport: str) -> dict[str, str]:
        if callable(self._lport_options):
            return dict(self._lport_options(lport))
        return dict(self._lport_options)

    def violate(self, rule: str, message: str, *, key: str | None = None) -> None:
        """Record a violation once per rule and ``key`` (the message by default)."""
        seen = (rule, key if key is not None else message)
        if seen not in self._seen:
            self._seen.add(seen)
            self.violations.append(Violation(rule, message))

    def raised(self, hook: str, lport: str | None, exc: Exception) -> None:
        where = f"{hook}({lport})" if lport else f"{hook}()"
        what = f"{type(exc).__name__}: {exc}"
        if hook == "prepare_create" and _from_contract(exc):
            self.violate(
                "spec-invalid",
                key=what,
                message=f"{where} raised {what}: PlugSpec or Decline refused what the provider "
                "gave it (PlugSpec(name=str, type=str or None, options={str: str}), "
                "Decline(reason=non-empty str)); convert numbers with str(), do not decline: "
                "this is a bug in the provider, not a port to decline",
            )
            return
        if hook == "prepare_create" and self.stage in ("fuzz", "required-options"):
            return  # reported by the fuzzer, with the option that did it
        if hook == "destroy":
            self.violate(
                "destroy-raised",
                key=hook,
                message=f"{where} raised {what}; the registry then keeps the provider "
                "registered and the agent's shutdown reports it: release what init() acquired, "
                "log what cannot be released, and do not raise",
            )
            return
        if hook == "prepare_create":
            self.violate(
                "prepare-raised",
                key=hook,
                message=f"{where} raised {what}; return a Decline saying why (or None) when "
                "the port cannot be plugged yet (exceptions are treated as bugs)",
            )
        elif hook == "prepare_remove" and self.restarted:
            self.violate(
                "remove-needs-create-state",
                key=hook,
                message=f"{where} on a fresh provider instance raised {what}: removal must not "
                "depend on state prepare_create() kept in memory (after an agent restart only "
                "the database and PortContext are known)",
            )
        elif hook == "release" and self.stage == "commit-failed":
            self.violate(
                "release-after-failed-commit",
                key=hook,
                message=f"{where} raised {what} after a failed commit; release() must free what "
                "prepare_create() reserved whether or not the commit succeeded",
            )
        elif hook != "init":
            self.violate("hook-raised", f"{where} raised {what} ({self.stage})", key=where)

    def maintained(self, provider: VifPlugProvider) -> frozenset[str] | None:
        try:
            keys: object = provider.maintained_iface_options()
        except Exception as exc:
            self.violate(
                "hook-raised",
                f"maintained_iface_options() raised {type(exc).__name__}: {exc}",
                key="maintained_iface_options",
            )
            return None
        if keys is None:
            return None
        if isinstance(keys, (str, bytes)):
            self.violate(
                "maintained-result",
                f"maintained_iface_options() returned a {type(keys).__name__} ({_short(keys)}), "
                f"which the engine would read as single characters; return "
                f"frozenset({{{keys!r}}}) (a frozenset of option keys) or None",
            )
            return frozenset()
        if not isinstance(keys, Collection) or not all(isinstance(k, str) for k in keys):
            self.violate(
                "maintained-result",
                f"maintained_iface_options() returned a {type(keys).__name__} "
                f"({_short(keys)}); return a frozenset of str option keys, or None",
            )
            return frozenset()
        return frozenset(keys)

    def outstanding(self, provider: VifPlugProvider) -> Sequence[str] | None:
        try:
            held: object = provider.outstanding()
        except Exception as exc:
            self.violate(
                "hook-raised",
                f"outstanding() raised {type(exc).__name__}: {exc}",
                key="outstanding",
            )
            return None
        if held is None:
            return None
        if isinstance(held, (str, bytes)) or not isinstance(held, Collection):
            self.violate(
                "outstanding-result",
                f"outstanding() returned a {type(held).__name__} ({_short(held)}); return a "
                "sequence of texts (one per reservation held), or None if not tracked",
            )
            return None
        return [str(h) for h in held]

    def check_leaks(self, provider: VifPlugProvider, when: str) -> None:
        """``outstanding()`` must be empty: called when no port is plugged."""
        held = self.outstanding(provider)
        if held:
            self.violate(
                "leak",
                key="outstanding",
                message=f"outstanding() still lists {', '.join(held[:5])}"
                f"{' ...' if len(held) > 5 else ''} {when}, with no port plugged; every "
                "reservation made in prepare_create() must be given back by release(), which "
                "the engine calls once per PlugSpec whether the commit succeeded, failed or was "
                "never attempted, and an unplug (finish() with spec None) must drop the port's "
                "entries",
            )

    def check_failed_commit(
        self, provider: VifPlugProvider, before: Sequence[str] | None, when: str
    ) -> None:
        """A failed commit must leave ``outstanding()`` as it was before."""
        after = self.outstanding(provider)
        added = sorted(set(after or ()) - set(before or ()))
        if added:
            self.violate(
                "leak",
                key="outstanding",
                message=f"outstanding() lists {', '.join(added[:5])}"
                f"{' ...' if len(added) > 5 else ''} {when} that it did not list before: "
                "release() must give back what prepare_create() reserved whether the commit "
                "succeeded or failed (a failed commit plugs nothing)",
            )

    def check_decline(self, where: str, decline: Decline) -> None:
        reason = decline.reason
        if self.stage == "fuzz":
            return  # quoting a 4096-character fuzzed value is fine: Decline cuts it
        if len(reason) >= DECLINE_REASON_LIMIT and reason.endswith("..."):
            self.violate(
                "decline-reason",
                key="long",
                message=f"{where} declined a port with sane options, with a reason over "
                f"{DECLINE_REASON_LIMIT} characters "
                f"(Decline cut it: {_short(reason, 60)}); give one short sentence saying what "
                "is wrong and what would fix it: the agent keeps it per lport in its status file "
                "and logs",
            )

    @contextmanager
    def process_kept(self, what: str, *, key: str) -> Iterator[None]:
        """Report (and undo) process-wide changes made by the body."""
        before = _process_state.snapshot()
        try:
            yield
        finally:
            changed = _process_state.differences(before, _process_state.snapshot())
            _process_state.put_back(before)
            if changed:
                self.violate(
                    "global-side-effects",
                    key=key,
                    message=f"{what} changed {'; '.join(changed)}: a provider runs inside the "
                    "agent's process, beside other providers, and must leave process-wide "
                    "state alone (an os.umask(0) made the agent's control socket 0777); "
                    "configure nothing at import, in __init__ or init() -- the agent owns "
                    "logging, signals and the default registry",
                )

    def note_class_state(self, provider: VifPlugProvider) -> None:
        self.class_state = _class_state(type(provider))

    def check_class_state(self, provider: VifPlugProvider) -> None:
        now = _class_state(type(provider))
        for name, value in self.class_state.items():
            if now.get(name) != value:
                self.violate(
                    "shared-state",
                    key=name,
                    message=f"the class attribute {name} changed while the provider ran (was "
                    f"{_short(value, 40)}, now {_short(now.get(name), 40)}): a mutable class "
                    "attribute is shared by every instance, so two registries (or two types "
                    "of one class) see each other's ports; create it in __init__ "
                    f"(self.{name.rsplit('.', 1)[-1]} = ...)",
                )

    def check_spec(self, ctx: PortContext, spec: PlugSpec, provider: VifPlugProvider) -> None:
        self.written.update(spec.options)
        problem = netdev_name_problem(spec.name)
        if problem is not None:
            self.violate(
                "netdev-name",
                key=spec.name,
                message=f"prepare_create({ctx.lport_name}) named port {spec.name!r}: {problem}; "
                "PlugSpec.name must be a valid Linux interface name (1-15 bytes, no '/', ':', "
                "whitespace or control characters)",
            )
        if spec.type is not None and spec.type not in VIF_IFACE_TYPES:
            why = (
                "a tunnel or patch type, never a VIF"
                if spec.type in _NOT_VIF_TYPES
                else "not an Interface type ovs-vswitchd knows"
            )
            self.violate(
                "iface-type",
                key=spec.type,
                message=f"prepare_create({ctx.lport_name}) gave PlugSpec.type={spec.type!r}: "
                f"{why}; use None or '' for a system netdev, 'internal', 'dpdk', "
                "'dpdkvhostuserclient', 'afxdp' ... (ovs-vswitchd would fail to open the port)",
            )
        for key, value in spec.options.items():
            problem = _option_problem(key, value)
            if problem is not None:
                self.violate(
                    "iface-options",
                    key=key,
                    message=f"prepare_create({ctx.lport_name}) gave Interface option "
                    f"{_short(key)}={_short(value)}: {problem}",
                )
        maintained = self.maintained(provider) or frozenset()
        undeclared = sorted(set(spec.options) - set(maintained))
        if undeclared:
            self.violate(
                "undeclared-options",
                key=",".join(undeclared),
                message=f"prepare_create({ctx.lport_name}) writes Interface options "
                f"{', '.join(undeclared)} that maintained_iface_options() does not declare; "
                "undeclared keys are never removed on update",
            )

    def check_decisions(self, report: ReconcileReport, lports: Sequence[str]) -> None:
        """Every kit port must be plugged unless its provider declined it."""
        already = any(v.rule in ("netdev-name", "spec-type") for v in self.violations)
        for lport in lports:
            for d in report.for_lport(lport):
                if d.outcome is not Outcome.REFUSED or d.reason is Reason.PROVIDER_ERROR:
                    continue  # a provider error is reported by the rule it breaks
                if d.reason is Reason.INVALID_SPEC and already:
                    continue
                self.not_plugged(d)

    def not_plugged(self, d: Decision) -> None:
        reason = d.reason.value if d.reason is not None else d.outcome.value
        hint = (
            " (give every lport its own port name: PlugSpec.name must be unique on the switch)"
            if d.reason is Reason.NAME_COLLISION
            else ""
        )
        self.violate(
            "not-plugged",
            key=f"{d.lport}:{reason}",
            message=f"{d.lport} was not plugged: the engine refused it ({reason}): "
            f"{d.detail}{hint}",
        )

    @contextmanager
    def at(self, stage: str) -> Iterator[None]:
        previous, self.stage = self.stage, stage
        try:
            yield
        finally:
            self.stage = previous


def _from_contract(exc: BaseException) -> bool:
    """Whether *exc* was raised by a contract value's checks (a PlugSpec or a
    Decline refusing its arguments), rather than by the provider's own code."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return (
        isinstance(exc, (TypeError, ValueError))
        and last is not None
        and last.replace("\\", "/").rsplit("/", 2)[-2] == "_contract"
    )


_MUTABLE: Final = (dict, list, set, bytearray)


def _class_state(cls: type) -> dict[str, str]:
    state = {}
    for klass in cls.__mro__:
        if klass.__module__.startswith("ovn_vif.") or klass is object:
            continue
        for name, value in vars(klass).items():
            if not name.startswith("__") and isinstance(value, _MUTABLE):
                state[f"{klass.__name__}.{name}"] = repr(value)[:2000]
    return state


def _option_problem(key: str, value: str) -> str | None:
    if not key:
        return "an empty key"
    if any(c.isspace() or not c.isprintable() for c in key):
        return "the key has whitespace or control characters"
    if any(not c.isprintable() for c in value):
        return "the value has control characters"
    if len(key) > 256 or len(value) > _MAX_OPTION_LEN:
        return f"longer than {_MAX_OPTION_LEN} characters"
    return None


class _DropInjected(logging.Filter):
    """Keeps the kit's own injected commit failure out of the caller's logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return _INJECTED not in record.getMessage()
        except Exception:
            return True


def _iterate(kit: _Kit, harness: ProviderHarness, spy: _Spy, *, fail: bool = False) -> Iteration:
    """One agent loop iteration: run, reconcile, commit, complete; then look for leaks."""
    __tracebackhide__ = True
    harness.run_providers()
    # Right after run(), before the engine's calls: where the report's
    # call record has always had them.
    spy.wait_fds()
    spy.next_wakeup()
    held = kit.outstanding(spy.provider) if fail else None
    step = harness.iterate(commit="error" if fail else "success", details=_INJECTED, run=False)
    if fail:
        kit.check_failed_commit(spy.provider, held, f"after a failed commit ({kit.stage} stage)")
    elif not harness.plugged():
        kit.check_leaks(spy.provider, f"after the {kit.stage} stage")
    kit.check_class_state(spy.provider)
    return step


def _make(kit: _Kit, label: str) -> VifPlugProvider | None:
    with kit.process_kept(f"creating {label} provider", key="create"):
        provider: object = kit.factory()
    if not isinstance(provider, VifPlugProvider):
        kit.violate(
            "not-a-provider",
            f"the factory returned a {type(provider).__name__}, not a VifPlugProvider",
        )
        return None
    if not isinstance(getattr(provider, "type", None), str) or not provider.type:
        kit.violate("type", f"{label} provider has no plug type (set the class attribute 'type')")
        return None
    return provider


def _import_effects(kit: _Kit, provider: VifPlugProvider) -> None:
    module = type(provider).__module__
    found = sys.modules.get(module)
    path = getattr(found, "__file__", None)
    if module == "__main__" or not path or not os.path.exists(path):
        return
    changed = _process_state.import_differences(module, os.path.getmtime(path))
    if changed:
        kit.violate(
            "global-side-effects",
            key="import",
            message=f"importing {module} changed {'; '.join(changed)}: a provider is imported "
            "into the agent's process, beside other providers, and must leave process-wide "
            "state alone (an os.umask(0) at import made the agent's control socket 0777); "
            "configure nothing at import -- the agent owns logging, signals and the default "
            "registry, and registers installed providers itself",
        )


def _run(kit: _Kit) -> str:
    provider = _make(kit, "the")
    if provider is None:
        return "?"
    _import_effects(kit, provider)
    kit.note_class_state(provider)
    spy = _Spy(kit, provider, "")
    try:
        harness = ProviderHarness(spy, chassis=CHASSIS, other_chassis=(), bridge=BRIDGE)
    except ProviderUnavailableError as exc:
        kit.violate(
            "unavailable",
            f"init() raised ProviderUnavailableError ({exc}); the kit needs a provider that "
            "initialises: give check_provider() a factory that builds it on fakes",
        )
        return provider.type
    except Exception as exc:
        if "init()" in kit.calls:
            kit.violate("init-raised", f"init() raised {type(exc).__name__}: {exc}")
        else:  # the registry refused it before init()
            kit.violate("type", f"the registry refused the provider: {type(exc).__name__}: {exc}")
        return provider.type
    log_filter = _DropInjected()
    RECONCILER_LOG.addFilter(log_filter)
    try:
        _lifecycle(kit, harness, spy, provider.type)
    finally:
        with kit.at("destroy"):
            for plug_type in harness.registry.types():
                with contextlib.suppress(Exception):  # reported as destroy-raised
                    harness.registry.unregister(plug_type)
        RECONCILER_LOG.removeFilter(log_filter)
        harness.close()
    return provider.type


def _declined_message(kit: _Kit, spy: _Spy, lport: str, plug_type: str) -> None:
    if kit.blocked:
        return
    decline = spy.declines.get(lport)
    options = dict(kit.options_for(lport), **{"vif-plug-type": plug_type})
    why = "returned None" if decline is None else f"returned Decline({decline.reason!r})"
    kit.violate(
        "declined",
        key=lport,
        message=f"prepare_create({lport}) declined ({why}) a port whose options were "
        f"{options!r}; pass check_provider(lport_options=...) that the provider accepts "
        "(a function of the lport name if each port needs its own device)",
    )


def _add(kit: _Kit, harness: ProviderHarness, lport: str, plug_type: str) -> None:
    harness.add_lport(lport, kit.options_for(lport), plug_type=plug_type)


def _lifecycle(kit: _Kit, harness: ProviderHarness, spy: _Spy, plug_type: str) -> None:
    # 1. CREATE, commit succeeds: finish, then release.
    with kit.at("create"):
        _add(kit, harness, LPORT_CREATE, plug_type)
        step = _iterate(kit, harness, spy)
        report, status = step.report, step.status
    kit.check_decisions(report, [LPORT_CREATE])
    outcomes = report.outcomes().get(LPORT_CREATE, ())
    if not spy.created:
        if Outcome.DECLINED in outcomes:
            _declined_message(kit, spy, LPORT_CREATE, plug_type)
        return
    if status != "success" or Outcome.PLUGGED not in outcomes or kit.blocked:
        return  # the spec was refused by the engine; the violation says why
    created_ctx, created = spy.created[0]
    if LPORT_CREATE not in spy.finished or LPORT_CREATE not in spy.released:
        kit.violate("engine", f"finish/release were not called for {LPORT_CREATE}")

    # 2. Stability: nothing changed, so the answer must not either.
    with kit.at("stability"):
        for _ in range(2):
            report = _iterate(kit, harness, spy).report
            for d in report.for_lport(LPORT_CREATE):
                if kit.blocked:
                    break
                if d.outcome in (Outcome.REPLACED, Outcome.UPDATED, Outcome.DECLINED):
                    kit.violate(
                        "unstable",
                        key="engine",
                        message=f"asked again about {LPORT_CREATE} with nothing changed, the "
                        f"provider answered differently ({d.outcome.value}: {d.detail}); the "
                        "same input must get the same answer (the engine asks about every lport "
                        "on every run)",
                    )
        _same_answer_twice(kit, spy, created_ctx)
    with kit.at("required-options"):
        _required_options(kit, spy, created_ctx)
    if kit.blocked:
        return

    # 3. Two ports whose commit fails: release alone; the retry succeeds.
    with kit.at("commit-failed"):
        _add(kit, harness, LPORT_FAIL, plug_type)
        _add(kit, harness, LPORT_FAIL_TOO, plug_type)
        report = _iterate(kit, harness, spy, fail=True).report
        kit.check_decisions(report, [LPORT_FAIL, LPORT_FAIL_TOO])
    if kit.blocked:
        return
    with kit.at("retry"):
        report = _iterate(kit, harness, spy).report
        kit.check_decisions(report, [LPORT_FAIL, LPORT_FAIL_TOO])
        for lport in (LPORT_FAIL, LPORT_FAIL_TOO):
            if (
                lport not in harness.plugged()
                and not any(
                    v.rule == "not-plugged" and v.message.startswith(lport) for v in kit.violations
                )
                and lport in spy.declines
            ):
                _declined_message(kit, spy, lport, plug_type)

    # 4. One option changes: an update in place.
    with kit.at("update"):
        harness.set_options(LPORT_CREATE, {"vif-plug-mtu-request": "1400"})
        report = _iterate(kit, harness, spy).report
        kit.check_decisions(report, [LPORT_CREATE])
    if kit.blocked:
        return

    # 4b. A second instance rebuilt from the rows must answer as the first.
    with kit.at("restore-round-trip"):
        _restore_round_trip(kit, harness, spy, plug_type)

    # 5. Removal by the same instance; its device must be usable again.
    with kit.at("remove"):
        harness.delete_lport(LPORT_FAIL)
        _iterate(kit, harness, spy)
    with kit.at("reuse"):
        _reuse(kit, harness, spy, freed=LPORT_FAIL, lport=LPORT_REUSE, plug_type=plug_type)
    if kit.blocked:
        return

    # 6. Removal by a fresh instance, as after an agent restart.
    fresh = _make(kit, "a second")
    if fresh is None:
        return
    with kit.at("restart"):
        fresh_spy = _Spy(kit, fresh, "fresh")
        harness.restart(fresh_spy)  # destroys the first instance
        kit.restarted = True
        harness.delete_lport(LPORT_CREATE)
        harness.delete_lport(LPORT_FAIL_TOO)
        report = _iterate(kit, harness, fresh_spy).report
        if Outcome.VETOED in report.outcomes().get(LPORT_CREATE, ()):
            kit.violate(
                "remove-needs-create-state",
                f"prepare_remove({LPORT_CREATE}) on a fresh provider instance vetoed the removal "
                f"of {created.name}: removal must not depend on state prepare_create() kept in "
                "memory (after an agent restart only the database and PortContext are known)",
            )
    with kit.at("leak-after-lifecycle"):
        _iterate(kit, harness, fresh_spy)
    with kit.at("reuse-after-restart"):
        _reuse(
            kit,
            harness,
            fresh_spy,
            freed=LPORT_CREATE,
            lport=LPORT_REUSE_AFTER_RESTART,
            plug_type=plug_type,
        )
    if kit.blocked:
        return

    # 7. Churn: plug and unplug one port, every other commit failing.
    with kit.at("churn"):
        _churn(kit, harness, fresh_spy, plug_type)
    if kit.blocked:
        return

    # 8. Option fuzzing, on the fresh instance.
    with kit.at("fuzz"):
        _fuzz(kit, fresh_spy, created_ctx)
        if not kit.blocked:
            kit.check_leaks(fresh, "after the option fuzzing (every PlugSpec was released)")

    # 9. Two more instances side by side; then what the whole run showed.
    with kit.at("shared-state"):
        _shared_state(kit, created_ctx)
        kit.check_class_state(fresh)
    _whole_run(kit, fresh)


def _release_quietly(spy: _Spy, ctx: PortContext, result: object) -> None:
    if isinstance(result, PlugSpec):
        with contextlib.suppress(Exception):  # reported as hook-raised
            spy.call("release", ctx, result, lport=ctx.lport_name)


def _ask(spy: _Spy, ctx: PortContext) -> tuple[object, Any]:
    """prepare_create, released at once: (the result, what to compare)."""
    try:
        result = spy.call("prepare_create", ctx, lport=ctx.lport_name)
    except DeclineError:
        return None, ("declined",)
    except Exception as exc:
        return None, ("raised", type(exc).__name__)
    _release_quietly(spy, ctx, result)
    return result, _answer(result)


def _required_options(kit: _Kit, spy: _Spy, ctx: PortContext) -> None:
    """Without an option it needs, a provider must decline, never default."""
    carried = [k for k in kit.options_for(LPORT_CREATE) if k not in _CMS_OPTIONS]
    keys = carried if kit.required_options is None else list(kit.required_options)
    for key in keys:
        options = {k: v for k, v in ctx.lport_options.items() if k != key}
        probe = PortContext(
            op_type=OpType.CREATE,
            lport_name=LPORT_REQUIRED,
            lport_options=options,
            bridge=ctx.bridge,
            chassis=ctx.chassis,
        )
        result, _ = _ask(spy, probe)
        if isinstance(result, PlugSpec) and not kit.blocked:
            optional = ", ".join(repr(k) for k in carried if k != key)
            kit.violate(
                "required-option",
                key=key,
                message=f"prepare_create({LPORT_REQUIRED}) plugged {result.name!r} when option "
                f"{key} was missing (the kit's port carries it); a missing option the provider "
                "needs must be declined (return Decline(f'option {key} is missing')), never "
                "defaulted: an LSP that names no device would get someone else's. If the "
                f"option is optional, name the ones the provider needs: check_provider(..., "
                f"required_options=[...]) (the others here: {optional or 'none'})",
            )


def _restore_round_trip(kit: _Kit, harness: ProviderHarness, spy: _Spy, plug_type: str) -> None:
    """A second instance given restore() of the rows the first one plugged
    must answer every lport as the first one does."""
    second = _make(kit, "a restored")
    if second is None:
        return
    other = _Spy(kit, second, "restored")
    try:
        other.init()
    except Exception:
        return  # init-raised is reported for the first instance, if at all
    try:
        try:
            other.call("restore", harness.restored_ports(plug_type))
        except Exception:
            return  # reported as hook-raised
        probes: list[tuple[str, str | None, dict[str, str]]] = []
        for lport, iface in harness.plugged().items():
            probes.append((lport, iface.name, harness.options(lport)))
        churn_options = dict(kit.options_for(LPORT_CHURN), **{"vif-plug-type": plug_type})
        probes.append((LPORT_CHURN, None, churn_options))
        for lport, current, options in probes:
            ctx = PortContext(
                op_type=OpType.CREATE,
                lport_name=lport,
                lport_options=options,
                bridge=harness.bridge,
                chassis=harness.chassis,
                current_port=current,
            )
            original, first = _ask(spy, ctx)
            result, restored = _ask(other, ctx)
            if first != restored and not kit.blocked:
                state = f"plugged as {current}" if current else "not plugged"
                kit.violate(
                    "restore-round-trip",
                    key="restore",
                    message=f"after restore() of the rows the first instance plugged, a second "
                    f"instance answered prepare_create({lport}) ({state}) with "
                    f"{_short(result, 120)}; the first answered {_short(original, 120)}. "
                    "restore() must rebuild, from the "
                    "RestoredPorts alone (ProviderHarness.restored_ports() gives them), what the "
                    "instance that plugged them keeps in memory: after an agent restart this "
                    "lport would be answered differently for good",
                )
    finally:
        with contextlib.suppress(Exception):  # reported as destroy-raised
            other.destroy()


def _reuse(
    kit: _Kit, harness: ProviderHarness, spy: _Spy, *, freed: str, lport: str, plug_type: str
) -> None:
    """Another lport asking for what an unplugged one had must get it."""
    if freed in harness.plugged() or kit.blocked:
        return  # the removal was vetoed (reported elsewhere if it matters)
    harness.add_lport(lport, kit.options_for(freed), plug_type=plug_type)
    report = _iterate(kit, harness, spy).report
    misled = "restore-round-trip" in (v.rule for v in kit.violations) and kit.restarted
    if Outcome.DECLINED in report.outcomes().get(lport, ()) and not kit.blocked and not misled:
        decline = spy.declines.get(lport)
        why = "None" if decline is None else f"Decline({decline.reason!r})"
        kit.violate(
            "freed-on-unplug",
            key=lport,
            message=f"{freed} was unplugged, then {lport} asked for the same options and was "
            f"declined ({why}): whatever {freed} held (a slot, a VF) was not freed; drop the "
            "port's entries in finish() of its removal (spec is None), or the device stays "
            "taken until the agent restarts",
        )
    harness.delete_lport(lport)
    _iterate(kit, harness, spy)


def _shared_state(kit: _Kit, ctx: PortContext) -> None:
    """Two instances of the class must not see each other's ports."""
    if kit.blocked:
        return
    spies = []
    for label in ("first side-by-side", "second side-by-side"):
        provider = _make(kit, label)
        if provider is None:
            return
        spy = _Spy(kit, provider, label.split()[0])
        try:
            spy.init()
        except Exception:
            return
        spies.append(spy)
    first, second = spies
    mine = attrs.evolve(ctx, lport_name=LPORT_SHARED, current_port=None)
    spec: object = None
    try:
        try:
            spec = first.call("prepare_create", mine, lport=LPORT_SHARED)
            if isinstance(spec, PlugSpec):
                first.call("finish", mine, spec, lport=LPORT_SHARED)
        except Exception:
            return
        _release_quietly(first, mine, spec)
        if not isinstance(spec, PlugSpec):
            return
        theirs = attrs.evolve(mine, lport_name=LPORT_CREATE)
        result, _ = _ask(second, theirs)
        if not isinstance(result, PlugSpec) and not kit.blocked:
            why = f" ({result.reason})" if isinstance(result, Decline) else ""
            kit.violate(
                "shared-state",
                key="instances",
                message=f"one instance plugged {LPORT_SHARED}; another instance, which never "
                f"saw it, then declined {LPORT_CREATE} with the same options{why}: two "
                "instances share state (a mutable class attribute, a module-level table), so "
                "two registries, or two types of one class, decline each other's ports; keep "
                "per-port state on the instance, created in __init__",
            )
        with contextlib.suppress(Exception):
            first.call(
                "finish",
                PortContext(
                    op_type=OpType.REMOVE,
                    lport_name=LPORT_SHARED,
                    bridge=ctx.bridge,
                    chassis=ctx.chassis,
                    iface_name=spec.name,
                    iface_type=spec.type or "",
                    iface_options=spec.options,
                ),
                None,
                lport=LPORT_SHARED,
            )
    finally:
        for spy in spies:
            with contextlib.suppress(Exception):  # reported as destroy-raised
                spy.destroy()


def _whole_run(kit: _Kit, provider: VifPlugProvider) -> None:
    """Rules about everything the provider did in the run."""
    if kit.blocked:
        return
    if len(kit.run_results) >= RUN_ALWAYS_CALLS and all(kit.run_results):
        kit.violate(
            "run-always-changed",
            f"run() returned True on all {len(kit.run_results)} calls while nothing changed; "
            "True makes the agent reconcile everything again on every wake-up (about three "
            "times the CPU): return True only when a table prepare_create() reads changed "
            "since the previous run()",
        )
    maintained = kit.maintained(provider) or frozenset()
    unwritten = sorted(maintained - kit.written)
    if unwritten:
        kit.violate(
            "overdeclared-options",
            key=",".join(unwritten),
            message=f"maintained_iface_options() declares {', '.join(unwritten)}, which no "
            "PlugSpec the kit saw wrote: on every update the engine removes a maintained key "
            "that the PlugSpec lacks, so an operator's own options:"
            f"{unwritten[0]}=... is deleted each time; declare only the keys the provider "
            "writes (if it writes one only for some options, pass lport_options that make it)",
        )


def _same_answer_twice(kit: _Kit, spy: _Spy, ctx: PortContext) -> None:
    """Call prepare_create twice with one input (releasing each spec)."""
    answers = []
    for _ in range(2):
        try:
            result = spy.call("prepare_create", ctx, lport=ctx.lport_name)
        except Exception:
            return  # reported as prepare-raised
        answers.append(_answer(result))
        if isinstance(result, PlugSpec):
            try:
                spy.call("release", ctx, result, lport=ctx.lport_name)
            except Exception:
                return
    if answers[0] != answers[1]:
        kit.violate(
            "unstable",
            key="direct",
            message=f"prepare_create({ctx.lport_name}) called twice with the same PortContext "
            f"answered {answers[0]!r}, then {answers[1]!r}; the answer must depend only on the "
            "input and the host (derive names from the options, not from counters or clocks)",
        )


def _churn(kit: _Kit, harness: ProviderHarness, spy: _Spy, plug_type: str) -> None:
    accepted = False
    for cycle in range(CHURN_CYCLES):
        _add(kit, harness, LPORT_CHURN, plug_type)
        report = _iterate(kit, harness, spy, fail=cycle % 2 == 1).report
        if cycle % 2 == 1:
            report = _iterate(kit, harness, spy).report
        outcomes = report.outcomes().get(LPORT_CHURN, ())
        if Outcome.PLUGGED in outcomes:
            accepted = True
        elif Outcome.DECLINED in outcomes and accepted and not kit.blocked:
            kit.violate(
                "leak",
                key="churn",
                message=f"prepare_create({LPORT_CHURN}) accepted the port before, and declined "
                f"it on plug/unplug cycle {cycle + 1} of {CHURN_CYCLES} (some commits failed): "
                "resources are not coming back; release() must give back what prepare_create() "
                "reserved, and finish() of a removal what a plug kept",
            )
            harness.delete_lport(LPORT_CHURN)
            _iterate(kit, harness, spy)
            return
        elif not outcomes or LPORT_CHURN not in harness.plugged():
            harness.delete_lport(LPORT_CHURN)
            _iterate(kit, harness, spy)
            return
        harness.delete_lport(LPORT_CHURN)
        _iterate(kit, harness, spy)
        if LPORT_CHURN in harness.plugged():
            return  # vetoed: reported elsewhere if it matters


def _fuzz(kit: _Kit, spy: _Spy, ctx: PortContext) -> None:
    base = dict(ctx.lport_options)
    keys = set(kit.fuzz_options or ())
    keys |= {k for k in kit.read if k.startswith("vif-plug")}
    keys |= {k for k in base if k.startswith("vif-plug:")}
    keys.discard("vif-plug-type")
    kit.fuzzed = tuple(sorted(keys))
    for key in kit.fuzzed:
        for value in FUZZ_VALUES:
            if kit.blocked:
                return
            options = dict(base)
            if value is None:
                options.pop(key, None)
            else:
                options[key] = value
            fuzz_ctx = PortContext(
                op_type=OpType.CREATE,
                lport_name=LPORT_FUZZ,
                lport_options=options,
                bridge=ctx.bridge,
                chassis=ctx.chassis,
            )
            shown = "missing" if value is None else f"{key}={_short(value)}"
            try:
                result = spy.call("prepare_create", fuzz_ctx, lport=LPORT_FUZZ)
            except DeclineError:
                continue
            except Exception as exc:
                if _from_contract(exc):
                    continue  # reported as spec-invalid
                kit.violate(
                    "fuzz-raised",
                    key=key,
                    message=f"prepare_create() raised {type(exc).__name__}: {exc} when option "
                    f"{key} was {shown} (the other options as for the kit's port); a missing "
                    "or malformed option must be declined (return a Decline saying what is "
                    "wrong), never raise",
                )
                continue
            if isinstance(result, PlugSpec):
                with contextlib.suppress(Exception):  # reported as hook-raised
                    spy.call("release", fuzz_ctx, result, lport=LPORT_FUZZ)
            elif result is not None and not isinstance(result, Decline):
                kit.violate(
                    "spec-type",
                    key=type(result).__name__,
                    message=f"prepare_create() returned a {type(result).__name__} "
                    f"({_short(result)}) when option {key} was {shown}; return a PlugSpec, "
                    "or a Decline (or None) to decline",
                )


def check_provider(
    provider_factory: Callable[[], VifPlugProvider],
    *,
    lport_options: Mapping[str, str] | Callable[[str], Mapping[str, str]] | None = None,
    fuzz_options: Sequence[str] | None = None,
    required_options: Collection[str] | None = None,
    call_bound: float = DEFAULT_CALL_BOUND,
    clock: Callable[[], float] = time.monotonic,
    raise_on_violation: bool = True,
) -> ProviderCheckReport:
    """Drive a provider through its life cycle on the real engine and check the contract.

    :param provider_factory: builds a provider; called twice (the second instance
        plays the provider after an agent restart).  Give it fakes for whatever
        hardware the provider needs.
    :param lport_options: extra ``Port_Binding`` options the provider needs to
        accept a port (its ``vif-plug:<type>:*`` options), or a function from the
        lport name (``kit-lsp-1`` ... ``kit-lsp-4``) to them, when each port needs
        its own (for example a distinct device); ``vif-plug-type`` is set to the
        provider's type.
    :param fuzz_options: option keys to fuzz besides those the kit discovers
        (every ``vif-plug*`` key the provider looked up, and every
        ``vif-plug:`` key of *lport_options*).
    :param required_options: the option keys without which the provider must
        decline (rule ``required-option``). ``None`` (the default): every
        option of *lport_options* (except the CMS's own ``vif-plug-type``,
        ``requested-chassis`` and ``vif-plug-mtu-request``); name them when
        some have a default (``required_options=["vif-plug:acme:slot"]``).
    :param call_bound: seconds one hook may take (:data:`DEFAULT_CALL_BOUND`);
        a hook that takes longer once is not called again, and the run ends
        early.
    :param clock: the clock calls are timed with.
    :param raise_on_violation: raise :class:`ProviderCheckError` (an
        ``AssertionError``) listing every violation; otherwise just return the report.

    The rules are listed, each with the bug it catches, in ``docs/testing.rst``.
    The kit's own frames are hidden from pytest tracebacks, and the commit
    failures it injects on purpose are kept out of the captured logs.
    """
    __tracebackhide__ = True
    kit = _Kit(
        provider_factory,
        lport_options=lport_options or {},
        bound=call_bound,
        clock=clock,
        fuzz_options=fuzz_options,
        required_options=required_options,
    )
    provider_type = _run(kit)
    report = ProviderCheckReport(
        provider_type=provider_type,
        violations=tuple(kit.violations),
        calls=tuple(kit.calls),
        fuzzed_options=kit.fuzzed,
    )
    if raise_on_violation and not report.ok:
        raise ProviderCheckError(report)
    return report
