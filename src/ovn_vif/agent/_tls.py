"""TLS (``ssl:`` remotes) for the agent's OVSDB connections, the way ovn-controller does it.

The key, certificate and CA certificate come from the command line
(``--private-key``/``--certificate``/``--ca-cert``) or, for each one not
given there, from the ``SSL`` row of the local ``Open_vSwitch`` database
(``ovs-vsctl set-ssl``), which is followed as it changes.

The ``ovs`` package keeps these three paths process-wide
(``ovs.stream.Stream.ssl_set_*``) and builds a new TLS context from them for
every connection attempt. Its ``ssl:`` stream raises when a file is missing
or bad and keeps no text of a refused handshake, so this module registers,
in place of it, a subclass that:

* checks the files before each attempt and turns a problem into an errno
  (the IDL's session then retries with its back-off) instead of an
  exception escaping ``Idl.run()``;
* remembers, per remote, one readable sentence about the last failure
  (missing file, certificate rejected, alert from the server), which the
  agent logs (rate-limited) and puts in its status and error messages.

The ``ssl`` module is imported where it is used, never at import: an
agent without ``ssl:`` remotes does not load it (about 6 MB resident).
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from typing import Any

import attrs
import ovs.stream

from ovn_vif._errors import AgentSetupError
from ovn_vif._ovs_private import ssl_open, stream_recv, stream_send
from ovn_vif.agent import _resolve

LOG = logging.getLogger(__name__)

#: ``SSL`` table columns read from the local database.
SSL_COLUMNS = ("private_key", "certificate", "ca_cert", "bootstrap_ca_cert")

_LOCK = threading.Lock()
# "ssl:HOST:PORT" -> (monotonic time, sentence) of the last failure.
_FAILURES: dict[str, tuple[float, str]] = {}


@attrs.frozen
class TlsFiles:
    """The three files a TLS connection needs (``None``: not known)."""

    private_key: str | None = None
    certificate: str | None = None
    ca_cert: str | None = None

    @property
    def complete(self) -> bool:
        return None not in (self.private_key, self.certificate, self.ca_cert)

    def missing(self) -> list[str]:
        names = [
            ("private key (-p/--private-key)", self.private_key),
            ("certificate (-c/--certificate)", self.certificate),
            ("CA certificate (-C/--ca-cert)", self.ca_cert),
        ]
        return [name for name, value in names if not value]


def uses_tls(remote: str) -> bool:
    """Whether any member of the comma-separated *remote* is ``ssl:``."""
    return any(part.strip().startswith("ssl:") for part in remote.split(","))


def _reason(exc: BaseException) -> str:
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        text = exc.reason or exc.strerror or str(exc)
        return str(text).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def check_files(files: TlsFiles) -> str | None:
    """Load *files* into a TLS context; return ``None`` or what is wrong (one sentence)."""
    import ssl

    missing = files.missing()
    if missing:
        return "no TLS " + ", ".join(missing) + " is configured"
    key, cert, ca = files.private_key or "", files.certificate or "", files.ca_cert or ""
    for what, path in (("private key", key), ("certificate", cert), ("CA certificate", ca)):
        try:
            with open(path, "rb") as f:
                f.read(1)
        except OSError as exc:
            return f"cannot read the TLS {what} {path}: {_reason(exc)}"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_verify_locations(ca)
    except (ssl.SSLError, ValueError) as exc:
        return f"the TLS CA certificate {files.ca_cert} is not a PEM certificate ({_reason(exc)})"
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as exc:
        return (
            f"the TLS certificate {files.certificate} and private key {files.private_key} "
            f"cannot be used together ({_reason(exc)})"
        )
    return None


def record_failure(remote: str, reason: str, *, weak: bool = False) -> None:
    """Remember why *remote* failed; a *weak* reason (a reset or closed
    connection, which says nothing about TLS) does not replace a known one."""
    with _LOCK:
        if weak and remote in _FAILURES:
            return
        _FAILURES[remote] = (time.monotonic(), reason)


def clear_failure(remote: str) -> None:
    with _LOCK:
        _FAILURES.pop(remote, None)


def last_failure(remote: str) -> str | None:
    """The last TLS failure on *remote* (one ``ssl:`` member), if it is still the latest news."""
    with _LOCK:
        entry = _FAILURES.get(remote)
    return None if entry is None else entry[1]


def failure_times() -> dict[str, float]:
    """When (``time.monotonic()``) each member's latest TLS failure was recorded."""
    with _LOCK:
        return {member: when for member, (when, _reason) in _FAILURES.items()}


