"""A faster JSON parser for ``ovs.jsonrpc``, built on the standard library's C decoder.

The ``ovs`` wheel on PyPI ships without its C extension (``ovs._json``), so
``ovs.jsonrpc`` parses every OVSDB message one character at a time in
Python. With a thousand ports that is most of an agent's CPU time (see
``docs/performance.rst``). :class:`StreamParser` keeps the interface
``ovs.jsonrpc.Connection`` expects from ``ovs.json.Parser`` (``feed``,
``is_done``, ``finish``) but only looks for where the message ends and
hands the complete text to :func:`json.loads`. A piece of a long message
that cannot contain its end is passed over with a few string operations
that run in C; only the pieces where the message may end are scanned
bracket by bracket.

:func:`install` swaps it in for the whole process; :class:`~ovn_vif.agent.Agent`
does so unless told not to. It does nothing when ``ovs`` has its C parser.
"""

from __future__ import annotations

import json
import re
from typing import Any

import ovs.json

#: ``ovs.json.Parser`` as the ``ovs`` package defines it.
ORIGINAL_PARSER: Any = ovs.json.Parser

# A whole string (escapes included), a bracket, or a lone quote that opens a
# string not yet complete in the text seen so far.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]"]', re.DOTALL)
_OPEN = frozenset("{[")
_CLOSE = frozenset("}]")
# For the bulk check: every character but a bracket, and brackets as "(" or ")".
_NOT_BRACKET = re.compile(r"[^{}\[\]]+")
_PARENS = str.maketrans("{[}]", "(())")


class StreamParser:
    """Find one JSON object or array in a stream of text fed in pieces.

    >>> p = StreamParser()
    >>> p.feed('{"id": 1, "s": "a}b')
    19
    >>> p.is_done()
    False
    >>> p.feed('"} {"next": 2}')
    2
    >>> p.finish()
    {'id': 1, 's': 'a}b'}

    ``feed`` consumes all of its input unless the value ends in it, in which
    case it returns how many characters belonged to the value. ``finish``
    returns the value, or an error message (a ``str``) as
    ``ovs.json.Parser.finish`` does.
    """

    def __init__(self, check_trailer: bool = False) -> None:
        self._check_trailer = check_trailer
        self._parts: list[str] = []
        # Text from the start of an unterminated string, rescanned on the next feed.
        self._tail = ""
        self._depth = 0
        self._done = False
        self._error: str | None = None
        self._value: Any = None

    def feed(self, s: str) -> int:
        """Consume text; return how many characters of *s* were used."""
        if self._done:
            if self._check_trailer:
                self._trailer(s)
                return len(s)
            return 0
        text = self._tail + s
        if self._skip(text):
            return len(s)
        return self._scan(text, len(self._tail), s)

    def _skip(self, text: str) -> bool:
        """Take in all of *text* if the value cannot end in it.

        With every escape sequence ``\\\\`` and ``\\"`` masked (the same
        length, so positions hold), each remaining quote opens or closes a
        string; an odd count leaves the last string open, to be rescanned
        with the next piece. The brackets between strings, with matched
        pairs removed, leave ``k`` closers then ``m`` openers: the depth
        never falls below ``depth - k``, so if that is positive the value
        goes on past *text* and the depth becomes ``depth - k + m``. At the
        start of a value the first bracket is counted as the depth.
        """
        masked = text.replace("\\\\", "__").replace('\\"', "__")
        cut = masked.rfind('"') if masked.count('"') % 2 else len(masked)
        outside = "".join(masked[:cut].split('"')[0::2])
        brackets = _NOT_BRACKET.sub("", outside).translate(_PARENS)
        depth = self._depth
        if depth == 0:
            if not brackets.startswith("(") or outside.lstrip()[:1] not in _OPEN:
                return False
            depth, brackets = 1, brackets[1:]
        while "()" in brackets:
            brackets = brackets.replace("()", "")
        opened = len(brackets.lstrip(")"))
        closed = len(brackets) - opened
        if depth - closed <= 0:
            return False
        self._depth = depth + opened - closed
        self._parts.append(text[:cut])
        self._tail = text[cut:]
        return True

    def _scan(self, text: str, tail_len: int, s: str) -> int:
        """Find the value's end in *text* (``self._tail + s``) token by token."""
        self._tail = ""
        depth = self._depth
        for match in _TOKEN.finditer(text):
            token = match.group()
            if token == '"':
                self._parts.append(text[: match.start()])
                self._tail = text[match.start() :]
                self._depth = depth
                return len(s)
            if token in _OPEN:
                depth += 1
            elif token in _CLOSE:
                depth -= 1
                if depth <= 0:
                    end = match.end()
                    self._complete("".join(self._parts) + text[:end], depth)
                    if self._check_trailer:
                        self._trailer(text[end:])
                        return len(s)
                    return end - tail_len
        self._depth = depth
        self._parts.append(text)
        return len(s)

    def _complete(self, text: str, depth: int) -> None:
        self._done = True
        self._parts = []
        if depth < 0:
            self._error = "syntax error: unexpected closing bracket"
            return
        try:
            self._value = json.loads(text)
        except ValueError as exc:
            self._error = f"syntax error: {exc}"

    def _trailer(self, text: str) -> None:
        if text.strip() and self._error is None:
            self._error = "trailing garbage at end of input"

    def is_done(self) -> bool:
        """Whether a whole value (or an error) was found."""
        return self._done

    def finish(self) -> Any:
        """Return the value, or an error message string."""
        if not self._done:
            text = "".join(self._parts) + self._tail
            if not text.strip():
                return "empty input stream"
            return "unexpected end of input"
        if self._error is not None:
            return self._error
        return self._value


def installed() -> bool:
    """Whether ``ovs.json.Parser`` is this module's parser."""
    return ovs.json.Parser is StreamParser


def install() -> bool:
    """Make ``ovs.jsonrpc`` use :class:`StreamParser` in this process.

    Does nothing (and returns ``False``) when ``ovs`` has its C parser or
    the swap was already made. Connections already receiving a message
    finish it with the parser they started with.
    """
    if ovs.json.PARSER == ovs.json.PARSER_C or installed():
        return False
    ovs.json.Parser = StreamParser
    return True


def uninstall() -> None:
    """Give ``ovs.jsonrpc`` back the ``ovs`` package's own parser."""
    ovs.json.Parser = ORIGINAL_PARSER
