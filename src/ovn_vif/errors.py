"""Exceptions raised by ovn-vif.

Every exception ovn-vif raises on purpose derives from :class:`OvnVifError`.
Registry errors carry the ``errno`` the C registry in OVN returns for the
same situation, so code ported from C can keep its checks.
"""

from __future__ import annotations

import errno as _errno


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
