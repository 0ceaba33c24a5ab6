"""Why lports requested for this chassis are not plugged: the agent's status file.

The reason a provider declined, or the engine refused, lives only in the
agent's memory: no database column holds it (the Port_Binding belongs to
ovn-northd and ovn-controller, and the local Interface does not exist when
nothing was plugged). So the agent writes, after each reconcile whose
answer changed, a small JSON file with the lports it did not plug (or
unplug) and why; ``ovn-vif status`` reads it next to what the local database
says is plugged. By default the file is ``ovn-vif.status.json`` in
``$OVN_VIF_RUNDIR`` when that is set (the shipped systemd unit sets it to
``/run/ovn-vif``, its ``RuntimeDirectory``, the one place under
``/run`` it may write), else next to the local database socket, so that
``ovn-vif status --ovs-remote unix:PATH`` finds it without being told.
``ovn-vif status`` also looks in ``/var/run/ovn-vif`` when nothing is at
its own default, so that an administrator's shell (without the unit's
environment) finds the file of the agent that systemd runs.

The file is replaced atomically (write and rename); it reflects the latest
reconcile of a running agent, and ``written_at`` says when that was. A
stopped agent leaves its last file behind; ``ovn-vif status`` shows its age.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._engine.report import Decision, Outcome, ReconcileReport

#: Name of the status file in ``$OVN_VIF_RUNDIR`` or the socket's directory.
STATUS_FILE_NAME = "ovn-vif.status.json"
#: The run directory of the shipped systemd unit (``RuntimeDirectory=ovn-vif``);
#: the same default as the control socket's.
SERVICE_RUNDIR = "/var/run/ovn-vif"
_FORMAT = 1
#: Numbers for the temporary files of :func:`write_status` (one process, one counter).
_TMP_NUMBERS = itertools.count(int(time.time_ns() % 1_000_000_000))
#: Outcomes that leave an lport not plugged (or not unplugged) as requested.
NOT_PLUGGED_OUTCOMES = frozenset(
    {Outcome.DECLINED, Outcome.VETOED, Outcome.REFUSED, Outcome.DEFERRED}
)


def default_status_file(ovs_remote: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Where the agent writes its status file for the local database at
    *ovs_remote*: ``ovn-vif.status.json`` in ``$OVN_VIF_RUNDIR`` when it is
    set (in *environ*, default ``os.environ``), else next to a ``unix:``
    socket, else ``None`` (no default for a TCP or SSL remote).

    >>> default_status_file("unix:/var/run/openvswitch/db.sock", {})
    '/var/run/openvswitch/ovn-vif.status.json'
    >>> default_status_file("unix:/var/run/openvswitch/db.sock", {"OVN_VIF_RUNDIR": "/run/ovn-vif"})
    '/run/ovn-vif/ovn-vif.status.json'
    >>> default_status_file("tcp:127.0.0.1:6640", {}) is None
    True
    """
    rundir = (os.environ if environ is None else environ).get("OVN_VIF_RUNDIR")
    if rundir:
        return os.path.join(rundir, STATUS_FILE_NAME)
    if not ovs_remote.startswith("unix:"):
        return None
    path = ovs_remote[len("unix:") :]
    return os.path.join(os.path.dirname(path) or ".", STATUS_FILE_NAME)


