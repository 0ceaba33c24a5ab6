"""Logging of the ``ovn-vif`` command: destinations, formats, per-module levels, reopening.

Two destinations, like OVS daemons: ``console`` (stderr) and ``file``
(``--log-file``). Levels are set per logger ("module") and per destination
with ``-v [MODULE:]LEVEL`` / ``-v DESTINATION:LEVEL``, on the command line or
at run time through the control socket (``vlog/set``). The file is reopened
on SIGHUP and by ``vlog/reopen`` (for logrotate), and also by itself when it
was moved or removed. Under systemd (``JOURNAL_STREAM`` names stderr) the
console lines carry ``<N>`` priority prefixes that journald understands and
no timestamp, since journald adds its own.
"""

from __future__ import annotations

import importlib.util
import logging
import logging.handlers
import os
import sys
from collections.abc import Iterable

#: Level names accepted by ``-v`` and ``vlog/set``: OVS's and Python's.
LEVELS = {
    "off": logging.CRITICAL + 10,
    "emer": logging.CRITICAL,
    "critical": logging.CRITICAL,
    "err": logging.ERROR,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "dbg": logging.DEBUG,
    "debug": logging.DEBUG,
}
DESTINATIONS = ("console", "file", "syslog")

# sd-daemon(3) priorities, which journald reads from the start of a line.
_JOURNAL_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class JournalFormatter(logging.Formatter):
    """``<6>logger: message``: priority for journald, no timestamp (journald adds one)."""

    def format(self, record: logging.LogRecord) -> str:
        level = record.levelno
        prio = next((p for lvl, p in sorted(_JOURNAL_PRIORITY.items()) if level <= lvl), 2)
        text = f"<{prio}>{record.name}: {record.getMessage()}"
        if record.exc_info:
            trace = self.formatException(record.exc_info)
            text += "\n" + "\n".join(f"<{prio}>  {line}" for line in trace.splitlines())
        return text


def stderr_is_journal() -> bool:
    """Whether systemd connected stderr to the journal (``JOURNAL_STREAM`` is ``DEV:INODE``)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


class SyslogFormatter(logging.Formatter):
    """``ovn-vif[PID]: logger|message``: the tag syslog daemons split on (RFC 3164)."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"ovn-vif[{os.getpid()}]: {record.name}|{record.getMessage()}"
        if record.exc_info:
            text += " " + " | ".join(self.formatException(record.exc_info).splitlines())
        return text


def syslog_handler(method: str) -> logging.Handler:
    """A handler for ``--syslog-method``: ``unix:PATH`` (default ``unix:/dev/log``) or
    ``udp:HOST:PORT``.

    :raises ValueError: a malformed method.
    :raises OSError: the socket cannot be opened.
    """
    import socket

    kind, _, where = method.partition(":")
    address: str | tuple[str, int]
    if kind == "unix" and where:
        address, socktype = where, socket.SOCK_DGRAM
    elif kind == "udp":
        host, _, port = where.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--syslog-method {method!r}: use udp:HOST:PORT")
        address, socktype = (host.strip("[]"), int(port)), socket.SOCK_DGRAM
    else:
        raise ValueError(f"--syslog-method {method!r}: use unix:PATH or udp:HOST:PORT")
    handler = logging.handlers.SysLogHandler(
        address=address, facility=logging.handlers.SysLogHandler.LOG_DAEMON, socktype=socktype
    )
    handler.setFormatter(SyslogFormatter())
    return handler


class ReopenableFileHandler(logging.handlers.WatchedFileHandler):
    """A log file that follows logrotate: reopened on demand, or when moved away."""

    def reopen(self) -> None:
        self.acquire()
        try:
            if self.stream is not None:
                self.stream.close()
            self.stream = self._open()
            self._statstream()
        finally:
            self.release()


def _known_module(name: str) -> bool:
    """Whether *name* is a logger the agent has or will have (an ``ovn_vif``
    or ``ovs`` module, or a package of them)."""
    loggers = logging.root.manager.loggerDict
    if name in loggers or any(n.startswith(name + ".") for n in loggers):
        return True
    if not name.startswith(("ovn_vif", "ovs")):
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def parse_verbosity(spec: str) -> tuple[str | None, str | None, int]:
    """Parse ``[MODULE|ANY][:DESTINATION|ANY][:LEVEL]`` as OVS's ``-v`` and
    ``vlog/set`` do (words in any order, the level ``dbg`` if none); return
    (module, destination, level), ``None`` for ``ANY``.

    >>> parse_verbosity("ovn_vif.agent:debug")
    ('ovn_vif.agent', None, 10)
    >>> parse_verbosity("console:warn")
    (None, 'console', 30)
    >>> parse_verbosity("info")
    (None, None, 20)
    >>> parse_verbosity("ANY:file:dbg")
    (None, 'file', 10)
    """
    words = [w.strip() for w in spec.split(":")]
    module: str | None = None
    destination: str | None = None
    level: int | None = None
    for i, word in enumerate(words):
        lower = word.lower()
        if lower in LEVELS and level is None:
            level = LEVELS[lower]
        elif lower in DESTINATIONS and destination is None:
            destination = lower
        elif lower in ("any", "root", ""):
            continue
        elif i == len(words) - 1 and len(words) > 1 and level is None:
            raise ValueError(
                f"unknown log level {word!r} in {spec!r} (use one of {', '.join(LEVELS)})"
            )
        elif module is None:
            module = word
        else:
            raise ValueError(f"cannot parse {spec!r}: use [MODULE:]LEVEL or DESTINATION:LEVEL")
    if module is not None and destination is not None:
        raise ValueError(
            f"cannot parse {spec!r}: a module's level applies to every destination "
            "(use MODULE:LEVEL or [ANY:]DESTINATION:LEVEL)"
        )
    if module is not None and not _known_module(module):
        # ovs-appctl's words for the same mistake.
        raise ValueError(f'no destination, level, or module "{module}"')
    return module, destination, logging.DEBUG if level is None else level


