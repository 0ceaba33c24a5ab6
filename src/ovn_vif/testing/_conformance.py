"""The provider conformance kit: :func:`check_provider`.

One call drives a provider through its whole life cycle with the real engine
(:class:`ovn_vif.Reconciler`) on fake databases, and reports every
breach of the provider contract with a message that says what to fix::

    from ovn_vif.testing import check_provider

    def test_acme_keeps_the_contract():
        check_provider(AcmeProvider, lport_options={"vif-plug:acme:port": "1"})

The life cycle: ``init``; a ``Port_Binding`` for this chassis with
``vif-plug-type`` = the provider's type (plus ``lport_options``) makes the
engine call ``prepare_create``; the commit succeeds (``finish``, ``release``);
a second port's commit fails (``release`` alone), then succeeds on the retry;
both ports are removed -- one by a *fresh* provider instance, as after an agent
restart (``prepare_remove``, ``finish``); ``destroy``.  ``run``, ``wait_fds``
and ``next_wakeup`` are called along the way, as an agent's loop does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import attrs
from ovs.db.idl import Transaction

from ovn_vif._contract.netdev import netdev_name_problem
from ovn_vif._contract.provider import PlugSpec, PortContext, VifPlugProvider
from ovn_vif._contract.registry import Registry
from ovn_vif._engine.columns import (
    create_sb_indexes,
    register_ovs_columns,
    register_sb_columns,
)
from ovn_vif._engine.reconciler import Reconciler
from ovn_vif._engine.report import Outcome
from ovn_vif._errors import ProviderCheckError, ProviderUnavailableError
from ovn_vif._memdb.topology import PortBindingFactory, connect, ovs_database, sb_database
from ovn_vif.testing._harness import assign_ofports

#: Seconds a single provider call may take before the kit calls it blocking.
#: Hooks run inside the agent's loop; anything slower belongs in ``init`` or
#: in work that ``run`` advances a step at a time.
DEFAULT_CALL_BOUND: Final = 0.5

CHASSIS: Final = "hv1"
BRIDGE: Final = "br-int"
LPORT_CREATE: Final = "kit-lsp-1"
LPORT_FAIL: Final = "kit-lsp-2"


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

    @property
    def ok(self) -> bool:
        """Whether the provider kept the contract."""
        return not self.violations

    def messages(self) -> list[str]:
        """The violations as text."""
        return [str(v) for v in self.violations]


def _snapshot(value: Any) -> Any:
    if isinstance(value, PortContext):
        return (
            value.op_type,
            value.lport_name,
            dict(value.lport_options),
            value.bridge,
            value.chassis,
            value.iface_name,
            value.iface_type,
            dict(value.iface_options),
        )
    if isinstance(value, PlugSpec):
        return (value.name, value.type, dict(value.options))
    return repr(value)


class _Spy(VifPlugProvider):
    """Sits between the engine and the provider: records, times and checks every call."""

    def __init__(self, kit: _Kit, provider: VifPlugProvider, label: str) -> None:
        self.type = provider.type
        self._kit = kit
        self._provider = provider
        self._label = label
        self.created: list[tuple[PortContext, PlugSpec]] = []
        self.released: list[str] = []
        self.finished: list[str] = []

    def _call(self, hook: str, *args: Any, lport: str | None = None) -> Any:
        kit = self._kit
        before = [_snapshot(a) for a in args]
        name = f"{hook}({lport})" if lport else f"{hook}()"
        kit.calls.append(f"{self._label}.{name}" if self._label else name)
        start = kit.clock()
        try:
            return getattr(self._provider, hook)(*args)
        except Exception as exc:
            kit.raised(hook, lport, exc)
            raise
        finally:
            elapsed = kit.clock() - start
            if elapsed > kit.bound:
                kit.violate(
                    "blocking-call",
                    key=hook,
                    message=f"{name} took {elapsed:.2f} s (bound {kit.bound:g} s): hooks run "
                    "in the agent's loop and must not block; do slow work in init() or step it "
                    "forward in run(), and wake the loop with wait_fds()/next_wakeup()",
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
        self._call("init")

    def destroy(self) -> None:
        self._call("destroy")

    def run(self) -> bool:
        result = self._call("run")
        if not isinstance(result, bool):
            self._kit.violate(
                "run-result", f"run() returned {result!r}; it must return True or False"
            )
        return bool(result)

    def wait_fds(self) -> Any:
        fds = self._call("wait_fds")
        if not all(isinstance(fd, int) for fd in fds):
            self._kit.violate("wait-fds", f"wait_fds() returned {fds!r}; expected ints")
        return fds

    def next_wakeup(self) -> float | None:
        result = self._call("next_wakeup")
        if result is not None and not isinstance(result, (int, float)):
            self._kit.violate(
                "next-wakeup",
                f"next_wakeup() returned {result!r}; expected a time.monotonic() deadline or None",
            )
        return result  # type: ignore[no-any-return]

    def maintained_iface_options(self) -> frozenset[str] | None:
        return self._provider.maintained_iface_options()  # not timed: a plain accessor

    def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
        spec = self._call("prepare_create", ctx, lport=ctx.lport_name)
        if isinstance(spec, PlugSpec):
            self._kit.check_spec(ctx, spec, self._provider)
            self.created.append((ctx, spec))
        elif spec is not None:
            self._kit.violate(
                "spec-type",
                f"prepare_create({ctx.lport_name}) returned a {type(spec).__name__}; return a "
                "PlugSpec, or None to decline",
            )
        return spec  # type: ignore[no-any-return]

    def prepare_remove(self, ctx: PortContext) -> bool:
        allowed = self._call("prepare_remove", ctx, lport=ctx.lport_name)
        if not isinstance(allowed, bool):
            self._kit.violate(
                "remove-result",
                f"prepare_remove({ctx.lport_name}) returned {allowed!r}; return True or False",
            )
        return bool(allowed)

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        self.finished.append(ctx.lport_name)
        self._call("finish", ctx, spec, lport=ctx.lport_name)

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        self.released.append(ctx.lport_name)
        self._call("release", ctx, spec, lport=ctx.lport_name)


class _Kit:
    def __init__(
        self,
        factory: Callable[[], VifPlugProvider],
        lport_options: Mapping[str, str] | Callable[[str], Mapping[str, str]],
        bound: float,
        clock: Callable[[], float],
    ) -> None:
        self.factory = factory
        self._lport_options = lport_options
        self.bound = bound
        self.clock = clock
        self.calls: list[str] = []
        self.violations: list[Violation] = []
        self._seen: set[tuple[str, str]] = set()
        self.stage = "init"

    def options_for(self, lport: str) -> dict[str, str]:
        if callable(self._lport_options):
            return dict(self._lport_options(lport))
        return dict(self._lport_options)

    def violate(self, rule: str, message: str, *, key: str | None = None) -> None:
        """Record a violation once per rule and ``key`` (the hook; the message by default)."""
        seen = (rule, key if key is not None else message)
        if seen not in self._seen:
            self._seen.add(seen)
            self.violations.append(Violation(rule, message))

    def raised(self, hook: str, lport: str | None, exc: Exception) -> None:
        where = f"{hook}({lport})" if lport else f"{hook}()"
        what = f"{type(exc).__name__}: {exc}"
        if hook == "prepare_create":
            self.violate(
                "prepare-raised",
                f"{where} raised {what}; decline with None when the port cannot be plugged "
                "yet (exceptions are treated as bugs)",
            )
        elif hook == "prepare_remove" and self.stage == "restart":
            self.violate(
                "remove-needs-create-state",
                f"{where} on a fresh provider instance raised {what}: removal must not depend "
                "on state prepare_create() kept in memory (after an agent restart only the "
                "database and PortContext are known)",
            )
        elif hook == "release" and self.stage == "commit-failed":
            self.violate(
                "release-after-failed-commit",
                f"{where} raised {what} after a failed commit; release() must free what "
                "prepare_create() reserved whether or not the commit succeeded",
            )
        elif hook != "init":
            self.violate("hook-raised", f"{where} raised {what} ({self.stage})")

    def check_spec(self, ctx: PortContext, spec: PlugSpec, provider: VifPlugProvider) -> None:
        problem = netdev_name_problem(spec.name)
        if problem is not None:
            self.violate(
                "netdev-name",
                key=spec.name,
                message=f"prepare_create({ctx.lport_name}) named port {spec.name!r}: {problem}; "
                "PlugSpec.name must be a valid Linux interface name (1-15 bytes, no '/', ':', "
                "whitespace or control characters)",
            )
        maintained = provider.maintained_iface_options() or frozenset()
        undeclared = sorted(set(spec.options) - set(maintained))
        if undeclared:
            self.violate(
                "undeclared-options",
                key=",".join(undeclared),
                message=f"prepare_create({ctx.lport_name}) writes Interface options "
                f"{', '.join(undeclared)} that maintained_iface_options() does not declare; "
                "undeclared keys are never removed on update",
            )

    @contextmanager
    def at(self, stage: str) -> Iterator[None]:
        previous, self.stage = self.stage, stage
        try:
            yield
        finally:
            self.stage = previous


class _World:
    """Fake OVS and SB databases, their IDLs and one engine, like an agent has."""

    def __init__(self, kit: _Kit, spy: _Spy) -> None:
        self.kit = kit
        self.ovs_db = ovs_database(system_id=CHASSIS, bridge=BRIDGE)
        self.sb_db = sb_database(chassis=CHASSIS)
        self.ports = PortBindingFactory(self.sb_db, chassis=CHASSIS)
        self.ovs_idl = connect(self.ovs_db, register_ovs_columns)
        self.sb_idl = connect(self.sb_db, register_sb_columns, before_connect=create_sb_indexes)
        self.attach(spy)

    def attach(self, spy: _Spy) -> None:
        self.spy = spy
        self.registry = Registry()
        self.registry.register(spy)
        self.reconciler = Reconciler(self.registry)

    def iterate(self) -> tuple[Any, str]:
        """One agent loop iteration: run, reconcile, commit, complete."""
        self.registry.run_all()
        self.spy.wait_fds()
        self.spy.next_wakeup()
        self.ovs_idl.run()
        self.sb_idl.run()
        txn = Transaction(self.ovs_idl)
        report = self.reconciler.reconcile(
            self.ovs_idl, self.sb_idl, txn, chassis=CHASSIS, bridge=BRIDGE, can_unplug=True
        )
        status = txn.commit_block()
        self.reconciler.complete(status, txn=txn)
        assign_ofports(self.ovs_db)
        return report, status

    def close(self) -> None:
        for idl in (self.ovs_idl, self.sb_idl):
            idl.close()


def _make(kit: _Kit, label: str) -> VifPlugProvider | None:
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


def _run(kit: _Kit) -> str:
    provider = _make(kit, "the")
    if provider is None:
        return "?"
    spy = _Spy(kit, provider, "")
    try:
        world = _World(kit, spy)
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
    try:
        _lifecycle(kit, world, provider.type)
    finally:
        world.close()
    return provider.type


def _lifecycle(kit: _Kit, world: _World, plug_type: str) -> None:
    spy = world.spy
    # CREATE, commit succeeds: finish, then release.
    with kit.at("create"):
        options = kit.options_for(LPORT_CREATE)
        world.ports(LPORT_CREATE, plug_type=plug_type, options=options)
        report, status = world.iterate()
    outcomes = report.outcomes().get(LPORT_CREATE, ())
    if not spy.created:
        if Outcome.DECLINED in outcomes:
            kit.violate(
                "declined",
                f"prepare_create({LPORT_CREATE}) declined (returned None) a port whose "
                f"options were {dict(options, **{'vif-plug-type': plug_type})!r}; "
                "pass check_provider(lport_options=...) that the provider accepts",
            )
        return
    if status != "success" or Outcome.PLUGGED not in outcomes:
        return  # the spec was refused by the engine; the violation says why
    created_name = spy.created[0][1].name
    if LPORT_CREATE not in spy.finished or LPORT_CREATE not in spy.released:
        kit.violate("engine", f"finish/release were not called for {LPORT_CREATE}")

    # A second port whose commit fails: release alone; the retry succeeds.
    with kit.at("commit-failed"):
        world.ports(LPORT_FAIL, plug_type=plug_type, options=kit.options_for(LPORT_FAIL))
        world.ovs_db.script_commit("error", details="commit failure injected by check_provider")
        world.iterate()
    with kit.at("retry"):
        world.iterate()

    # Removal by the same instance.
    with kit.at("remove"):
        world.sb_db.delete(
            "Port_Binding", world.sb_db.find("Port_Binding", logical_port=LPORT_FAIL)[0]
        )
        world.iterate()

    # Removal by a fresh instance, as after an agent restart.
    with kit.at("destroy"):
        world.registry.unregister(plug_type)
    fresh = _make(kit, "a second")
    if fresh is None:
        return
    with kit.at("restart"):
        world.attach(_Spy(kit, fresh, "fresh"))
        world.sb_db.delete(
            "Port_Binding", world.sb_db.find("Port_Binding", logical_port=LPORT_CREATE)[0]
        )
        report, status = world.iterate()
        if Outcome.VETOED in report.outcomes().get(LPORT_CREATE, ()):
            kit.violate(
                "remove-needs-create-state",
                f"prepare_remove({LPORT_CREATE}) on a fresh provider instance vetoed the removal "
                f"of {created_name}: removal must not depend on state prepare_create() kept in "
                "memory (after an agent restart only the database and PortContext are known)",
            )
    with kit.at("destroy"):
        world.registry.unregister(plug_type)


def check_provider(
    provider_factory: Callable[[], VifPlugProvider],
    *,
    lport_options: Mapping[str, str] | Callable[[str], Mapping[str, str]] | None = None,
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
        lport name (``kit-lsp-1``, ``kit-lsp-2``) to them, when each port needs its
        own (for example a distinct device); ``vif-plug-type`` is set to the
        provider's type.
    :param call_bound: seconds one hook may take (:data:`DEFAULT_CALL_BOUND`).
    :param clock: the clock calls are timed with.
    :param raise_on_violation: raise :class:`ProviderCheckError` (an
        ``AssertionError``) listing every violation; otherwise just return the report.

    Checked: ``prepare_create`` declines instead of raising; port names are valid
    netdev names; every Interface option written is declared by
    ``maintained_iface_options()``; inputs (``PortContext``, ``PlugSpec``) are not
    mutated; no call takes longer than ``call_bound``; ``prepare_remove`` works on
    a fresh instance that never saw the create; ``release`` tolerates a failed
    commit; no other hook raises; ``run``/``wait_fds``/``next_wakeup`` return
    what the contract says.
    """
    kit = _Kit(provider_factory, lport_options or {}, call_bound, clock)
    provider_type = _run(kit)
    report = ProviderCheckReport(
        provider_type=provider_type, violations=tuple(kit.violations), calls=tuple(kit.calls)
    )
    if raise_on_violation and not report.ok:
        raise ProviderCheckError(report)
    return report
