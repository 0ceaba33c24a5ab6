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


def parse_verbosity(spec: str) -> tuple[str | None, str | None, int]:
    """Parse ``[MODULE:]LEVEL`` or ``DESTINATION:LEVEL``; return (module, destination, level).

    >>> parse_verbosity("ovn_vif.agent:debug")
    ('ovn_vif.agent', None, 10)
    >>> parse_verbosity("console:warn")
    (None, 'console', 30)
    >>> parse_verbosity("info")
    (None, None, 20)
    """
    name, _, level_name = spec.rpartition(":")
    level = LEVELS.get(level_name.strip().lower())
    if level is None:
        raise ValueError(
            f"unknown log level {level_name!r} in {spec!r} (use one of {', '.join(LEVELS)})"
        )
    name = name.strip()
    if not name or name.lower() in ("any", "root"):
        return None, None, level
    if name in DESTINATIONS:
        return None, name, level
    if ":" in name:
        raise ValueError(f"cannot parse {spec!r}: use [MODULE:]LEVEL or DESTINATION:LEVEL")
    return name, None, level


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
        """Apply one ``-v``/``vlog/set`` *spec*; return what changed, in words."""
        module, destination, level = parse_verbosity(spec)
        name = logging.getLevelName(level) if level <= logging.CRITICAL else "OFF"
        if destination == "file":
            if self.file is None:
                raise ValueError("there is no log file (start with --log-file FILE)")
            self.file.setLevel(level)
            return f"file: {name}"
        if destination == "syslog":
            if self.syslog is None:
                raise ValueError("there is no syslog destination (start with --syslog-method)")
            self.syslog.setLevel(level)
            return f"syslog: {name}"
        if destination == "console":
            self.console.setLevel(level)
            return f"console: {name}"
        if module is None:
            self.root.setLevel(level)
            return f"all modules: {name}"
        logging.getLogger(module).setLevel(level)
        self.modules[module] = level
        return f"{module}: {name}"

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
