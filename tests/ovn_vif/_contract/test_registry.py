"""The registry keeps the rules of OVN's lib/vif-plug-provider.c."""

from __future__ import annotations

import errno
import logging
import threading

import pytest

from ovn_vif import (
    PlugSpec,
    PortContext,
    ProviderExistsError,
    ProviderNotRegisteredError,
    Registry,
    VifPlugProvider,
    check_provider_type,
)


class Recorder(VifPlugProvider):
    """A provider that records its life cycle and can be told to fail."""

    def __init__(
        self,
        provider_type: str = "rec",
        *,
        fail_init: bool = False,
        fail_destroy: bool = False,
        run_result: bool = False,
        run_raises: bool = False,
    ) -> None:
        self.type = provider_type
        self.calls: list[str] = []
        self.fail_init = fail_init
        self.fail_destroy = fail_destroy
        self.run_result = run_result
        self.run_raises = run_raises

    def init(self) -> None:
        self.calls.append("init")
        if self.fail_init:
            raise OSError(errno.ENODEV, "no such device")

    def destroy(self) -> None:
        self.calls.append("destroy")
        if self.fail_destroy:
            raise RuntimeError("still busy")

    def run(self) -> bool:
        self.calls.append("run")
        if self.run_raises:
            raise ValueError("table corrupt")
        return self.run_result

    def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
        return PlugSpec(name=ctx.lport_name)


def test_register_calls_init_and_get_returns_the_instance() -> None:
    reg = Registry()
    provider = Recorder()
    assert not reg.has_providers()
    reg.register(provider)
    assert provider.calls == ["init"]
    assert reg.get("rec") is provider
    assert reg.has_providers()
    assert "rec" in reg
    assert list(reg) == ["rec"]
    assert len(reg) == 1


def test_duplicate_type_is_eexist_and_init_not_called() -> None:
    reg = Registry()
    reg.register(Recorder())
    second = Recorder()
    with pytest.raises(ProviderExistsError) as info:
        reg.register(second)
    assert info.value.errno == errno.EEXIST
    assert info.value.provider_type == "rec"
    assert second.calls == []


def test_failing_init_propagates_and_provider_is_not_registered() -> None:
    reg = Registry()
    provider = Recorder(fail_init=True)
    with pytest.raises(OSError, match="no such device"):
        reg.register(provider)
    assert reg.get("rec") is None
    assert not reg.has_providers()
    # The type is free again: a working provider can take it.
    reg.register(Recorder())
    assert reg.get("rec") is not None


def test_unregister_unknown_type_is_einval() -> None:
    with pytest.raises(ProviderNotRegisteredError) as info:
        Registry().unregister("nope")
    assert info.value.errno == errno.EINVAL


def test_unregister_calls_destroy_and_forgets() -> None:
    reg = Registry()
    provider = Recorder()
    reg.register(provider)
    reg.unregister("rec")
    assert provider.calls == ["init", "destroy"]
    assert reg.get("rec") is None


def test_failing_destroy_propagates_and_provider_stays() -> None:
    reg = Registry()
    provider = Recorder(fail_destroy=True)
    reg.register(provider)
    with pytest.raises(RuntimeError, match="still busy"):
        reg.unregister("rec")
    assert reg.get("rec") is provider
    provider.fail_destroy = False
    reg.unregister("rec")
    assert reg.get("rec") is None


def test_run_all_calls_every_provider_without_short_circuit() -> None:
    reg = Registry()
    first = Recorder("a", run_result=True)
    second = Recorder("b", run_result=False)
    third = Recorder("c", run_result=True)
    for provider in (first, second, third):
        reg.register(provider)
    assert reg.run_all() is True
    assert [p.calls.count("run") for p in (first, second, third)] == [1, 1, 1]


def test_run_all_reports_false_when_nothing_changed() -> None:
    reg = Registry()
    reg.register(Recorder("a"))
    reg.register(Recorder("b"))
    assert reg.run_all() is False
    assert Registry().run_all() is False


def test_run_all_logs_a_raising_provider_and_runs_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reg = Registry()
    broken = Recorder("a-broken", run_raises=True)
    healthy = Recorder("b-healthy", run_result=True)
    reg.register(broken)
    reg.register(healthy)
    with caplog.at_level(logging.ERROR, logger="ovn_vif._contract.registry"):
        assert reg.run_all() is True
    assert healthy.calls.count("run") == 1
    (record,) = caplog.records
    assert "a-broken" in record.getMessage()
    assert record.exc_info is not None
    assert "table corrupt" in str(record.exc_info[1])


