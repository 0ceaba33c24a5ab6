"""The shipped unit under a real systemd: PID 1 of a systemd-nspawn container.

A small Debian tree (debootstrap: systemd, logrotate) is cached under
``$OVN_VIF_SYSTEMD_CACHE`` (default ``~/.cache/ovn-vif-systemd``) and booted
with ``--volatile=overlay``, so a run never changes it. This machine's Python,
venv and source tree are bound read-only into the container; the OVS/OVN
daemons run on the host (a :class:`~ovn_vif.sandbox.Sandbox`) and the
container reaches their sockets through a bind mount. The unit is the shipped
one, with a drop-in that only points it at that Python and those sockets and
shortens the watchdog and restart delays (30 s and 5 s would make the test
slow). Needs root, ``systemd-nspawn`` and ``debootstrap`` (``scripts/test``
installs them); skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support import REPO, missing

from ovn_vif.sandbox import Sandbox

pytestmark = [pytest.mark.daemons, pytest.mark.systemd]

UNIT = REPO / "contrib" / "systemd" / "ovn-vif-agent.service"
LOGROTATE = REPO / "contrib" / "logrotate" / "ovn-vif-agent"
SUITE = "bookworm"
#: python3 (Debian's, for a test run by a Debian python3, whose /usr is not
#: bound in) and libsqlite3-0 (pyroute2 imports sqlite3) besides systemd.
PACKAGES = "systemd,systemd-sysv,dbus,logrotate,python3,libsqlite3-0"
MIRROR = os.environ.get("OVN_VIF_DEBIAN_MIRROR", "http://deb.debian.org/debian")
#: Where the container sees the host sandbox's run directory (not under /tmp:
#: the unit has PrivateTmp=yes).
SOCKETS = "/srv/ovs"
WATCHDOG = 3

#: Runs as ExecStartPre=, so under every restriction of the unit: rtnetlink
#: answers a link dump and generic netlink resolves the devlink family
#: (ENOENT on a kernel without devlink, never EPERM). Raw sockets, so that it
#: needs no library the container lacks.
NETLINK_CHECK = r"""
import errno, json, socket, struct

def request(proto, msg_type, flags, payload):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
    s.bind((0, 0))
    s.send(struct.pack("=LHHLL", 16 + len(payload), msg_type, flags, 1, 0) + payload)
    replies = []
    while True:
        data = s.recv(65536)
        offset = 0
        while offset < len(data):
            length, kind = struct.unpack_from("=LH", data, offset)
            if kind == 2:  # NLMSG_ERROR
                code = -struct.unpack_from("=i", data, offset + 16)[0]
                s.close()
                return replies, code
            if kind == 3:  # NLMSG_DONE
                s.close()
                return replies, 0
            replies.append(kind)
            offset += (length + 3) & ~3
        if not flags & 0x300:  # not a dump: one reply is all
            s.close()
            return replies, 0

result = {}
# RTM_GETLINK dump (NLM_F_REQUEST | NLM_F_DUMP).
links, code = request(socket.NETLINK_ROUTE, 18, 0x301, struct.pack("=BxHiII", 0, 0, 0, 0, 0))
result["links"] = len(links)
result["rtnetlink"] = errno.errorcode.get(code, "ok") if code else "ok"
# CTRL_CMD_GETFAMILY "devlink" on generic netlink (GENL_ID_CTRL = 16).
name = b"devlink\0"
attr = struct.pack("=HH", 4 + len(name), 2) + name + b"\0" * (-len(name) % 4)
_, code = request(16, 16, 0x1, struct.pack("=BBH", 3, 1, 0) + attr)
result["devlink"] = errno.errorcode.get(code, str(code)) if code else "ok"
with open("/run/ovn-vif/netlink-check.json", "w") as f:
    json.dump(result, f)
"""


def _cache() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ovn-vif-systemd"
    return Path(os.environ.get("OVN_VIF_SYSTEMD_CACHE") or default)


def _as_root() -> list[str] | None:
    """The prefix that runs a command as root: none for root, ``sudo -n``
    where that works without a password (a CI runner), else ``None``."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") is None:
        return None
    probe = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False)
    return ["sudo", "-n"] if probe.returncode == 0 else None


ROOT = _as_root()


