"""``--pidfile``: a locked file holding the agent's process id, as OVS daemons keep one."""

from __future__ import annotations

import contextlib
import fcntl
import os

from ovn_vif._errors import AgentSetupError


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
