"""An ``ovsdb-server`` relay in front of a Southbound database.

A relay (``relay:OVN_Southbound:<remotes>`` on the command line, OVS 2.16
and later) keeps an in-memory copy of the database it reads from its
upstream servers, answers clients' monitors from that copy and forwards
their transactions upstream; OVN deployments put relays in front of the
Southbound cluster to spread the cost of many chassis' monitors.
"""

from __future__ import annotations

from ovn_vif.sandbox import Daemon, SandboxDir, wait_until


class SouthboundRelay(Daemon):
    """An ``ovsdb-server`` relaying ``OVN_Southbound`` from *upstream*.

    *upstream* is the (comma-separated) remote of the servers it relays:
    one ``ovsdb-server`` or the members of a cluster. Clients connect to
    :attr:`remote` (a unix socket in the sandbox directory).
    """

    components = ("ovsdb-server",)

    def __init__(
        self,
        sandbox_dir: SandboxDir,
        upstream: str,
        *,
        name: str = "sb-relay",
        timeout: float = 30.0,
    ) -> None:
        super().__init__(sandbox_dir, name, timeout=timeout)
        self.upstream = upstream
        self.socket_path = sandbox_dir.run_dir / f"{name}.sock"
        self.ctl_path = sandbox_dir.run_dir / f"{name}.ctl"

    @property
    def remote(self) -> str:
        return f"unix:{self.socket_path}"

    def _prepare(self) -> None:
        # A killed relay leaves its socket behind: readiness would be seen early.
        self.socket_path.unlink(missing_ok=True)

    def _command(self) -> list[str]:
        return [
            "ovsdb-server",
            f"--remote=punix:{self.socket_path}",
            f"--unixctl={self.ctl_path}",
            f"relay:OVN_Southbound:{self.upstream}",
        ]

    def _wait_ready(self) -> None:
        wait_until(self.socket_path.is_socket, self.timeout, what=f"{self.socket_path}")