class LogSetup:
    """The command's logging: root level, destinations and their formats."""

    def __init__(
        self,
        level: str,
        console_formatter: logging.Formatter,
        file_formatter: logging.Formatter,
        log_file: str | None = None,
        syslog_method: str | None = None,
    ) -> None:
        self.root = logging.getLogger()
        for old in list(self.root.handlers):
            self.root.removeHandler(old)
        self.console = logging.StreamHandler(sys.stderr)
        self.console.setFormatter(console_formatter)
        self.root.addHandler(self.console)
        self.file: ReopenableFileHandler | None = None
        if log_file is not None:
            try:
                self.file = ReopenableFileHandler(log_file, encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"cannot open the log file {log_file}: {exc.strerror}") from exc
            self.file.setFormatter(file_formatter)
            self.root.addHandler(self.file)
        self.syslog: logging.Handler | None = None
        if syslog_method is not None:
            try:
                self.syslog = syslog_handler(syslog_method)
            except OSError as exc:
                raise ValueError(
                    f"cannot open the syslog socket {syslog_method}: {exc.strerror or exc}"
                ) from exc
            self.root.addHandler(self.syslog)
        self.root.setLevel(LEVELS[level.lower()])
        #: Levels set by name (``-v MODULE:LEVEL``), for ``vlog/list``.
        self.modules: dict[str, int] = {}

    def set(self, spec: str) -> str:
        """Apply one ``-v``/``vlog/set`` *spec*; return what changed, in words.

        As in OVS, a level for every module and destination (``info``,
        ``ANY:ANY:info``) sets all of them, including modules set on their
        own earlier; a level for one destination (``ANY:file:dbg``) lets
        that destination receive every module's messages at that level
        while the others keep theirs.
        """
        module, destination, level = parse_verbosity(spec)
        name = logging.getLevelName(level) if level <= logging.CRITICAL else "OFF"
        if destination is not None:
            handler = self._destination(destination)
            handler.setLevel(level)
            if level < self.root.level:
                # The loggers let this destination's level through; the
                # other destinations keep what they show now.
                threshold = self.root.level
                for other in self._handlers():
                    if other is not handler:
                        other.setLevel(max(other.level, threshold))
                self.root.setLevel(level)
                for known in list(self.modules):
                    if self.modules[known] > level:
                        logging.getLogger(known).setLevel(level)
                        self.modules[known] = level
            return f"{destination}: {name}"
        if module is None:
            self.root.setLevel(level)
            for known in self._module_loggers():
                logging.getLogger(known).setLevel(logging.NOTSET)
            self.modules.clear()
            for handler in self._handlers():
                handler.setLevel(logging.NOTSET)
            return f"all modules and destinations: {name}"
        logging.getLogger(module).setLevel(level)
        self.modules[module] = level
        return f"{module}: {name}"

    def _handlers(self) -> list[logging.Handler]:
        return [h for h in (self.console, self.file, self.syslog) if h is not None]

    def _destination(self, destination: str) -> logging.Handler:
        if destination == "file":
            if self.file is None:
                raise ValueError("there is no log file (start with --log-file FILE)")
            return self.file
        if destination == "syslog":
            if self.syslog is None:
                raise ValueError("there is no syslog destination (start with --syslog-method)")
            return self.syslog
        return self.console

    @staticmethod
    def _module_loggers() -> list[str]:
        return [
            n
            for n, lg in logging.root.manager.loggerDict.items()
            if isinstance(lg, logging.Logger) and n.startswith(("ovn_vif", "ovs"))
        ]

    def apply(self, specs: Iterable[str]) -> None:
        for spec in specs:
            self.set(spec)

    def reopen(self) -> bool:
        """Reopen the log file; return whether there is one."""
        if self.file is None:
            return False
        self.file.reopen()
        return True

    def only_to_file(self, level: int, message: str) -> None:
        """Log *message* to the log file only (the console already shows it otherwise)."""
        if self.file is not None:
            record = logging.LogRecord("ovn_vif.cli", level, __file__, 0, message, None, None)
            self.file.handle(record)

    def listing(self) -> str:
        """Effective levels, for ``vlog/list``."""

        def name_of(level: int) -> str:
            return "OFF" if level > logging.CRITICAL else logging.getLevelName(level)

        lines = ["destination  level", "-----------  -----"]
        lines.append(f"{'console':<11}  {name_of(self.console.level or logging.DEBUG)}")
        if self.file is not None:
            path = self.file.baseFilename
            lines.append(f"{'file':<11}  {name_of(self.file.level or logging.DEBUG)} ({path})")
        if self.syslog is not None:
            lines.append(f"{'syslog':<11}  {name_of(self.syslog.level or logging.DEBUG)}")
        lines += ["", "module                               level", "-" * 43]
        lines.append(f"{'(all)':<36} {name_of(self.root.level)}")
        names = sorted(
            n
            for n, lg in logging.root.manager.loggerDict.items()
            if isinstance(lg, logging.Logger) and n.startswith(("ovn_vif", "ovs"))
        )
        for n in sorted(set(names) | set(self.modules)):
            lines.append(f"{n:<36} {name_of(logging.getLogger(n).getEffectiveLevel())}")
        return "\n".join(lines)
