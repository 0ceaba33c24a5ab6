"""``--pidfile``, ``--detach`` and ``--monitor``, as OVS daemons have them."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import time

from ovn_vif._errors import AgentSetupError

LOG = logging.getLogger(__name__)


class Pidfile:
    """Write our pid to *path*, locked for as long as we run; removed by :meth:`close`.

    A second agent with the same pidfile fails with the pid of the first
    (the lock, not the file's existence, decides: a stale file left by a
    crash is taken over). The lock is a POSIX record lock: closing any
    other descriptor of the file in this process would release it, so the
    process never opens its own pidfile again.
    """

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise AgentSetupError(f"cannot create the pidfile {self.path}: {exc.strerror}") from exc
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            other = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AgentSetupError(
                f"the pidfile {self.path} is locked by another process (pid {other}): "
                "is an agent already running?"
            ) from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd: int | None = fd

    def close(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


#: Signals that mean a crash, as OVS's monitor reads them (and SIGKILL, the
#: kernel's out-of-memory killer): the daemon is started again.
CRASH_SIGNALS = frozenset(
    {
        signal.SIGABRT,
        signal.SIGALRM,
        signal.SIGBUS,
        signal.SIGFPE,
        signal.SIGILL,
        signal.SIGKILL,
        signal.SIGPIPE,
        signal.SIGSEGV,
        signal.SIGXCPU,
        signal.SIGXFSZ,
    }
)
#: An unhandled Python exception ends the process with status 1: Python's
#: crash, restarted too. 0 (stopped) and 2 (bad set-up) are final.
CRASH_STATUS = 1
#: Restarts are at least this far apart (seconds), as OVS's monitor throttles them.
RESTART_INTERVAL = 10.0


def describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return (
            f"killed by signal {os.WTERMSIG(status)} ({signal.Signals(os.WTERMSIG(status)).name})"
        )
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def crashed(status: int) -> bool:
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status) in CRASH_SIGNALS
    return os.waitstatus_to_exitcode(status) == CRASH_STATUS


class Daemon:
    """``--detach`` and ``--monitor``, as OVS daemons have them.

    ``--detach``: the command returns once the agent is set up (its pidfile
    and control socket exist, the local database read; it does not wait
    for the Southbound), with the agent's exit status if set-up failed;
    the agent runs on in its own session, in ``/`` (unless ``--no-chdir``),
    with its standard streams on ``/dev/null``.

    ``--monitor``: a monitor process starts the agent and starts it again
    when it crashes (a crash signal, or an unhandled exception), at most once
    every 10 s; it ends with the agent's status otherwise. SIGTERM, SIGINT
    and SIGHUP sent to the monitor are passed on to the agent. The pidfile
    holds the agent's pid, not the monitor's.

    Call :meth:`start` before anything opens connections, and :meth:`ready`
    once set-up succeeded. :meth:`start` returns only in the process that
    runs the agent.
    """

    def __init__(self, *, detach: bool, monitor: bool, chdir: bool = True) -> None:
        self.detach = detach
        self.monitor = monitor
        self.chdir = chdir
        self._ready_fd: int | None = None

    def start(self) -> None:
        if self.detach:
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid:
                os.close(write_fd)
                os._exit(self._wait_ready(read_fd, pid))
            os.close(read_fd)
            os.setsid()
            self._ready_fd = write_fd
        if self.monitor:
            self._monitor()

    @staticmethod
    def _wait_ready(read_fd: int, pid: int) -> int:
        """In the command's first process: the exit status once the agent is set up."""
        with os.fdopen(read_fd, "rb") as pipe:
            if pipe.read(1):
                return 0
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) or 1

    def _monitor(self) -> None:
        last_start = 0.0
        while True:
            wait = last_start + RESTART_INTERVAL - time.monotonic()
            if last_start and wait > 0:
                time.sleep(wait)
            last_start = time.monotonic()
            pid = os.fork()
            if not pid:
                return
            if self._ready_fd is not None:
                # Only the agent says it is ready; a restarted one has nobody to tell.
                os.close(self._ready_fd)
                self._ready_fd = None
                # The monitor leaves the terminal at once (it logs to the
                # log file or syslog), so the command's caller sees the end
                # of its output when the agent is set up.
                _to_devnull()

            def pass_on(signum: int, frame: object, agent_pid: int = pid) -> None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(agent_pid, signum)

            forward = {
                sig: signal.signal(sig, pass_on)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
            }
            status = _wait(pid)
            for sig, handler in forward.items():
                signal.signal(sig, handler)
            if not crashed(status):
                LOG.info("monitor: the agent (pid %d) %s; exiting", pid, describe(status))
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
            LOG.error("monitor: the agent (pid %d) %s, restarting", pid, describe(status))

    def ready(self) -> None:
        """Tell the waiting command that set-up succeeded; leave the terminal."""
        if self._ready_fd is None:
            return
        os.write(self._ready_fd, b"\0")
        os.close(self._ready_fd)
        self._ready_fd = None
        _to_devnull()
        if self.chdir:
            os.chdir("/")


def _wait(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def _to_devnull() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
