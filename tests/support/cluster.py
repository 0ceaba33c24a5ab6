"""A clustered (RAFT) Southbound database of real ``ovsdb-server`` members.

Each member serves ``OVN_Southbound`` on its own unix socket; the members
talk RAFT to each other over loopback TCP on free ports. Database files are
kept across :meth:`ClusterMember.stop` / :meth:`~ClusterMember.start`, so a
member (or the whole cluster) can be killed and started again as in a real
deployment.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ovn_vif.sandbox import DATABASES, Daemon, LocalVswitch, OvsdbServer, SandboxDir, wait_until

SB_SCHEMA = DATABASES["OVN_Southbound"]


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ClusterMember(Daemon):
    """One member of a RAFT cluster serving ``OVN_Southbound``."""

    components = ("ovsdb-server",)

    def __init__(
        self,
        sandbox_dir: SandboxDir,
        index: int,
        raft_port: int,
        *,
        join: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> None:
        super().__init__(sandbox_dir, f"sb{index}", timeout=timeout)
        self.index = index
        #: RAFT address of this member.
        self.raft_address = f"tcp:127.0.0.1:{raft_port}"
        #: RAFT addresses of the members to join through (empty: create).
        self.join = tuple(join)
        self.db_file = sandbox_dir.db_dir / f"sb{index}.db"
        self.socket_path = sandbox_dir.run_dir / f"sb{index}.sock"
        self.ctl_path = sandbox_dir.run_dir / f"sb{index}.ctl"

    @property
    def remote(self) -> str:
        return f"unix:{self.socket_path}"

    def _prepare(self) -> None:
        # A killed member leaves its socket behind: without this, readiness
        # (the socket exists) would be seen before the new process listens.
        self.socket_path.unlink(missing_ok=True)
        if self.db_file.exists():
            return
        tool = "ovsdb-tool"
        if self.join:
            argv = [
                tool,
                "join-cluster",
                str(self.db_file),
                "OVN_Southbound",
                self.raft_address,
                *self.join,
            ]
        else:
            argv = [tool, "create-cluster", str(self.db_file), str(SB_SCHEMA), self.raft_address]
        subprocess.run(
            argv, env=self.dir.env, check=True, capture_output=True, timeout=self.timeout
        )

    def _command(self) -> list[str]:
        return [
            "ovsdb-server",
            f"--remote=punix:{self.socket_path}",
            f"--unixctl={self.ctl_path}",
            str(self.db_file),
        ]

    def _wait_ready(self) -> None:
        wait_until(self.socket_path.is_socket, self.timeout, what=f"{self.socket_path}")

    def appctl(self, *args: str) -> str:
        proc = subprocess.run(
            ["ovs-appctl", "-t", str(self.ctl_path), *args],
            env=self.dir.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        return proc.stdout

    def status(self) -> str:
        """``cluster/status OVN_Southbound`` as the member reports it ('' when down)."""
        if not self.running:
            return ""
        return self.appctl("cluster/status", "OVN_Southbound")

    def is_leader(self) -> bool:
        return "Role: leader" in self.status()


class SouthboundCluster:
    """Three (or *size*) members of a clustered Southbound database."""

    def __init__(self, sandbox_dir: SandboxDir, size: int = 3, *, timeout: float = 30.0) -> None:
        self.dir = sandbox_dir
        ports = [free_tcp_port() for _ in range(size)]
        first = ClusterMember(sandbox_dir, 1, ports[0], timeout=timeout)
        self.members: list[ClusterMember] = [first]
        for i in range(1, size):
            self.members.append(
                ClusterMember(
                    sandbox_dir, i + 1, ports[i], join=[first.raft_address], timeout=timeout
                )
            )
        self.timeout = timeout

    @property
    def remote(self) -> str:
        """All members, comma-separated, as a client's remote."""
        return ",".join(m.remote for m in self.members)

    def start(self) -> None:
        for member in self.members:
            member.start()
        self.wait_healthy()

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Until every running member is connected to a cluster with a leader."""

        def healthy() -> bool:
            statuses = [m.status() for m in self.members if m.running]
            return (
                bool(statuses)
                and all(
                    "Status: cluster member" in s
                    and "Leader: unknown" not in s
                    and "Connections:" in s
                    for s in statuses
                )
                and any("Role: leader" in s for s in statuses)
            )

        wait_until(
            healthy,
            self.timeout if timeout is None else timeout,
            what="a healthy Southbound cluster",
        )

    def leader(self) -> ClusterMember | None:
        for member in self.members:
            if member.running and member.is_leader():
                return member
        return None

    def stop_all(self) -> None:
        for member in self.members:
            member.kill() if member.running else None

    def start_all(self) -> None:
        for member in self.members:
            member.start()

    def sb_transact_ready(self) -> bool:
        return self.leader() is not None

    def wait_member_files(self) -> None:
        wait_until(
            lambda: all(Path(m.db_file).exists() for m in self.members),
            self.timeout,
            what="cluster database files",
        )

    def restart_all(self, down: float = 2.0) -> None:
        """Kill every member, wait *down* seconds, start them all again."""
        self.stop_all()
        time.sleep(down)
        self.start_all()


class ClusterNorthd(Daemon):
    """``ovn-northd`` between an NB ``ovsdb-server`` and a clustered Southbound.

    :class:`ovn_vif.sandbox.OvnNorthd` takes one SB server; this one is
    given the cluster's comma-separated remote (northd writes to the leader).
    """

    components = ("ovn-northd",)

    def __init__(
        self,
        sandbox_dir: SandboxDir,
        nb_remote: str,
        cluster: SouthboundCluster,
        *,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(sandbox_dir, "ovn-northd", timeout=timeout)
        self.nb_remote = nb_remote
        self.cluster = cluster
        self.ctl_path = sandbox_dir.run_dir / "ovn-northd.ctl"

    def _command(self) -> list[str]:
        return [
            "ovn-northd",
            f"--unixctl={self.ctl_path}",
            f"--ovnnb-db={self.nb_remote}",
            f"--ovnsb-db={self.cluster.remote}",
        ]

    def _wait_ready(self) -> None:
        wait_until(self.ctl_path.is_socket, self.timeout, what=f"{self.ctl_path}")


class ClusterStack:
    """NB, a 3-member Southbound cluster, ovn-northd writing to it, and the
    local daemons of chassis ``hv1``: a stack for the agent helpers
    (:class:`tests.support.agent.Stack`) whose Southbound is a cluster.

    Subclasses put something in front of the members (fault proxies, a
    relay) by overriding :meth:`start_front` and :meth:`close`.
    """

    def __init__(self) -> None:
        self.dir = SandboxDir.create()
        d = self.dir
        self.nb = OvsdbServer(d, ["OVN_Northbound"], name="ovnnb_db")
        self.cluster = SouthboundCluster(d)
        self.northd = ClusterNorthd(d, self.nb.remote, self.cluster)
        self.vswitch = LocalVswitch(d, external_ids={"system-id": "hv1", "hostname": "hv1"})

    @property
    def ovs_remote(self) -> str:
        return self.vswitch.remote

    def start(self) -> None:
        self.nb.start()
        self.cluster.start()
        self.start_front()
        self.northd.start()
        self.vswitch.start()
        self.sbctl("--may-exist", "chassis-add", "hv1", "geneve", "127.0.0.1")
        self.nbctl("--wait=sb", "sync")

    def start_front(self) -> None:
        """Start what stands between the agent and the members (nothing here)."""

    def _ctl(self, program: str, remote: str, *args: str) -> str:
        return subprocess.run(
            [program, f"--db={remote}", "--timeout=20", *args],
            env=self.dir.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout

    def nbctl(self, *args: str) -> str:
        return self._ctl("ovn-nbctl", self.nb.remote, *args)

    def sbctl(self, *args: str) -> str:
        return self._ctl("ovn-sbctl", self.cluster.remote, *args)

    def vsctl(self, *args: str, wait: bool = True) -> str:
        return self.vswitch.vsctl(*args, wait=wait)

    def close(self) -> None:
        self.dir.close()