def failures(remote: str, since: float | None = None) -> dict[str, str]:
    """``{member: reason}`` for the ``ssl:`` members of *remote* that last
    failed (at or after the monotonic time *since*, if given)."""
    result = {}
    for part in remote.split(","):
        member = part.strip()
        with _LOCK:
            entry = _FAILURES.get(member) if member.startswith("ssl:") else None
        if entry is not None and (since is None or entry[0] >= since):
            result[member] = entry[1]
    return result


def failure_ages(remote: str) -> dict[str, float]:
    """``{member: seconds since it failed}`` for the members :func:`failures`
    lists (rounded to 0.1 s), so that an old failure of another cluster
    member is not taken for news."""
    now = time.monotonic()
    result = {}
    for member in failures(remote):
        with _LOCK:
            entry = _FAILURES.get(member)
        if entry is not None:
            result[member] = round(max(0.0, now - entry[0]), 1)
    return result


# The files given to ovs.stream last (it keeps them process-wide too).
_CURRENT: list[TlsFiles] = [TlsFiles()]


def _current() -> TlsFiles:
    return _CURRENT[0]


class CheckedSSLStream(ovs.stream.SSLStream):  # type: ignore[misc]
    """``ovs.stream.SSLStream`` that never raises and says why it failed."""

    @staticmethod
    def _open(suffix: str, dscp: int) -> tuple[int, Any]:
        problem = check_files(_current())
        if problem is not None:
            record_failure("ssl:" + suffix, problem)
            return errno.EINVAL, None
        # The ovs package resolves names only with the optional unbound module.
        error, literal = _resolve.literal_suffix("ssl:" + suffix)
        if error:
            return error, None
        try:
            return ssl_open(literal, dscp)
        except (OSError, ValueError, TypeError) as exc:
            record_failure("ssl:" + suffix, _reason(exc))
            return errno.EPROTO, None

    _handshake_done = False

    def connect(self) -> int:
        import ssl

        error = ovs.stream.Stream.connect(self)
        if error:
            return int(error)
        if self._handshake_done:
            # Stream.send() and recv() call connect() first: the handshake
            # is done once, later errors belong to the read or write.
            return 0
        try:
            self.socket.do_handshake()
        except ssl.SSLWantReadError:
            return errno.EAGAIN
        except ssl.SSLWantWriteError:
            return errno.EAGAIN
        except ssl.SSLError as exc:
            record_failure(self.name, f"TLS handshake failed: {_reason(exc)}")
            return errno.EPROTO
        except OSError as exc:
            # The server closed or reset the connection during the handshake.
            record_failure(self.name, f"TLS handshake failed: {_reason(exc)}", weak=True)
            return exc.errno or errno.EPROTO
        self._handshake_done = True
        # The member answers now: an earlier failure is no longer news.
        clear_failure(self.name)
        return 0

    def send(self, buf: Any) -> int:
        import ssl

        try:
            return int(stream_send(self, buf))
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return -errno.EAGAIN
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError) as exc:
            # The server closed the connection; its reason, if it sent one,
            # is an alert waiting to be read.
            if not self._read_alert():
                record_failure(
                    self.name, f"the server closed the connection: {_reason(exc)}", weak=True
                )
            return -errno.EPIPE
        except ssl.SSLError as exc:
            record_failure(self.name, f"the server refused the connection: {_reason(exc)}")
            return -errno.EPROTO
        except OSError as exc:
            self._read_alert()
            return -(exc.errno or errno.EPROTO)

    def _read_alert(self) -> bool:
        """Read an alert the server sent before closing; return whether there was one."""
        import ssl

        quiet = (ssl.SSLWantReadError, ssl.SSLEOFError, ssl.SSLZeroReturnError)
        try:
            self.socket.recv(1)
        except quiet:
            return False
        except ssl.SSLError as exc:
            record_failure(self.name, f"the server refused the connection: {_reason(exc)}")
            return True
        except OSError:
            return False
        return False

    def recv(self, n: int) -> tuple[int, Any]:
        import ssl

        try:
            return stream_recv(self, n)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return (errno.EAGAIN, "")
        except ssl.SSLZeroReturnError:
            return (0, "")
        except ssl.SSLEOFError:
            # Closed without a TLS goodbye (a server restart, for one): end of stream.
            record_failure(self.name, "the server closed the connection", weak=True)
            return (0, "")
        except ssl.SSLError as exc:
            # With TLS 1.3 the server's verdict on our certificate arrives
            # after the handshake, as an alert on the first read.
            record_failure(self.name, f"the server refused the connection: {_reason(exc)}")
            return (errno.EPROTO, "")
        except OSError as exc:
            return (exc.errno or errno.EPROTO, "")


