"""``ovn-vif demo``: plugging, updating, moving and unplugging ports, on screen.

The demo starts a throwaway OVN in a temporary directory (Northbound and
Southbound ``ovsdb-server``, ``ovn-northd``, a local ``ovsdb-server`` and
``ovs-vswitchd`` on the dummy datapath; no ``ovn-controller``), runs an
:class:`~ovn_vif.agent.Agent` with the dummy provider in this process and
walks through a short story, printing what it does and the rows the agent
wrote. Without the OVS/OVN programs it tells the same story on the fake
in-memory databases (the ones :mod:`ovn_vif.testing` serves). Everything is stopped and removed at
the end, also on Ctrl-C.
"""

from __future__ import annotations

import abc
import contextlib
import importlib
import logging
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import attrs

from ovn_vif._contract.registry import Registry
from ovn_vif._engine.report import Decision, Outcome, ReconcileReport
from ovn_vif._errors import OvnVifError
from ovn_vif.agent._config import AgentConfig
from ovn_vif.agent._loop import Agent
from ovn_vif.agent._plugged import PluggedPort, plugged_ports

LOG = logging.getLogger(__name__)

CHASSIS = "hv1"
OTHER_CHASSIS = "hv2"
SWITCH = "sw0"
LPORTS = ("web", "db", "cache")
_STEP_TIMEOUT = 20.0


class _Stage(abc.ABC):
    """Where the story happens: a real sandbox or the fake databases."""

    agent: Agent

    @abc.abstractmethod
    def create_lports(
        self, names: Sequence[str], plug_type: str = "dummy", extra: dict[str, str] | None = None
    ) -> list[str]:
        """Create the LSPs; return the equivalent ovn-nbctl command."""

    @abc.abstractmethod
    def set_options(self, name: str, options: dict[str, str]) -> list[str]:
        """Set the LSP's options; return the equivalent ovn-nbctl command."""

    @abc.abstractmethod
    def delete_lport(self, name: str) -> list[str]:
        """Delete the LSP; return the equivalent ovn-nbctl command."""

    @abc.abstractmethod
    def converge(self, condition: Callable[[], bool]) -> bool:
        """Let the agent work until *condition* holds (or a timeout)."""

    def ports(self) -> list[PluggedPort]:
        return plugged_ports(self.agent.ovs_idl)


def _nbctl_options(name: str, options: dict[str, str]) -> list[str]:
    return ["lsp-set-options", name, *(f"{k}={v}" for k, v in options.items())]


