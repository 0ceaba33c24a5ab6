"""log_safe(): database text in log lines and terminal output is one escaped,
bounded line; RateLimitedLogger applies it to its arguments and tracebacks."""

from __future__ import annotations

import logging

import pytest

from ovn_vif import RateLimitedLogger, log_safe


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("lsp1", "lsp1"),
        ("vm\neth0", "vm\\neth0"),
        ("a\r\nb\tc", "a\\r\\nb\\tc"),
        ("back\\slash", "back\\\\slash"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("nul\x00", "nul\\x00"),
        ("del\x7f", "del\\x7f"),
        ("\x85next-line", "\\x85next-line"),
        ("line\u2028sep", "line\\u2028sep"),
        ("\u202eevil", "\\u202eevil"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("ünïcödé-pört", "ünïcödé-pört"),
        ("日本語", "日本語"),
        ("", ""),
    ],
)
def test_escapes(raw: str, shown: str) -> None:
    assert log_safe(raw) == shown
    assert log_safe(raw).isprintable()


def test_non_str_values() -> None:
    assert log_safe(None) == "None"
    assert log_safe(1500) == "1500"
    assert log_safe(ValueError("bad\nvalue")) == "bad\\nvalue"


def test_bounded() -> None:
    assert log_safe("9" * 10_000) == "9" * 256 + "...(9744 more characters)"
    assert log_safe("\n" * 10, limit=3) == "\\n\\n\\n...(7 more characters)"
    assert log_safe("x" * 256) == "x" * 256


def test_rate_limited_logger_escapes_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="test.logsafe")
    rl = RateLimitedLogger(logging.getLogger("test.logsafe"))
    rl.warning("a", "lport %s wants MTU %d", "vm\neth0 forged", 1500)
    empty: dict[str, str] = {}
    try:
        empty["lsp\nforged: line"]
    except KeyError as exc:
        rl.exception("b", "failed for %s", "x\ny", exc=exc)
    first, second = caplog.records
    assert first.getMessage() == "lport vm\\neth0 forged wants MTU 1500"
    assert second.getMessage() == "failed for x\\ny"
    assert second.exc_info is not None
    formatted = logging.Formatter().format(second)
    assert "KeyError: 'lsp\\\\nforged: line'" in formatted
    assert "\nforged" not in formatted
    assert all(not line.startswith("forged") for line in caplog.text.splitlines())


def test_rate_limited_logger_chained_traceback() -> None:
    from ovn_vif._contract.logsafe import safe_traceback

    try:
        try:
            int("x")
        except ValueError as inner:
            raise RuntimeError("outer\nline") from inner
    except RuntimeError as exc:
        text = safe_traceback(exc)
    assert "ValueError: invalid literal" in text
    assert "direct cause" in text
    assert text.endswith("RuntimeError: outer\\nline")
