"""Development sessions: ``nox -l`` lists them, ``nox`` runs them all.

This file is the one source of truth for how tests, lint, typing and docs
run; ``tox`` calls these sessions too.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable

import nox

nox.options.sessions = [
    "tests",
    "side-by-side-23.03",
    "side-by-side-25.03",
    "constraints-2025.1",
    "constraints-master",
    "unit-3.12",
    "lint",
    "typecheck",
    "docs",
    "kernel",
]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _install(session: nox.Session, *groups: str, project: bool = True) -> None:
    requirements = [
        req for group in groups for req in nox.project.dependency_groups(PYPROJECT, group)
    ]
    if project:
        session.install("-e", ".", *requirements)
    else:
        session.install(*requirements)


#: The supported Pythons (the classifiers in pyproject.toml list these).
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
#: The unit tier: every test that starts no daemon.
UNIT_TIER = ("-m", "not daemons")
#: What must also pass under each OpenStack pin set: the representor
#: provider (its daemon tests too) and the ovsdbapp integration.
OPENSTACK_TESTS = ("tests/providers/representor", "tests/engine/test_ovsdbapp.py")
#: The side-by-side comparison with the real ovn-controller; ``tests`` leaves
#: it to the ``side-by-side-*`` sessions, one per reference.
SIDE_BY_SIDE = "tests/engine/test_side_by_side.py"
#: The sandbox's tests of a tree's daemons (a reference other than the host's).
CHROOT_TESTS = "tests/testing_kit/test_sandbox_chroot.py"
#: What also runs against each reference: the rest of what compares with the
#: real ovn-controller, and the sandbox's tests of a tree's daemons (not
#: against the host's).
REFERENCE_TESTS = (
    SIDE_BY_SIDE,
    "tests/engine/test_hostile_mtu.py::test_compatible_writes_what_ovn_controller_writes",
    CHROOT_TESTS,
)
#: OVN series -> OVN_VIF_REFERENCE: 23.03 is the host's Debian 12 packages,
#: 25.03 a Debian trixie tree that scripts/reference-tree builds once into
#: the cache (~/.cache/ovn-vif/trixie-ovn).
REFERENCES = {"23.03": "host", "25.03": "trixie"}
#: Test modules held to mypy --strict too (the rest of tests/ is not, yet).
CHAOS_MODULES = ("tests/support/chaos.py", "tests/support/cluster.py", "tests/agent/test_chaos.py")
#: The scale benchmark (P4) and its tests, held to mypy --strict too.
SCALE_MODULES = (
    "benchmarks/scale.py",
    "benchmarks/goals.py",
    "tests/support/relay.py",
    "tests/support/agent_process.py",
    "tests/ovn_vif/agent/test_relay.py",
    "tests/benchmarks/test_scale.py",
)
#: OpenStack series -> (constraints file, Python the session runs on).
PIN_SETS = {
    "2025.1": ("constraints/openstack-2025.1.txt", "3.10"),
    "master": ("constraints/openstack-master.txt", "3.13"),
}


def _interpreter(version: str) -> str:
    """The path of a ``python<version>``, wherever it is installed.

    ``python3.X`` on PATH (not a pyenv shim: shims run only the selected
    version), else the newest pyenv build (``$PYENV_ROOT``, default
    ``~/.pyenv``), else ``/usr/local/bin`` or ``/usr/bin``. Falls back to
    the bare version, which nox then reports as missing.
    """
    found = shutil.which(f"python{version}")
    if found and "/shims/" not in found:
        return found
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    builds = glob.glob(f"{root}/versions/{version}.*/bin/python{version}")
    builds.sort(
        key=lambda p: [
            int(n) for n in p.split("/versions/")[1].split("/")[0].split(".") if n.isdigit()
        ]
    )
    for path in [*reversed(builds), f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]:
        if os.access(path, os.X_OK):
            return path
    return version


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite with real OVS/OVN daemons, except what runs against each reference."""
    _install(session, "tests")
    # The reference tests run in the side-by-side-* sessions (the chroot
    # ones need the trixie tree those sessions build).
    ignored = (SIDE_BY_SIDE, CHROOT_TESTS)
    session.run("pytest", *(f"--ignore={path}" for path in ignored), *session.posargs)