def find_status_file(ovs_remote: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The status file ``ovn-vif status`` reads when not told: the agent's
    :func:`default_status_file` if it exists, else the shipped unit's
    (``/var/run/ovn-vif/ovn-vif.status.json``) if that exists, else the
    default (which does not exist, or ``None``)."""
    default = default_status_file(ovs_remote, environ)
    service = os.path.join(SERVICE_RUNDIR, STATUS_FILE_NAME)
    for candidate in (default, service):
        if candidate is not None and os.path.exists(candidate):
            return candidate
    return default


@attrs.frozen(kw_only=True)
class NotPlugged:
    """One lport the agent's latest reconcile did not plug (or unplug), and why."""

    #: The logical port.
    lport: str
    #: Its plug type (``vif-plug-type``, or ``ovn-plugged`` for an unplug).
    plug_type: str | None
    #: The engine's outcome: ``declined``, ``vetoed``, ``refused`` or
    #: ``deferred`` (see :class:`ovn_vif.Outcome`).
    outcome: str
    #: The :class:`ovn_vif.Reason` value (``provider-declined``,
    #: ``name-collision``...), or ``None``.
    reason: str | None
    #: The provider's own reason (:attr:`ovn_vif.Decline.reason`), if it gave one.
    provider_reason: str | None
    #: The engine's sentence (:attr:`ovn_vif.Decision.detail`).
    detail: str
    #: The provider's retry hint in seconds, if any.
    retry_after: float | None = None

    @classmethod
    def from_decision(cls, decision: Decision) -> NotPlugged:
        """The entry for one of the engine's decisions."""
        return cls(
            lport=decision.lport,
            plug_type=decision.plug_type,
            outcome=decision.outcome.value,
            reason=None if decision.reason is None else decision.reason.value,
            provider_reason=decision.provider_reason,
            detail=decision.detail,
            retry_after=decision.retry_after,
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "lport": self.lport,
            "plug_type": self.plug_type,
            "outcome": self.outcome,
            "reason": self.reason,
            "provider_reason": self.provider_reason,
            "detail": self.detail,
            "retry_after": self.retry_after,
        }

    @property
    def because(self) -> str:
        """``"declined: <reason>"``: what ``ovn-vif status`` prints after "because"."""
        return f"{self.outcome}: {self.provider_reason or self.detail}"

    @property
    def headline(self) -> str:
        """``"lsp1 (acme) not plugged because declined: <reason>"`` (``not unplugged``
        for a vetoed unplug, ``waiting`` for a deferred one)."""
        verb = {"vetoed": "not unplugged", "deferred": "waiting"}.get(self.outcome, "not plugged")
        return f"{self.lport} ({self.plug_type or '-'}) {verb} because {self.because}"


def not_plugged(decisions: Iterable[Decision]) -> tuple[NotPlugged, ...]:
    """The latest not-plugged entry per lport among *decisions*, sorted by lport."""
    latest: dict[str, NotPlugged] = {}
    for decision in decisions:
        if decision.outcome in NOT_PLUGGED_OUTCOMES:
            latest[decision.lport] = NotPlugged.from_decision(decision)
    return tuple(latest[k] for k in sorted(latest))


@attrs.frozen(kw_only=True)
class AgentStatus:
    """The content of an agent's status file."""

    #: The chassis the agent served.
    chassis: str
    #: ``time.time()`` when the agent wrote it.
    written_at: float
    #: The agent's process id.
    pid: int
    #: The not-plugged lports.
    not_plugged: tuple[NotPlugged, ...]
    #: The latest self-audit of the Southbound view (``time``, ``member``,
    #: ``outcome``, ``rows``, ``differences``, ``error``) and the
    #: divergences found since start (``divergences``), if any audit ran.
    audit: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "format": _FORMAT,
            "chassis": self.chassis,
            "written_at": self.written_at,
            "pid": self.pid,
            "not_plugged": [n.as_dict() for n in self.not_plugged],
            "self_audit": self.audit,
        }


def _create_new(prefix: str) -> tuple[int, str]:
    """Create a file named *prefix* and a number that no file has yet,
    readable by its owner alone, as ``tempfile.mkstemp`` would (whose
    import, with ``shutil`` and the compression modules, costs an idle
    agent more memory than the status file itself).

    :raises OSError: the directory is not writable.
    """
    for _ in range(100):
        name = f"{prefix}{next(_TMP_NUMBERS)}"
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", prefix)


#: Encodes one value on one line (the standard library's C encoder: an
#: encoder that indents is its pure-Python one, about ten times slower).
_ONE_LINE = json.JSONEncoder(sort_keys=True, separators=(", ", ": "))


