"""Log lines made while the loop decides, written once its transaction is sent.

Writing a log line costs more than deciding to plug a port (formatting,
escaping, a system call per line per destination): when a thousand ports
are plugged at once, the INFO line of each would delay the transaction
that plugs them all by several milliseconds. :class:`HeldLines` keeps the
lines that the root logger's handlers would write while the engine
decides and the transaction goes out, and writes them, in order, right
after. Each line keeps the time it was made (``record.created``), which
is what the file and console formats show.

Nothing is dropped: a line held when the loop fails is written as the
``with`` block ends, whatever ends it. Only the lines of the thread that
entered the block are held, and only by the root logger's handlers (the
``ovn-vif`` command's console, file and syslog destinations, or an
embedding program's); other threads' lines, and handlers attached to
other loggers, write at once.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType


class HeldLines:
    """A ``with`` block during which the root logger's handlers hold their lines.

    >>> import io
    >>> out = io.StringIO()
    >>> handler = logging.StreamHandler(out)
    >>> root = logging.getLogger("held-example")
    >>> root.addHandler(handler)
    >>> root.propagate = False
    >>> with HeldLines(root):
    ...     root.warning("decided")
    ...     out.getvalue()
    ''
    >>> out.getvalue()
    'decided\\n'
    >>> root.removeHandler(handler)
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger if logger is not None else logging.getLogger()
        self._held: list[tuple[logging.Handler, logging.LogRecord]] = []
        self._filters: list[tuple[logging.Handler, _Hold]] = []

    def __enter__(self) -> HeldLines:
        thread = threading.get_ident()
        for handler in self._logger.handlers:
            hold = _Hold(handler, self._held, thread)
            handler.addFilter(hold)
            self._filters.append((handler, hold))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for handler, hold in self._filters:
            handler.removeFilter(hold)
        self._filters.clear()
        held, self._held = self._held, []
        attached = set(self._logger.handlers)
        for handler, record in held:
            # A handler removed meanwhile (vlog/set does not run during a
            # reconcile, an embedding program might) writes nothing more.
            if handler not in attached:
                continue
            try:
                handler.handle(record)
            except Exception:
                # What logging does when a handler fails: report it (on
                # stderr, if logging.raiseExceptions) and go on with the rest.
                handler.handleError(record)


class _Hold(logging.Filter):
    """Keeps each record of one thread that its handler would write, instead
    of writing it."""

    def __init__(
        self,
        handler: logging.Handler,
        held: list[tuple[logging.Handler, logging.LogRecord]],
        thread: int,
    ) -> None:
        super().__init__()
        self._handler = handler
        self._held = held
        self._thread = thread

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread != self._thread:
            return True
        self._held.append((self._handler, record))
        return False
