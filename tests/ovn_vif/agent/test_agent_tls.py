"""``ssl:`` remotes: the agent against a real ovsdb-server listening on ``pssl:``.

The PKI is made by the tests with ``openssl`` (tests/support/pki.py): a CA
that signs the server's and the chassis's certificates, a second CA that
signs nothing the server trusts, and expired certificates.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support import wait_for
from tests.support.agent import AgentProcess, add_lsps, appctl, run_agent, wait_plugged
from tests.support.pki import Cert, Pki

from ovn_vif.sandbox import Sandbox

pytestmark = pytest.mark.daemons


class Certs:
    """The test PKI: made once per module (openssl is the slow part)."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.ca = pki.ca("ca")
        self.server = pki.cert("server", self.ca)
        self.client = pki.cert("hv1", self.ca)
        self.rogue_ca = pki.ca("rogue")
        self.rogue_client = pki.cert("rogue-hv1", self.rogue_ca)
        self.expired_client = pki.cert("expired-hv1", self.ca, days=-1)
        self.expired_server = pki.cert("expired-server", self.ca, days=-1)


class TlsWorld:
    def __init__(self, stack: Sandbox, certs: Certs) -> None:
        self.stack = stack
        self.ca = certs.ca
        self.server = certs.server
        self.client = certs.client
        self.rogue_ca = certs.rogue_ca
        self.rogue_client = certs.rogue_client
        self.expired_client = certs.expired_client
        self.expired_server = certs.expired_server
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.remote = f"ssl:127.0.0.1:{self.port}"
        self.serve(self.server)

    def serve(self, server: Cert) -> None:
        """(Re)start the Southbound ovsdb-server with a ``pssl:`` remote and *server*'s files."""
        sb = self.stack.sb
        sb.extra_args = (
            f"--remote=pssl:{self.port}:127.0.0.1",
            f"--private-key={server.key}",
            f"--certificate={server.cert}",
            f"--ca-cert={self.ca.cert}",
        )
        sb.restart()
        wait_for(self._listening, f"ovsdb-server listening on port {self.port}")

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def options(self, client: Cert | None = None, ca: Path | None = None) -> tuple[str, ...]:
        client = client or self.client
        return ("-p", str(client.key), "-c", str(client.cert), "-C", str(ca or self.ca.cert))

    def set_ssl(self, client: Cert, ca: Path | None = None) -> None:
        self.stack.vsctl("set-ssl", str(client.key), str(client.cert), str(ca or self.ca.cert))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return Certs(Pki(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def tls(ovn_stack: Sandbox, certs: Certs) -> TlsWorld:
    return TlsWorld(ovn_stack, certs)


def test_ssl_southbound_with_command_line_files(
    tls: TlsWorld, start_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    # A clustered Southbound with one member down: the TLS one serves.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        down = f"ssl:127.0.0.1:{s.getsockname()[1]}"
    ctl = tmp_path / "agent.ctl"
    remotes = f"{down},{tls.remote}"
    agent = start_agent(tls.stack, "--ovn-remote", remotes, "--unixctl", str(ctl), *tls.options())
    add_lsps(tls.stack, "lsp1")
    wait_plugged(tls.stack, "lsp1")
    assert "Traceback" not in agent.log()
    # The status names the member in use and why the other one failed.
    status = json.loads(appctl(ctl, "status", "--json").stdout)["connections"]["southbound"]
    assert status["remote"] == remotes
    assert status["member"] == tls.remote
    assert status["connected"] is True
    text = appctl(ctl, "status").stdout
    assert f"Southbound: {remotes} (via {tls.remote}): connected, in sync" in text
    assert agent.stop() == 0


def test_ssl_files_from_the_ssl_table_are_followed(
    tls: TlsWorld, start_agent: Callable[..., AgentProcess]
) -> None:
    tls.set_ssl(tls.client)
    tls.stack.vsctl("set", "Open_vSwitch", ".", f'external_ids:ovn-remote="{tls.remote}"')
    ctl = tls.stack.root / "agent.ctl"
    agent = start_agent(tls.stack, "--unixctl", str(ctl))
    add_lsps(tls.stack, "lsp1")
    wait_plugged(tls.stack, "lsp1")

    # Files that cannot be used are not: the previous ones stay in effect.
    missing = tls.stack.root / "missing-privkey.pem"
    tls.stack.vsctl("set-ssl", str(missing), str(tls.client.cert), str(tls.ca.cert))
    wait_for(
        lambda: (
            "new TLS settings from the SSL table not used: cannot read the TLS private key "
            f"{missing}: No such file or directory; keeping the previous ones" in agent.log()
        ),
        "the warning about the missing key",
    )
    # The chassis gets a certificate the server does not trust; the next
    # connection uses it and fails, with one clear, rate-limited line.
    tls.set_ssl(tls.rogue_client, tls.rogue_ca.cert)
    wait_for(lambda: "TLS settings changed" in agent.log(), "the new TLS settings")
    tls.serve(tls.server)
    wait_for(
        lambda: f"cannot connect to the Southbound database at {tls.remote}: " in agent.log(),
        "a warning about the refused connection",
    )
    # Fixed in the SSL table: the agent reconnects by itself.
    tls.set_ssl(tls.client)
    add_lsps(tls.stack, "lsp2")
    wait_plugged(tls.stack, "lsp2")
    # The old failure is history once a connection succeeds: neither logged
    # again as if current nor kept in the status.
    mark = len(agent.log())
    status = json.loads(appctl(ctl, "status", "--json").stdout)
    assert status["connections"]["southbound"]["tls_failures"] == {}
    assert "last TLS failure" not in appctl(ctl, "status").stdout
    time.sleep(2)
    assert "cannot connect to the Southbound database" not in agent.log()[mark:]
    log = agent.log()
    assert "Traceback" not in log
    assert "Unplugging" not in log
    assert agent.stop() == 0


def _one_error_line(stderr: str, expected: str) -> str:
    """The one error line (retry warnings before it are log lines, not errors)."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if "error" in line and expected in line]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing key", "cannot read the TLS private key"),
        ("not a certificate", "is not a PEM certificate"),
        ("wrong CA", "certificate verify failed"),
        ("expired chassis certificate", "certificate expired"),
        ("expired server certificate", "certificate has expired"),
        ("no files", "no TLS private key (-p/--private-key)"),
    ],
)
def test_tls_problems_at_start_exit_2_with_one_line(
    tls: TlsWorld, tmp_path: Path, case: str, expected: str
) -> None:
    argv = ["--ovs-remote", tls.stack.ovs_remote, "--ovn-remote", tls.remote]
    argv += ["--connect-timeout", "1"]
    if case == "missing key":
        argv += ["-p", str(tmp_path / "nope.pem"), *tls.options()[2:]]
    elif case == "not a certificate":
        argv += [*tls.options()[:4], "-C", str(tls.client.key)]
    elif case == "wrong CA":
        argv += tls.options(ca=tls.rogue_ca.cert)
    elif case == "expired chassis certificate":
        argv += tls.options(client=tls.expired_client)
    elif case == "expired server certificate":
        tls.serve(tls.expired_server)
        argv += tls.options()
    result = run_agent(*argv)
    assert result.returncode == 2, result.stderr
    line = _one_error_line(result.stderr, expected)
    assert line.startswith("ovn-vif agent: error: "), line


def test_ssl_southbound_by_host_name(
    tls: TlsWorld, start_agent: Callable[..., AgentProcess]
) -> None:
    # ssl:localhost works although the ovs package resolves no names by itself.
    agent = start_agent(tls.stack, "--ovn-remote", f"ssl:localhost:{tls.port}", *tls.options())
    add_lsps(tls.stack, "lsp1")
    wait_plugged(tls.stack, "lsp1")
    assert "Exec format error" not in agent.log()
    assert agent.stop() == 0
