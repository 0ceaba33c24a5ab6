"""The provider registry: which plug types this chassis can serve.

Semantics follow OVN's ``lib/vif-plug-provider.c``: a duplicate type is
refused with ``EEXIST`` before ``init`` runs, a failing ``init`` keeps the
provider out, an unknown type cannot be unregistered (``EINVAL``) and a
failing ``destroy`` keeps the provider in. Unlike OVN, :meth:`Registry.run_all`
is actually called by the agent, once per loop iteration.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from ovn_vif._contract.entrypoints import entry_points
from ovn_vif._contract.provider import VifPlugProvider
from ovn_vif._contract.ratelimit import RateLimitedLogger
from ovn_vif._errors import ProviderExistsError, ProviderNotRegisteredError

LOG = logging.getLogger(__name__)

#: Entry-point group in which distributions declare providers.
ENTRY_POINT_GROUP = "ovn_vif.providers"


#: The characters a plug type may hold, besides ASCII letters and digits.
#: A type is written into OVN option values (``vif-plug-type``,
#: ``external_ids:ovn-plugged``), names entry points, and is given on the
#: command line where ``MODULE:CLASS`` also is (``ovn-vif demo --provider``):
#: ``:``, ``=``, ``,``, quotes, braces, slashes, whitespace and non-ASCII
#: would each be misread by one of them.
PROVIDER_TYPE_PUNCTUATION = "-_."
#: The longest plug type, in characters.
PROVIDER_TYPE_MAX_LEN = 64
_TYPE_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + PROVIDER_TYPE_PUNCTUATION
)


def check_provider_type(value: object) -> str:
    """Return *value* if it can be a plug type, else raise.

    A plug type is 1 to 64 ASCII letters, digits, ``-``, ``_`` and ``.``,
    starting with a letter or a digit (``acme``, ``acme-v2``,
    ``vendor.nic_2``): safe in an OVN option value, as an entry-point name
    and beside ``MODULE:CLASS`` on a command line.

    :raises TypeError: not a ``str``.
    :raises ValueError: empty, too long, or holding any other character.
    """
    if not isinstance(value, str):
        raise TypeError(f"a provider type must be a str, got {type(value).__name__}: {value!r}")
    if not value:
        raise ValueError("a provider type must not be empty")
    if len(value) > PROVIDER_TYPE_MAX_LEN:
        raise ValueError(
            f"a provider type must be at most {PROVIDER_TYPE_MAX_LEN} characters, "
            f"got {len(value)}: {value[:PROVIDER_TYPE_MAX_LEN]!r}..."
        )
    bad = sorted({c for c in value if c not in _TYPE_CHARS})
    if bad or not value[0].isalnum():
        what = f"{''.join(bad)!r}" if bad else f"a leading {value[0]!r}"
        raise ValueError(
            f"provider type {value!r} has {what}: a plug type is ASCII letters, digits, "
            f"'-', '_' and '.', starting with a letter or digit (it is written into OVN "
            f"option values and named beside MODULE:CLASS on the command line); "
            f"for example {_suggest_type(value)!r}"
        )
    return value


def _suggest_type(value: str) -> str:
    kept = "".join(c if c in _TYPE_CHARS else "-" for c in value).strip("-_.")
    return kept[:PROVIDER_TYPE_MAX_LEN] or "acme"


@attrs.frozen
class InstalledProvider:
    """A provider declared by an installed distribution's entry point."""

    #: Entry-point name; by convention the provider's plug type.
    name: str
    #: ``module:attribute`` the entry point loads.
    value: str
    #: Module part of :attr:`value`.
    module: str
    #: Distribution declaring it, and that distribution's version.
    distribution: str | None
    version: str | None


@attrs.frozen
class LoadFailure:
    """A provider that :meth:`Registry.load_entry_points` could not register."""

    #: Entry-point name.
    name: str
    #: ``module:attribute`` the entry point loads.
    value: str
    #: What went wrong, in one sentence.
    reason: str
    #: The exception behind it.
    error: BaseException = attrs.field(eq=False, repr=False)


