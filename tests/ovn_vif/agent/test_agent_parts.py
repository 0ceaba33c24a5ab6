"""The agent's building blocks without daemons: its JSON stream parser, remotes, set-up errors."""

from __future__ import annotations

import json
import random

import ovs.json
import pytest

from ovn_vif import Registry
from ovn_vif.agent import Agent, AgentConfig, AgentSetupError, RemoteError, _connections, _tls
from ovn_vif.agent._connections import split_remotes, validate_remote
from ovn_vif.agent._json import ORIGINAL_PARSER, StreamParser, install, installed, uninstall

# -- ovsjson ---------------------------------------------------------------------


def _feed_in_pieces(parser: StreamParser, text: str, rng: random.Random) -> int:
    pos = 0
    while not parser.is_done() and pos < len(text):
        piece = text[pos : pos + rng.randint(1, 40)]
        used = parser.feed(piece)
        assert used == len(piece) or parser.is_done()
        pos += used
    return pos


def test_stream_parser_finds_messages_split_anywhere() -> None:
    rng = random.Random(4)
    for n in range(200):
        value = {
            "id": n,
            "method": "update3",
            "params": [
                None,
                "00000000-0000-0000-0000-000000000000",
                {
                    "Interface": {
                        f"u{i}": {"name": 'a"}]{[\\' * (i % 3), "n": i, "f": 0.5, "x": [None, True]}
                        for i in range(rng.randint(0, 20))
                    }
                },
            ],
            "snow": "\u2603 é",
        }
        text = json.dumps(value) + '  {"id": "next"}'
        parser = StreamParser()
        used = _feed_in_pieces(parser, text, rng)
        assert parser.finish() == value
        assert text[used:] == '  {"id": "next"}'


def test_stream_parser_passes_over_long_messages_in_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of a long message where it cannot end skip the token scan,
    wherever the pieces split strings, escapes and brackets."""
    scans = 0
    scan = StreamParser._scan

    def counting(self: StreamParser, *args: object) -> int:
        nonlocal scans
        scans += 1
        return scan(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(StreamParser, "_scan", counting)
    rng = random.Random(7)
    nasty = ['a"}]{[\\', "\\\\", '\\"', "\\", "}}}]]]", '"{"', "\u2603"]
    for n in range(40):
        value = {
            "id": n,
            "result": {
                f"u{i}": {
                    "s": "".join(rng.choice(nasty) for _ in range(rng.randint(0, 6))),
                    "m": ["map", [[str(i), "}"], ["x", "{["]]],
                    "n": [[[[i]]], {"k": {}}],
                }
                for i in range(rng.randint(100, 400))
            },
        }
        text = json.dumps(value) + ' {"id": "next"}'
        parser = StreamParser()
        pos = 0
        feeds = 0
        while not parser.is_done():
            piece = text[pos : pos + rng.randint(1, 4096)]
            pos += parser.feed(piece)
            feeds += 1
        assert parser.finish() == value
        assert text[pos:] == ' {"id": "next"}'
        assert feeds > 4
    assert scans < 40 * 5  # a few pieces per message at most, not every one


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"a": 1} x', "trailing garbage at end of input"),
        ('x{"a": 1}', "syntax error"),
        ('{"a": 1', "unexpected end of input"),
        ("  ", "empty input stream"),
        ('}{"a": 1}', "unexpected closing bracket"),
    ],
)
def test_stream_parser_reports_errors_like_ovs(text: str, error: str) -> None:
    parser = StreamParser(check_trailer=True)
    parser.feed(text)
    result = parser.finish()
    assert isinstance(result, str)
    assert error in result


def test_install_replaces_the_pure_python_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ovs.json, "Parser", ORIGINAL_PARSER)
    monkeypatch.setattr(ovs.json, "PARSER", ovs.json.PARSER_PY)
    assert install() is True
    assert installed()
    assert install() is False
    assert ovs.json.from_string('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    uninstall()
    assert ovs.json.Parser is ORIGINAL_PARSER


def test_install_keeps_the_c_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ovs.json, "Parser", ORIGINAL_PARSER)
    monkeypatch.setattr(ovs.json, "PARSER", ovs.json.PARSER_C)
    assert install() is False
    assert not installed()


# -- remotes ---------------------------------------------------------------------


def test_split_remotes() -> None:
    assert split_remotes("tcp:10.0.0.1:6642,tcp:10.0.0.2:6642, unix:/run/sb.sock") == [
        "tcp:10.0.0.1:6642",
        "tcp:10.0.0.2:6642",
        "unix:/run/sb.sock",
    ]
    assert split_remotes("tcp:[::1]:6642") == ["tcp:[::1]:6642"]
    assert split_remotes("") == []


def test_validate_remote_names_the_bad_member() -> None:
    assert validate_remote("unix:/a,tcp:1.2.3.4:6642", "Southbound database") == [
        "unix:/a",
        "tcp:1.2.3.4:6642",
    ]
    with pytest.raises(RemoteError, match=r"Southbound database remote 'sctp:x' is not a valid"):
        validate_remote("unix:/a, sctp:x", "Southbound database")
    with pytest.raises(RemoteError, match="remote is empty"):
        validate_remote(" ", "local database")


# -- Agent set-up errors (before any connection) ---------------------------------


def test_a_tls_refusal_seen_earlier_is_named_when_the_last_attempt_lost_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With TLS 1.3 the server's verdict on the client's certificate comes
    after the client's handshake, and a reset can swallow it: the attempts
    that read it must still name it in the error when the last one did not
    (CI saw ``no reply to get_schema`` alone for an expired certificate)."""
    member = "ssl:127.0.0.1:6642"
    refusal = "the server refused the connection: sslv3 alert certificate expired"
    attempts: list[str] = []

    def fetch_one(*args: object, **kwargs: object) -> tuple[None, str]:
        attempts.append(member)
        if len(attempts) == 1:
            _tls.record_failure(member, refusal)
            return None, refusal
        _tls.clear_failure(member)  # the next handshake completed
        return None, "no reply to get_schema"

    monkeypatch.setattr(_connections, "_fetch_one", fetch_one)
    try:
        with pytest.raises(RemoteError) as raised:
            _connections.fetch_schema(
                member,
                "OVN_Southbound",
                timeout=30,
                what="Southbound database",
                stop=lambda: len(attempts) >= 2,
            )
    finally:
        _tls.clear_failure(member)
    assert len(attempts) == 2
    assert str(raised.value) == (
        "cannot read the OVN_Southbound schema from the Southbound database "
        f"({member}: no reply to get_schema, after {refusal})"
    )


def test_agent_without_providers_lists_installed() -> None:
    agent = Agent(AgentConfig(), Registry())
    try:
        with pytest.raises(
            AgentSetupError, match="no VIF plug provider is registered; installed: dummy"
        ):
            agent.start()
    finally:
        agent.close()


def test_agent_unknown_provider() -> None:
    agent = Agent(AgentConfig(providers=["dummy", "bogus"]))
    try:
        with pytest.raises(AgentSetupError, match=r"unknown VIF plug provider type\(s\): bogus"):
            agent.start()
    finally:
        agent.close()


def test_agent_requires_start_before_run() -> None:
    agent = Agent(AgentConfig())
    try:
        with pytest.raises(AgentSetupError, match="start"):
            agent.run()
    finally:
        agent.close()
