"""Rate limiting for log lines that could repeat on every loop iteration.

Modelled on OVS's ``VLOG_RATE_LIMIT_INIT(rate, burst)``: each key gets a
token bucket refilled at *rate* messages per minute, holding at most
*burst*. When a message is let through after others were dropped, the
number dropped is reported with it.

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
    """

    def __init__(
        self,
        logger: logging.Logger,
        rate: float = 5.0,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 4096,
    ) -> None:
        self.logger = logger
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