def test_run_all_rate_limits_a_provider_that_keeps_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reg = Registry()
    reg.register(Recorder("broken", run_raises=True))
    with caplog.at_level(logging.ERROR, logger="ovn_vif._contract.registry"):
        for _ in range(20):
            reg.run_all()
    assert len(caplog.records) == 1


def test_destroy_all_unregisters_everything_and_reports_failures() -> None:
    reg = Registry()
    ok = Recorder("ok")
    stuck = Recorder("stuck", fail_destroy=True)
    reg.register(ok)
    reg.register(stuck)
    failures = reg.destroy_all()
    assert list(failures) == ["stuck"]
    assert isinstance(failures["stuck"], RuntimeError)
    assert reg.types() == ("stuck",)
    assert ok.calls == ["init", "destroy"]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, TypeError),
        (42, TypeError),
        (b"dummy", TypeError),
        ("", ValueError),
        ("two words", ValueError),
        ("tab\there", ValueError),
        ("new\nline", ValueError),
        ("nul\x00", ValueError),
        ("bell\x07", ValueError),
        # Each of these was accepted once, and then could not be named:
        # ':' splits MODULE:CLASS (ovn-vif demo --provider acme:v2), '=' and
        # ',' split option lists, quotes and braces break OVSDB map syntax.
        ("acme:v2", ValueError),
        ("acme=v2", ValueError),
        ("acme,v2", ValueError),
        ("acme/v2", ValueError),
        ('acme"', ValueError),
        ("{acme}", ValueError),
        ("acmé", ValueError),
        ("-acme", ValueError),
        ("a" * 65, ValueError),
    ],
)
def test_bad_provider_type_is_refused(value: object, error: type[Exception]) -> None:
    provider = Recorder()
    provider.type = value  # type: ignore[assignment]
    with pytest.raises(error):
        Registry().register(provider)
    assert provider.calls == []


@pytest.mark.parametrize("value", ["acme", "acme-v2", "vendor.nic_2", "A9", "a" * 64])
def test_good_provider_types_are_accepted(value: str) -> None:
    provider = Recorder()
    provider.type = value
    Registry().register(provider)
    assert provider.calls == ["init"]


def test_a_refused_type_says_which_characters_and_what_would_do() -> None:
    with pytest.raises(ValueError, match=r"has ':'.*for example 'acme-v2'"):
        check_provider_type("acme:v2")


def test_missing_type_attribute_is_a_type_error() -> None:
    class NoType(VifPlugProvider):
        def prepare_create(self, ctx: PortContext) -> PlugSpec | None:
            return None

    with pytest.raises(TypeError, match="provider type must be a str"):
        Registry().register(NoType())


def test_non_provider_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="VifPlugProvider instance"):
        Registry().register(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="VifPlugProvider instance"):
        Registry().register(Recorder)  # type: ignore[arg-type]


def test_abstract_prepare_create_must_be_implemented() -> None:
    class Incomplete(VifPlugProvider):
        type = "incomplete"

    with pytest.raises(TypeError, match="prepare_create"):
        Incomplete()  # type: ignore[abstract]


def test_concurrent_register_and_unregister_keep_the_rules() -> None:
    """Many threads race on the same types: every outcome is one of the
    documented ones and init/destroy are balanced per provider."""
    reg = Registry()
    types = [f"t{i}" for i in range(8)]
    created: list[Recorder] = []
    created_lock = threading.Lock()
    outcomes: dict[str, int] = {"registered": 0, "eexist": 0, "unregistered": 0, "einval": 0}
    outcome_lock = threading.Lock()
    start = threading.Barrier(16)

    def count(key: str) -> None:
        with outcome_lock:
            outcomes[key] += 1

    def worker(seed: int) -> None:
        start.wait()
        for i in range(300):
            provider_type = types[(seed + i) % len(types)]
            if (seed + i) % 2:
                provider = Recorder(provider_type)
                with created_lock:
                    created.append(provider)
                try:
                    reg.register(provider)
                    count("registered")
                except ProviderExistsError:
                    count("eexist")
            else:
                try:
                    reg.unregister(provider_type)
                    count("unregistered")
                except ProviderNotRegisteredError:
                    count("einval")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(outcomes.values()) == 16 * 300
    assert outcomes["registered"] - outcomes["unregistered"] == len(reg)
    for provider in created:
        # Refused providers were never initialised; registered ones were
        # initialised once and destroyed at most once.
        assert provider.calls in ([], ["init"], ["init", "destroy"])
    live = set(reg.providers())
    for provider in created:
        if provider in live:
            assert provider.calls == ["init"]
    assert sum(p.calls == ["init"] for p in created) == len(reg)
