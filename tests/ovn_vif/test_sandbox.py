"""Tests of ovn_vif.sandbox against the real OVS/OVN daemons."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ovn_vif import OvnVifError
from ovn_vif.sandbox import (
    COMPONENTS,
    DATABASES,
    CommandError,
    DaemonError,
    LocalVswitch,
    OvsdbServer,
    OvsVswitchd,
    Sandbox,
    SandboxDir,
    SandboxTimeoutError,
    SandboxUnavailableError,
    default_search_path,
    missing_binaries,
    wait_until,
)


def _alive(pid: int) -> bool:
    """True unless the process is gone or a zombie (the container's init may not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _vsctl_get(vswitch: LocalVswitch, *args: str) -> str:
    return vswitch.vsctl("--no-wait", "get", *args).strip()


# -- prerequisites -----------------------------------------------------------


def test_everything_is_installed_here() -> None:
    assert missing_binaries() == []


def test_default_search_path_adds_sbin() -> None:
    parts = default_search_path().split(os.pathsep)
    assert "/usr/sbin" in parts
    assert "/sbin" in parts


def test_missing_binaries_lists_each_program(tmp_path: Path) -> None:
    assert missing_binaries(["ovsdb-server", "ovn-controller"], search_path=str(tmp_path)) == [
        *COMPONENTS["ovsdb-server"],
        *COMPONENTS["ovn-controller"],
    ]


def test_unknown_component_is_refused() -> None:
    with pytest.raises(ValueError, match="ovs-vswitched"):
        missing_binaries(["ovs-vswitched"])


def test_missing_binary_gives_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    stack = Sandbox(search_path=str(empty))
    assert "ovs-vswitchd" in stack.missing_binaries()
    with pytest.raises(SandboxUnavailableError) as info:
        stack.start()
    message = str(info.value)
    for program in ("ovsdb-server", "ovs-vswitchd", "ovn-northd"):
        assert program in message
        assert program in info.value.missing
    assert "apt-get install openvswitch-switch" in message
    assert "ovn-controller" not in info.value.missing  # not needed without the controller
    assert isinstance(info.value, OvnVifError)


def test_missing_binary_for_a_single_daemon(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    with SandboxDir.create(search_path=str(empty)) as d:
        server = OvsdbServer(d)
        with pytest.raises(SandboxUnavailableError, match="ovsdb-server"):
            server.start()
        assert not server.running


def test_wait_until_returns_the_value() -> None:
    values = iter([0, "", None, "ready"])
    assert wait_until(lambda: next(values), timeout=5) == "ready"


def test_wait_until_times_out_with_a_clear_error() -> None:
    with pytest.raises(SandboxTimeoutError, match="the moon"):
        wait_until(lambda: False, timeout=0.05, what="the moon")


# -- ovsdb-server ------------------------------------------------------------


@pytest.mark.daemons
def test_ovsdb_server_serves_both_databases(
    ovsdb_server: OvsdbServer, sandbox_dir: SandboxDir
) -> None:
    assert ovsdb_server.remote == f"unix:{sandbox_dir.run_dir}/ovsdb-server.sock"
    assert len(ovsdb_server.socket_path.as_posix()) < 100
    dbs = sandbox_dir.run("ovsdb-client", "list-dbs", ovsdb_server.remote).split()
    assert set(dbs) >= {"Open_vSwitch", "OVN_Southbound"}
    # The root rows exist, as after "ovs-vsctl init" / "ovn-sbctl init".
    sandbox_dir.run("ovs-vsctl", f"--db={ovsdb_server.remote}", "--no-wait", "add-br", "br-x")
    sb_global = sandbox_dir.run("ovn-sbctl", f"--db={ovsdb_server.remote}", "list", "SB_Global")
    assert "_uuid" in sb_global


@pytest.mark.daemons
def test_ovsdb_restart_keeps_the_database(
    ovsdb_server: OvsdbServer, sandbox_dir: SandboxDir
) -> None:
    remote = ovsdb_server.remote
    sandbox_dir.run("ovs-vsctl", f"--db={remote}", "--no-wait", "add-br", "br-kept")
    old_pid = ovsdb_server.pid
    ovsdb_server.restart()
    assert ovsdb_server.running
    assert ovsdb_server.pid != old_pid
    assert ovsdb_server.remote == remote
    bridges = sandbox_dir.run("ovs-vsctl", f"--db={remote}", "--no-wait", "list-br")
    assert bridges.split() == ["br-kept"]


@pytest.mark.daemons
def test_stop_ends_the_process_and_is_idempotent(ovsdb_server: OvsdbServer) -> None:
    pid = ovsdb_server.pid
    assert pid is not None
    ovsdb_server.stop()
    assert not _alive(pid)
    assert not ovsdb_server.running
    assert ovsdb_server.pid is None
    assert not ovsdb_server.pidfile.exists()
    ovsdb_server.stop()  # stopping a stopped daemon is harmless
    ovsdb_server.start()  # and it can be started again, with its database
    assert ovsdb_server.running


@pytest.mark.daemons
def test_stop_after_a_crash_is_harmless(ovsdb_server: OvsdbServer) -> None:
    ovsdb_server.kill()
    assert not ovsdb_server.running
    ovsdb_server.stop()
    ovsdb_server.start()
    assert ovsdb_server.running


@pytest.mark.daemons
def test_pid_reuse_guard_never_signals_a_stranger(sandbox_dir: SandboxDir) -> None:
    server = OvsdbServer(sandbox_dir)
    # A stale pidfile naming a live process that is not ours (this test process).
    server.pidfile.write_text(f"{os.getpid()}\n")
    assert server.pid is None
    server.stop()  # must not kill the test run
    server.start()
    assert server.running
    assert server.pid != os.getpid()


@pytest.mark.daemons
def test_failed_start_reports_the_log_tail(sandbox_dir: SandboxDir) -> None:
    server = OvsdbServer(sandbox_dir)
    server.db_files["Open_vSwitch"].write_text("not a database\n")
    with pytest.raises(DaemonError) as info:
        server.start()
    assert "ovsdb-server failed to start" in str(info.value)
    assert "unexpected file format" in info.value.log_tail
    assert "unexpected file format" in str(info.value)
    assert not server.running


@pytest.mark.daemons
def test_closing_the_dir_stops_daemons_and_removes_it() -> None:
    d = SandboxDir.create()
    nb = OvsdbServer(d, ["OVN_Northbound"], name="nb")
    sb = OvsdbServer(d, ["OVN_Southbound"], name="sb")
    nb.start()
    sb.start()
    pids = [nb.pid, sb.pid]
    d.close()
    assert not d.root.exists()
    assert not any(_alive(pid) for pid in pids if pid is not None)
    d.close()  # twice is fine


@pytest.mark.daemons
def test_keep_leaves_logs_and_databases() -> None:
    d = SandboxDir.create(keep=True)
    try:
        server = OvsdbServer(d)
        server.start()
        d.close()
        assert not server.running
        assert server.log_path.exists()
        assert server.db_files["Open_vSwitch"].exists()
        assert d.logs() == {"ovsdb-server": server.log_path}
    finally:
        shutil.rmtree(d.root, ignore_errors=True)


# -- ovs-vswitchd ------------------------------------------------------------


@pytest.mark.daemons
def test_local_vswitch_has_br_int(local_vswitch: LocalVswitch) -> None:
    assert local_vswitch.vswitchd.running
    assert local_vswitch.remote.endswith("/run/db.sock")
    assert local_vswitch.vsctl("list-br").split() == ["br-int"]
    assert _vsctl_get(local_vswitch, "Bridge", "br-int", "fail_mode") == "secure"
    disable_in_band = _vsctl_get(local_vswitch, "Bridge", "br-int", "other_config:disable-in-band")
    assert disable_in_band == '"true"'


@pytest.mark.daemons
def test_vswitchd_gives_interfaces_an_ofport(local_vswitch: LocalVswitch) -> None:
    local_vswitch.vsctl(
        "add-port", "br-int", "vif1", "--", "set", "Interface", "vif1", "type=internal"
    )
    # ovs-vsctl waited for vswitchd, so the ofport is there.
    assert int(_vsctl_get(local_vswitch, "Interface", "vif1", "ofport")) > 0
    assert "vif1" in local_vswitch.vswitchd.appctl("dpif/show")


@pytest.mark.daemons
def test_vswitchd_and_ovsdb_restart(local_vswitch: LocalVswitch) -> None:
    local_vswitch.vsctl("add-port", "br-int", "vif1")
    local_vswitch.ovsdb.restart()
    local_vswitch.vswitchd.restart()
    local_vswitch.vsctl("add-port", "br-int", "vif2")
    assert local_vswitch.vsctl("list-ports", "br-int").split() == ["vif1", "vif2"]
    assert int(_vsctl_get(local_vswitch, "Interface", "vif2", "ofport")) > 0


@pytest.mark.daemons
def test_vswitchd_needs_the_open_vswitch_database(sandbox_dir: SandboxDir) -> None:
    sb_only = OvsdbServer(sandbox_dir, ["OVN_Southbound"])
    with pytest.raises(ValueError, match="Open_vSwitch"):
        OvsVswitchd(sandbox_dir, sb_only)


# -- full stacks -------------------------------------------------------------


@pytest.mark.daemons
def test_ovn_stack_has_the_chassis_and_no_controller(ovn_stack: Sandbox) -> None:
    assert ovn_stack.controller is None
    assert "ovn-controller" not in ovn_stack.logs()
    assert ovn_stack.sbctl("--bare", "--columns=name", "list", "Chassis").split() == ["hv1"]
    assert ovn_stack.sbctl("--bare", "--columns=hostname", "list", "Chassis").strip() == "hv1"
    encap = ovn_stack.sbctl("--bare", "--columns=type,ip", "list", "Encap").split()
    assert encap == ["geneve", "127.0.0.1"]
    ids = ovn_stack.vsctl("--no-wait", "get", "Open_vSwitch", ".", "external_ids")
    for expected in (
        "system-id=hv1",
        "hostname=hv1",
        f'ovn-remote="{ovn_stack.sb_remote}"',
        "ovn-encap-type=geneve",
        'ovn-encap-ip="127.0.0.1"',
    ):
        assert expected in ids


@pytest.mark.daemons
def test_ovn_stack_env_reaches_every_database(ovn_stack: Sandbox) -> None:
    env = ovn_stack.env
    assert env["OVN_NB_DB"] == ovn_stack.nb_remote
    assert env["OVN_SB_DB"] == ovn_stack.sb_remote
    assert env["OVS_DB"] == ovn_stack.ovs_remote
    for var in ("OVS_RUNDIR", "OVN_RUNDIR", "OVS_LOGDIR", "OVN_DBDIR", "OVN_SYSCONFDIR"):
        assert env[var].startswith(str(ovn_stack.root))
    # The tools find the sandbox's databases from the environment alone.
    ovn_stack.nbctl("ls-add", "sw0")
    assert "sw0" in ovn_stack.dir.run("ovn-nbctl", "ls-list")
    assert "hv1" in ovn_stack.dir.run("ovn-sbctl", "--columns=name", "list", "Chassis")
    assert ovn_stack.dir.run("ovs-vsctl", "list-br").split() == ["br-int"]


@pytest.mark.daemons
def test_add_chassis_for_moves(ovn_stack: Sandbox) -> None:
    ovn_stack.add_chassis("hv2", encap_ip="127.0.0.2")
    names = ovn_stack.sbctl("--bare", "--columns=name", "list", "Chassis").split()
    assert sorted(names) == ["hv1", "hv2"]
    assert (
        ovn_stack.sbctl("--bare", "--columns=hostname", "find", "Chassis", "name=hv2").strip()
        == "hv2"
    )


@pytest.mark.daemons
def test_northbound_changes_reach_southbound(ovn_stack: Sandbox) -> None:
    ovn_stack.nbctl(
        "--wait=sb", "ls-add", "sw0", "--", "lsp-add", "sw0", "lsp1",
        "--", "lsp-set-options", "lsp1", "requested-chassis=hv1", "vif-plug-type=dummy",
    )  # fmt: skip
    options = ovn_stack.sbctl(
        "--bare", "--columns=options", "find", "Port_Binding", "logical_port=lsp1"
    )
    assert "vif-plug-type=dummy" in options


@pytest.mark.daemons
def test_sb_restart_keeps_data_and_northd_reconnects(ovn_stack: Sandbox) -> None:
    ovn_stack.nbctl("--wait=sb", "ls-add", "sw0", "--", "lsp-add", "sw0", "lsp1")
    ovn_stack.sb.restart()
    ovn_stack.nb.restart()
    assert ovn_stack.sbctl("--bare", "--columns=name", "list", "Chassis").split() == ["hv1"]
    ovn_stack.nbctl("--wait=sb", "lsp-add", "sw0", "lsp2")
    ports = ovn_stack.sbctl("--bare", "--columns=logical_port", "list", "Port_Binding").split()
    assert sorted(ports) == ["lsp1", "lsp2"]


@pytest.mark.daemons
def test_tool_failure_names_the_command_and_stderr(ovn_stack: Sandbox) -> None:
    with pytest.raises(CommandError) as info:
        ovn_stack.nbctl("lsp-del", "no-such-port")
    assert info.value.returncode != 0
    assert "no-such-port" in info.value.stderr
    assert "ovn-nbctl" in str(info.value)
    assert "no-such-port" in str(info.value)


@pytest.mark.daemons
def test_stack_stop_ends_every_daemon_and_removes_the_dir() -> None:
    stack = Sandbox("hv1", controller=True).start()
    pids = [d.pid for d in stack.dir.daemons]
    names = [d.name for d in stack.dir.daemons]
    assert names == [
        "ovnnb_db", "ovnsb_db", "ovn-northd", "ovsdb-server", "ovs-vswitchd", "ovn-controller",
    ]  # fmt: skip
    assert all(pid is not None and _alive(pid) for pid in pids)
    stack.stop()
    assert not any(_alive(pid) for pid in pids if pid is not None)
    assert not stack.root.exists()
    stack.stop()


@pytest.mark.daemons
def test_stack_is_stopped_when_the_body_raises() -> None:
    with pytest.raises(KeyboardInterrupt), Sandbox("hv1") as stack:  # noqa: PT012
        pids = [d.pid for d in stack.dir.daemons]
        root = stack.root
        raise KeyboardInterrupt
    assert not root.exists()
    assert not any(_alive(pid) for pid in pids if pid is not None)


@pytest.mark.daemons
def test_reference_controller_plugs_and_unplugs_a_dummy_lsp(reference_stack: Sandbox) -> None:
    controller = reference_stack.controller
    assert controller is not None
    assert controller.ctl_path is not None
    assert controller.ctl_path.name == f"ovn-controller.{controller.pid}.ctl"
    assert "ovn-controller" in controller.appctl("version")
    reference_stack.nbctl(
        "ls-add", "sw0", "--", "lsp-add", "sw0", "lsp1",
        "--", "lsp-set-addresses", "lsp1", "f0:00:00:00:00:01 10.0.0.11",
        "--", "lsp-set-options", "lsp1", "requested-chassis=hv1", "vif-plug-type=dummy",
    )  # fmt: skip

    def plugged_ofport() -> int:
        out = reference_stack.vsctl("--bare", "--columns=ofport", "find", "Interface", "name=lsp1")
        return int(out.strip() or 0)

    assert reference_stack.wait_until(plugged_ofport, what="lsp1 plugged") > 0
    ids = reference_stack.vsctl("--no-wait", "get", "Interface", "lsp1", "external_ids")
    assert "ovn-plugged=dummy" in ids
    assert "iface-id=lsp1" in ids
    reference_stack.nbctl("--wait=hv", "sync")
    up = reference_stack.sbctl(
        "--bare", "--columns=up", "find", "Port_Binding", "logical_port=lsp1"
    )
    assert up.strip() == "true"
    # The start-up delay is off, so the unplug happens at once.
    reference_stack.nbctl("lsp-del", "lsp1")
    reference_stack.wait_until(
        lambda: "lsp1" not in reference_stack.vsctl("list-ports", "br-int"), what="lsp1 unplugged"
    )


@pytest.mark.daemons
def test_reference_controller_restart_keeps_unplugging_at_once(reference_stack: Sandbox) -> None:
    controller = reference_stack.controller
    assert controller is not None
    old_pid = controller.pid
    controller.restart()
    assert controller.pid != old_pid
    assert "ovn-controller" in controller.appctl("version")
    reference_stack.nbctl(
        "ls-add", "sw0", "--", "lsp-add", "sw0", "lsp1",
        "--", "lsp-set-options", "lsp1", "requested-chassis=hv1", "vif-plug-type=dummy",
    )  # fmt: skip
    reference_stack.wait_until(
        lambda: "lsp1" in reference_stack.vsctl("list-ports", "br-int"), what="lsp1 plugged"
    )
    # Without debug/ignore-startup-delay after the restart this would take > 10 s.
    reference_stack.nbctl("lsp-del", "lsp1")
    reference_stack.wait_until(
        lambda: "lsp1" not in reference_stack.vsctl("list-ports", "br-int"),
        timeout=5,
        what="lsp1 unplugged",
    )


@pytest.mark.daemons
def test_timeout_error_carries_the_controller_log(reference_stack: Sandbox) -> None:
    with pytest.raises(SandboxTimeoutError, match="ovn-controller log tail"):
        reference_stack.wait_until(lambda: False, timeout=0.05, what="nothing")


@pytest.mark.daemons
def test_inherited_ovn_variables_do_not_leak_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVN_NB_DB", "unix:/nonexistent/nb.sock")
    monkeypatch.setenv("OVS_RUNDIR", "/nonexistent")
    with Sandbox("hv1") as stack:
        assert stack.env["OVN_NB_DB"] == stack.nb_remote
        assert stack.dir.env["OVS_RUNDIR"] == str(stack.dir.run_dir)
        assert "OVN_NB_DB" not in stack.dir.env
        stack.dir.run("ovn-nbctl", f"--db={stack.nb_remote}", "ls-add", "sw0")
        assert stack.dir.run("ovs-vsctl", "list-br").split() == ["br-int"]


def _plug_own_port(stack: Sandbox) -> str:
    port = f"p-{stack.chassis}"
    stack.nbctl(
        "ls-add", "sw0", "--", "lsp-add", "sw0", port,
        "--", "lsp-set-options", port, f"requested-chassis={stack.chassis}", "vif-plug-type=dummy",
    )  # fmt: skip
    stack.wait_until(lambda: port in stack.vsctl("list-ports", "br-int"), what=port)
    return port


@pytest.mark.daemons
def test_two_sandboxes_side_by_side() -> None:
    with Sandbox("hv1", controller=True) as one, Sandbox("hv2", controller=True) as two:
        assert one.root != two.root
        assert _plug_own_port(one) == "p-hv1"
        assert _plug_own_port(two) == "p-hv2"
        assert one.vsctl("list-ports", "br-int").split() == ["p-hv1"]
        assert two.vsctl("list-ports", "br-int").split() == ["p-hv2"]
        assert one.sbctl("--bare", "--columns=name", "list", "Chassis").split() == ["hv1"]
        assert two.sbctl("--bare", "--columns=name", "list", "Chassis").split() == ["hv2"]


@pytest.mark.daemons
def test_failure_report_shows_daemon_logs(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parents[1] / "support" / "daemons.py").read_text())
    pytester.makepyfile(
        """
        def test_fails(ovsdb_server):
            assert ovsdb_server.running
            assert False, "deliberate"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ovsdb-server log: /tmp/ovnvif-*/log/ovsdb-server.log*"])
    result.stdout.fnmatch_lines(["*opened log file*"])


@pytest.mark.daemons
def test_atexit_stops_what_the_program_left_running() -> None:
    script = (
        "from ovn_vif.sandbox import Sandbox\n"
        "stack = Sandbox('hv1').start()\n"
        "print(stack.root)\n"
        "print(' '.join(str(d.pid) for d in stack.dir.daemons))\n"
        # exits without stop(): the atexit hook must clean up
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    root, pids = Path(out[0]), [int(p) for p in out[1].split()]
    assert len(pids) == 5
    assert not root.exists()
    assert not any(_alive(pid) for pid in pids)


@pytest.mark.daemons
def test_python_idl_reads_both_databases(ovsdb_server: OvsdbServer) -> None:
    import ovs.db.idl
    import ovs.poller

    for database, table in (("Open_vSwitch", "Open_vSwitch"), ("OVN_Southbound", "SB_Global")):
        helper = ovs.db.idl.SchemaHelper(str(DATABASES[database]))
        helper.register_table(table)
        idl = ovs.db.idl.Idl(ovsdb_server.remote, helper)
        try:

            def synced(idl: ovs.db.idl.Idl = idl) -> bool:
                idl.run()
                if idl.has_ever_connected():
                    return True
                poller = ovs.poller.Poller()
                idl.wait(poller)
                poller.timer_wait(50)
                poller.block()
                return False

            wait_until(synced, timeout=10, what=f"IDL sync of {database}")
            assert len(idl.tables[table].rows) == 1
        finally:
            idl.close()


@pytest.mark.daemons
def test_reference_controller_unplugs_when_the_port_moves(reference_stack: Sandbox) -> None:
    reference_stack.add_chassis("hv2", encap_ip="127.0.0.2")
    assert _plug_own_port(reference_stack) == "p-hv1"
    reference_stack.nbctl(
        "lsp-set-options", "p-hv1", "requested-chassis=hv2", "vif-plug-type=dummy"
    )
    reference_stack.wait_until(
        lambda: "p-hv1" not in reference_stack.vsctl("list-ports", "br-int"), what="p-hv1 unplugged"
    )
    requested = reference_stack.sbctl(
        "--bare", "--columns=requested_chassis", "find", "Port_Binding", "logical_port=p-hv1"
    ).strip()
    hv2 = reference_stack.sbctl("--bare", "--columns=_uuid", "find", "Chassis", "name=hv2").strip()
    assert requested == hv2
