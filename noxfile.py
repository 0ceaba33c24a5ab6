"""Development sessions: ``nox -l`` lists them, ``nox`` runs them all.

This file is the one source of truth for how tests, lint, typing and docs
run; ``tox`` calls these sessions too.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
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


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (real OVS/OVN daemons included; see README)."""
    _install(session, "tests")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _install(session, "lint", project=False)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/."""
    _install(session, "typecheck")
    session.run("mypy", "--strict", "src")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx docs; warnings are errors."""
    _install(session, "docs")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")
