"""Escaping of database-sourced text before it reaches a log line or a terminal.

Logical port names, LSP options, interface names and the reasons built from
them come from the databases, which a CMS (and through it, a tenant)
writes. Written raw, a newline in a name splits one log line into two, the
second starting with text of the tenant's choosing, and terminal control
sequences reach whoever reads the log. :func:`log_safe` turns any such value
into one printable line of bounded length; :class:`RateLimitedLogger`
applies it to every ``str`` argument it logs.
"""

from __future__ import annotations

import traceback

#: Default cap on the characters kept from one value (before escaping).
LOG_SAFE_LIMIT = 256

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    known = _ESCAPES.get(char)
    if known is not None:
        return known
    if char.isprintable() and char != "\x7f":
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def log_safe(value: object, *, limit: int = LOG_SAFE_LIMIT) -> str:
    """Return *value* as one printable, bounded line for a log or a terminal.

    Backslashes, control characters (newlines included), and every other
    character that Python does not consider printable (line and paragraph
    separators, bidirectional overrides, unassigned code points) are
    written as backslash escapes; printable text, non-ASCII included, is
    kept. Values longer than *limit* characters are cut, saying how much
    was left out. Non-``str`` values go through ``str()`` first; ``None``
    stays ``'None'``.

    >>> log_safe("vm\\neth0")
    'vm\\\\neth0'
    >>> print(log_safe("vm\\neth0 \\u202egnp.exe"))
    vm\\neth0 \\u202egnp.exe
    >>> log_safe("lsp-é")
    'lsp-é'
    >>> log_safe("9" * 10_000, limit=8)
    '99999999...(9992 more characters)'

    Use it for every database-sourced value in a log line (or in text
    meant for a terminal); keep the raw value in data meant for programs
    (JSON output, reports).
    """
    text = value if isinstance(value, str) else str(value)
    rest = len(text) - limit
    if rest > 0:
        text = text[:limit]
    if not text.isprintable() or "\\" in text:
        text = "".join(_escape_char(c) for c in text)
    if rest > 0:
        text = f"{text}...({rest} more characters)"
    return text


def safe_traceback(exc: BaseException) -> str:
    """Format *exc* and its chain like :mod:`traceback`, messages escaped.

    The stack lines come from source files; the exception messages, which
    may quote database text, go through :func:`log_safe` (one line each).
    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__:
            current = None
        else:
            current = current.__context__
    parts: list[str] = []
    for number, item in enumerate(reversed(chain)):
        if number:
            cause = item.__cause__ is not None
            parts.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
                if cause
                else "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
        if item.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(item.__traceback__))
        message = log_safe(item, limit=1024)
        name = type(item).__qualname__
        parts.append(f"{name}: {message}\n" if message else f"{name}\n")
    return "".join(parts).rstrip("\n")
