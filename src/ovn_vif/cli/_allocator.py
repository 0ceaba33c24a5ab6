"""``ovn-vif agent`` keeps its Python objects in the C library's ``malloc``.

CPython's own small-object allocator (``pymalloc``) takes memory from the
system in 1 MiB arenas and gives an arena back only once every object in it
is freed. Plugging a thousand ports allocates and frees millions of small
objects (decoded JSON, transactions, reports) among the few that stay (the
rows and the engine's copies), so after the burst most arenas hold a few
live objects each and cannot be returned: with 1,000 plugged ports an idle
agent kept about 3.5 MB of empty pools. glibc's ``malloc`` gives pages back
from anywhere in its heap when the agent calls ``malloc_trim`` once idle
(``ovn_vif.agent._trim``): the same agent is then about 3 MB smaller, for
about a tenth more CPU while it plugs (``docs/performance.rst``).

The allocator is chosen when the interpreter starts (``PYTHONMALLOC``), so
``ovn-vif agent``, started as a program on CPython with glibc, executes
itself again, first thing, with ``PYTHONMALLOC=malloc`` added to its
environment: the same process (its pid does not change, for systemd and
pid files), the same command line. An operator who sets ``PYTHONMALLOC``
(``pymalloc`` included) keeps that choice, and nothing is done where
Python ignores the environment (``-E``, ``-I``), on other Pythons, on other
C libraries, or when :func:`ovn_vif.cli.main` is called with arguments
(from Python, not as the program).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

#: The variable that chooses the allocator, and the value the agent wants.
VARIABLE = "PYTHONMALLOC"
WANTED = "malloc"


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError, AttributeError):
        return False


def should_reexec(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process should execute itself again with ``PYTHONMALLOC=malloc``."""
    environ = os.environ if environ is None else environ
    return (
        VARIABLE not in environ
        and not sys.flags.ignore_environment
        and sys.implementation.name == "cpython"
        and bool(sys.executable)
        and len(getattr(sys, "orig_argv", ())) > 1
        and _glibc()
    )


def reexec_with_malloc() -> None:
    """Execute this program again with ``PYTHONMALLOC=malloc``, if
    :func:`should_reexec`; returns only when it does not (or cannot)."""
    if not should_reexec():
        return
    environ = dict(os.environ)
    environ[VARIABLE] = WANTED
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environ)
    except OSError:
        return  # run on with pymalloc: more memory, nothing else


def in_use() -> str:
    """What allocates the Python objects of this process, for the log."""
    chosen = os.environ.get(VARIABLE) if not sys.flags.ignore_environment else None
    return chosen or "pymalloc (the default)"
