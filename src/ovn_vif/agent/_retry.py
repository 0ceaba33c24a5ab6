"""When the agent decides again for lports that failed, with nothing else changed.

A reconcile that failed, a commit that failed, or lports a provider could
not handle are tried again after a pause that doubles while they keep
failing (1 s, 2 s, ... 30 s at most) and starts again at 1 s after a clean
commit; a provider that declines may ask to be asked again sooner.
"""

from __future__ import annotations

import time

#: The first pause, and the longest.
FIRST = 1.0
LONGEST = 30.0


class Backoff:
    """The next retry (``time.monotonic()``), if one is due, and the pause after it."""

    def __init__(self) -> None:
        #: When to decide again, if nothing changes before.
        self.at: float | None = None
        self._pause = FIRST

    def schedule(self) -> None:
        """Retry after the current pause, and wait twice as long the next time."""
        self.at = time.monotonic() + self._pause
        self._pause = min(LONGEST, self._pause * 2)

    def sooner(self, at: float) -> None:
        """Retry by *at* at the latest (a provider asked)."""
        self.at = at if self.at is None else min(self.at, at)

    def due(self, now: float) -> bool:
        return self.at is not None and now >= self.at

    def clear(self) -> None:
        """A run is starting: it is the retry."""
        self.at = None

    def reset(self) -> None:
        """Everything succeeded: the next failure waits the shortest pause again."""
        self._pause = FIRST