def _plug_options(
    chassis: str,
    mtu: int | None = None,
    *,
    plug_type: str = "dummy",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    options = {"requested-chassis": chassis, "vif-plug-type": plug_type, **(extra or {})}
    if mtu is not None:
        options["vif-plug-mtu-request"] = str(mtu)
    return options


def _create_command(
    names: Sequence[str], plug_type: str = "dummy", extra: dict[str, str] | None = None
) -> list[str]:
    argv = ["ls-add", SWITCH]
    options = _plug_options(CHASSIS, plug_type=plug_type, extra=extra)
    for name in names:
        argv += ["--", "lsp-add", SWITCH, name, "--", *_nbctl_options(name, options)]
    return argv


class _SandboxStage(_Stage):
    def __init__(self, sandbox: Any, agent: Agent) -> None:
        self.sandbox = sandbox
        self.agent = agent

    def create_lports(
        self, names: Sequence[str], plug_type: str = "dummy", extra: dict[str, str] | None = None
    ) -> list[str]:
        argv = _create_command(names, plug_type, extra)
        self.sandbox.nbctl(*argv)
        return argv

    def set_options(self, name: str, options: dict[str, str]) -> list[str]:
        argv = _nbctl_options(name, options)
        self.sandbox.nbctl(*argv)
        return argv

    def delete_lport(self, name: str) -> list[str]:
        argv = ["lsp-del", name]
        self.sandbox.nbctl(*argv)
        return argv

    def converge(self, condition: Callable[[], bool]) -> bool:
        return self.agent.run_until(condition, timeout=_STEP_TIMEOUT)


class _FakeStage(_Stage):
    """The same story on the in-memory databases that :mod:`ovn_vif.testing` serves.

    ovn-northd's part (turning LSPs into Port_Binding rows) is played by
    writing the Port_Binding rows directly, and ovs-vswitchd's (giving new
    interfaces an OpenFlow port number) by :meth:`_vswitchd`.
    """

    def __init__(self, ovs_db: Any, sb_db: Any, agent: Agent) -> None:
        from ovn_vif._memdb.topology import PortBindingFactory

        self.ovs_db = ovs_db
        self.sb_db = sb_db
        self.agent = agent
        self._add_binding = PortBindingFactory(sb_db, chassis=CHASSIS)
        self._next_ofport = 1

    def _binding(self, name: str) -> Any:
        [row] = self.sb_db.find("Port_Binding", logical_port=name)
        return row

    def create_lports(
        self, names: Sequence[str], plug_type: str = "dummy", extra: dict[str, str] | None = None
    ) -> list[str]:
        for name in names:
            self._add_binding(name, plug_type=plug_type, options=extra)
        return _create_command(names, plug_type, extra)

    def set_options(self, name: str, options: dict[str, str]) -> list[str]:
        [chassis] = self.sb_db.find("Chassis", name=options["requested-chassis"])
        self.sb_db.update(
            "Port_Binding", self._binding(name), options=options, requested_chassis=[chassis]
        )
        return _nbctl_options(name, options)

    def delete_lport(self, name: str) -> list[str]:
        self.sb_db.delete("Port_Binding", self._binding(name))
        return ["lsp-del", name]

    def _vswitchd(self) -> None:
        for uuid, row in self.ovs_db.rows("Interface").items():
            if row["name"] != "br-int" and not row["ofport"]:
                self.ovs_db.update("Interface", uuid, ofport=[self._next_ofport])
                self._next_ofport += 1

    def converge(self, condition: Callable[[], bool]) -> bool:
        def vswitchd_then(cond: Callable[[], bool]) -> bool:
            self._vswitchd()
            return cond()

        return self.agent.run_until(lambda: vswitchd_then(condition), timeout=_STEP_TIMEOUT)


class _Narrator:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.t0 = time.monotonic()

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, number: int, total: int, text: str) -> None:
        self.say()
        self.say(f"[{number}/{total}] {text}")

    def command(self, argv: Sequence[str]) -> None:
        self.say("  $ ovn-nbctl " + shlex.join(argv))

    def table(self, ports: Sequence[PluggedPort]) -> None:
        if not ports:
            self.say("  (nothing is plugged on this chassis)")
            return
        headers = ["LPORT", "PORT", "TYPE", "OPTIONS", "MTU_REQUEST", "OFPORT"]
        rows = [
            [
                p.lport,
                p.port or "-",
                p.iface_type,
                ",".join(f"{k}={v}" for k, v in sorted(p.options.items())) or "-",
                "-" if p.mtu_request is None else str(p.mtu_request),
                "-" if p.ofport is None else str(p.ofport),
            ]
            for p in ports
        ]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        for row in [headers, *rows]:
            self.say(
                "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )


class _AgentLogLines(logging.Handler):
    """Shows the agent's and the engine's log lines in the narration, indented."""

    def __init__(self, narrator: _Narrator) -> None:
        super().__init__(logging.INFO)
        self.narrator = narrator

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("ovn_vif.sandbox"):
            self.narrator.say(f"    log: {record.getMessage()}")


@contextmanager
def _show_agent_log(narrator: _Narrator) -> Iterator[None]:
    logger = logging.getLogger("ovn_vif")
    handler = _AgentLogLines(narrator)
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def _lports(stage: _Stage) -> dict[str, PluggedPort]:
    return {p.lport: p for p in stage.ports()}


def _tell_story(stage: _Stage, say: _Narrator) -> bool:
    total = 5

    say.step(1, total, "Create three LSPs that ask to be plugged on this chassis by 'dummy':")
    say.command(stage.create_lports(LPORTS))

    def all_plugged() -> bool:
        ports = _lports(stage)
        return all(name in ports and ports[name].ofport is not None for name in LPORTS)

    if not stage.converge(all_plugged):
        say.say("  the ports were not plugged in time")
        return False
    say.say("  Plugged: one Port and Interface per LSP, named after it, type internal:")
    say.table(stage.ports())

    say.step(2, total, "Ask for MTU 9000 on 'web' (vif-plug-mtu-request):")
    say.command(stage.set_options("web", _plug_options(CHASSIS, mtu=9000)))
    if not stage.converge(
        lambda: _lports(stage).get("web") is not None and _lports(stage)["web"].mtu_request == 9000
    ):
        say.say("  the MTU was not updated in time")
        return False
    say.say("  Updated in place (same Interface row, new mtu_request):")
    say.table(stage.ports())

    say.step(3, total, f"Move 'db' to chassis {OTHER_CHASSIS!r}:")
    say.command(stage.set_options("db", _plug_options(OTHER_CHASSIS)))
    if not stage.converge(lambda: "db" not in _lports(stage)):
        say.say("  'db' was not unplugged in time")
        return False
    say.say("  Unplugged here: its Port_Binding no longer requests this chassis.")

    say.step(4, total, "Delete 'cache':")
    say.command(stage.delete_lport("cache"))
    if not stage.converge(lambda: "cache" not in _lports(stage)):
        say.say("  'cache' was not unplugged in time")
        return False
    say.say("  Unplugged: its Port_Binding is gone.")

    say.step(5, total, "What is left plugged on this chassis:")
    say.table(stage.ports())
    return True


class _Reports:
    """The engine's latest decision per lport, from the agent's reports."""

    def __init__(self) -> None:
        self.latest: dict[str, Decision] = {}

    def __call__(self, report: ReconcileReport, status: str) -> None:
        for decision in report:
            self.latest[decision.lport] = decision

    def blocked(self, lport: str) -> Decision | None:
        """The lport's latest decision if it is a decline or a refusal."""
        d = self.latest.get(lport)
        if d is not None and d.outcome in (Outcome.DECLINED, Outcome.REFUSED):
            return d
        return None


def _tell_provider_story(
    stage: _Stage, say: _Narrator, plug_type: str, extra: dict[str, str], reports: _Reports
) -> bool:
    """Plug, update and unplug one LSP through the provider *plug_type*."""
    total = 4
    lport = "vm1"

    def wait(condition: Callable[[], bool], what: str) -> bool:
        if stage.converge(lambda: condition() or reports.blocked(lport) is not None):
            blocked = reports.blocked(lport)
            if blocked is None or condition():
                return True
            say.say(f"  not {what}: {blocked.outcome.value}: {blocked.detail}")
            return False
        say.say(f"  not {what} in time")
        return False

    say.step(1, total, f"Create an LSP that asks to be plugged on this chassis by {plug_type!r}:")
    say.command(stage.create_lports([lport], plug_type, extra))

    def plugged() -> bool:
        port = _lports(stage).get(lport)
        return port is not None and port.ofport is not None

    if not wait(plugged, "plugged"):
        return False
    say.say(f"  Plugged: a Port and an Interface named as the {plug_type!r} provider answered:")
    say.table(stage.ports())

    say.step(2, total, f"Ask for MTU 9000 on {lport!r} (vif-plug-mtu-request):")
    say.command(
        stage.set_options(lport, _plug_options(CHASSIS, 9000, plug_type=plug_type, extra=extra))
    )

    def mtu() -> bool:
        port = _lports(stage).get(lport)
        return port is not None and port.mtu_request == 9000

    if not wait(mtu, "updated"):
        return False
    say.say("  Updated in place:")
    say.table(stage.ports())

    say.step(3, total, f"Delete {lport!r}:")
    say.command(stage.delete_lport(lport))
    if not stage.converge(lambda: lport not in _lports(stage)):
        say.say(f"  {lport!r} was not unplugged in time")
        return False
    say.say("  Unplugged: its Port_Binding is gone.")

    say.step(4, total, "What is left plugged on this chassis:")
    say.table(stage.ports())
    return True


def _sandbox_missing() -> list[str]:
    from ovn_vif.sandbox import missing_binaries

    return list(missing_binaries(("ovsdb-server", "ovs-vswitchd", "ovn-northd")))


@attrs.frozen
class _Story:
    """Which provider the demo runs, and the lport options it is given."""

    provider: str = "dummy"
    options: dict[str, str] = attrs.field(factory=dict)

    @property
    def custom(self) -> bool:
        return self.provider != "dummy" or bool(self.options)

    def tell(self, stage: _Stage, say: _Narrator, registry: Registry, reports: _Reports) -> bool:
        if not self.custom:
            return _tell_story(stage, say)
        [plug_type] = registry.types()
        return _tell_provider_story(stage, say, plug_type, self.options, reports)


def _run_on_sandbox(say: _Narrator, keep: bool, story: _Story, parent: str | None = None) -> bool:
    from ovn_vif.sandbox import Sandbox

    say.say("Starting a throwaway OVN: NB and SB ovsdb-server, ovn-northd, a local")
    say.say("ovsdb-server and ovs-vswitchd on the dummy datapath (no ovn-controller) ...")
    registry = _registry(story.provider)
    reports = _Reports()
    try:
        with Sandbox(CHASSIS, keep=keep, parent=parent) as sandbox:
            sandbox.add_chassis(OTHER_CHASSIS, encap_ip="127.0.0.2")
            say.say(
                f"  in {sandbox.root}; chassis {CHASSIS!r} (this one) and {OTHER_CHASSIS!r} exist."
            )
            say.say(
                f"Starting the agent in this process with the {', '.join(registry.types())} "
                "provider (ovn_vif.agent.Agent,"
            )
            say.say("the code behind `ovn-vif agent`):")
            with Agent(
                AgentConfig(ovs_remote=sandbox.ovs_remote), registry, on_report=reports
            ) as agent:
                ok = story.tell(_SandboxStage(sandbox, agent), say, registry, reports)
            say.say()
            say.say(
                "Stopping the agent (plugged ports stay plugged, like ovn-controller) and OVN ..."
            )
    finally:
        registry.destroy_all()
    if keep:
        say.say(f"Kept {sandbox.root}.")
    return ok


def _run_on_fake(say: _Narrator, story: _Story) -> bool:
    from ovn_vif._engine.columns import create_sb_indexes
    from ovn_vif._memdb.topology import add_chassis, connect, ovs_database, sb_database
    from ovn_vif.agent._databases import prepare_ovs_helper, prepare_sb_helper

    ovs_db = ovs_database(system_id=CHASSIS)
    sb_db = sb_database(chassis=CHASSIS)
    add_chassis(sb_db, OTHER_CHASSIS)
    say.say(f"Fake local and Southbound databases; chassis {CHASSIS!r} (this one) and")
    say.say(f"{OTHER_CHASSIS!r} exist. ovn-northd's part is played by writing Port_Binding rows.")
    registry = _registry(story.provider)
    say.say(
        f"Starting the agent in this process with the {', '.join(registry.types())} provider "
        "(ovn_vif.agent.Agent,"
    )
    say.say("the code behind `ovn-vif agent`):")
    ovs_idl = connect(ovs_db, prepare_ovs_helper)
    sb_idl = connect(sb_db, prepare_sb_helper, before_connect=create_sb_indexes)
    reports = _Reports()
    try:
        with contextlib.closing(Agent(AgentConfig(), registry, on_report=reports)) as agent:
            agent.start(ovs_idl=ovs_idl, sb_idl=sb_idl)
            ok = story.tell(_FakeStage(ovs_db, sb_db, agent), say, registry, reports)
    finally:
        registry.destroy_all()
        ovs_idl.close()
        sb_idl.close()
    say.say()
    say.say("Stopping the agent (plugged ports stay plugged, like ovn-controller) ...")
    return ok


def _registry(provider: str) -> Registry:
    """A registry with *provider*: an installed provider type (entry point),
    or ``MODULE:CLASS`` for a class importable from here."""
    registry = Registry()
    if ":" in provider:
        module_name, _, class_name = provider.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
            registry.register(cls())
        except Exception as exc:
            raise OvnVifError(
                f"cannot load the provider {provider}: {type(exc).__name__}: {exc}"
            ) from exc
        return registry
    report = registry.load_entry_points(only=[provider])
    if provider not in report.registered:
        reasons = "; ".join(f.reason for f in report.failed) or (
            f"no entry point named {provider!r} in the ovn_vif.providers group"
        )
        raise OvnVifError(f"the {provider} provider is not available: {reasons}")
    return registry


def parse_lport_options(pairs: Sequence[str]) -> dict[str, str]:
    """``["k=v", ...]`` to a dict; :class:`ValueError` for an item without ``=``."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--lport-option wants KEY=VALUE, got {pair!r}")
        options[key] = value
    return options


def run_demo(
    *,
    use_fake: bool = False,
    keep: bool = False,
    out: TextIO | None = None,
    provider: str = "dummy",
    lport_options: dict[str, str] | None = None,
    parent: str | None = None,
) -> int:
    """Run the demo; return the exit status (0 when the whole story went through).

    :param provider: the provider to plug with: an installed type, or
        ``MODULE:CLASS``. Other than ``dummy``, the story is one LSP plugged,
        updated (MTU) and deleted.
    :param lport_options: options added to the LSP (the provider's own keys).
    :param parent: where the sandbox directory is created (default ``/tmp``).
    """
    say = _Narrator(out if out is not None else sys.stdout)
    story = _Story(provider, dict(lport_options or {}))
    say.say("ovn-vif demo: the plugging agent at work, step by step.")
    missing = [] if use_fake else _sandbox_missing()
    try:
        with _show_agent_log(say):
            if use_fake or missing:
                reason = (
                    "as asked"
                    if use_fake
                    else f"as OVS/OVN are not installed (missing: {', '.join(missing)})"
                )
                say.say(f"Running on the fake IDL (ovn_vif.testing.FakeIdl), {reason}.")
                ok = _run_on_fake(say, story)
            else:
                ok = _run_on_sandbox(say, keep, story, parent)
    except OvnVifError as exc:
        say.say(f"ovn-vif demo: error: {exc}")
        return 1
    except KeyboardInterrupt:
        say.say()
        say.say("Interrupted: everything the demo started is stopped and removed.")
        return 130
    took = time.monotonic() - say.t0
    if not ok:
        say.say(f"The demo did not complete ({took:.1f} s).")
        return 1
    say.say(f"Done in {took:.1f} s. Everything the demo started is stopped and removed.")
    return 0
