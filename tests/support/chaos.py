"""A seeded chaos soak of the real ``ovn-vif agent`` against real daemons.

One seed decides everything the soak does: the Northbound operations (create
an LSP for this chassis, change its options, move it to another chassis and
back, delete it), the faults (kill the Southbound leader, a member or the
whole RAFT cluster, restart the local ``ovsdb-server``, pause
``ovs-vswitchd``, kill or pause the agent), how long each lasts, which
operations happen while it lasts and how many busy loops compete for the
CPU meanwhile. :func:`make_schedule` turns a seed into that list of
:class:`Step`; :class:`Soak` runs it against a :class:`ovn_vif.sandbox.SandboxDir`
and checks the invariants (:class:`Invariants`) continuously and after each
fault. A violation raises :class:`ChaosFailure`, whose message carries the
seed, the step, the fault history and the tails of the logs: replaying the
seed replays the schedule (the timing of the daemons themselves is not
reproducible, so a replay may need a few runs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import cpu_seconds
from tests.support.cluster import ClusterNorthd, SouthboundCluster

import ovn_vif
from ovn_vif.sandbox import LocalVswitch, OvsdbServer, SandboxDir, wait_until

CHASSIS = "hv1"
OTHER_CHASSIS = "hv2"
SWITCH = "sw0"

#: An lport bound to this chassis that no provider plugs (no ``vif-plug-type``):
#: the operator plugs it, with an Interface carrying its ``iface-id``
#: (:data:`OPERATOR_PORT`), and the agent must leave that row alone. (Not a
#: ``vif-plug-type=dummy`` lport: the agent would refuse it on every full run,
#: and a full run that always decides something hides a stuck "nothing to do".)
#: Seconds between the agent's self-audits during the soak.
AUDIT_INTERVAL = 5
OPERATOR_LPORT = "op-vif"
#: The operator's Interface bound to :data:`OPERATOR_LPORT` (no ``ovn-plugged``).
OPERATOR_PORT = "op-tap"
#: A plain port of the operator's, with options, bound to no lport.
PLAIN_PORT = "op-plain"

FAULT_KINDS = (
    "sb-leader-kill",
    "sb-member-kill",
    "sb-cluster-restart",
    "local-ovsdb-restart",
    "vswitchd-pause",
    "agent-kill",
    "agent-pause",
)
# The whole-cluster restart is the fault with the most history: drawn twice as often.
_FAULT_WEIGHTS = (1, 1, 2, 1, 1, 1, 1)


@dataclasses.dataclass(frozen=True)
class Profile:
    """How long a soak runs and how hard it pushes."""

    name: str
    #: Number of faults (one per step).
    faults: int
    #: Seconds the agent gets to converge after each fault.
    converge_bound: float = 30.0
    #: Most lports asking for this chassis at once.
    max_lports: int = 10


PROFILES = {
    "ci": Profile("ci", faults=30),
    "long": Profile("long", faults=300),
}


# --------------------------------------------------------------------------
# The Northbound model and the schedule


@dataclasses.dataclass(frozen=True)
class NbOp:
    """One Northbound operation on one LSP."""

    #: create, create-elsewhere, mtu, key, move-away, move-back, delete
    kind: str
    lport: str
    value: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.lport}" + (f"={self.value}" if self.value else "")


@dataclasses.dataclass
class Lsp:
    chassis: str
    mtu: int | None = None
    key: str | None = None


class NbModel:
    """The LSPs of ``sw0`` as the soak set them, and what that asks of this chassis.

    Every LSP asks for the ``dummy`` plug type; it is wanted here while its
    ``requested-chassis`` is :data:`CHASSIS`.
    """

    def __init__(self) -> None:
        self.lsps: dict[str, Lsp] = {}
        self.counter = 0

    def apply(self, op: NbOp) -> None:
        if op.kind in ("create", "create-elsewhere"):
            self.lsps[op.lport] = Lsp(CHASSIS if op.kind == "create" else OTHER_CHASSIS)
        elif op.kind == "delete":
            del self.lsps[op.lport]
        elif op.kind == "mtu":
            self.lsps[op.lport].mtu = int(op.value)
        elif op.kind == "key":
            self.lsps[op.lport].key = op.value
        elif op.kind == "move-away":
            self.lsps[op.lport].chassis = OTHER_CHASSIS
        elif op.kind == "move-back":
            self.lsps[op.lport].chassis = CHASSIS
        else:
            raise ValueError(f"unknown NB operation {op.kind!r}")

    def wanted(self) -> dict[str, int | None]:
        """``{lport: mtu_request}`` of every lport that must be plugged here."""
        return {name: lsp.mtu for name, lsp in self.lsps.items() if lsp.chassis == CHASSIS}

    def nbctl_args(self, op: NbOp) -> list[str]:
        """``ovn-nbctl`` arguments that bring NB to this model after *op* (applied)."""
        if op.kind == "delete":
            return ["lsp-del", op.lport]
        lsp = self.lsps[op.lport]
        options = [f"requested-chassis={lsp.chassis}", "vif-plug-type=dummy"]
        if lsp.mtu is not None:
            options.append(f"vif-plug-mtu-request={lsp.mtu}")
        if lsp.key is not None:
            options.append(f"vif-plug:dummy:color={lsp.key}")
        set_options = ["lsp-set-options", op.lport, *options]
        if op.kind in ("create", "create-elsewhere"):
            return ["lsp-add", SWITCH, op.lport, "--", *set_options]
        return set_options


@dataclasses.dataclass(frozen=True)
class Fault:
    kind: str
    #: Seconds the fault lasts: killed to restarted, stopped to continued.
    down: float
    #: Member index, for ``sb-member-kill``.
    member: int = 0
    #: Busy-loop processes spinning from before the fault until convergence.
    hogs: int = 0
    #: Seconds between the operations before the fault and the fault.
    lead: float = 0.0

    def __str__(self) -> str:
        where = f" sb{self.member + 1}" if self.kind == "sb-member-kill" else ""
        hogs = f", {self.hogs} busy loop(s)" if self.hogs else ""
        return f"{self.kind}{where} for {self.down:.2f} s (after {self.lead:.2f} s{hogs})"


@dataclasses.dataclass(frozen=True)
class Step:
    """NB operations before a fault, while it lasts, and after it."""

    index: int
    before: tuple[NbOp, ...]
    fault: Fault
    during: tuple[NbOp, ...]
    after: tuple[NbOp, ...]

    def __str__(self) -> str:
        def ops(seq: Sequence[NbOp]) -> str:
            return ", ".join(map(str, seq)) or "-"

        return (
            f"step {self.index}: [{ops(self.before)}] {self.fault} "
            f"during [{ops(self.during)}] after [{ops(self.after)}]"
        )


def _draw_op(rng: random.Random, model: NbModel, left: set[str], profile: Profile) -> NbOp:
    """One operation valid on *model*; *left* holds lports that left this
    chassis in the current step (they may come back only in a later step,
    once their unplug has been checked)."""
    here = sorted(n for n, lsp in model.lsps.items() if lsp.chassis == CHASSIS)
    away = sorted(
        n for n, lsp in model.lsps.items() if lsp.chassis == OTHER_CHASSIS and n not in left
    )
    choices: list[tuple[str, int]] = [("create", 6 if len(here) < profile.max_lports else 0)]
    choices.append(("create-elsewhere", 1))
    if here:
        choices += [("mtu", 2), ("key", 1), ("move-away", 2), ("delete", 3)]
    if away:
        choices += [("move-back", 2), ("delete", 1)]
    kinds, weights = zip(*choices, strict=True)
    kind = rng.choices(kinds, weights)[0]
    if kind in ("create", "create-elsewhere"):
        model.counter += 1
        op = NbOp(kind, f"lsp{model.counter}")
    elif kind == "move-back":
        op = NbOp(kind, rng.choice(away))
    elif kind == "delete":
        op = NbOp(kind, rng.choice(here + away))
    elif kind == "mtu":
        op = NbOp(kind, rng.choice(here), str(rng.choice((1280, 1400, 1450, 1500, 9000))))
    elif kind == "key":
        op = NbOp(
            kind, rng.choice(here), rng.choice(("red", "green", "blue")) + str(rng.randrange(100))
        )
    else:
        op = NbOp(kind, rng.choice(here))
    if op.lport in model.wanted() and kind in ("move-away", "delete"):
        left.add(op.lport)
    model.apply(op)
    return op


def make_schedule(seed: int, profile: Profile) -> list[Step]:
    """The steps of a soak: a pure function of *seed* and *profile*."""
    rng = random.Random(seed)
    model = NbModel()
    steps: list[Step] = []
    for index in range(1, profile.faults + 1):
        left: set[str] = set()

        def ops(low: int, high: int, left: set[str] = left) -> tuple[NbOp, ...]:
            count = rng.randint(low, high)
            return tuple(_draw_op(rng, model, left, profile) for _ in range(count))

        before = ops(0, 3)
        kind = rng.choices(FAULT_KINDS, _FAULT_WEIGHTS)[0]
        fault = Fault(
            kind,
            down=round(rng.uniform(0.5, 3.0), 2),
            member=rng.randrange(3),
            hogs=rng.choice((0, 0, 1, 2)),
            lead=round(rng.uniform(0.0, 1.0), 2),
        )
        during = ops(0, 3)
        after = ops(0, 2)
        steps.append(Step(index, before, fault, during, after))
    return steps


# --------------------------------------------------------------------------
# The agent and the busy loops


def agent_pythonpath() -> str:
    """The directory the imported ``ovn_vif`` comes from: the agent runs the same tree."""
    return str(Path(ovn_vif.__file__).resolve().parents[1])


class AgentProcess:
    """``ovn-vif agent --provider dummy`` as a child process, restartable like
    a systemd service; every run appends to the same log file."""

    def __init__(self, ovs_remote: str, log_path: Path, ctl_path: Path) -> None:
        self.log_path = log_path
        self.console_path = log_path.with_suffix(".console")
        self.argv = [
            sys.executable,
            "-m",
            "ovn_vif.cli",
            "agent",
            "--provider",
            "dummy",
            "--ovs-remote",
            ovs_remote,
            "--log-level",
            "debug",
            "--log-file",
            str(log_path),
            "--unixctl",
            str(ctl_path),
            # The self-audit runs often, so that a divergence it finds (or a
            # false alarm of its own) shows within the soak.
            "--audit-interval",
            str(AUDIT_INTERVAL),
        ]
        path = os.environ.get("PYTHONPATH")
        self.env = {
            **os.environ,
            "PYTHONPATH": agent_pythonpath() + (os.pathsep + path if path else ""),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        #: Every pid this agent had, in order.
        self.pids: list[int] = []

    def start(self) -> None:
        with self.console_path.open("ab") as console:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=console, stderr=console, env=self.env
            )
        self.pids.append(self.proc.pid)

    def exit_status(self) -> int | None:
        """``None`` while it runs, else how it ended."""
        return None if self.proc is None else self.proc.poll()

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the current process so far, 0 if it is gone."""
        return 0.0 if self.proc is None else cpu_seconds(self.proc.pid)

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGCONT (in case it is paused), SIGTERM, SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for path in (self.log_path, self.console_path):
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            parts.append("\n".join(text.splitlines()[-lines:]))
        return "\n".join(p for p in parts if p)


@contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """*count* pure-Python processes spinning on the CPU while the block runs."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "while True:\n    pass"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------
# The invariants


class ChaosFailure(AssertionError):
    """An invariant broke; the message says which, where and with which seed."""


class Violation(Exception):
    """Raised by :class:`Invariants`; :class:`Soak` adds the context."""


#: Interface columns read on every poll.
_IFACE_COLUMNS = "_uuid,name,type,options,external_ids,mtu_request"
#: The columns of the operator's rows that only a client changes (not the
#: status columns ovs-vswitchd keeps up to date).
_FOREIGN_COLUMNS = {
    "Port": "_uuid,name,interfaces,external_ids,other_config,tag,trunks,vlan_mode",
    "Interface": "_uuid,name,type,options,external_ids,other_config,mtu_request,"
    "ingress_policing_rate",
}


def _table(out: str) -> list[dict[str, Any]]:
    table = json.loads(out)
    return [dict(zip(table["headings"], values, strict=True)) for values in table["data"]]


@dataclasses.dataclass(frozen=True)
class Plugged:
    """One Interface plugged by ovn-vif (``external_ids:ovn-plugged`` set)."""

    uuid: str
    name: str
    plug_type: str
    mtu_request: int | None


def plugged_interfaces(rows: list[dict[str, Any]]) -> dict[str, list[Plugged]]:
    """``{iface-id: [Plugged, ...]}`` from ``list Interface`` rows (lists, to see duplicates)."""
    result: dict[str, list[Plugged]] = {}
    for row in rows:
        ids = dict(row["external_ids"][1])
        if "ovn-plugged" not in ids:
            continue
        mtu = row["mtu_request"]
        result.setdefault(ids.get("iface-id", ""), []).append(
            Plugged(
                row["_uuid"][1],
                row["name"],
                ids["ovn-plugged"],
                mtu if isinstance(mtu, int) else None,
            )
        )
    return result


class Invariants:
    """What must hold, checked on every observation of the local database.

    * one Interface per lport, never two (checked always);
    * no spurious unplug: an lport wanted here without interruption keeps
      the same Interface row (``_uuid``) once plugged (checked always);
    * converged: once the agent had its time, the plugged set is the wanted
      set, with the MTU asked for (so nothing lost, no orphan);
    * the operator's rows are unchanged, byte for byte.
    """

    def __init__(self) -> None:
        #: ``{lport: Interface _uuid}`` of lports wanted here since they were plugged.
        self.tracked: dict[str, str] = {}
        self.wanted: dict[str, int | None] = {}

    def set_wanted(self, wanted: dict[str, int | None]) -> None:
        self.wanted = dict(wanted)
        for lport in list(self.tracked):
            if lport not in wanted:
                del self.tracked[lport]

    def observe(self, plugged: dict[str, list[Plugged]]) -> None:
        """Check what must hold at every instant; start tracking new plugs."""
        for lport, ifaces in plugged.items():
            if len(ifaces) > 1:
                raise Violation(f"duplicate: lport {lport} has {len(ifaces)} Interfaces: {ifaces}")
        for lport, uuid in self.tracked.items():
            now = plugged.get(lport, [])
            if not now:
                raise Violation(
                    f"spurious unplug: lport {lport} is still wanted here but its Interface "
                    f"{uuid} is gone"
                )
            if now[0].uuid != uuid:
                raise Violation(
                    f"spurious unplug+replug: lport {lport} was Interface {uuid}, now {now[0].uuid}"
                )
        for lport, ifaces in plugged.items():
            if lport in self.wanted and lport not in self.tracked:
                self.tracked[lport] = ifaces[0].uuid

    def differences(self, plugged: dict[str, list[Plugged]]) -> list[str]:
        """Why *plugged* is not (yet) what is wanted; empty once converged."""
        problems = []
        for lport in sorted(set(self.wanted) - set(plugged)):
            problems.append(f"missing: {lport}")
        for lport in sorted(set(plugged) - set(self.wanted)):
            problems.append(f"orphan: {lport} {plugged[lport]}")
        for lport in sorted(set(plugged) & set(self.wanted)):
            iface = plugged[lport][0]
            if iface.plug_type != "dummy":
                problems.append(f"wrong ovn-plugged on {lport}: {iface.plug_type}")
            if iface.mtu_request != self.wanted[lport]:
                problems.append(
                    f"stale: {lport} mtu_request {iface.mtu_request}, wanted {self.wanted[lport]}"
                )
        return problems


# --------------------------------------------------------------------------
# The soak


class Soak:
    """The stack, the agent and the schedule of one seed.

    Use as a context manager (the agent and busy loops are stopped on exit;
    the daemons belong to *sandbox_dir*). :meth:`run` runs every step and
    raises :class:`ChaosFailure` at the first violation.
    """

    def __init__(
        self,
        sandbox_dir: SandboxDir,
        seed: int,
        profile: Profile,
        *,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.dir = sandbox_dir
        self.seed = seed
        self.profile = profile
        self.say = say
        self.schedule = make_schedule(seed, profile)
        self.model = NbModel()
        self.invariants = Invariants()
        self.history: list[str] = []
        self.step_times: list[float] = []
        self.converge_times: list[float] = []
        self.nb = OvsdbServer(sandbox_dir, ["OVN_Northbound"], name="ovnnb_db")
        self.cluster = SouthboundCluster(sandbox_dir)
        self.northd = ClusterNorthd(sandbox_dir, self.nb.remote, self.cluster)
        self.vswitch = LocalVswitch(
            sandbox_dir,
            external_ids={
                "system-id": CHASSIS,
                "hostname": CHASSIS,
                "ovn-remote": self.cluster.remote,
                "ovn-encap-type": "geneve",
                "ovn-encap-ip": "127.0.0.1",
            },
        )
        self.agent = AgentProcess(
            self.vswitch.remote,
            sandbox_dir.log_dir / "ovn-vif-agent.log",
            sandbox_dir.run_dir / "ovn-vif-agent.ctl",
        )
        #: Whether the agent is down because a fault killed it.
        self._agent_killed = False
        self._foreign: str = ""
        self._audit_offset = 0
        self._step: Step | None = None

    # -- tools

    def _ctl(self, program: str, remote: str, *args: str, timeout: float = 10.0) -> str:
        argv = [program, f"--db={remote}", f"--timeout={round(timeout)}", *args]
        proc = subprocess.run(
            argv,
            env=self.vswitch.env,
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc.stdout

    def nbctl(self, *args: str) -> str:
        return self._ctl("ovn-nbctl", self.nb.remote, *args)

    def sbctl(self, *args: str) -> str:
        return self._ctl("ovn-sbctl", self.cluster.remote, *args, timeout=30.0)

    def vsctl(self, *args: str, timeout: float = 5.0) -> str:
        return self._ctl("ovs-vsctl", self.vswitch.remote, *args, timeout=timeout)

    # -- set-up

    def start(self) -> None:
        self.say(
            f"chaos soak: seed {self.seed}, profile {self.profile.name} "
            f"({self.profile.faults} faults), sandbox {self.dir.root}"
        )
        self.nb.start()
        self.cluster.start()
        self.northd.start()
        self.vswitch.start()
        for name, ip in ((CHASSIS, "127.0.0.1"), (OTHER_CHASSIS, "127.0.0.2")):
            self.sbctl("--may-exist", "chassis-add", name, "geneve", ip)
        self.nbctl(
            "ls-add",
            SWITCH,
            "--",
            "lsp-add",
            SWITCH,
            OPERATOR_LPORT,
            "--",
            "lsp-set-options",
            OPERATOR_LPORT,
            f"requested-chassis={CHASSIS}",
        )
        bridge = self.vswitch.bridge
        self.vsctl(
            "add-port",
            bridge,
            OPERATOR_PORT,
            "--",
            "set",
            "Interface",
            OPERATOR_PORT,
            "type=internal",
            f"external_ids:iface-id={OPERATOR_LPORT}",
            "external_ids:owner=operator",
            "--",
            "add-port",
            bridge,
            PLAIN_PORT,
            "--",
            "set",
            "Interface",
            PLAIN_PORT,
            "type=internal",
            "options:operator-key=kept",
            "mtu_request=1600",
            "other_config:note=untouched",
            "--",
            "set",
            "Port",
            PLAIN_PORT,
            "tag=42",
            "external_ids:owner=operator",
        )
        self._foreign = self._read_foreign()
        self.nbctl("--wait=sb", "sync")
        self.agent.start()
        wait_until(
            lambda: "both databases in sync" in self.agent.log_tail(10_000),
            60,
            what="the agent in sync",
        )

    def _read_foreign(self) -> str:
        parts = []
        for table, columns in _FOREIGN_COLUMNS.items():
            for name in (OPERATOR_PORT, PLAIN_PORT):
                parts.append(
                    self.vsctl(
                        "--format=json", "--data=json", f"--columns={columns}", "list", table, name
                    ).strip()
                )
        ports = self.vsctl("list-ports", self.vswitch.bridge).split()
        parts.append(" ".join(p for p in ports if p in (OPERATOR_PORT, PLAIN_PORT)))
        return "\n".join(parts)

    def close(self) -> None:
        self.agent.stop()

    def __enter__(self) -> Soak:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- observation

    def observe(self) -> dict[str, list[Plugged]] | None:
        """Read the plugged Interfaces and check the continuous invariants.

        ``None`` when the local database cannot be read right now (a fault).
        """
        status = self.agent.exit_status()
        if status is not None and not self._agent_killed:
            raise Violation(f"the agent (pid {self.agent.pids[-1]}) exited by itself: {status}")
        try:
            out = self.vsctl(
                "--format=json",
                "--data=json",
                f"--columns={_IFACE_COLUMNS}",
                "list",
                "Interface",
                timeout=2.0,
            )
        except (RuntimeError, subprocess.TimeoutExpired):
            return None
        plugged = plugged_interfaces(_table(out))
        self.invariants.observe(plugged)
        return plugged

    def watch(self, seconds: float) -> None:
        """Sleep *seconds*, observing all along."""
        deadline = time.monotonic() + seconds
        while True:
            self.observe()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.25, left))

    def wait_southbound(self) -> float:
        """Until ovn-northd has written the latest NB state to the Southbound
        leader (``ovn-nbctl --wait=sb sync``), observing meanwhile.

        After a Southbound fault ovn-northd hunts for the new leader with a
        back-off of up to 8 s; the agent's bound starts once it is done.
        """
        start = time.monotonic()
        proc = subprocess.Popen(
            ["ovn-nbctl", f"--db={self.nb.remote}", "--timeout=90", "--wait=sb", "sync"],
            env=self.vswitch.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        while proc.poll() is None:
            self.watch(0.25)
        if proc.returncode != 0:
            assert proc.stderr is not None
            raise RuntimeError(f"ovn-nbctl --wait=sb sync failed: {proc.stderr.read()!r}")
        return time.monotonic() - start

    def wait_converged(self) -> float:
        """Until the plugged set is the wanted set; returns the seconds it took."""
        start = time.monotonic()
        deadline = start + self.profile.converge_bound
        problems: list[str] = ["never read the local database"]
        while time.monotonic() < deadline:
            plugged = self.observe()
            if plugged is not None:
                problems = self.invariants.differences(plugged)
                if not problems:
                    return time.monotonic() - start
            time.sleep(0.2)
        raise Violation(
            f"not converged within {self.profile.converge_bound:g} s: " + "; ".join(problems)
        )

    def check_audit(self) -> None:
        """The self-audit found nothing: the agent was never silently wrong."""
        try:
            with self.agent.log_path.open("rb") as f:
                f.seek(self._audit_offset)
                new = f.read().decode(errors="replace")
        except FileNotFoundError:
            return
        self._audit_offset += len(new.encode(errors="replace"))
        found = [ln for ln in new.splitlines() if "|ERROR|" in ln and "self-audit:" in ln]
        if found:
            raise Violation("the self-audit found a divergence:\n" + "\n".join(found[:5]))

    def check_foreign(self) -> None:
        now = self._read_foreign()
        if now != self._foreign:
            raise Violation(f"the operator's rows changed:\nbefore:\n{self._foreign}\nnow:\n{now}")

    # -- running

    def apply(self, ops: Sequence[NbOp]) -> None:
        for op in ops:
            self.model.apply(op)
            self.invariants.set_wanted(self.model.wanted())
            self.nbctl(*self.model.nbctl_args(op))

    def run(self) -> None:
        """Every step; raises :class:`ChaosFailure` at the first violation."""
        try:
            self.observe()
            self.check_foreign()
            for step in self.schedule:
                self._step = step
                started = time.monotonic()
                self.history.append(str(step))
                pid, cpu = self.agent.pids[-1], self.agent.cpu_seconds()
                self.apply(step.before)
                with busy_loops(step.fault.hogs):
                    self.watch(step.fault.lead)
                    self.inject(step)
                    self.apply(step.after)
                    caught_up = self.wait_southbound()
                    took = self.wait_converged()
                self.check_foreign()
                self.check_audit()
                self.converge_times.append(took)
                self.step_times.append(time.monotonic() - started)
                # Busy-looping shows here (the agent restarted: its new process's time).
                used = self.agent.cpu_seconds() - (cpu if self.agent.pids[-1] == pid else 0.0)
                self.history[-1] += (
                    f" -> SB caught up in {caught_up:.2f} s, agent converged in {took:.2f} s"
                    f" (agent CPU {used:.2f} s)"
                )
                self.say(self.history[-1])
        except Violation as exc:
            raise ChaosFailure(self.report(str(exc))) from None
        except Exception as exc:  # a daemon or tool failed: report it with the seed too
            raise ChaosFailure(self.report(f"harness error: {type(exc).__name__}: {exc}")) from exc

    def inject(self, step: Step) -> None:
        """The fault of *step*, with its ``during`` operations while it lasts."""
        fault = step.fault
        began = time.monotonic()

        def during() -> None:
            self.apply(step.during)
            self.watch(max(0.0, fault.down - (time.monotonic() - began)))

        kind = fault.kind
        if kind in ("sb-leader-kill", "sb-member-kill"):
            member = (
                wait_until(self.cluster.leader, 30, what="a Southbound leader")
                if kind == "sb-leader-kill"
                else self.cluster.members[fault.member]
            )
            assert member is not None  # wait_until returns only a leader
            self.history[-1] += f" [{member.name}]"
            member.kill()
            during()
            member.start()
            self.cluster.wait_healthy()
        elif kind == "sb-cluster-restart":
            self.cluster.stop_all()
            during()
            self.cluster.start_all()
            self.cluster.wait_healthy()
        elif kind == "local-ovsdb-restart":
            self.vswitch.ovsdb.stop()
            during()
            self.vswitch.ovsdb.start()
        elif kind in ("vswitchd-pause", "agent-pause"):
            pid = self.vswitch.vswitchd.pid if kind == "vswitchd-pause" else self.agent.pids[-1]
            assert pid is not None, kind
            os.kill(pid, signal.SIGSTOP)
            try:
                during()
            finally:
                os.kill(pid, signal.SIGCONT)
        elif kind == "agent-kill":
            self._agent_killed = True
            self.agent.kill()
            during()
            self.agent.start()
            self._agent_killed = False
        else:
            raise ValueError(f"unknown fault {kind!r}")

    # -- reporting

    def report(self, what: str) -> str:
        step = self._step.index if self._step else 0
        replay = (
            f"OVN_VIF_CHAOS_SEED={self.seed} OVN_VIF_CHAOS_PROFILE={self.profile.name} "
            "python -m pytest tests/ovn_vif/agent/test_chaos.py"
        )
        lines = [
            f"chaos soak violation at step {step}/{len(self.schedule)} "
            f"(seed {self.seed}, profile {self.profile.name}): {what}",
            f"replay: {replay}",
            f"wanted: {sorted(self.invariants.wanted)}",
            "fault history:",
            *(f"  {h}" for h in self.history),
            f"--- agent log tail ({self.agent.log_path}, pids {self.agent.pids}) ---",
            self.agent.log_tail(80),
        ]
        for member in self.cluster.members:
            lines += [f"--- {member.name} log tail ---", member.log_tail(15)]
        return "\n".join(lines)
