"""Every exception ovn-vif raises on purpose, in one tree.

Each derives from :class:`OvnVifError`; most also derive from the built-in
exception a caller would expect (``LookupError`` for a stale row,
``AssertionError`` for a conformance failure, ``TimeoutError`` for a
sandbox wait), so existing ``except`` clauses keep working. Registry errors
carry the ``errno`` that OVN's C registry returns for the same situation,
so code ported from C can keep its checks.

Each class is public under exactly one path, the public face of the layer
it belongs to: :mod:`ovn_vif` (contract, registry, engine),
:mod:`ovn_vif.agent`, :mod:`ovn_vif.sandbox` and :mod:`ovn_vif.testing`.
This module is private.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Mapping, Sequence
from typing import Any

_APT_HINT = (
    "install them with: apt-get install openvswitch-switch openvswitch-common "
    "ovn-central ovn-host\n"
    "(in a container without systemd, first create /usr/sbin/policy-rc.d containing "
    "'exit 101' so the packages do not start the system-wide daemons)"
)


class OvnVifError(Exception):
    """Base class of every error raised by ovn-vif itself."""


class RegistryError(OvnVifError):
    """A registry operation was refused.

    :attr:`errno` holds the value OVN's ``vif_plug_provider_register()`` /
    ``vif_plug_provider_unregister()`` would have returned.
    """

    errno: int = 0

    def __init__(self, provider_type: str, message: str) -> None:
        super().__init__(message)
        #: The provider type the operation was about.
        self.provider_type = provider_type


class ProviderExistsError(RegistryError):
    """A provider of that type is already registered (``EEXIST``)."""

    errno = _errno.EEXIST

    def __init__(self, provider_type: str) -> None:
        super().__init__(
            provider_type,
            f"a VIF plug provider of type {provider_type!r} is already registered",
        )


class ProviderNotRegisteredError(RegistryError):
    """No provider of that type is registered (``EINVAL``)."""

    errno = _errno.EINVAL

    def __init__(self, provider_type: str) -> None:
        super().__init__(
            provider_type,
            f"no VIF plug provider of type {provider_type!r} is registered",
        )


class ProviderUnavailableError(OvnVifError):
    """A provider cannot work on this host (raised from ``init``).

    Providers raise it when a kernel facility or a device they need is
    missing, so that the registry refuses them with a readable reason.
    """


class DeclineError(OvnVifError):
    """Raised by a provider hook to decline: the same as returning a
    :class:`~ovn_vif.Decline` from ``prepare_create`` or vetoing from
    ``prepare_remove``, for code deep inside a provider's helpers.

    ``raise DeclineError("PF 0c:42:a1:00:00:01 has no VF 3", retry_after=5)``

    The engine treats it as a decline, not as a provider error: nothing is
    logged at ERROR level and no traceback is printed.
    """

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        #: Why (see :attr:`ovn_vif.Decline.reason`).
        self.reason = reason
        #: Seconds after which to ask again (see :attr:`ovn_vif.Decline.retry_after`).
        self.retry_after = retry_after


# -- engine ------------------------------------------------------------------


class TransactionNotCommittedError(OvnVifError, RuntimeError):
    """:meth:`Reconciler.complete` got ``uncommitted``: commit first."""


class StaleRowError(OvnVifError, LookupError):
    """A row the plan refers to is no longer in the IDL's cache.

    The engine never lets it escape :meth:`~ovn_vif.Reconciler.reconcile`:
    the lports whose rows went stale are skipped and decided again on the
    next call.
    """


# -- agent -------------------------------------------------------------------


class AgentSetupError(OvnVifError):
    """The agent cannot start with this configuration.

    Raised for a malformed or unreachable remote, a missing
    ``system-id``/``ovn-remote``, an unknown provider type or no provider at
    all. The ``ovn-vif agent`` command turns it into exit status 2.
    """


class RemoteError(OvnVifError):
    """An OVSDB remote is malformed, unreachable or does not serve the database."""


# -- sandbox -----------------------------------------------------------------


class SandboxError(OvnVifError):
    """Base class of the errors raised by :mod:`ovn_vif.sandbox`."""


class SandboxUnavailableError(SandboxError):
    """OVS/OVN programs or schema files the sandbox needs are not installed."""

    def __init__(self, missing: Sequence[str]) -> None:
        #: Names of missing programs and paths of missing schema files.
        self.missing: tuple[str, ...] = tuple(missing)
        super().__init__(
            "cannot run the OVS/OVN sandbox, missing: " + ", ".join(self.missing) + "\n" + _APT_HINT
        )


class DaemonError(SandboxError):
    """A daemon failed to start, or died."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        #: The last lines of the daemon's log (and console output), if any.
        self.log_tail = log_tail
        if log_tail:
            message = f"{message}\n--- log tail ---\n{log_tail}"
        super().__init__(message)


class CommandError(SandboxError):
    """A command-line tool (``ovs-vsctl``, ``ovn-nbctl`` ...) failed."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv: tuple[str, ...] = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"command failed (exit {returncode}): {' '.join(self.argv)}\n{stderr.strip()}"
        )


class SandboxTimeoutError(SandboxError, TimeoutError):
    """:func:`wait_until` (or a readiness check) gave up."""


# -- testing kit -------------------------------------------------------------


class ProviderCheckError(OvnVifError, AssertionError):
    """Raised by :func:`check_provider` when a provider breaks the contract."""

    def __init__(self, report: Any) -> None:
        #: The :class:`~ovn_vif.testing.ProviderCheckReport` with every violation.
        self.report = report
        lines = "\n".join(f"  - {m}" for m in report.messages())
        super().__init__(
            f"VIF plug provider {report.provider_type!r} breaks the provider contract:\n{lines}"
        )


class FakeDatabaseError(OvnVifError):
    """A test-control write was refused the way ``ovsdb-server`` would refuse it.

    ``error`` is the OVSDB error object (``{"error": ..., "details": ...}``).
    """

    def __init__(self, error: Mapping[str, Any]) -> None:
        self.error = dict(error)
        super().__init__(f"{error.get('error')}: {error.get('details', '')}")
