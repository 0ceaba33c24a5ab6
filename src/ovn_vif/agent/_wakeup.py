"""The agent's wake-up pipe: how a signal handler or a thread wakes its loop.

The loop blocks in ``ovs.poller.Poller.block()``; writing one byte to a
non-blocking pipe whose read end the poller watches is the one wake-up that
is safe from a signal handler (a lock is not).
"""

from __future__ import annotations

import contextlib
import errno
import os


class WakePipe:
    """A self-pipe: :meth:`wake` from anywhere, :attr:`fd` in the poller, :meth:`drain` after."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    @property
    def fd(self) -> int:
        """The end to wait on (readable once woken)."""
        return self._r

    def wake(self) -> None:
        """Signal- and thread-safe; a full pipe is awake already."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._w, b"x")

    def drain(self) -> None:
        try:
            while os.read(self._r, 512):
                pass
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)
