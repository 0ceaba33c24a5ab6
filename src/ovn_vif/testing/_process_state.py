"""What a provider must leave alone: the state one process shares.

A provider is imported into the agent's process and initialised there, beside
the agent and every other provider. The umask, the working directory, signal
handlers, logging's configuration, the environment and the default registry
belong to that process: a provider that sets ``os.umask(0)`` at import made
the agent's control socket world-writable. :func:`snapshot` reads them,
:func:`differences` says what changed in words, :func:`put_back` undoes what
it can, and :func:`import_differences` imports a module in a clean
interpreter to see what the import alone changes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import signal
import subprocess
import sys
from typing import Any, Final

#: Environment variables the interpreter itself may set on import.
_ENV_IGNORED: Final = frozenset({"PYTEST_CURRENT_TEST"})


def _umask() -> int:
    # The only way to read it is to set it; put it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _signals() -> dict[str, str]:
    result = {}
    for sig in signal.valid_signals():
        try:
            handler = signal.getsignal(sig)
        except (ValueError, OSError):  # pragma: no cover - platform specific
            continue
        result[getattr(sig, "name", str(sig))] = repr(handler)
    return result


def _logging() -> dict[str, Any]:
    loggers: dict[str, logging.Logger] = {"root": logging.root}
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.split(".")[0] != "ovn_vif":
            loggers[name] = logger
    state: dict[str, Any] = {}
    for name, lg in loggers.items():
        # A library's NullHandler on its own logger is what the logging
        # HOWTO asks of libraries; anything else configures the process.
        handlers = [
            repr(h) for h in lg.handlers if name == "root" or type(h) is not logging.NullHandler
        ]
        if handlers or name == "root":
            state[name] = [logging.getLevelName(lg.level), handlers]
    state[":disable"] = logging.root.manager.disable
    return state


def snapshot() -> dict[str, Any]:
    """The process-wide state a provider must not change, as plain data."""
    from ovn_vif._contract.registry import default_registry

    return {
        "umask": _umask(),
        "cwd": os.getcwd(),
        "signal handlers": _signals(),
        "logging": _logging(),
        "environment": {k: v for k, v in os.environ.items() if k not in _ENV_IGNORED},
        "default registry": list(default_registry.types()),
    }


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed between two snapshots, one phrase per kind of state."""
    found = []
    if before["umask"] != after["umask"]:
        found.append(f"the umask ({before['umask']:03o} -> {after['umask']:03o})")
    if before["cwd"] != after["cwd"]:
        found.append(f"the working directory ({before['cwd']} -> {after['cwd']})")
    sigs = sorted(
        k
        for k in after["signal handlers"]
        if after["signal handlers"][k] != before["signal handlers"].get(k)
    )
    if sigs:
        found.append(f"signal handlers ({', '.join(sigs)})")
    logs = sorted(k for k in after["logging"] if after["logging"][k] != before["logging"].get(k))
    if logs:
        found.append(f"logging configuration ({', '.join(k.lstrip(':') for k in logs)})")
    env = sorted(
        set(before["environment"]).symmetric_difference(after["environment"])
        | {
            k
            for k in after["environment"]
            if after["environment"][k] != before["environment"].get(k)
        }
    )
    if env:
        found.append(f"the environment ({', '.join(env)})")
    added = sorted(set(after["default registry"]) - set(before["default registry"]))
    if added:
        found.append(f"the default registry (registered {', '.join(added)})")
    return found


def put_back(before: dict[str, Any]) -> None:
    """Undo what can be undone of a provider's changes, so that the caller's
    process (a test run) is not left with them."""
    from ovn_vif._contract.registry import default_registry

    os.umask(before["umask"])
    for added in set(default_registry.types()) - set(before["default registry"]):
        with contextlib.suppress(Exception):
            default_registry.unregister(added)
    if os.getcwd() != before["cwd"]:
        os.chdir(before["cwd"])
    for key in set(os.environ) - set(before["environment"]) - _ENV_IGNORED:
        del os.environ[key]
    for key, value in before["environment"].items():
        if os.environ.get(key) != value:
            os.environ[key] = value


_PROBE: Final = """
import json, sys
sys.path[:] = json.loads(sys.argv[2])
from ovn_vif.testing import _process_state as s
before = s.snapshot()
import importlib
importlib.import_module(sys.argv[1])
print(json.dumps(s.differences(before, s.snapshot())))
"""


def _import_path(module: str) -> list[str]:
    """``sys.path`` for a fresh interpreter that must import *module* as this one did.

    Under pytest's ``--import-mode=importlib`` a test package is importable
    here only because it sits in ``sys.modules``, not through ``sys.path``:
    the directory holding *module*'s top-level package goes first.
    """
    extra: list[str] = []
    top = sys.modules.get(module.split(".", 1)[0])
    locations = list(getattr(top, "__path__", None) or ())
    file = getattr(top, "__file__", None)
    if not locations and file:
        locations = [str(file)]
    for location in locations:
        parent = os.path.dirname(os.path.abspath(location))
        if parent not in extra:
            extra.append(parent)
    return extra + [p for p in sys.path if p not in extra]


@functools.cache
def import_differences(module: str, mtime: float) -> tuple[str, ...]:
    """What importing *module* changes in a fresh interpreter (one that has
    imported ``ovn_vif`` only). *mtime* keys the cache to the file's version.
    Nothing is reported when the module cannot be imported on its own."""
    del mtime
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, module, json.dumps(_import_path(module))],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return ()
    try:
        found = json.loads(lines[-1])
    except ValueError:
        return ()
    return tuple(str(f) for f in found)
