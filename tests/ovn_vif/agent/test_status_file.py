"""The agent's status file: written atomically, read back, garbage tolerated."""

from __future__ import annotations

from pathlib import Path

from ovn_vif import Decision, Outcome, Reason
from ovn_vif.agent import default_status_file, read_agent_status
from ovn_vif.agent._status_file import StatusWriter, find_status_file


def test_written_only_when_it_changes_and_read_back(tmp_path: Path) -> None:
    path = str(tmp_path / "s.json")
    writer = StatusWriter(path)
    declined = Decision(
        lport="lsp1",
        outcome=Outcome.DECLINED,
        reason=Reason.PROVIDER_DECLINED,
        plug_type="acme",
        detail="d",
        provider_reason="no slot",
        retry_after=3.0,
    )
    plugged = Decision(lport="lsp2", outcome=Outcome.PLUGGED, plug_type="acme")
    assert writer.update("hv1", [declined, plugged])
    assert not writer.update("hv1", [declined])
    status = read_agent_status(path)
    assert status is not None
    assert status.chassis == "hv1"
    [entry] = status.not_plugged
    assert (entry.lport, entry.because, entry.retry_after) == ("lsp1", "declined: no slot", 3.0)
    assert entry.headline == "lsp1 (acme) not plugged because declined: no slot"
    vetoed = Decision(lport="lsp3", outcome=Outcome.VETOED, plug_type="acme", detail="busy")
    writer.update("hv1", [vetoed])
    status = read_agent_status(path)
    assert status is not None
    assert status.not_plugged[0].headline == "lsp3 (acme) not unplugged because vetoed: busy"
    assert writer.update("hv1", [])
    status = read_agent_status(path)
    assert status is not None
    assert status.not_plugged == ()
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_missing_or_garbage_file_reads_as_none(tmp_path: Path) -> None:
    assert read_agent_status(str(tmp_path / "none.json")) is None
    for junk in ("{", "[]", '{"chassis": 1}', '{"chassis":"a","written_at":"x","pid":1}'):
        (tmp_path / "j.json").write_text(junk)
        assert read_agent_status(str(tmp_path / "j.json")) is None


def test_no_path_writes_nothing() -> None:
    assert not StatusWriter(None).update("hv1", [])


def test_default_place_follows_ovn_vif_rundir(tmp_path: Path) -> None:
    """The shipped unit sets OVN_VIF_RUNDIR to its RuntimeDirectory, the only place
    under /run that ProtectSystem=strict leaves writable: the file goes there."""
    remote = f"unix:{tmp_path}/ovs/db.sock"
    assert default_status_file(remote, {}) == f"{tmp_path}/ovs/ovn-vif.status.json"
    env = {"OVN_VIF_RUNDIR": str(tmp_path / "run")}
    assert default_status_file(remote, env) == f"{tmp_path}/run/ovn-vif.status.json"
    assert default_status_file("tcp:127.0.0.1:6640", env) == f"{tmp_path}/run/ovn-vif.status.json"
    assert default_status_file("tcp:127.0.0.1:6640", {}) is None


def test_status_finds_the_agents_file_by_default(tmp_path: Path) -> None:
    """``ovn-vif status`` reads the agent's default file; without one, the unit's."""
    env = {"OVN_VIF_RUNDIR": str(tmp_path / "run")}
    (tmp_path / "run").mkdir()
    remote = f"unix:{tmp_path}/db.sock"
    assert find_status_file(remote, env) == f"{tmp_path}/run/ovn-vif.status.json"
    (tmp_path / "run" / "ovn-vif.status.json").write_text("{}")
    assert find_status_file(remote, env) == f"{tmp_path}/run/ovn-vif.status.json"
    assert find_status_file(remote, {}) == f"{tmp_path}/ovn-vif.status.json"


def test_agent_takes_status_file_option() -> None:
    from ovn_vif.cli._commands import _parser

    args = _parser().parse_args(["agent", "--status-file", "/somewhere/s.json"])
    assert args.status_file == "/somewhere/s.json"
    assert _parser().parse_args(["agent"]).status_file is None
