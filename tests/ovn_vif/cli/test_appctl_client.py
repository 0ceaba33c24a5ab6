"""``ovn-vif appctl`` against servers that answer big, or never.

A ``status --json`` of 682 kB took ``ovn-vif appctl`` about 30 s (the
``ovs`` package's pure-Python JSON parser) and exited 0 although ``-T``
defaults to 10 s; ``ovs-appctl`` takes 0.1 s. The servers here speak the
unixctl protocol on a real unix socket: one replies 2 MB, one never replies;
``ovs-appctl`` is run against the first for comparison.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.agent import ovn_vif_command

BIG = 2_000_000


def _serve(path: Path, answer: Callable[[socket.socket, dict[str, object]], None]) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()

    def run() -> None:
        with listener:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    data = b""
                    while not data.rstrip().endswith(b"}"):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if data:
                        answer(conn, json.loads(data))

    threading.Thread(target=run, daemon=True).start()
    return listener


@pytest.fixture
def big_server(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "big.ctl"

    def answer(conn: socket.socket, request: dict[str, object]) -> None:
        text = "".join(f"line {i} {{with braces}}\n" for i in range(BIG // 24))
        reply = {"id": request["id"], "error": None, "result": text}
        conn.sendall(json.dumps(reply).encode())

    listener = _serve(path, answer)
    yield path
    listener.close()


@pytest.fixture
def silent_server(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "silent.ctl"
    listener = _serve(path, lambda conn, request: time.sleep(30))
    yield path
    listener.close()


def _appctl(*argv: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    result = subprocess.run(
        [*ovn_vif_command(), "appctl", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, time.monotonic() - start


def test_a_large_reply_is_read_as_fast_as_ovs_appctl_reads_it(big_server: Path) -> None:
    result, took = _appctl("-t", str(big_server), "status", "--json")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) >= BIG * 0.9
    assert result.stdout.startswith("line 0 {with braces}\n")
    # Python's start-up is most of it; ovs.jsonrpc's parser took > 60 s for this.
    assert took < 5, took
    if shutil.which("ovs-appctl"):
        start = time.monotonic()
        ovs = subprocess.run(
            ["ovs-appctl", "-t", str(big_server), "status"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ovs.returncode == 0, ovs.stderr
        assert ovs.stdout == result.stdout
        assert took < 5 + (time.monotonic() - start)


def test_no_reply_within_the_timeout_exits_1(silent_server: Path) -> None:
    result, took = _appctl("-T", "1", "-t", str(silent_server), "status")
    assert result.returncode == 1
    assert "no reply to 'status' within 1 s" in result.stderr
    assert took < 5, took
