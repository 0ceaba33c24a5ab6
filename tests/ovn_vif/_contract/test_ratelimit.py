from __future__ import annotations

import logging

import pytest
from tests.support import Clock

from ovn_vif import RateLimitedLogger


def test_burst_then_refill_and_dropped_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(1000.0)
    rl = RateLimitedLogger(logging.getLogger("t.rl"), rate=6, burst=1, clock=clock)
    with caplog.at_level(logging.WARNING, logger="t.rl"):
        assert rl.warning("k", "msg %s", 1) is True
        assert rl.warning("k", "msg %s", 2) is False
        assert rl.warning("k", "msg %s", 3) is False
        clock.now += 10  # 6 per minute: one token every 10 s
        assert rl.warning("k", "msg %s", 4) is True
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["msg 1", "msg 4 (dropped 2 similar message(s))"]


def test_keys_are_independent(caplog: pytest.LogCaptureFixture) -> None:
    rl = RateLimitedLogger(logging.getLogger("t.rl2"), clock=Clock(1000.0))
    with caplog.at_level(logging.WARNING, logger="t.rl2"):
        assert rl.warning(("unknown-type", "lsp1"), "a")
        assert rl.warning(("unknown-type", "lsp2"), "b")
        assert not rl.warning(("unknown-type", "lsp1"), "a")
    assert [r.getMessage() for r in caplog.records] == ["a", "b"]


def test_disabled_level_consumes_no_token(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("t.rl3")
    rl = RateLimitedLogger(logger, clock=Clock(1000.0))
    logger.setLevel(logging.ERROR)
    try:
        assert rl.info("k", "quiet") is False
    finally:
        logger.setLevel(logging.NOTSET)
    with caplog.at_level(logging.INFO, logger="t.rl3"):
        assert rl.info("k", "loud") is True
