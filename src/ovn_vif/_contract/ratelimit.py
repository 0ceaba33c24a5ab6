"""Rate limiting for log lines that could repeat on every loop iteration.

Modelled on OVS's ``VLOG_RATE_LIMIT_INIT(rate, burst)``: each key gets a
token bucket refilled at *rate* messages per minute, holding at most
*burst*. When a message is let through after others were dropped, the
number dropped is reported with it.

Besides, all the rate-limited warnings of the process share one budget
(:class:`Budget`, :data:`BUDGET`): a flood over many keys (95 lports
refused at once, each at 5 lines a minute, made 460 lines a minute) is cut
to the budget's rate, and the next line let through is preceded by one
saying how many were suppressed meanwhile. Errors are not counted.

Every line goes through :func:`~ovn_vif._contract.logsafe.log_safe`: the
message and each ``str`` or exception argument are escaped and bounded, so
that database-sourced text can neither split a line nor flood the log.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Hashable

import attrs

from ovn_vif._contract.logsafe import log_safe, safe_traceback


@attrs.define
class _Bucket:
    tokens: float
    stamp: float
    dropped: int = 0
    first_drop: float = 0.0


LOG = logging.getLogger(__name__)


class Budget:
    """A token bucket shared by rate-limited loggers: at most *rate* lines
    a minute in all, *burst* at once.

    >>> b = Budget(rate=60, burst=1, clock=lambda: 0.0)
    >>> b.take()
    (True, 0, 0.0)
    >>> b.take()
    (False, 0, 0.0)
    """

    def __init__(
        self, rate: float = 60.0, burst: int = 30, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._suppressed = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Full again, nothing suppressed (for tests)."""
        with self._lock:
            self._tokens = float(self.burst)
            self._stamp = self._clock()
            self._suppressed = 0

    def report_due(self) -> float | None:
        """When (clock time) :meth:`report` can say something, if it has anything to say."""
        with self._lock:
            if not self._suppressed:
                return None
            return self._stamp + max(0.0, 1.0 - self._tokens) * 60.0 / self.rate

    def report(self) -> None:
        """Log how many lines were suppressed, if any and the budget allows a
        line (a loop calls this, so that the count is not left waiting for
        the next warning)."""
        allowed, suppressed, seconds = self.take_for_report()
        if allowed and suppressed:
            self.log_summary(suppressed, seconds)

    def take_for_report(self) -> tuple[bool, int, float]:
        with self._lock:
            if not self._suppressed:
                return False, 0, 0.0
        return self.take()

    def log_summary(self, suppressed: int, seconds: float) -> None:
        LOG.warning(
            "... and %d more similar warnings suppressed in the last %.0f s "
            "(at most %g a minute in all)",
            suppressed,
            seconds,
            self.rate,
        )

    def take(self) -> tuple[bool, int, float]:
        """Take a token: (allowed, lines suppressed before, over how many seconds)."""
        now = self._clock()
        with self._lock:
            refill = (now - self._stamp) * self.rate / 60.0
            self._tokens = min(float(self.burst), self._tokens + refill)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                suppressed, self._suppressed = self._suppressed, 0
                return True, suppressed, (now - self._since) if suppressed else 0.0
            if self._suppressed == 0:
                self._since = now
            self._suppressed += 1
            return False, 0, 0.0


#: The budget every :class:`RateLimitedLogger` shares unless given another:
#: 60 warnings a minute in all, 30 at once.
BUDGET = Budget()


class RateLimitedLogger:
    """Log through *logger*, at most *rate* lines per minute and per key.

    >>> import logging
    >>> rl = RateLimitedLogger(logging.getLogger("demo"), rate=5, burst=1)
    >>> rl.warning(("bogus", "lsp4"), "Unable to open provider %r", "bogus")
    True
    >>> rl.warning(("bogus", "lsp4"), "Unable to open provider %r", "bogus")
    False

    A key names what repeats (for example ``("unknown-type", lport)``), so
    that a flood about one lport does not hide a first message about
    another. The default matches OVN's ``vif_plug`` limits (5/min, burst 1).
    Warnings and lower also take a token from *budget* (the process-wide
    :data:`BUDGET` by default; ``None`` for none).
    """

    def __init__(  # noqa: PLR0917
        self,
        logger: logging.Logger,
        rate: float = 5.0,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 4096,
        budget: Budget | None = BUDGET,
    ) -> None:
        self.logger = logger
        self.budget = budget
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[Hashable, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, key: Hashable) -> tuple[bool, int]:
        """Take a token for *key*; return (allowed, lines dropped before)."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._buckets.clear()
                bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), stamp=now)
            else:
                refill = (now - bucket.stamp) * self.rate / 60.0
                bucket.tokens = min(float(self.burst), bucket.tokens + refill)
                bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                dropped, bucket.dropped = bucket.dropped, 0
                return True, dropped
            if bucket.dropped == 0:
                bucket.first_drop = now
            bucket.dropped += 1
            return False, 0

    def log(
        self,
        level: int,
        key: Hashable,
        msg: str,
        *args: object,
        exc_info: bool | BaseException | None = None,
    ) -> bool:
        """Log *msg* at *level* unless *key* is over its limit.

        Returns whether the line was emitted. ``str`` and exception
        arguments (and *msg* itself) are passed through
        :func:`~ovn_vif.log_safe`; numbers and other values are left for
        their ``%`` conversion.
        """
        if not self.logger.isEnabledFor(level):
            return False
        allowed, dropped = self.allow(key)
        if not allowed:
            return False
        if self.budget is not None and level <= logging.WARNING:
            allowed, suppressed, seconds = self.budget.take()
            if not allowed:
                return False
            if suppressed:
                self.budget.log_summary(suppressed, seconds)
        msg = log_safe(msg, limit=len(msg))
        if dropped:
            msg = f"{msg} (dropped {dropped} similar message(s))"
        safe = tuple(log_safe(a) if isinstance(a, (str, BaseException)) else a for a in args)
        exc = sys.exc_info()[1] if exc_info is True else exc_info
        if not isinstance(exc, BaseException):
            self.logger.log(level, msg, *safe, stacklevel=3)
            return True
        # The record keeps exc_info, but its exc_text (which formatters use
        # instead of formatting exc_info themselves) is the traceback with
        # its messages escaped.
        fn, lno, func, sinfo = self.logger.findCaller(False, 3)
        record = self.logger.makeRecord(
            self.logger.name,
            level,
            fn,
            lno,
            msg,
            safe,
            (type(exc), exc, exc.__traceback__),
            func,
            None,
            sinfo,
        )
        record.exc_text = safe_traceback(exc)
        self.logger.handle(record)
        return True

    def warning(self, key: Hashable, msg: str, *args: object) -> bool:
        """Shorthand for :meth:`log` at ``WARNING``."""
        return self.log(logging.WARNING, key, msg, *args)

    def info(self, key: Hashable, msg: str, *args: object) -> bool:
        """Shorthand for :meth:`log` at ``INFO``."""
        return self.log(logging.INFO, key, msg, *args)

    def exception(self, key: Hashable, msg: str, *args: object, exc: BaseException) -> bool:
        """Log at ``ERROR`` with *exc*'s traceback."""
        return self.log(logging.ERROR, key, msg, *args, exc_info=exc)