@attrs.frozen
class LoadReport:
    """Outcome of :meth:`Registry.load_entry_points`."""

    #: Types registered by this call.
    registered: tuple[str, ...] = ()
    #: Entry points that failed to import, instantiate or initialise.
    failed: tuple[LoadFailure, ...] = ()
    #: Entry points left out by the *only* filter.
    skipped: tuple[str, ...] = ()


def _entry_points(*, with_distributions: bool = False) -> list[Any]:
    """The group's entry points, sorted by name, each (name, value) once.

    Read without ``importlib.metadata`` where it can be
    (:mod:`ovn_vif._contract.entrypoints`); *with_distributions* asks for
    ``importlib.metadata`` entry points, which know their distribution.
    """
    if with_distributions:
        import importlib.metadata

        eps: list[Any] = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    else:
        eps = entry_points(ENTRY_POINT_GROUP)
    seen: set[tuple[str, str]] = set()
    unique = []
    # A distribution installed twice on sys.path shows up twice.
    for ep in sorted(eps, key=lambda e: e.name):
        if (ep.name, ep.value) not in seen:
            seen.add((ep.name, ep.value))
            unique.append(ep)
    return unique


def installed_providers() -> list[InstalledProvider]:
    """List the providers installed in this environment, without loading any."""
    result = []
    for ep in _entry_points(with_distributions=True):
        dist = ep.dist
        result.append(
            InstalledProvider(
                name=ep.name,
                value=ep.value,
                module=ep.module,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
        )
    return result


def installed_provider_names() -> list[str]:
    """The names of the installed providers (:func:`installed_providers`'
    names), read without loading any, nor ``importlib.metadata`` where the
    environment allows."""
    return [ep.name for ep in _entry_points()]


class Registry:
    """A set of providers keyed by plug type. Thread-safe.

    >>> from ovn_vif import PlugSpec, VifPlugProvider
    >>> class Loopback(VifPlugProvider):
    ...     type = "loopback"
    ...     def prepare_create(self, ctx):
    ...         return PlugSpec(name=ctx.lport_name[:15], type="internal")
    >>> reg = Registry()
    >>> reg.register(Loopback())
    >>> reg.get("loopback")
    <Loopback type='loopback'>
    >>> reg.unregister("loopback")

    Most programs use :data:`default_registry`; tests and embedders build
    their own.
    """

    def __init__(self) -> None:
        self._providers: dict[str, VifPlugProvider] = {}
        # Re-entrant: a provider hook may look the registry up.
        self._lock = threading.RLock()
        self._run_errors = RateLimitedLogger(LOG)

    def register(self, provider: VifPlugProvider) -> None:
        """Initialise *provider* and make it available under ``provider.type``.

        :raises TypeError: *provider* is not a :class:`VifPlugProvider`.
        :raises ValueError: its ``type`` is not a valid plug type (see
            :func:`check_provider_type`: ASCII letters, digits, ``-``,
            ``_``, ``.``).
        :raises ProviderExistsError: that type is registered already
            (``errno`` is ``EEXIST``); ``init`` is not called.
        :raises Exception: whatever ``init`` raised; not registered.
        """
        if not isinstance(provider, VifPlugProvider):
            raise TypeError(
                f"expected a VifPlugProvider instance, got {type(provider).__name__}: {provider!r}"
            )
        provider_type = check_provider_type(getattr(provider, "type", None))
        with self._lock:
            if provider_type in self._providers:
                LOG.warning("attempted to register duplicate VIF plug provider: %s", provider_type)
                raise ProviderExistsError(provider_type)
            try:
                provider.init()
            except Exception as exc:
                LOG.warning("failed to initialize %s VIF plug provider: %s", provider_type, exc)
                raise
            self._providers[provider_type] = provider
        LOG.debug("registered VIF plug provider %s (%r)", provider_type, provider)

    def unregister(self, provider_type: str) -> None:
        """Destroy the provider of *provider_type* and forget it.

        :raises ProviderNotRegisteredError: no such type (``errno`` is
            ``EINVAL``).
        :raises Exception: whatever ``destroy`` raised; it stays registered.
        """
        with self._lock:
            provider = self._providers.get(provider_type)
            if provider is None:
                raise ProviderNotRegisteredError(provider_type)
            try:
                provider.destroy()
            except Exception as exc:
                LOG.warning("failed to destroy %s VIF plug provider: %s", provider_type, exc)
                raise
            del self._providers[provider_type]
        LOG.debug("unregistered VIF plug provider %s", provider_type)

    def get(self, provider_type: str) -> VifPlugProvider | None:
        """Return the provider of *provider_type*, or ``None``."""
        with self._lock:
            return self._providers.get(provider_type)

    def has_providers(self) -> bool:
        """Whether any provider is registered."""
        with self._lock:
            return bool(self._providers)

    def types(self) -> tuple[str, ...]:
        """The registered types, sorted."""
        with self._lock:
            return tuple(sorted(self._providers))

    def providers(self) -> tuple[VifPlugProvider, ...]:
        """The registered providers, sorted by type."""
        with self._lock:
            return tuple(self._providers[t] for t in sorted(self._providers))

    def __contains__(self, provider_type: object) -> bool:
        with self._lock:
            return provider_type in self._providers

    def __iter__(self) -> Iterator[str]:
        return iter(self.types())

    def __len__(self) -> int:
        with self._lock:
            return len(self._providers)

    def run_all(self) -> bool:
        """Call every provider's ``run``; return whether any reported a change.

        Every provider is called, even after one returned ``True``. A
        provider that raises is logged (rate-limited, with its traceback)
        and counts as unchanged; the others still run.
        """
        changed = False
        with self._lock:
            for provider_type, provider in sorted(self._providers.items()):
                try:
                    if provider.run():
                        changed = True
                except Exception as exc:
                    self._run_errors.exception(
                        ("run", provider_type),
                        "VIF plug provider %s raised in run()",
                        provider_type,
                        exc=exc,
                    )
        return changed

    def destroy_all(self) -> dict[str, Exception]:
        """Unregister every provider.

        Errors do not stop the others. Returns the providers whose
        ``destroy`` failed (they stay registered), with their error.
        """
        failures: dict[str, Exception] = {}
        for provider_type in self.types():
            try:
                self.unregister(provider_type)
            except Exception as exc:
                failures[provider_type] = exc
        return failures

    def load_entry_points(self, only: Iterable[str] | None = None) -> LoadReport:
        """Register the providers that installed distributions declare.

        Each entry point of the ``ovn_vif.providers`` group names a
        :class:`VifPlugProvider` subclass (or any callable returning an
        instance); it is called without arguments and registered. A plugin
        that fails to import, to instantiate or to initialise is logged with
        its name and the reason, and reported in :attr:`LoadReport.failed`;
        the others are still loaded.

        :param only: entry-point names to load; ``None`` loads all of them.
        """
        wanted = None if only is None else set(only)
        registered: list[str] = []
        failed: list[LoadFailure] = []
        skipped: list[str] = []
        for ep in _entry_points():
            if wanted is not None and ep.name not in wanted:
                skipped.append(ep.name)
                continue
            stage = "import"
            try:
                factory = ep.load()
                stage = "instantiate"
                provider = factory()
                stage = "register"
                self.register(provider)
            except Exception as exc:
                reason = f"failed to {stage} {ep.value}: {type(exc).__name__}: {exc}"
                LOG.warning("VIF plug provider plugin %r %s", ep.name, reason)
                failed.append(LoadFailure(name=ep.name, value=ep.value, reason=reason, error=exc))
                continue
            registered.append(provider.type)
        return LoadReport(
            registered=tuple(registered), failed=tuple(failed), skipped=tuple(skipped)
        )


#: The registry the ``ovn-vif`` agent uses.
default_registry = Registry()
