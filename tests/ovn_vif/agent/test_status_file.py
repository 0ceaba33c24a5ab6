"""The agent's status file: written atomically, read back, garbage tolerated."""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from ovn_vif import Decision, Outcome, Reason
from ovn_vif.agent import NotPlugged, default_status_file, read_agent_status
from ovn_vif.agent._status_file import StatusWriter, find_status_file, not_plugged


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


def test_one_line_per_lport_and_every_value_kept(tmp_path: Path) -> None:
    """The file holds one not-plugged lport per line (a thousand deferred
    unplugs are written in a few milliseconds, and ``grep`` finds an lport's
    line); hostile text stays escaped on its line and reads back unchanged."""
    path = str(tmp_path / "s.json")
    hostile = 'evil\nname \x1b[31m\u202e\u00e9\U0001f600 "quoted" \\'
    decisions = [
        Decision(
            lport=f"lsp{i}" if i else hostile,
            outcome=Outcome.DEFERRED if i % 2 else Outcome.DECLINED,
            plug_type="dummy",
            detail=f"detail {i}\n{hostile}",
            provider_reason=hostile if i == 3 else None,
            retry_after=1.5 if i == 4 else None,
        )
        for i in range(50)
    ]
    writer = StatusWriter(path)
    writer.update("hv1", decisions)
    writer.record_audit("hv1", {"time": 1.0, "differences": [hostile]})
    text = Path(path).read_text(encoding="utf-8")
    document = json.loads(text)
    entries = not_plugged(decisions)
    assert document["not_plugged"] == [e.as_dict() for e in entries]
    lines = text.splitlines()
    lport_lines = [line for line in lines if line.lstrip().startswith('{"detail"')]
    assert len(lport_lines) == len(entries) == 50
    for line, entry in zip(lport_lines, entries, strict=True):
        assert json.loads(line.strip().rstrip(",")) == entry.as_dict()
    assert all(line.isascii() and line.isprintable() for line in lines)
    status = read_agent_status(path)
    assert status is not None
    assert status.not_plugged == entries
    assert status.audit == {"time": 1.0, "differences": [hostile]}


def test_an_entry_is_every_field_of_not_plugged() -> None:
    """``as_dict`` names each field itself: one added later must be added there too."""
    entry = NotPlugged.from_decision(
        Decision(
            lport="a",
            outcome=Outcome.DECLINED,
            reason=Reason.PROVIDER_DECLINED,
            plug_type="t",
            detail="d",
            provider_reason="r",
            retry_after=2.0,
        )
    )
    assert entry.as_dict() == attrs.asdict(entry)