def status_text(document: Mapping[str, Any]) -> str:
    """*document* as the status file holds it: JSON with each top-level key,
    and each not-plugged lport, on a line of its own.

    >>> print(status_text({"pid": 7, "not_plugged": [{"lport": "a"}, {"lport": "b"}]}), end="")
    {
     "not_plugged": [
      {"lport": "a"},
      {"lport": "b"}
     ],
     "pid": 7
    }
    """
    lines = []
    for key in sorted(document):
        value = document[key]
        if key == "not_plugged" and value:
            entries = ",\n  ".join(_ONE_LINE.encode(entry) for entry in value)
            text = f"[\n  {entries}\n ]"
        else:
            text = _ONE_LINE.encode(value)
        lines.append(f" {_ONE_LINE.encode(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_status(path: str, status: AgentStatus) -> None:
    """Replace the file at *path* atomically with *status*.

    :raises OSError: the directory is not writable.
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = _create_new(os.path.join(directory, f".ovn-vif-status.{os.getpid()}."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(status_text(status.as_dict()))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_agent_status(path: str) -> AgentStatus | None:
    """Read an agent's status file; ``None`` if there is none.

    A file that cannot be parsed is treated as absent (a status command
    must not crash on it).
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    try:
        entries = tuple(
            NotPlugged(
                lport=str(e["lport"]),
                plug_type=None if e.get("plug_type") is None else str(e["plug_type"]),
                outcome=str(e["outcome"]),
                reason=None if e.get("reason") is None else str(e["reason"]),
                provider_reason=None
                if e.get("provider_reason") is None
                else str(e["provider_reason"]),
                detail=str(e.get("detail", "")),
                retry_after=None if e.get("retry_after") is None else float(e["retry_after"]),
            )
            for e in data["not_plugged"]
        )
        audit = data.get("self_audit")
        return AgentStatus(
            chassis=str(data["chassis"]),
            written_at=float(data["written_at"]),
            pid=int(data["pid"]),
            not_plugged=entries,
            audit=audit if isinstance(audit, dict) else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class StatusWriter:
    """Keeps the status file in step with the agent's latest reconcile."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._last: tuple[str, tuple[NotPlugged, ...]] | None = None
        self._audit: dict[str, Any] | None = None
        self.error: OSError | None = None

    def update(self, chassis: str, decisions: Iterable[Decision]) -> bool:
        """Write the file if its content changed; return whether it wrote.

        :raises OSError: writing failed (the next update tries again).
        """
        if self.path is None:
            return False
        entries = not_plugged(decisions)
        if self._last == (chassis, entries):
            return False
        self._write(chassis, entries)
        return True

    def record_audit(self, chassis: str, audit: dict[str, Any]) -> None:
        """Write the latest self-audit (with the not-plugged lports last written).

        :raises OSError: writing failed.
        """
        self._audit = audit
        if self.path is None:
            return
        entries = self._last[1] if self._last is not None and self._last[0] == chassis else ()
        self._write(chassis, entries)

    def _write(self, chassis: str, entries: tuple[NotPlugged, ...]) -> None:
        assert self.path is not None
        write_status(
            self.path,
            AgentStatus(
                chassis=chassis,
                written_at=time.time(),
                pid=os.getpid(),
                not_plugged=entries,
                audit=self._audit,
            ),
        )
        self._last = (chassis, entries)


class StatusFile:
    """The status file as the agent's loop keeps it: a write that fails is a
    warning (rate-limited through *rl*), never an error; the next one tries again."""

    def __init__(self, path: str | None, rl: RateLimitedLogger) -> None:
        self._writer = StatusWriter(path)
        self._rl = rl

    @property
    def path(self) -> str | None:
        return self._writer.path

    def decided(self, chassis: str, report: ReconcileReport) -> None:
        """Record the lports *report* left unplugged (unless nothing was decided)."""
        if report.skipped is not None:
            return
        try:
            self._writer.update(chassis, report.decisions)
        except OSError as exc:
            self._rl.warning(
                ("status-file", self.path),
                "cannot write the status file %s (ovn-vif status will not show why lports "
                "are not plugged): %s",
                self.path,
                exc,
            )

    def audited(self, chassis: str, record: dict[str, Any]) -> None:
        """Record the latest self-audit."""
        try:
            self._writer.record_audit(chassis, record)
        except OSError as exc:
            self._rl.warning(
                ("status-file", self.path),
                "cannot write the status file %s: %s",
                self.path,
                exc,
            )
