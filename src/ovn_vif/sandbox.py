"""Start and stop real OVS/OVN daemons in a private temporary directory.

The sandbox runs the same userspace stack as OVN's own test suite: NB and SB
``ovsdb-server``, ``ovn-northd``, a local ``Open_vSwitch`` ``ovsdb-server``,
``ovs-vswitchd`` on the dummy datapath (``--enable-dummy=override``, no
kernel module, no root needed for the datapath) and, optionally, the real
``ovn-controller --enable-dummy-vif-plug`` as the reference implementation.

Everything lives under one directory (``/tmp/ovnvif-<random suffix>`` by default):
pidfiles, unix sockets, logs, database files and the ``OVS_*``/``OVN_*``
directories the tools read, so nothing in ``/var/run``, ``/var/log`` or
``/etc`` is touched and several sandboxes can run side by side. Only unix
sockets are used.

>>> from ovn_vif.sandbox import Sandbox
>>> with Sandbox(chassis="hv1") as sb:  # doctest: +SKIP
...     sb.nbctl("ls-add", "sw0")
...     sb.sbctl("--bare", "--columns=name", "list", "Chassis")

``Sandbox(..., chroot=TREE)`` runs another system's OVS/OVN instead (say
OVN 25.03 from a Debian trixie tree on a Debian 12 host): every program runs
as ``chroot TREE program ...`` and the directory is bind-mounted at the same
path inside the tree, so the host's clients reach the same sockets.

The building blocks (:class:`SandboxDir`, :class:`OvsdbServer`,
:class:`OvsVswitchd`, :class:`LocalVswitch`, :class:`OvnNorthd`,
:class:`OvnController`) can be used on their own, for example one
``ovsdb-server`` holding both ``Open_vSwitch`` and ``OVN_Southbound`` for
IDL tests. Daemons are owned by their :class:`SandboxDir`: closing it stops
them in reverse start order and removes the directory; an ``atexit``
hook does the same for anything left running when the interpreter exits.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, TypeVar

from ovn_vif._errors import (
    CommandError,
    DaemonError,
    SandboxError,
    SandboxTimeoutError,
    SandboxUnavailableError,
)

__all__ = [
    "CHROOT_SEARCH_PATH",
    "COMPONENTS",
    "DATABASES",
    "CommandError",
    "Daemon",
    "DaemonError",
    "LocalVswitch",
    "OvnController",
    "OvnNorthd",
    "OvsVswitchd",
    "OvsdbServer",
    "Sandbox",
    "SandboxDir",
    "SandboxError",
    "SandboxTimeoutError",
    "SandboxUnavailableError",
    "default_search_path",
    "missing_binaries",
    "wait_until",
]

LOG = logging.getLogger(__name__)

T = TypeVar("T")

#: Schema file of each database an :class:`OvsdbServer` can serve.
DATABASES: Mapping[str, Path] = {
    "Open_vSwitch": Path("/usr/share/openvswitch/vswitch.ovsschema"),
    "OVN_Northbound": Path("/usr/share/ovn/ovn-nb.ovsschema"),
    "OVN_Southbound": Path("/usr/share/ovn/ovn-sb.ovsschema"),
}

# The table holding the single root row of each database; a fresh database
# gets it at creation so that clients (ovs-vsctl, ovn-controller, IDLs) find
# the same state as after "ovs-vsctl init" / "ovn-nbctl init" / "ovn-sbctl init".
_ROOT_TABLES: Mapping[str, str] = {
    "Open_vSwitch": "Open_vSwitch",
    "OVN_Northbound": "NB_Global",
    "OVN_Southbound": "SB_Global",
}

# Database file names as the Debian packages name them.
_DB_FILES: Mapping[str, str] = {
    "Open_vSwitch": "conf.db",
    "OVN_Northbound": "ovnnb_db.db",
    "OVN_Southbound": "ovnsb_db.db",
}

#: The programs each component needs, looked up on the search path. Keys are
#: the names :func:`missing_binaries` accepts; it also checks the schema files
#: (:data:`DATABASES`) a component needs.
COMPONENTS: Mapping[str, tuple[str, ...]] = {
    "ovsdb-server": ("ovsdb-tool", "ovsdb-server"),
    "ovs-vswitchd": ("ovs-vswitchd", "ovs-vsctl", "ovs-appctl"),
    "ovn-northd": ("ovn-northd", "ovn-nbctl", "ovn-sbctl"),
    "ovn-controller": ("ovn-controller", "ovn-appctl"),
}

_COMPONENT_FILES: Mapping[str, tuple[Path, ...]] = {
    "ovsdb-server": (),
    "ovs-vswitchd": (DATABASES["Open_vSwitch"],),
    "ovn-northd": (DATABASES["OVN_Northbound"], DATABASES["OVN_Southbound"]),
    "ovn-controller": (),
}

_APT_HINT = (
    "install them with: apt-get install openvswitch-switch openvswitch-common "
    "ovn-central ovn-host\n"
    "(in a container without systemd, first create /usr/sbin/policy-rc.d containing "
    "'exit 101' so the packages do not start the system-wide daemons)"
)

# AF_UNIX paths are limited to 108 bytes including the NUL. OVS clients work
# around longer paths, Python's socket module does not.
_MAX_SOCKET_PATH = 100

_DEFAULT_TIMEOUT = 30.0


def default_search_path() -> str:
    """Return ``$PATH`` with ``/usr/sbin`` and ``/sbin`` appended.

    Debian installs ``ovsdb-server`` and ``ovs-vswitchd`` in ``/usr/sbin``,
    which is not on a normal user's ``PATH``.
    """
    parts = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p]
    for extra in ("/usr/sbin", "/sbin"):
        if extra not in parts:
            parts.append(extra)
    return os.pathsep.join(parts)


def missing_binaries(
    components: Iterable[str] = tuple(COMPONENTS),
    *,
    search_path: str | None = None,
    chroot: str | os.PathLike[str] | None = None,
) -> list[str]:
    """Return what is missing to run *components* (names from :data:`COMPONENTS`).

    The result lists program names not found on *search_path* (default:
    :func:`default_search_path`) and schema files that do not exist, in a
    stable order; it is empty when everything is installed. With *chroot*,
    programs and schemas are looked up in that tree instead (programs on
    :data:`CHROOT_SEARCH_PATH`); a missing program is then listed as
    ``"<program> in <tree>"`` and a schema by its path on the host, and
    ``chroot`` itself must be on *search_path*.

    >>> missing_binaries(["ovsdb-server"])  # doctest: +SKIP
    []
    """
    path = default_search_path() if search_path is None else search_path
    missing: list[str] = []
    tree = None if chroot is None else Path(chroot).absolute()
    if tree is not None:
        if shutil.which("chroot", path=path) is None:
            missing.append("chroot")
        path = _tree_search_path(tree)
    for component in components:
        try:
            programs = COMPONENTS[component]
        except KeyError:
            raise ValueError(
                f"unknown sandbox component {component!r}; known: {', '.join(COMPONENTS)}"
            ) from None
        missing.extend(
            p for p in programs if p not in missing and shutil.which(p, path=path) is None
        )
        files = [f if tree is None else _in_tree(tree, f) for f in _COMPONENT_FILES[component]]
        missing.extend(str(f) for f in files if str(f) not in missing and not f.exists())
    if tree is not None:
        names = {p for c in components for p in COMPONENTS[c]}
        missing = [f"{m} in {tree}" if m in names else m for m in missing]
    return missing


#: ``PATH`` of programs run in a tree (:class:`SandboxDir` with *chroot*).
CHROOT_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _in_tree(tree: Path, path: Path | str) -> Path:
    """*path* (absolute, as the tree's programs see it) seen from the host."""
    return tree / Path(path).relative_to("/")


def _tree_search_path(tree: Path) -> str:
    return os.pathsep.join(str(_in_tree(tree, p)) for p in CHROOT_SEARCH_PATH.split(os.pathsep))


def _require(
    components: Iterable[str], search_path: str, chroot: str | os.PathLike[str] | None = None
) -> None:
    missing = missing_binaries(components, search_path=search_path, chroot=chroot)
    if missing:
        raise SandboxUnavailableError(missing)


def _program(name: str, search_path: str, chroot: Path | None) -> list[str]:
    if chroot is None:
        return [_which(name, search_path)]
    found = shutil.which(name, path=_tree_search_path(chroot))
    if found is None:
        raise SandboxUnavailableError([f"{name} in {chroot}"])
    inner = "/" + str(Path(found).relative_to(chroot))
    return [_which("chroot", search_path), str(chroot), inner]


def _which(program: str, search_path: str) -> str:
    found = shutil.which(program, path=search_path)
    if found is None:
        raise SandboxUnavailableError([program])
    return found


def wait_until(
    predicate: Callable[[], T],
    timeout: float = _DEFAULT_TIMEOUT,
    *,
    interval: float = 0.005,
    what: str | None = None,
) -> T:
    """Call *predicate* until it returns something true, and return that.

    Polls every *interval* seconds, backing off to at most 0.1 s. Raises
    :class:`SandboxTimeoutError` naming *what* (or the predicate) after
    *timeout* seconds. Exceptions raised by the predicate propagate.

    >>> wait_until(lambda: 42, timeout=1)
    42
    """
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        result = predicate()
        if result:
            return result
        now = time.monotonic()
        if now >= deadline:
            name = what or getattr(predicate, "__qualname__", repr(predicate))
            raise SandboxTimeoutError(f"timed out after {timeout:g} s waiting for {name}")
        time.sleep(min(delay, deadline - now))
        delay = min(delay * 2, 0.1)


def _run(
    argv: Sequence[str], env: Mapping[str, str], timeout: float, input: str | None = None
) -> str:
    try:
        proc = subprocess.run(
            list(argv),
            env=dict(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SandboxTimeoutError(
            f"timed out after {timeout:g} s running: {' '.join(argv)}"
        ) from exc
    if proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------
# The directory


class SandboxDir:
    """A private directory holding the run, log, db and etc dirs of daemons.

    :meth:`create` makes a fresh ``/tmp/ovnvif-<random suffix>``. Daemons started
    in it register themselves; :meth:`close` stops them in reverse start
    order and removes the directory unless *keep* is set. It is a context
    manager, and an ``atexit`` hook closes any directory still open when
    the interpreter exits.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        keep: bool = False,
        search_path: str | None = None,
        chroot: str | os.PathLike[str] | None = None,
    ) -> None:
        self.root = Path(root).absolute()
        #: Keep the directory (logs, databases) after :meth:`close`.
        self.keep = keep
        #: Where programs are looked up (a ``PATH``-style string); with
        #: :attr:`chroot`, only ``chroot`` itself is.
        self.search_path = default_search_path() if search_path is None else search_path
        #: The root of another system's tree whose programs run here (``chroot
        #: TREE program ...``), or ``None`` for the host's programs.
        self.chroot = None if chroot is None else Path(chroot).absolute()
        self.run_dir = self.root / "run"
        self.log_dir = self.root / "log"
        self.db_dir = self.root / "db"
        self.etc_dir = self.root / "etc"
        for d in (self.run_dir, self.log_dir, self.db_dir, self.etc_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._daemons: list[Daemon] = []
        self._closed = False
        self._mount: _BindMount | None = None
        if self.chroot is not None:
            # The tree's programs see the directory at the same path, so
            # sockets, pidfiles and logs are shared with the host's clients.
            self._mount = _BindMount(self.root, _in_tree(self.chroot, self.root))
        _open_dirs.add(self)

    @classmethod
    def create(
        cls,
        *,
        keep: bool = False,
        search_path: str | None = None,
        parent: str = "/tmp",
        chroot: str | os.PathLike[str] | None = None,
    ) -> SandboxDir:
        """Create a new, empty sandbox directory under *parent*.

        The default parent is ``/tmp`` (not ``$TMPDIR``) to keep socket paths
        short. With *chroot*, the directory is also bind-mounted at the same
        path in that tree (see :attr:`chroot`).
        """
        root = tempfile.mkdtemp(prefix="ovnvif-", dir=parent)
        try:
            return cls(root, keep=keep, search_path=search_path, chroot=chroot)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise

    def program(self, name: str) -> list[str]:
        """The command that runs program *name*: its path on :attr:`search_path`,
        or ``chroot TREE <its path in the tree>`` with :attr:`chroot`.

        Raises :class:`SandboxUnavailableError` if it is not installed.
        """
        return _program(name, self.search_path, self.chroot)

    def file(self, path: Path | str) -> Path:
        """Where the host finds *path* as the programs see it (in :attr:`chroot`, if any)."""
        return Path(path) if self.chroot is None else _in_tree(self.chroot, path)

    def missing_binaries(self, components: Iterable[str]) -> list[str]:
        """:func:`missing_binaries` for the programs this directory runs."""
        return missing_binaries(components, search_path=self.search_path, chroot=self.chroot)

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses: the ``OVS_*``/``OVN_*`` dirs and ``PATH``.

        Based on ``os.environ``, so that other variables pass through,
        except inherited ``OVS_*`` and ``OVN_*`` variables (such as a
        developer's ``OVN_NB_DB``), which could point outside the sandbox.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OVS_", "OVN_"))}
        env["PATH"] = self.search_path if self.chroot is None else CHROOT_SEARCH_PATH
        for prefix in ("OVS", "OVN"):
            env[f"{prefix}_RUNDIR"] = str(self.run_dir)
            env[f"{prefix}_LOGDIR"] = str(self.log_dir)
            env[f"{prefix}_DBDIR"] = str(self.db_dir)
            env[f"{prefix}_SYSCONFDIR"] = str(self.etc_dir)
        return env

    @property
    def daemons(self) -> tuple[Daemon, ...]:
        """The daemons started in this directory, in start order."""
        return tuple(self._daemons)

    def logs(self) -> dict[str, Path]:
        """Log file of every daemon started here, by daemon name."""
        return {d.name: d.log_path for d in self._daemons}

    def run(self, *argv: str, timeout: float = _DEFAULT_TIMEOUT) -> str:
        """Run a program (see :meth:`program`) with :attr:`env`.

        Returns its stdout; raises :class:`CommandError` (with stderr) when
        it exits non-zero.
        """
        return _run([*self.program(argv[0]), *argv[1:]], self.env, timeout)

    def _register(self, daemon: Daemon) -> None:
        if self._closed:
            raise SandboxError(f"sandbox directory {self.root} is closed")
        if daemon in self._daemons:
            self._daemons.remove(daemon)
        self._daemons.append(daemon)

    def close(self) -> None:
        """Stop every daemon (reverse start order), then remove the directory.

        Safe to call more than once.
        """
        errors: list[BaseException] = []
        for daemon in reversed(self._daemons):
            try:
                daemon.stop()
            except Exception as exc:  # keep stopping the others
                LOG.warning("could not stop %s: %s", daemon.name, exc)
                errors.append(exc)
        self._closed = True
        _open_dirs.discard(self)
        if self._mount is not None:
            # After the daemons: none holds a file in the tree any more (if one
            # could not be stopped, the mount is detached lazily).
            try:
                self._mount.release()
            except Exception as exc:
                errors.append(exc)
        if self.keep:
            LOG.info("keeping sandbox directory %s", self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            raise errors[0]

    def __enter__(self) -> SandboxDir:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SandboxDir({str(self.root)!r})"


class _BindMount:
    """*source* bind-mounted on *target* (created, with its missing parents).

    :meth:`release` unmounts it (lazily if it is busy) and removes the
    directories it created; only empty directories are ever removed, so the
    tree cannot lose a file, even if unmounting failed.
    """

    def __init__(self, source: Path, target: Path) -> None:
        self.target = target
        self._created: list[Path] = []
        missing = [p for p in (target, *target.parents) if not p.exists()]
        for path in reversed(missing):
            path.mkdir()
            self._created.append(path)
        self._mounted = False
        try:
            self._mount_tool("mount", "--bind", str(source), str(target))
            self._mounted = True
            # Keep it out of other mount namespaces' views (a shared /).
            self._mount_tool("mount", "--make-private", str(target))
        except BaseException:
            self.release()
            raise

    @staticmethod
    def _mount_tool(*argv: str) -> None:
        tool = _which(argv[0], default_search_path())
        _run([tool, *argv[1:]], os.environ, _DEFAULT_TIMEOUT)

    def release(self) -> None:
        """Unmount and remove the created directories. Safe to call more than once."""
        if self._mounted:
            try:
                self._mount_tool("umount", str(self.target))
            except CommandError:
                LOG.warning("%s is busy, unmounting it lazily", self.target)
                self._mount_tool("umount", "--lazy", str(self.target))
            self._mounted = False
        if os.path.ismount(self.target):
            raise SandboxError(f"{self.target} is still mounted")
        for path in reversed(self._created):
            with contextlib.suppress(OSError):
                path.rmdir()  # never rmtree: only an empty directory goes
        self._created = []


_open_dirs: set[SandboxDir] = set()
_atexit_lock = threading.Lock()


@atexit.register
def _close_all_at_exit() -> None:
    with _atexit_lock:
        for d in list(_open_dirs):
            with contextlib.suppress(Exception):
                d.close()


# --------------------------------------------------------------------------
# Daemons


def _pid_is_ours(pid: int, pidfile: Path) -> bool:
    """True if *pid* is alive and was started with ``--pidfile=<pidfile>``.

    A zombie has an empty command line, so it counts as gone.
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return f"--pidfile={pidfile}".encode() in raw.split(b"\0")


def _has_exited(pid: int, pidfile: Path) -> bool:
    """True once *pid* has finished exiting (gone, or a zombie), or was reused.

    An exiting process loses its command line before it becomes a zombie;
    waiting for the state, not the command line, means the daemon's socket
    and files are really released when :meth:`Daemon.stop` returns.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
        return True
    # A non-empty command line without our pidfile: the pid was reused.
    return bool(raw) and f"--pidfile={pidfile}".encode() not in raw.split(b"\0")


class Daemon:
    """One detached OVS/OVN daemon with a pidfile and a log file in a :class:`SandboxDir`.

    Subclasses give the command line and the readiness check. Files are
    ``run/<name>.pid``, ``log/<name>.log`` and (for most daemons)
    ``run/<name>.ctl``.
    """

    #: Components (keys of :data:`COMPONENTS`) this daemon needs.
    components: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        sandbox_dir: SandboxDir,
        name: str,
        *,
        extra_args: Sequence[str] = (),
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        self.dir = sandbox_dir
        #: Base name of the pidfile, log file and control socket.
        self.name = name
        #: Extra command-line arguments, e.g. ``["-vvif_plug:file:dbg"]``.
        self.extra_args = tuple(extra_args)
        #: Seconds to wait for the daemon to start, become ready or stop.
        self.timeout = timeout
        self.pidfile = sandbox_dir.run_dir / f"{name}.pid"
        self.log_path = sandbox_dir.log_dir / f"{name}.log"
        self._console_path = sandbox_dir.log_dir / f"{name}.console"
        self._last_pid: int | None = None

    # -- to be provided by subclasses

    def _command(self) -> list[str]:
        """The program and its specific arguments (common options are added)."""
        raise NotImplementedError

    def _prepare(self) -> None:
        """Create files the daemon needs before its first start."""

    def _wait_ready(self) -> None:
        """Block until the daemon answers (called after ``--detach`` returns)."""

    # -- state

    @property
    def pid(self) -> int | None:
        """Process id if the daemon is running, else ``None`` (pid reuse safe)."""
        candidates: list[int] = []
        with contextlib.suppress(OSError, ValueError):
            candidates.append(int(self.pidfile.read_text().strip()))
        if self._last_pid is not None:
            candidates.append(self._last_pid)
        for pid in candidates:
            if _pid_is_ours(pid, self.pidfile):
                return pid
        return None

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.pid is not None

    def log_tail(self, lines: int = 30) -> str:
        """The last *lines* lines of the log file (and of console output, if any)."""
        parts = [_tail(self.log_path, lines), _tail(self._console_path, lines)]
        return "\n".join(p for p in parts if p)

    # -- lifecycle

    def start(self) -> None:
        """Start the daemon and wait until it is ready. No-op if it is running."""
        if self.running:
            return
        missing = self.dir.missing_binaries(self.components)
        if missing:
            raise SandboxUnavailableError(missing)
        self._prepare()
        argv = [
            *self._command(),
            *self.extra_args,
            "-vconsole:off",
            "--detach",
            "--no-chdir",
            f"--pidfile={self.pidfile}",
            f"--log-file={self.log_path}",
        ]
        LOG.debug("starting %s: %s", self.name, " ".join(argv))
        self.dir._register(self)
        # --detach returns once the daemon has finished its start-up; its
        # console output goes to a file so no pipe can be held open.
        with self._console_path.open("ab") as console:
            try:
                proc = subprocess.run(
                    argv,
                    env=self.dir.env,
                    stdin=subprocess.DEVNULL,
                    stdout=console,
                    stderr=console,
                    timeout=self.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise DaemonError(
                    f"{self.name} did not finish starting within {self.timeout:g} s",
                    self.log_tail(),
                ) from exc
        if proc.returncode != 0:
            raise DaemonError(
                f"{self.name} failed to start (exit {proc.returncode}): {' '.join(argv)}",
                self.log_tail(),
            )
        try:
            self._last_pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError) as exc:
            raise DaemonError(
                f"{self.name} wrote no pidfile {self.pidfile}", self.log_tail()
            ) from exc
        if not _pid_is_ours(self._last_pid, self.pidfile):
            raise DaemonError(f"{self.name} exited right after start", self.log_tail())
        try:
            self._wait_ready()
        except SandboxError as exc:
            raise DaemonError(f"{self.name} did not become ready: {exc}", self.log_tail()) from exc
        LOG.debug("started %s (pid %s)", self.name, self._last_pid)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the daemon: SIGTERM, then SIGKILL after *timeout* seconds.

        Stopping a daemon that is not running does nothing.
        """
        timeout = self.timeout if timeout is None else timeout
        pid = self.pid
        if pid is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            try:
                wait_until(
                    lambda: _has_exited(pid, self.pidfile),
                    timeout if sig == signal.SIGTERM else 5.0,
                    what=f"{self.name} (pid {pid}) to exit",
                )
                break
            except SandboxTimeoutError:
                if sig == signal.SIGKILL:
                    raise
                LOG.warning("%s (pid %d) ignored SIGTERM, sending SIGKILL", self.name, pid)
        # After SIGKILL the daemon could not remove its own pidfile.
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        self._last_pid = None
        LOG.debug("stopped %s (pid %d)", self.name, pid)

    def restart(self) -> None:
        """Stop and start again; databases and configuration are kept."""
        self.stop()
        self.start()

    def kill(self) -> None:
        """Kill the daemon with SIGKILL at once (simulates a crash)."""
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not _pid_is_ours(pid, self.pidfile), 5.0, what=f"{self.name} to die")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, pid={self.pid})"


class OvsdbServer(Daemon):
    """An ``ovsdb-server`` for one or more databases, listening on a unix socket.

    *databases* are names from :data:`DATABASES`. Each database file is
    created (with its root row, as ``ovs-vsctl init`` / ``ovn-nbctl init``
    would) on the first start and kept by :meth:`~Daemon.restart` and
    :meth:`~Daemon.stop`.

    >>> srv = OvsdbServer(d, ["Open_vSwitch", "OVN_Southbound"])  # doctest: +SKIP
    >>> srv.start(); srv.remote  # doctest: +SKIP
    'unix:/tmp/ovnvif-k2j3x1ab/run/ovsdb-server.sock'
    """

    components = ("ovsdb-server",)

    def __init__(
        self,
        sandbox_dir: SandboxDir,
        databases: Sequence[str] = ("Open_vSwitch",),
        *,
        name: str = "ovsdb-server",
        socket_name: str | None = None,
        extra_args: Sequence[str] = (),
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(sandbox_dir, name, extra_args=extra_args, timeout=timeout)
        if not databases:
            raise ValueError("an ovsdb-server needs at least one database")
        unknown = [db for db in databases if db not in DATABASES]
        if unknown:
            raise ValueError(f"unknown databases {unknown}; known: {', '.join(DATABASES)}")
        #: Database names, in the order given.
        self.databases: tuple[str, ...] = tuple(databases)
        #: Database file of each database.
        self.db_files: dict[str, Path] = {
            db: sandbox_dir.db_dir
            / (_DB_FILES[db] if len(databases) == 1 else f"{name}.{_DB_FILES[db]}")
            for db in databases
        }
        #: Path of the listening unix socket.
        self.socket_path = sandbox_dir.run_dir / (socket_name or f"{name}.sock")
        self.ctl_path = sandbox_dir.run_dir / f"{name}.ctl"
        if len(str(self.socket_path)) > _MAX_SOCKET_PATH:
            raise SandboxError(
                f"socket path {self.socket_path} is longer than {_MAX_SOCKET_PATH} characters; "
                "use a shorter sandbox directory"
            )

    @property
    def remote(self) -> str:
        """The OVSDB remote to connect to, ``unix:<socket path>``."""
        return f"unix:{self.socket_path}"

    def _prepare(self) -> None:
        # The schemas of the programs that run (the tree's, with a chroot).
        schemas = [self.dir.file(DATABASES[db]) for db in self.databases]
        missing = [str(schema) for schema in schemas if not schema.exists()]
        if missing:
            raise SandboxUnavailableError(missing)
        tool = self.dir.program("ovsdb-tool")
        for db, path in self.db_files.items():
            if path.exists():
                continue
            _run([*tool, "create", str(path), str(DATABASES[db])], self.dir.env, self.timeout)
            txn = f'["{db}", {{"op": "insert", "table": "{_ROOT_TABLES[db]}", "row": {{}}}}]'
            _run([*tool, "transact", str(path), txn], self.dir.env, self.timeout)

    def _command(self) -> list[str]:
        return [
            *self.dir.program("ovsdb-server"),
            f"--remote=punix:{self.socket_path}",
            f"--unixctl={self.ctl_path}",
            *(str(p) for p in self.db_files.values()),
        ]

    def _wait_ready(self) -> None:
        wait_until(self.socket_path.is_socket, self.timeout, what=f"{self.socket_path}")


class OvsVswitchd(Daemon):
    """``ovs-vswitchd --enable-dummy=override`` on the database of *ovsdb*.

    The dummy datapath needs no kernel module; interfaces get ofports.
    """

    components = ("ovs-vswitchd",)

    def __init__(
        self,
        sandbox_dir: SandboxDir,
        ovsdb: OvsdbServer,
        *,
        name: str = "ovs-vswitchd",
        dummy: str = "override",
        extra_args: Sequence[str] = (),
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(sandbox_dir, name, extra_args=extra_args, timeout=timeout)
        if "Open_vSwitch" not in ovsdb.databases:
            raise ValueError(f"{ovsdb.name} does not serve the Open_vSwitch database")
        self.ovsdb = ovsdb
        self.dummy = dummy
        self.ctl_path = sandbox_dir.run_dir / f"{name}.ctl"

    def _command(self) -> list[str]:
        return [
            *self.dir.program("ovs-vswitchd"),
            f"--enable-dummy={self.dummy}",
            f"--unixctl={self.ctl_path}",
            self.ovsdb.remote,
        ]

    def _wait_ready(self) -> None:
        wait_until(self.ctl_path.is_socket, self.timeout, what=f"{self.ctl_path}")

    def appctl(self, *args: str) -> str:
        """Run ``ovs-appctl -t <this vswitchd> <args>``."""
        tool = self.dir.program("ovs-appctl")
        return _run([*tool, "-t", str(self.ctl_path), *args], self.dir.env, self.timeout)


class OvnNorthd(Daemon):
    """``ovn-northd`` translating the *nb* database into the *sb* database."""

    components = ("ovn-northd",)

    def __init__(
        self,
        sandbox_dir: SandboxDir,
        nb: OvsdbServer,
        sb: OvsdbServer,
        *,
        name: str = "ovn-northd",
        extra_args: Sequence[str] = (),
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(sandbox_dir, name, extra_args=extra_args, timeout=timeout)
        self.nb = nb
        self.sb = sb
        self.ctl_path = sandbox_dir.run_dir / f"{name}.ctl"

    def _command(self) -> list[str]:
        return [
            *self.dir.program("ovn-northd"),
            f"--unixctl={self.ctl_path}",
            f"--ovnnb-db={self.nb.remote}",
            f"--ovnsb-db={self.sb.remote}",
        ]

    def _wait_ready(self) -> None:
        wait_until(self.ctl_path.is_socket, self.timeout, what=f"{self.ctl_path}")


class OvnController(Daemon):
    """The real ``ovn-controller --enable-dummy-vif-plug`` (OVN 23.03 reference).

    OVN 23.03's ``ovn-controller`` has no ``--unixctl`` option: its control
    socket is ``$OVN_RUNDIR/ovn-controller.<pid>.ctl``, found by ``ovn-appctl
    -t ovn-controller`` through the default pidfile name, so the name is
    fixed and ``OVN_RUNDIR`` is exported to it. It reads the chassis
    configuration from the ``Open_vSwitch`` row of *ovsdb*.
    """

    components = ("ovn-controller",)

    def __init__(
        self,
        sandbox_dir: SandboxDir,
        ovsdb: OvsdbServer,
        *,
        ignore_startup_delay: bool = False,
        extra_args: Sequence[str] = (),
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(sandbox_dir, "ovn-controller", extra_args=extra_args, timeout=timeout)
        self.ovsdb = ovsdb
        #: Call :meth:`ignore_startup_delay` after every (re)start.
        self.ignore_startup_delay_on_start = ignore_startup_delay

    @property
    def ctl_path(self) -> Path | None:
        """The control socket of the running process, or ``None`` when stopped."""
        pid = self.pid
        return None if pid is None else self.dir.run_dir / f"ovn-controller.{pid}.ctl"

    def _command(self) -> list[str]:
        return [
            *self.dir.program("ovn-controller"),
            "--enable-dummy-vif-plug",
            self.ovsdb.remote,
        ]

    def _wait_ready(self) -> None:
        def ctl_ready() -> bool:
            path = self.ctl_path
            return path is not None and path.is_socket()

        wait_until(ctl_ready, self.timeout, what=f"{self.name} control socket")
        if self.ignore_startup_delay_on_start:
            self.ignore_startup_delay()

    def appctl(self, *args: str) -> str:
        """Run ``ovn-appctl -t ovn-controller <args>`` against this process."""
        path = self.ctl_path
        if path is None:
            raise DaemonError(f"{self.name} is not running", self.log_tail())
        tool = self.dir.program("ovn-appctl")
        return _run([*tool, "-t", str(path), *args], self.dir.env, self.timeout)

    def ignore_startup_delay(self) -> None:
        """Let ovn-controller unplug VIFs at once (``debug/ignore-startup-delay``).

        Otherwise it refuses to unplug until 20 engine updates and 10 s
        after its start have passed.
        """
        self.appctl("debug/ignore-startup-delay")


# --------------------------------------------------------------------------
# Compositions


class LocalVswitch:
    """A local ``Open_vSwitch`` ``ovsdb-server`` plus ``ovs-vswitchd`` with an integration bridge.

    :meth:`start` creates *bridge* with ``fail-mode=secure`` and
    ``other-config:disable-in-band=true`` and waits until vswitchd has
    created it (its ``<bridge>.mgmt`` OpenFlow socket exists).
    *external_ids* are set on the ``Open_vSwitch`` row in the same
    transaction. The database socket is ``run/db.sock``, the default of
    ``ovs-vsctl`` with :attr:`env`.
    """

    def __init__(
        self,
        sandbox_dir: SandboxDir,
        *,
        bridge: str = "br-int",
        external_ids: Mapping[str, str] | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        self.dir = sandbox_dir
        self.bridge = bridge
        self.external_ids: dict[str, str] = dict(external_ids or {})
        self.timeout = timeout
        self.ovsdb = OvsdbServer(
            sandbox_dir,
            ["Open_vSwitch"],
            name="ovsdb-server",
            socket_name="db.sock",
            timeout=timeout,
        )
        self.vswitchd = OvsVswitchd(sandbox_dir, self.ovsdb, timeout=timeout)

    @property
    def remote(self) -> str:
        """OVSDB remote of the local database."""
        return self.ovsdb.remote

    @property
    def env(self) -> dict[str, str]:
        """Subprocess environment (``OVS_*`` dirs, ``OVS_DB``, ``PATH``)."""
        env = self.dir.env
        env["OVS_DB"] = self.remote
        return env

    def start(self) -> None:
        """Start ovsdb-server and ovs-vswitchd, configure and create the bridge."""
        self.ovsdb.start()
        self.vswitchd.start()
        settings = [f"external_ids:{k}={_quote(v)}" for k, v in self.external_ids.items()]
        args = ["--", "--may-exist", "add-br", self.bridge]
        args += ["--", "set", "Bridge", self.bridge, "fail-mode=secure"]
        args += ["other-config:disable-in-band=true"]
        if settings:
            args += ["--", "set", "Open_vSwitch", ".", *settings]
        # Without --no-wait ovs-vsctl waits until vswitchd has applied it.
        self.vsctl(*args)
        mgmt = self.dir.run_dir / f"{self.bridge}.mgmt"
        wait_until(mgmt.is_socket, self.timeout, what=f"{mgmt}")

    def stop(self) -> None:
        """Stop ovs-vswitchd, then ovsdb-server. The database is kept."""
        self.vswitchd.stop()
        self.ovsdb.stop()

    def restart(self) -> None:
        """Stop both daemons and start them again on the same database."""
        self.stop()
        self.start()

    def vsctl(self, *args: str, wait: bool = True) -> str:
        """Run ``ovs-vsctl`` on the local database and return its stdout.

        With ``wait=False`` it passes ``--no-wait`` (do not wait for vswitchd).
        """
        tool = self.dir.program("ovs-vsctl")
        argv = [*tool, f"--db={self.remote}", f"--timeout={max(1, round(self.timeout))}"]
        if not wait:
            argv.append("--no-wait")
        return _run([*argv, *args], self.env, self.timeout + 5)


def _quote(value: str) -> str:
    # ovs-vsctl parses values as OVSDB atoms: quote anything but plain words.
    if value and all(c.isalnum() or c in "-_." for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Sandbox:
    """A whole single-chassis OVN stack in a temporary directory.

    Starts NB and SB ``ovsdb-server``, ``ovn-northd``, the local
    ``ovsdb-server`` and ``ovs-vswitchd`` with *bridge*, and configures the
    ``Open_vSwitch`` row for chassis *chassis* (``system-id``,
    ``hostname``, ``ovn-remote``, ``ovn-encap-type=geneve``,
    ``ovn-encap-ip=127.0.0.1``). Then either:

    * ``controller=True``: the real ``ovn-controller --enable-dummy-vif-plug``
      (reference mode); :meth:`start` returns after ``ovn-nbctl --wait=hv
      sync``, and with *ignore_startup_delay* unplugging is not delayed; or
    * ``controller=False`` (default): no controller; the ``Chassis`` row is
      added to SB by hand so that another plugging agent can run against
      the sandbox.

    Use it as a context manager; everything is stopped and the directory
    removed (unless *keep*) on exit, also on an exception or Ctrl-C. The
    directory is created under *parent* (default ``/tmp``, which keeps socket
    paths short; unix socket paths must stay under 100 characters), for
    example a project's work directory so that a kept sandbox stays there.

    >>> with Sandbox("hv1", controller=True) as sb:  # doctest: +SKIP
    ...     sb.nbctl("ls-add", "sw0", "--", "lsp-add", "sw0", "lsp1", "--",
    ...              "lsp-set-options", "lsp1", "requested-chassis=hv1",
    ...              "vif-plug-type=dummy")
    ...     sb.wait_until(lambda: "lsp1" in sb.vsctl("list-ports", "br-int"))

    The parts are attributes once started: :attr:`nb` and :attr:`sb`
    (:class:`OvsdbServer`), :attr:`northd`, :attr:`vswitch`
    (:class:`LocalVswitch`; also :attr:`ovsdb` and :attr:`vswitchd`) and
    :attr:`controller`. Restart any of them with ``.restart()``; database
    files are kept and socket paths stay the same, so clients reconnect.
    """

    #: The OVN_Northbound ovsdb-server.
    nb: OvsdbServer
    #: The OVN_Southbound ovsdb-server.
    sb: OvsdbServer
    #: ovn-northd.
    northd: OvnNorthd
    #: The local ovsdb-server and ovs-vswitchd with the integration bridge.
    vswitch: LocalVswitch

    def __init__(
        self,
        chassis: str = "hv1",
        *,
        controller: bool = False,
        ignore_startup_delay: bool = False,
        controller_args: Sequence[str] = (),
        bridge: str = "br-int",
        encap_ip: str = "127.0.0.1",
        keep: bool = False,
        search_path: str | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
        parent: str | os.PathLike[str] | None = None,
        chroot: str | os.PathLike[str] | None = None,
    ) -> None:
        #: The chassis name (``system-id`` and ``hostname``).
        self.chassis = chassis
        #: The tree whose OVS/OVN programs run (``None``: the host's).
        self.chroot = None if chroot is None else Path(chroot).absolute()
        #: Where the sandbox directory is created (``None``: ``/tmp``).
        self.parent = None if parent is None else os.fspath(parent)
        self.bridge = bridge
        self.encap_ip = encap_ip
        self.timeout = timeout
        self.keep = keep
        self._search_path = default_search_path() if search_path is None else search_path
        self._with_controller = controller
        self._ignore_startup_delay = ignore_startup_delay
        self._controller_args = tuple(controller_args)
        self._dir: SandboxDir | None = None
        #: The real ovn-controller (reference mode), else ``None``.
        self.controller: OvnController | None = None

    @property
    def components(self) -> tuple[str, ...]:
        """The :data:`COMPONENTS` this sandbox needs."""
        names = ("ovsdb-server", "ovs-vswitchd", "ovn-northd")
        return (*names, "ovn-controller") if self._with_controller else names

    def missing_binaries(self) -> list[str]:
        """What is missing to start this sandbox (see :func:`missing_binaries`)."""
        return missing_binaries(self.components, search_path=self._search_path, chroot=self.chroot)

    def ovn_version(self) -> str:
        """The version of the OVN programs this sandbox runs, e.g. ``"25.03.0"``.

        Read from ``ovn-northd --version`` (the host's, or the tree's with
        *chroot*); the sandbox need not be started.
        """
        argv = [*_program("ovn-northd", self._search_path, self.chroot), "--version"]
        env = {"PATH": CHROOT_SEARCH_PATH if self.chroot else self._search_path}
        return _run(argv, env, self.timeout).split()[1]

    # -- parts (valid after start())

    @property
    def dir(self) -> SandboxDir:
        """The sandbox directory (raises if the sandbox was not started)."""
        if self._dir is None:
            raise SandboxError("the sandbox is not started")
        return self._dir

    @property
    def root(self) -> Path:
        """The sandbox's temporary directory."""
        return self.dir.root

    def start(self) -> Sandbox:
        """Start the whole stack; returns ``self``.

        Raises :class:`SandboxUnavailableError` if programs are missing and
        :class:`DaemonError` if a daemon fails (with its log tail). On any
        failure, whatever was started is stopped again.
        """
        if self._dir is not None:
            raise SandboxError("the sandbox is already started")
        _require(self.components, self._search_path, self.chroot)
        t0 = time.monotonic()
        d = SandboxDir.create(
            keep=self.keep,
            search_path=self._search_path,
            parent=self.parent or "/tmp",
            chroot=self.chroot,
        )
        self._dir = d
        try:
            self._start_parts(d)
        except BaseException:
            self.stop()
            raise
        LOG.info(
            "OVN sandbox for chassis %s up in %.3f s in %s",
            self.chassis,
            time.monotonic() - t0,
            d.root,
        )
        return self

    def _start_parts(self, d: SandboxDir) -> None:
        t = self.timeout
        self.nb = OvsdbServer(d, ["OVN_Northbound"], name="ovnnb_db", timeout=t)
        self.sb = OvsdbServer(d, ["OVN_Southbound"], name="ovnsb_db", timeout=t)
        self.northd = OvnNorthd(d, self.nb, self.sb, timeout=t)
        self.vswitch = LocalVswitch(
            d,
            bridge=self.bridge,
            timeout=t,
            external_ids={
                "system-id": self.chassis,
                "hostname": self.chassis,
                "ovn-remote": self.sb.remote,
                "ovn-encap-type": "geneve",
                "ovn-encap-ip": self.encap_ip,
            },
        )
        self.nb.start()
        self.sb.start()
        self.northd.start()
        self.vswitch.start()
        if self._with_controller:
            self.controller = OvnController(
                d,
                self.vswitch.ovsdb,
                ignore_startup_delay=self._ignore_startup_delay,
                extra_args=self._controller_args,
                timeout=t,
            )
            self.controller.start()
            self.wait_until(self._chassis_registered, what=f"Chassis {self.chassis} in SB")
            # Returns once every chassis has processed the current NB config.
            self.nbctl("--wait=hv", "sync")
        else:
            self.add_chassis(self.chassis, encap_ip=self.encap_ip)
            self.nbctl("--wait=sb", "sync")

    def _chassis_registered(self) -> bool:
        out = self.sbctl("--bare", "--columns=name", "find", "Chassis", f"name={self.chassis}")
        return bool(out.strip())

    def stop(self) -> None:
        """Stop every daemon in reverse start order and remove the directory (unless *keep*)."""
        if self._dir is not None:
            self._dir.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- remotes and environment

    @property
    def nb_remote(self) -> str:
        """OVSDB remote of the OVN_Northbound database."""
        return self.nb.remote

    @property
    def sb_remote(self) -> str:
        """OVSDB remote of the OVN_Southbound database."""
        return self.sb.remote

    @property
    def ovs_remote(self) -> str:
        """OVSDB remote of the local Open_vSwitch database."""
        return self.vswitch.remote

    @property
    def ovsdb(self) -> OvsdbServer:
        """The local ``Open_vSwitch`` ovsdb-server (``self.vswitch.ovsdb``)."""
        return self.vswitch.ovsdb

    @property
    def vswitchd(self) -> OvsVswitchd:
        """The ovs-vswitchd (``self.vswitch.vswitchd``)."""
        return self.vswitch.vswitchd

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses: ``OVS_*``/``OVN_*`` dirs, ``OVN_NB_DB``,
        ``OVN_SB_DB``, ``OVS_DB`` and ``PATH``."""
        env = self.vswitch.env
        env["OVN_NB_DB"] = self.nb_remote
        env["OVN_SB_DB"] = self.sb_remote
        return env

    def logs(self) -> dict[str, Path]:
        """Log file of each daemon, by name."""
        return self.dir.logs()

    # -- tools

    def nbctl(self, *args: str) -> str:
        """Run ``ovn-nbctl`` on the NB database; return stdout, raise :class:`CommandError`."""
        return self._ctl("ovn-nbctl", self.nb_remote, args)

    def sbctl(self, *args: str) -> str:
        """Run ``ovn-sbctl`` on the SB database; return stdout, raise :class:`CommandError`."""
        return self._ctl("ovn-sbctl", self.sb_remote, args)

    def vsctl(self, *args: str, wait: bool = True) -> str:
        """Run ``ovs-vsctl`` on the local database (see :meth:`LocalVswitch.vsctl`)."""
        return self.vswitch.vsctl(*args, wait=wait)

    def _ctl(self, program: str, remote: str, args: Sequence[str]) -> str:
        argv = [
            *self.dir.program(program),
            f"--db={remote}",
            f"--timeout={max(1, round(self.timeout))}",
            *args,
        ]
        return _run(argv, self.env, self.timeout + 5)

    def add_chassis(
        self, name: str, *, encap_ip: str = "127.0.0.2", hostname: str | None = None
    ) -> None:
        """Add a ``Chassis`` row (with a geneve encap) to SB by hand.

        For the sandbox's own chassis when no controller runs, and for extra
        chassis a port can be moved to.
        """
        self.sbctl(
            "--may-exist",
            "chassis-add",
            name,
            "geneve",
            encap_ip,
            "--",
            "set",
            "Chassis",
            name,
            f"hostname={_quote(hostname or name)}",
        )

    def wait_until(
        self, predicate: Callable[[], T], timeout: float | None = None, *, what: str | None = None
    ) -> T:
        """:func:`wait_until` with the sandbox's timeout; on timeout the error
        also carries the tail of ovn-controller's log, if it runs."""
        try:
            return wait_until(predicate, self.timeout if timeout is None else timeout, what=what)
        except SandboxTimeoutError as exc:
            if self.controller is None:
                raise
            raise SandboxTimeoutError(
                f"{exc}\n--- ovn-controller log tail ---\n{self.controller.log_tail()}"
            ) from exc

    def __repr__(self) -> str:
        where = "not started" if self._dir is None else str(self._dir.root)
        return f"Sandbox(chassis={self.chassis!r}, {where})"