def install_stream() -> None:
    """Make ``ssl:`` remotes use :class:`CheckedSSLStream`, and ``tcp:`` ones
    :class:`~ovn_vif.agent._resolve.ResolvingTCPStream` (process-wide, idempotent)."""
    ovs.stream.Stream.register_method("ssl", CheckedSSLStream)
    _resolve.install_stream()


def set_files(files: TlsFiles) -> None:
    """Use *files* for the next ``ssl:`` connection attempts (process-wide)."""
    install_stream()
    _CURRENT[0] = files
    ovs.stream.Stream.ssl_set_private_key_file(files.private_key)
    ovs.stream.Stream.ssl_set_certificate_file(files.certificate)
    ovs.stream.Stream.ssl_set_ca_cert_file(files.ca_cert)


def ssl_row_files(ovs_idl: Any) -> TlsFiles:
    """The files named by the ``SSL`` row of the local database (``ovs-vsctl set-ssl``)."""
    if "SSL" not in ovs_idl.tables or "Open_vSwitch" not in ovs_idl.tables:
        return TlsFiles()
    for root in ovs_idl.tables["Open_vSwitch"].rows.values():
        try:
            refs = root.ssl
        except AttributeError:
            return TlsFiles()
        row = refs[0] if refs else None
        if row is None:
            return TlsFiles()
        return TlsFiles(row.private_key or None, row.certificate or None, row.ca_cert or None)
    return TlsFiles()


class TlsSettings:
    """The TLS files in effect for the agent: command line first, then the ``SSL`` row."""

    def __init__(self, given: TlsFiles) -> None:
        self.given = given
        self.files: TlsFiles | None = None
        self._rejected: TlsFiles | None = None

    def merged(self, table: TlsFiles) -> TlsFiles:
        g = self.given
        return TlsFiles(
            g.private_key or table.private_key,
            g.certificate or table.certificate,
            g.ca_cert or table.ca_cert,
        )

    def start(self, remotes: list[str], ovs_idl: Any | None) -> None:
        """Check and apply the files before connecting to any ``ssl:`` remote.

        :raises AgentSetupError: a remote is ``ssl:`` and the files are
            missing, unreadable or unusable.
        """
        for remote in remotes:
            # A malformed remote is the first thing to say, before any TLS file.
            for member in remote.split(","):
                problem = _resolve.port_problem(member.strip())
                if problem is not None:
                    raise AgentSetupError(f"remote {problem}")
        table = ssl_row_files(ovs_idl) if ovs_idl is not None else TlsFiles()
        files = self.merged(table)
        needed = [r for r in remotes if uses_tls(r)]
        if not needed and files == TlsFiles():
            return
        problem = check_files(files)
        if problem is not None:
            if needed:
                raise AgentSetupError(
                    f"{problem}, which the remote {needed[0]} needs (pass -p/-c/-C, "
                    "or set them in the local database with ovs-vsctl set-ssl)"
                )
            LOG.warning("TLS settings not used: %s", problem)
            self._rejected = files
            return
        self._apply(files, initial=True)

    def follow(self, ovs_idl: Any, rl: Any) -> bool:
        """Pick up a change of the ``SSL`` row; return whether the files in effect changed."""
        files = self.merged(ssl_row_files(ovs_idl))
        if files in (self.files, self._rejected) or files == TlsFiles():
            return False
        problem = check_files(files)
        if problem is not None:
            self._rejected = files
            rl.warning(
                ("tls", files),
                "new TLS settings from the SSL table not used: %s; keeping %s",
                problem,
                "the previous ones" if self.files else "none",
            )
            return False
        self._apply(files, initial=False)
        return True

    def _apply(self, files: TlsFiles, *, initial: bool) -> None:
        self.files = files
        self._rejected = None
        set_files(files)
        LOG.log(
            logging.DEBUG if initial else logging.INFO,
            "TLS %s: private key %s, certificate %s, CA certificate %s%s",
            "settings" if initial else "settings changed",
            files.private_key,
            files.certificate,
            files.ca_cert,
            "" if initial else " (used from the next connection)",
        )
