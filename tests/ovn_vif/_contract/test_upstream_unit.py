"""The steps of OVN's own unit test (tests/ovn-vif-plug.at, test-vif-plug.c)."""

from __future__ import annotations

import errno

import pytest

from ovn_vif import (
    OpType,
    PlugSpec,
    PortContext,
    ProviderExistsError,
    ProviderNotRegisteredError,
    Registry,
)
from ovn_vif_dummy import DummyProvider


def test_upstream_vif_plug_unit_steps() -> None:
    reg = Registry()

    # 1. unregister on an empty registry: EINVAL.
    with pytest.raises(ProviderNotRegisteredError) as info:
        reg.unregister("dummy")
    assert info.value.errno == errno.EINVAL

    # 2. register, get, register again: EEXIST.
    dummy = DummyProvider()
    reg.register(dummy)
    assert reg.get("dummy") is dummy
    with pytest.raises(ProviderExistsError) as info2:
        reg.register(DummyProvider())
    assert info2.value.errno == errno.EEXIST

    # 3. the maintained options name the dummy option.
    provider = reg.get("dummy")
    assert provider is not None
    maintained = provider.maintained_iface_options()
    assert maintained is not None
    assert "vif-plug-dummy-option" in maintained

    # 4. prepare a CREATE for lsp1 with empty options.
    ctx = PortContext(op_type=OpType.CREATE, lport_name="lsp1", lport_options={})
    spec = provider.prepare_create(ctx)
    assert isinstance(spec, PlugSpec)
    assert spec.name == "lsp1"
    assert spec.type == "internal"
    assert spec.options["vif-plug-dummy-option"] == "value"

    # 5. finish, release and destroy_all run without error.
    provider.finish(ctx, spec)
    provider.release(ctx, spec)
    assert reg.destroy_all() == {}
    assert not reg.has_providers()