def _side_by_side(series: str) -> Callable[[nox.Session], None]:
    reference = REFERENCES[series]

    def session_func(session: nox.Session) -> None:
        if reference != "host":
            # Builds the tree on first use (as root or through sudo); cached.
            session.run("bash", "scripts/reference-tree", external=True)
        _install(session, "tests")
        # The sandbox's tests of a tree's daemons need a tree.
        tests = [t for t in REFERENCE_TESTS if reference != "host" or t != CHROOT_TESTS]
        session.run("pytest", *tests, *session.posargs, env={"OVN_VIF_REFERENCE": reference})

    where = "the host's packages" if reference == "host" else f"a Debian {reference} tree"
    session_func.__doc__ = f"The engine side by side with ovn-controller {series} ({where})."
    return session_func


for _series in REFERENCES:
    nox.session(name=f"side-by-side-{_series}")(_side_by_side(_series))


def _unit(session: nox.Session) -> None:
    """The unit tier (every test that starts no daemon) on this Python."""
    _install(session, "tests")
    session.run("pytest", *UNIT_TIER, *session.posargs)


for _version in PYTHONS:
    nox.session(name=f"unit-{_version}", python=_interpreter(_version))(_unit)


def _constraints(session: nox.Session) -> None:
    """Install under OpenStack's pins (pip -c); run the unit tier, the
    representor provider's tests and the ovsdbapp integration."""
    pins = session.name.removeprefix("constraints-")
    constraints, _ = PIN_SETS[pins]
    requirements = nox.project.dependency_groups(PYPROJECT, "tests")
    session.install("-c", constraints, "-e", ".[ovsdbapp]", *requirements)
    session.run("python", "-m", "pip", "check")
    session.run("pytest", *UNIT_TIER, *session.posargs)
    session.run("pytest", *OPENSTACK_TESTS, *session.posargs)


for _pins, (_file, _version) in PIN_SETS.items():
    nox.session(name=f"constraints-{_pins}", python=_interpreter(_version))(_constraints)


@nox.session
def fuzz(session: nox.Session) -> None:
    """The engine's Hypothesis fuzz suite with the long profile (not in CI)."""
    _install(session, "tests")
    session.run(
        "pytest",
        "tests/engine/test_fuzz.py",
        "--hypothesis-show-statistics",
        *session.posargs,
        env={"HYPOTHESIS_PROFILE": "fuzz"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _install(session, "lint", project=False)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/, the chaos soak's test modules and the scale benchmark's."""
    _install(session, "typecheck")
    session.run("mypy", "--strict", "src")
    session.run("mypy", "--strict", "--explicit-package-bases", *CHAOS_MODULES)
    session.run("mypy", "--strict", "--explicit-package-bases", *SCALE_MODULES)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx docs; warnings are errors."""
    _install(session, "docs")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session
def kernel(session: nox.Session) -> None:
    """The kernel tier: tests/kernel in one qemu guest with netdevsim (scripts/kernel-tier).

    Installs qemu, Debian's 6.1 kernel with headers and source (as root or
    through sudo) and virtme-ng; extra arguments go to the guest's pytest.
    """
    _install(session, "tests", "kernel")
    session.run(
        "bash",
        "scripts/kernel-tier",
        "--",
        *session.posargs,
        env={"PYTHON": "python"},
        external=True,
    )


@nox.session(default=False)
def fakediff(session: nox.Session) -> None:
    """Differential fuzzer, long profile: FakeDatabase against a real ovsdb-server.

    The bounded profile runs in ``tests``; pass options after ``--``, for example
    ``nox -s fakediff -- --seeds 2000 --steps 60 --keep-going``.
    """
    _install(session, "tests")
    args = session.posargs or ["--profile", "long", "--keep-going"]
    session.run("python", "-m", "tests.testing_kit.fakediff", *args)


@nox.session(default=False)
def chaos(session: nox.Session) -> None:
    """The agent's chaos soak, long profile: 300 faults against a RAFT Southbound.

    The CI profile (30 faults) runs in ``tests``. ``OVN_VIF_CHAOS_SEED=<n>``
    replays a seed, ``OVN_VIF_CHAOS_PROFILE=ci`` picks the short profile and
    ``OVN_VIF_CHAOS_FAULTS=<n>`` any number of faults; extra arguments go to pytest.
    """
    _install(session, "tests")
    session.run(
        "pytest",
        "tests/agent/test_chaos.py",
        *session.posargs,
        env={"OVN_VIF_CHAOS_PROFILE": os.environ.get("OVN_VIF_CHAOS_PROFILE", "long")},
    )