@pytest.fixture(scope="session")
def debian_tree() -> Path:
    if ROOT is None:
        missing("systemd-nspawn needs root (or sudo without a password)")
    for tool in ("systemd-nspawn", "nsenter"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (scripts/test installs systemd-container)")
    tree = _cache() / f"{SUITE}-{PACKAGES.replace(',', '-')}"
    if (tree / "usr/lib/systemd/systemd").exists():
        return tree
    if shutil.which("debootstrap") is None:
        missing("debootstrap is not installed (scripts/test installs it)")
    tmp = tree.with_name(tree.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *ROOT,
            "debootstrap",
            "--variant=minbase",
            f"--include={PACKAGES}",
            SUITE,
            str(tmp),
            MIRROR,
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    tmp.rename(tree)
    return tree


class Container:
    """A booted container: commands run in it through ``nsenter``."""

    def __init__(self, process: subprocess.Popen[bytes], leader: int) -> None:
        self.process = process
        self.leader = leader

    def run(self, *argv: str, check: bool = True, timeout: float = 60) -> str:
        result = subprocess.run(
            [*(ROOT or []), "nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-p", "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{argv}: rc {result.returncode}: {result.stderr}")
        return result.stdout

    def show(self, prop: str) -> str:
        return self.run("systemctl", "show", "-P", prop, "ovn-vif-agent").strip()

    def journal(self) -> str:
        return self.run("journalctl", "-u", "ovn-vif-agent", "--no-pager", "-o", "cat", check=False)


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _leader(parent: int) -> int | None:
    """PID 1 of the container: the ``systemd`` whose parent is the
    ``systemd-nspawn`` process *parent* (or its child, under sudo)."""
    procs: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        procs[int(entry.name)] = (comm, int(stat[stat.rindex(")") + 2 :].split()[1]))
    nspawn = {parent} | {p for p, (comm, pp) in procs.items() if pp == parent}
    for pid, (comm, ppid) in procs.items():
        if ppid in nspawn and comm == "systemd":
            return pid
    return None


def _drop_in() -> str:
    python_paths = os.pathsep.join(p for p in sys.path if p.startswith(str(REPO)))
    opts = (
        f"--ovs-remote unix:{SOCKETS}/db.sock "
        f"--ovn-remote unix:{SOCKETS}/ovnsb_db.sock --audit-interval 0"
    )
    return "\n".join(
        [
            "[Service]",
            f"Environment=PYTHONPATH={python_paths}",
            f'Environment="OVN_VIF_AGENT_OPTS={opts}"',
            f"WatchdogSec={WATCHDOG}s",
            "RestartSec=1s",
            # The test's Python and checkout may live under /home or /root
            # (pyenv, a runner's checkout), which ProtectHome=yes would hide,
            # or under /tmp, which PrivateTmp=yes replaces: bound back in.
            "ProtectHome=tmpfs",
            *(f"BindReadOnlyPaths={p}" for p in sorted(_python_dirs())),
            f"ExecStartPre={sys.executable} /srv/netlink_check.py",
            "",
        ]
    )


def _python_dirs() -> set[str]:
    """This Python, its venv and the repository, to bind into the container;
    not /usr (a Debian python3: the tree has its own)."""
    return {p for p in (sys.prefix, sys.base_prefix, str(REPO)) if p != "/usr"}


@pytest.fixture
def container(debian_tree: Path, ovn_stack: Sandbox, tmp_path: Path) -> Iterator[Container]:
    script = Path(sys.executable).with_name("ovn-vif")
    etc = tmp_path / "etc"
    (etc / "ovn-vif-agent.service.d").mkdir(parents=True)
    (etc / "ovn-vif-agent.service").write_text(
        # The two edits the unit's header asks for: the script's path and the
        # provider (this machine has no devlink for the representor provider).
        UNIT.read_text()
        .replace("/usr/local/bin/ovn-vif", str(script))
        .replace("--provider representor", "--provider dummy")
    )
    (etc / "ovn-vif-agent.service.d" / "test.conf").write_text(_drop_in())
    (etc / "netlink_check.py").write_text(NETLINK_CHECK)
    run_dir = Path(ovn_stack.ovs_remote[len("unix:") :]).parent
    binds = {
        str(etc / "ovn-vif-agent.service"): "/etc/systemd/system/ovn-vif-agent.service",
        str(etc / "ovn-vif-agent.service.d"): "/etc/systemd/system/ovn-vif-agent.service.d",
        str(LOGROTATE): "/etc/logrotate.d/ovn-vif-agent",
        str(run_dir): SOCKETS,
        str(etc / "netlink_check.py"): "/srv/netlink_check.py",
    }
    argv = [
        *(ROOT or []),
        "systemd-nspawn",
        "--quiet",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--volatile=overlay",
        f"--machine=ovnvif{os.getpid()}",
        f"--directory={debian_tree}",
        *(f"--bind-ro={p}" for p in _python_dirs()),
        *(f"--bind={src}:{dst}" for src, dst in binds.items()),
    ]
    console = (tmp_path / "console.log").open("wb")
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console, stderr=console)
    try:
        leader: list[int] = []

        def booted() -> bool:
            assert process.poll() is None, (tmp_path / "console.log").read_text()
            pid = leader[0] if leader else _leader(process.pid)
            if pid is None:
                return False
            leader[:] = [pid]
            state = Container(process, pid).run("systemctl", "is-system-running", check=False)
            return state.strip() in ("running", "degraded")

        _wait(booted, 120, "the container to boot")
        yield Container(process, leader[0])
    finally:
        if process.poll() is None:
            process.terminate()  # nspawn: SIGTERM powers the container off
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        console.close()


def _plugged(stack: Sandbox, lport: str) -> bool:
    out = stack.vsctl(
        "--bare", "--columns=name", "find", "Interface", f"external_ids:iface-id={lport}"
    )
    return bool(out.strip())


def test_shipped_unit_under_systemd(container: Container, ovn_stack: Sandbox) -> None:
    c = container
    # Start: returns once the agent sent READY=1, i.e. both databases in sync.
    started = c.run("systemctl", "start", "ovn-vif-agent", timeout=120, check=False)
    assert c.show("ActiveState") == "active", started + c.journal()
    assert c.show("ActiveState") == "active"
    assert c.show("StatusText") == "both databases in sync"
    first_pid = int(c.show("MainPID"))
    assert "READY=1" not in c.journal()  # sanity: the journal is the agent's log
    # The agent executed itself again on malloc (ovn_vif.cli._allocator) in
    # the process systemd started: same MainPID, so READY=1 was accepted.
    environ = c.run("cat", f"/proc/{first_pid}/environ").split("\0")
    assert "PYTHONMALLOC=malloc" in environ, environ

    # Hardening leaves netlink working (ExecStartPre= runs under the same rules).
    check = c.run("cat", "/run/ovn-vif/netlink-check.json")
    assert '"rtnetlink": "ok"' in check, check
    assert '"links": 0' not in check, check
    assert '"devlink": "ok"' in check or '"devlink": "ENOENT"' in check, check
    assert "EPERM" not in check, check
    assert "EACCES" not in check, check

    # It plugs, and writes its status file where the unit lets it.
    ovn_stack.nbctl(
        "ls-add", "sw0", "--", "lsp-add", "sw0", "lsp1",
        "--", "lsp-set-options", "lsp1", "requested-chassis=hv1", "vif-plug-type=dummy",
    )  # fmt: skip
    _wait(lambda: _plugged(ovn_stack, "lsp1"), 60, "lsp1 to be plugged")
    _wait(lambda: "ovn-vif.status.json" in c.run("ls", "/run/ovn-vif"), 30, "the status file")
    # `ovn-vif status` from a shell without the unit's environment finds it.
    status = c.run(
        "env", "-u", "OVN_VIF_RUNDIR", f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}",
        str(Path(sys.executable).with_name("ovn-vif")),
        "status", "--json", "--ovs-remote", f"unix:{SOCKETS}/db.sock",
    )  # fmt: skip
    assert '"status_file": "/var/run/ovn-vif/ovn-vif.status.json"' in status, status
    assert '"agent_status_written_at": null' not in status, status
    assert "cannot write" not in c.journal()
    assert "Read-only file system" not in c.journal()

    # The log file, and its rotation: logrotate with the shipped snippet,
    # whose postrotate runs `systemctl reload` (SIGHUP: the agent reopens it).
    log = "/var/log/ovn-vif/ovn-vif-agent.log"
    assert "lsp1" in c.run("cat", log)
    c.run("logrotate", "-f", "/etc/logrotate.d/ovn-vif-agent")
    assert "ovn-vif-agent.log.1" in c.run("ls", "/var/log/ovn-vif")
    ovn_stack.nbctl(
        "lsp-add", "sw0", "lsp2",
        "--", "lsp-set-options", "lsp2", "requested-chassis=hv1", "vif-plug-type=dummy",
    )  # fmt: skip
    _wait(lambda: _plugged(ovn_stack, "lsp2"), 60, "lsp2 to be plugged")
    _wait(lambda: "lsp2" in c.run("cat", log, check=False), 30, "a log line in the new file")
    assert int(c.show("MainPID")) == first_pid  # reload did not restart it

    # The watchdog: a stopped (hung) agent is killed and restarted.
    c.run("systemctl", "kill", "--kill-who=main", "--signal=SIGSTOP", "ovn-vif-agent")
    _wait(lambda: c.show("NRestarts") == "1", 4 * WATCHDOG + 30, "the watchdog's restart")
    _wait(lambda: c.show("ActiveState") == "active", 120, "the restarted agent")
    assert int(c.show("MainPID")) != first_pid
    assert "Watchdog timeout" in c.run("journalctl", "--no-pager", "-o", "cat", check=False)

    # Stop: ports stay plugged.
    c.run("systemctl", "stop", "ovn-vif-agent", timeout=60)
    assert c.show("ActiveState") == "inactive"
    assert _plugged(ovn_stack, "lsp1")
    assert _plugged(ovn_stack, "lsp2")
