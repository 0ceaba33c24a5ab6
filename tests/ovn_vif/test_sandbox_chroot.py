"""The sandbox running another system's OVS/OVN from a tree (``Sandbox(chroot=TREE)``).

The daemon tests need the tree of ``OVN_VIF_REFERENCE`` (the
``side-by-side-25.03`` session has it); with the host's reference they are
deselected (marker ``reference_tree``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.daemons import reference_tree

from ovn_vif.sandbox import (
    CHROOT_SEARCH_PATH,
    DATABASES,
    DaemonError,
    Sandbox,
    SandboxDir,
    SandboxUnavailableError,
    missing_binaries,
)

DAEMONS = ("ovnnb_db", "ovnsb_db", "ovn-northd", "ovsdb-server", "ovs-vswitchd", "ovn-controller")


def _mounts_under(tree: Path) -> list[str]:
    with open("/proc/self/mounts") as mounts:
        return [line.split()[1] for line in mounts if line.split()[1].startswith(f"{tree}/")]


@pytest.fixture
def tree() -> Iterator[Path]:
    found = reference_tree()
    assert found is not None, "deselected with the host's reference (tests/conftest.py)"
    before = sorted(os.listdir(found / "tmp"))
    yield found
    assert _mounts_under(found) == []
    assert sorted(os.listdir(found / "tmp")) == before


def test_missing_binaries_are_looked_up_in_the_tree(tmp_path: Path) -> None:
    missing = missing_binaries(["ovsdb-server", "ovn-northd"], chroot=tmp_path)
    assert missing == [
        f"ovsdb-tool in {tmp_path}",
        f"ovsdb-server in {tmp_path}",
        f"ovn-northd in {tmp_path}",
        f"ovn-nbctl in {tmp_path}",
        f"ovn-sbctl in {tmp_path}",
        f"{tmp_path}/usr/share/ovn/ovn-nb.ovsschema",
        f"{tmp_path}/usr/share/ovn/ovn-sb.ovsschema",
    ]
    with pytest.raises(SandboxUnavailableError, match="ovsdb-server in"):
        Sandbox(chroot=tmp_path).start()


@pytest.mark.daemons
@pytest.mark.reference_tree
def test_every_daemon_runs_in_the_tree_and_nothing_stays_mounted(tree: Path) -> None:
    with Sandbox("hv1", controller=True, ignore_startup_delay=True, chroot=tree) as sb:
        assert sb.ovn_version().startswith("25.03")
        roots = {d.name: os.readlink(f"/proc/{d.pid}/root") for d in sb.dir.daemons}
        assert roots == dict.fromkeys(DAEMONS, str(tree))
        assert sb.dir.env["PATH"] == CHROOT_SEARCH_PATH
        # The databases were made from the tree's schemas, not the host's.
        for db, remote in (("OVN_Northbound", sb.nb_remote), ("OVN_Southbound", sb.sb_remote)):
            schema = json.loads(sb.dir.file(DATABASES[db]).read_text())
            served = sb.dir.run("ovsdb-client", "get-schema-version", remote, db).strip()
            assert served == schema["version"]
        sb.nbctl(
            "ls-add", "sw0", "--", "lsp-add", "sw0", "lsp1", "--",
            "lsp-set-options", "lsp1", "requested-chassis=hv1", "vif-plug-type=dummy",
        )  # fmt: skip
        sb.wait_until(lambda: "lsp1" in sb.vsctl("list-ports", "br-int").split())
        assert _mounts_under(tree) == [str(tree) + str(sb.root)]
        root = sb.root
    assert not root.exists()


@pytest.mark.daemons
@pytest.mark.reference_tree
def test_a_failed_start_unmounts(tree: Path) -> None:
    stack = Sandbox("hv1", controller=True, controller_args=("--no-such-option",), chroot=tree)
    with pytest.raises(DaemonError, match="ovn-controller failed to start"):
        stack.start()
    assert not stack.root.exists()


@pytest.mark.daemons
@pytest.mark.reference_tree
def test_a_kept_directory_is_unmounted_too(tree: Path) -> None:
    with SandboxDir.create(keep=True, chroot=tree) as d:
        assert (tree / str(d.root).lstrip("/") / "run").is_dir()
    try:
        assert d.root.is_dir()
        assert not (tree / str(d.root).lstrip("/")).exists()
    finally:
        shutil.rmtree(d.root)
