"""``ovn-vif demo --provider``: a vendor's provider on a throwaway OVN (and on the fakes)."""

from __future__ import annotations

import io
import tempfile
import textwrap
from pathlib import Path

import pytest

from ovn_vif.cli import main
from ovn_vif.cli._demo import run_demo

ACME = textwrap.dedent(
    """
    from ovn_vif import Decline, PlugSpec, VifPlugProvider

    class Acme(VifPlugProvider):
        type = "acme"

        def prepare_create(self, ctx):
            slot = ctx.lport_options.get("vif-plug:acme:slot", "")
            if not slot.isdigit():
                return Decline(f"vif-plug:acme:slot={slot!r} is not a slot number")
            return PlugSpec(name=f"acme{slot}")
    """
)


pytestmark = pytest.mark.usefixtures("root_logging")


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "acme_demo.py").write_text(ACME)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "acme_demo:Acme"


@pytest.mark.daemons
def test_demo_plugs_updates_and_unplugs_with_a_vendor_provider(acme: str) -> None:
    out = io.StringIO()
    with tempfile.TemporaryDirectory(dir="/tmp") as parent:
        status = run_demo(
            provider=acme,
            lport_options={"vif-plug:acme:slot": "3"},
            parent=parent,
            keep=True,
            out=out,
        )
        text = out.getvalue()
        assert status == 0, text
        [kept] = Path(parent).iterdir()  # the sandbox was made under the parent
        assert f"in {kept};" in text
    assert "vif-plug:acme:slot=3" in text
    assert "[4/4]" in text
    assert "vm1    acme3" in text
    assert "9000" in text


@pytest.mark.daemons
def test_demo_shows_why_the_provider_declined(acme: str) -> None:
    out = io.StringIO()
    status = run_demo(provider=acme, lport_options={"vif-plug:acme:slot": "x"}, out=out)
    assert status == 1
    assert (
        "not plugged: declined: provider acme declined to plug lport vm1: "
        "vif-plug:acme:slot='x' is not a slot number" in out.getvalue()
    )


def test_demo_on_the_fakes_with_a_vendor_provider(acme: str) -> None:
    out = io.StringIO()
    assert (
        run_demo(use_fake=True, provider=acme, lport_options={"vif-plug:acme:slot": "1"}, out=out)
        == 0
    ), out.getvalue()
    assert "acme1" in out.getvalue()


def test_demo_command_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--fake", "--lport-option", "novalue"]) == 2
    assert "--lport-option wants KEY=VALUE, got 'novalue'" in capsys.readouterr().err
    assert main(["demo", "--fake", "--provider", "nosuchtype"]) == 1
    assert "the nosuchtype provider is not available" in capsys.readouterr().out
    assert main(["demo", "--fake", "--provider", "no_such_module:Cls"]) == 1
    assert "cannot load the provider no_such_module:Cls" in capsys.readouterr().out
