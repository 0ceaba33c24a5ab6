"""The ``ovn-vif`` command.

Subcommands:

``agent``
    Run the plugging agent (:class:`ovn_vif.agent.Agent`) until SIGTERM or
    SIGINT.
``providers``
    List the installed providers and whether each initialises here.
``status``
    Show what is plugged on this chassis, according to the local database.
``demo``
    Walk through plugging, updating, moving and unplugging ports on a
    throwaway local OVN.
Other distributions add subcommands through the ``ovn_vif.commands``
entry-point group: the representor provider adds ``representors``, the
list of representors it can plug.

Exit status: 0 on success, 1 when the command failed at run time, 2 for a
usage or configuration error (bad remote, missing ``system-id``, unknown
provider, ...).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from ovn_vif._contract.logsafe import log_safe
from ovn_vif.cli._logging import JournalFormatter, LogSetup, stderr_is_journal

LOG = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
#: ``gc.set_threshold()`` while ``ovn-vif agent`` runs. A burst of updates
#: (a thousand Port_Bindings, the echo of a thousand plugged ports)
#: allocates hundreds of thousands of small objects, almost none in cycles;
#: with the default (700, 10, 10) the collector ran about 220 times during
#: a 1000-port plug (its full passes over every row of both IDLs included),
#: for about a third of the agent's CPU. These thresholds run it about 15
#: times (see docs/performance.rst). Restored when the command returns.
AGENT_GC_THRESHOLDS = (10_000, 50, 100)

#: Entry-point group through which other distributions add ``ovn-vif`` subcommands.
COMMAND_ENTRY_POINT_GROUP = "ovn_vif.commands"


#: The latest (second, "YYYY-MM-DDTHH:MM:SS") a log stamp was made for:
#: a burst of a thousand log lines formats the same second over and over.
_LAST_STAMP: list[tuple[int, str]] = [(-1, "")]


def _utc_stamp(created: float) -> str:
    """``record.created`` as ``2026-01-02T03:04:05`` (UTC), cached per second."""
    second = int(created // 1)
    last = _LAST_STAMP[0]
    if last[0] == second:
        return last[1]
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    _LAST_STAMP[0] = (second, text)
    return text


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (+ exc)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _utc_stamp(record.created) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, sort_keys=False)


class _TextFormatter(logging.Formatter):
    """``2026-01-02T03:04:05.678Z|INFO|logger|message``, like OVS daemons' log files."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s|%(levelname)s|%(name)s|%(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"{_utc_stamp(record.created)}.{int(record.msecs):03d}Z"


def _setup_logging(args: argparse.Namespace) -> LogSetup:
    """Console (stderr) and ``--log-file`` handlers, levels from ``--log-level`` and ``-v``.

    :raises ValueError: a ``-v`` is malformed, or a log destination cannot be opened.
    """
    level = args.log_level or getattr(args, "default_log_level", "info")
    fmt = args.log_format
    if fmt is None:
        fmt = "journal" if stderr_is_journal() else "text"
    formatters: dict[str, Callable[[], logging.Formatter]] = {
        "json": _JsonFormatter,
        "text": _TextFormatter,
        "journal": JournalFormatter,
    }
    console = formatters[fmt]()
    # The file gets timestamps even when the console goes to the journal.
    file_formatter = _JsonFormatter() if fmt == "json" else _TextFormatter()
    setup = LogSetup(level, console, file_formatter, args.log_file, args.syslog_method)
    setup.apply(args.verbose or ())
    return setup


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    # Cells may hold database text (lport names...): one escaped line each.
    rows = [[log_safe(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


# -- agent ------------------------------------------------------------------


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0: {text!r}")
    return value


def _cmd_agent(args: argparse.Namespace) -> int:
    from ovn_vif._engine.report import Policy
    from ovn_vif.agent import Agent, AgentConfig, AgentSetupError
    from ovn_vif.cli._allocator import in_use as allocator_in_use
    from ovn_vif.cli._daemon import Daemon
    from ovn_vif.cli._service import AgentServices, DetachWhenConnecting, ReopenOnSighup

    config = AgentConfig(
        ovs_remote=args.ovs_remote,
        chassis=args.chassis,
        ovn_remote=args.ovn_remote,
        bridge=args.ovn_bridge,
        providers=args.provider,
        policy=Policy.OVN_COMPATIBLE if args.policy == "ovn-compatible" else Policy.RECOMMENDED,
        connect_timeout=args.connect_timeout,
        fast_json=not args.no_fast_json,
        private_key=args.private_key,
        certificate=args.certificate,
        ca_cert=args.ca_cert,
        audit_interval=args.audit_interval,
        status_file=args.status_file,
    )
    daemon = Daemon(detach=args.detach, monitor=args.monitor, chdir=not args.no_chdir)
    daemon.start()  # returns in the process that runs the agent
    LOG.debug("Python objects allocated by %s", allocator_in_use())
    gc_thresholds = gc.get_threshold()
    gc.set_threshold(*AGENT_GC_THRESHOLDS)
    agent = Agent(config)
    log_setup: LogSetup = args.log_setup
    received: list[str] = []
    reopen = ReopenOnSighup(log_setup)
    agent.observers.add(reopen)
    if args.detach:
        agent.observers.add(DetachWhenConnecting(daemon))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Only flag it here; logging from a signal handler could interleave.
        if signum == signal.SIGHUP:
            reopen.request()
            agent.wake()
            return
        received.append(signal.Signals(signum).name)
        agent.stop()

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    services = AgentServices(agent, args, log_setup)
    try:
        try:
            services.before_start()
            agent.start()
            services.after_start()
            daemon.ready()
        except AgentSetupError as exc:
            if agent.stopping:
                return EXIT_OK
            # Once on stderr; in the log file too when there is one.
            log_setup.only_to_file(logging.ERROR, f"ovn-vif agent: error: {exc}")
            print(f"ovn-vif agent: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        agent.run()
        services.stopping()
        LOG.info(
            "received %s: ovn-vif agent stopped; plugged ports stay plugged",
            "/".join(received) or "a stop request",
        )
        return EXIT_OK
    finally:
        agent.close()
        services.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        gc.set_threshold(*gc_thresholds)


# -- providers --------------------------------------------------------------


def _cmd_providers(args: argparse.Namespace) -> int:
    from ovn_vif._contract.registry import Registry, installed_providers

    result = []
    for entry in installed_providers():
        # Register each alone, in a throwaway registry: does init() succeed here?
        registry = Registry()
        report = registry.load_entry_points(only=[entry.name])
        registry.destroy_all()
        result.append(
            {
                "type": entry.name,
                "module": entry.module,
                "distribution": entry.distribution,
                "version": entry.version,
                "usable": bool(report.registered),
                "reason": report.failed[0].reason if report.failed else None,
            }
        )
    if args.json:
        _print_json(result)
        return EXIT_OK
    if not result:
        print("no VIF plug provider is installed")
        return EXIT_OK
    rows = [
        [
            str(r["type"]),
            str(r["module"]),
            str(r["version"] or "-"),
            "yes" if r["usable"] else f"no: {r['reason']}",
        ]
        for r in result
    ]
    print(_table(["TYPE", "MODULE", "VERSION", "USABLE HERE"], rows))
    return EXIT_OK


# -- status -----------------------------------------------------------------


def _cmd_status(args: argparse.Namespace) -> int:
    from ovn_vif._engine.compatible import COMPATIBLE_WITH
    from ovn_vif.agent import RemoteError
    from ovn_vif.agent._plugged import read_plugged_ports
    from ovn_vif.agent._status_file import find_status_file, read_agent_status

    try:
        system_id, ports = read_plugged_ports(args.ovs_remote, timeout=args.timeout)
    except RemoteError as exc:
        print(f"ovn-vif status: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    status_file = args.status_file or find_status_file(args.ovs_remote)
    agent = None if status_file is None else read_agent_status(status_file)
    if agent is not None and system_id is not None and agent.chassis != system_id:
        agent = None  # written for another chassis name: not this one's story
    if args.json:
        _print_json(
            {
                "chassis": system_id,
                "compatible_with": COMPATIBLE_WITH,
                "ports": [p.as_dict() for p in ports],
                "status_file": status_file,
                "agent_status_written_at": None if agent is None else agent.written_at,
                "not_plugged": [] if agent is None else [n.as_dict() for n in agent.not_plugged],
                "self_audit": None if agent is None else agent.audit,
            }
        )
        return EXIT_OK
    print(f"chassis: {log_safe(system_id) if system_id else '(system-id not set)'}")
    print(f"compatible policy follows: {COMPATIBLE_WITH}")
    if not ports:
        print("nothing is plugged")
    else:
        _print_plugged(ports)
    if agent is None:
        where = status_file or "(no status file for a non-unix remote; pass --status-file)"
        print(f"not plugged: unknown (no agent status at {where})")
    elif not agent.not_plugged:
        print(f"not plugged: none (agent pid {agent.pid}, {_age(agent.written_at)})")
    else:
        print(f"not plugged (agent pid {agent.pid}, {_age(agent.written_at)}):")
        for n in agent.not_plugged:
            # Lport names and reasons come from the databases and providers.
            print(f"  {log_safe(n.headline, limit=1024)}")
    if agent is not None:
        print(_audit_line(agent.audit))
    return EXIT_OK


def _audit_line(audit: dict[str, Any] | None) -> str:
    """When the agent last checked its Southbound view against the server, and what it found."""
    if audit is None:
        return "self-audit: none yet"
    try:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(audit["time"])))
        outcome = str(audit["outcome"])
        found = audit.get("divergences") or {}
        total = sum(int(v) for v in found.values())
        diff = audit.get("differences") or {}
        if outcome == "failed":
            what = f"could not ask the server: {log_safe(audit.get('error'))}"
        elif outcome == "ok":
            what = f"ok, {int(audit['rows'])} Port_Binding(s) requesting this chassis"
        else:
            kinds = ("missing", "extra", "changed")
            counts = ", ".join(f"{len(diff.get(k) or ())} {k}" for k in kinds)
            what = f"{log_safe(outcome)} ({counts})"
        via = log_safe(audit.get("member"))
        return f"self-audit: last at {when} via {via}: {what}; divergences since start: {total}"
    except (KeyError, TypeError, ValueError, AttributeError):
        return "self-audit: (unreadable record)"


def _age(written_at: float) -> str:
    seconds = max(0.0, time.time() - written_at)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(written_at))
    return f"as of {stamp}, {seconds:.0f} s ago"


def _print_plugged(ports: Sequence[Any]) -> None:
    rows = [
        [
            p.lport,
            p.plug_type,
            p.port or "-",
            p.iface,
            p.bridge or "-",
            p.iface_type or '""',
            "-" if p.mtu_request is None else str(p.mtu_request),
            "-" if p.ofport is None else str(p.ofport),
        ]
        for p in ports
    ]
    print(
        _table(["LPORT", "PLUG TYPE", "PORT", "INTERFACE", "BRIDGE", "TYPE", "MTU", "OFPORT"], rows)
    )


# -- demo -------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from ovn_vif.cli._demo import parse_lport_options, run_demo

    try:
        options = parse_lport_options(args.lport_option or ())
    except ValueError as exc:
        print(f"ovn-vif demo: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_demo(
        use_fake=args.fake,
        keep=args.keep,
        provider=args.provider,
        lport_options=options,
        parent=args.sandbox_parent,
    )


# -- appctl -----------------------------------------------------------------


def _cmd_appctl(args: argparse.Namespace) -> int:
    from ovn_vif.agent._control import call, default_socket

    code, text = call(args.target or default_socket(), args.cmd, list(args.cmd_args), args.timeout)
    if code == 0:
        sys.stdout.write(text)
        return EXIT_OK
    sys.stderr.write(f"ovn-vif appctl: {text.rstrip()}\n")
    return EXIT_USAGE if code == 2 else EXIT_FAILURE


# -- commands from other distributions ------------------------------------


def _add_plugin_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the subcommands that installed distributions declare.

    Each entry point of the :data:`COMMAND_ENTRY_POINT_GROUP` group names a
    callable ``add_command(subparsers, parents)`` that adds one subparser
    (``subparsers.add_parser(name, parents=parents, ...)``) and sets its
    ``func`` default to a callable taking the parsed arguments and
    returning the exit status. A plugin that fails to load is left out
    with a warning; the other commands still work.
    """
    from ovn_vif._contract.entrypoints import entry_points

    taken = set(sub.choices)
    for ep in sorted(entry_points(COMMAND_ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in taken:
            continue  # a distribution installed twice, or a clash with a built-in command
        try:
            add_command = ep.load()
            add_command(sub, [common])
        except Exception as exc:
            print(
                f"ovn-vif: warning: command {ep.name!r} from {ep.value} is not available: "
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            continue
        taken.add(ep.name)


# -- parser -----------------------------------------------------------------


#: The commands of this distribution: running one loads no plugin command.
BUILTIN_COMMANDS = frozenset({"agent", "providers", "status", "demo", "appctl"})


def _terminal_columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size()`` tells it
    (``$COLUMNS``, else standard output's terminal, else 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, given the width it would ask ``shutil`` for:
    argparse imports ``shutil`` (and with it ``bz2``, ``lzma``, ``zlib``,
    0.7 MB of an idle agent) for each parser that gets an argument."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        if kwargs.get("width") is None:
            kwargs["width"] = _terminal_columns() - 2
        super().__init__(prog, **kwargs)


class _ArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with :class:`_HelpFormatter` by default (its
    subcommands' parsers are of its class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def _parser(*, plugins: bool = True) -> argparse.ArgumentParser:
    from ovn_vif import __version__
    from ovn_vif.agent._config import DEFAULT_OVS_REMOTE

    common = _ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="least severe log level shown (default: info; warning for demo, error for providers)",
    )
    common.add_argument(
        "--log-format",
        choices=["text", "json", "journal"],
        help="log line format on stderr: text (OVS style), json (one object per line), "
        "journal (<N> priority prefixes, no timestamp); default: journal when stderr is "
        "the systemd journal, else text",
    )
    common.add_argument(
        "--log-file",
        metavar="FILE",
        help="also log to FILE (text, or json with --log-format json); reopened on SIGHUP, "
        "by the control socket's vlog/reopen, and when moved away",
    )
    common.add_argument(
        "--syslog-method",
        metavar="unix:PATH|udp:HOST:PORT",
        help="also log to syslog (facility daemon, tag ovn-vif) through this socket, "
        "e.g. unix:/dev/log",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="append",
        metavar="[MODULE:]LEVEL",
        help="log level of one module (logger name, e.g. ovn_vif.agent:debug), of all "
        "(debug), or of a destination (console:warn, file:debug, syslog:err); levels off, "
        "emer, err, warn, info, dbg (or the Python names); repeatable",
    )

    parser = _ArgumentParser(
        prog="ovn-vif",
        description="Plug OVN VIFs through Python VIF plug providers.",
    )
    parser.add_argument("--version", action="version", version=f"ovn-vif {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    agent = sub.add_parser(
        "agent",
        parents=[common],
        help="run the plugging agent",
        description=(
            "Plug, update and unplug the VIFs that OVN requests for this chassis, through "
            "the installed providers, until SIGTERM or SIGINT. Plugged ports stay plugged "
            "on exit. Settings default to the Open_vSwitch row's external_ids, like "
            "ovn-controller."
        ),
    )
    agent.add_argument(
        "--ovs-remote",
        default=DEFAULT_OVS_REMOTE,
        help="local Open_vSwitch database (default: %(default)s)",
    )
    agent.add_argument("--chassis", help="chassis name (default: external_ids:system-id)")
    agent.add_argument(
        "--ovn-remote",
        help="Southbound database, comma-separated cluster members allowed "
        "(default: external_ids:ovn-remote)",
    )
    agent.add_argument(
        "--ovn-bridge", help="integration bridge (default: external_ids:ovn-bridge, else br-int)"
    )
    agent.add_argument(
        "--provider",
        action="append",
        metavar="TYPE",
        help="enable this provider type (repeatable; default: every installed provider)",
    )
    agent.add_argument(
        "--policy",
        default="recommended",
        choices=["recommended", "ovn-compatible"],
        help="decision policy of the engine (default: %(default)s)",
    )
    agent.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to keep trying to reach a database at start-up (default: %(default)s)",
    )
    agent.add_argument(
        "--audit-interval",
        type=_non_negative,
        default=60.0,
        metavar="SECONDS",
        help="check the agent's Southbound view against the server, and the engine against a "
        "full run, this often and after every reconnection; 0 disables (default: %(default)s)",
    )
    tls = agent.add_argument_group(
        "TLS (ssl: remotes)",
        "Each file not given here is read from the SSL table of the local database "
        "(ovs-vsctl set-ssl), like ovn-controller does, and followed as it changes.",
    )
    tls.add_argument("-p", "--private-key", metavar="FILE", help="private key (PEM)")
    tls.add_argument("-c", "--certificate", metavar="FILE", help="certificate of this chassis")
    tls.add_argument("-C", "--ca-cert", metavar="FILE", help="CA certificate of the servers")
    service = agent.add_argument_group("service")
    service.add_argument(
        "--unixctl",
        metavar="PATH",
        help="control socket (ovn-vif appctl, ovs-appctl -t PATH); 'none' for none "
        "(default: $OVN_VIF_RUNDIR/ovn-vif-agent.ctl, OVN_VIF_RUNDIR defaulting to "
        "/var/run/ovn-vif, when that directory exists)",
    )
    service.add_argument(
        "--pidfile",
        nargs="?",
        const="",
        metavar="FILE",
        help="write the process id to FILE, locked while the agent runs "
        "(default FILE: $OVN_VIF_RUNDIR/ovn-vif-agent.pid)",
    )
    service.add_argument(
        "--status-file",
        metavar="PATH",
        help="write why lports are not plugged here, for ovn-vif status; '' for no file "
        "(default: $OVN_VIF_RUNDIR/ovn-vif.status.json if OVN_VIF_RUNDIR is set, else "
        "ovn-vif.status.json next to a unix: --ovs-remote socket)",
    )
    service.add_argument(
        "--detach",
        action="store_true",
        help="run in the background: return once set up (pidfile and control socket made, "
        "local database read), without waiting for the Southbound",
    )
    service.add_argument(
        "--monitor",
        action="store_true",
        help="start the agent again when it crashes, as OVS daemons' --monitor",
    )
    service.add_argument(
        "--no-chdir",
        action="store_true",
        help="with --detach, stay in the current directory instead of /",
    )
    service.add_argument(
        "--metrics-address",
        metavar="HOST:PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (needs ovn-vif[metrics])",
    )
    agent.add_argument(
        "--no-fast-json",
        action="store_true",
        help="keep the ovs package's own (pure-Python) JSON parser for OVSDB messages",
    )
    agent.set_defaults(func=_cmd_agent)

    providers = sub.add_parser(
        "providers",
        parents=[common],
        help="list installed providers",
        description="List the installed VIF plug providers (entry points of the group "
        "ovn_vif.providers) and whether each initialises on this host.",
    )
    providers.add_argument("--json", action="store_true", help="print JSON")
    # The table already says why a provider is not usable: no warnings by default.
    providers.set_defaults(func=_cmd_providers, default_log_level="error")

    status = sub.add_parser(
        "status",
        parents=[common],
        help="show what is plugged on this chassis",
        description="Show the ports plugged on this chassis (Interfaces with "
        "external_ids:ovn-plugged and iface-id) according to the local database, and "
        "the lports the agent did not plug and why, according to its status file.",
    )
    status.add_argument(
        "--ovs-remote",
        default=DEFAULT_OVS_REMOTE,
        help="local Open_vSwitch database (default: %(default)s)",
    )
    status.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="connection timeout"
    )
    status.add_argument(
        "--status-file",
        metavar="PATH",
        help="the agent's status file, which says why lports are not plugged "
        "(default: the agent's: $OVN_VIF_RUNDIR/ovn-vif.status.json if OVN_VIF_RUNDIR is "
        "set, else ovn-vif.status.json next to a unix: --ovs-remote socket; if that does "
        "not exist, /var/run/ovn-vif/ovn-vif.status.json, the systemd unit's)",
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_cmd_status)

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="plug, update, move and unplug ports on a throwaway OVN",
        description="Start a throwaway local OVN (if OVS/OVN are installed; otherwise use "
        "the fake IDL), run the agent with the dummy provider (or yours, --provider) "
        "in-process and walk through plugging, updating, moving and unplugging ports. "
        "Everything is stopped and removed at the end, also on Ctrl-C.",
    )
    demo.add_argument(
        "--fake", action="store_true", help="use the fake IDL even if OVS/OVN are installed"
    )
    demo.add_argument("--keep", action="store_true", help="keep the sandbox directory")
    demo.add_argument(
        "--provider",
        default="dummy",
        metavar="TYPE",
        help="plug with this provider: an installed type, or MODULE:CLASS "
        "(default: %(default)s); other than dummy, one LSP is plugged, updated and deleted",
    )
    demo.add_argument(
        "--lport-option",
        action="append",
        metavar="KEY=VALUE",
        help="an option for the LSP, such as vif-plug:acme:slot=3 (repeatable)",
    )
    demo.add_argument(
        "--sandbox-parent",
        metavar="DIR",
        help="create the sandbox directory in DIR (default: /tmp; keep the path short)",
    )
    demo.set_defaults(func=_cmd_demo, default_log_level="warning")

    appctl = sub.add_parser(
        "appctl",
        parents=[common],
        help="send a command to a running agent's control socket",
        description="Send COMMAND to the control socket of a running ovn-vif agent (like "
        "ovs-appctl, which works on the same socket). 'help' lists the commands.",
    )
    appctl.add_argument(
        "-t",
        "--target",
        metavar="PATH",
        help="control socket (default: $OVN_VIF_RUNDIR/ovn-vif-agent.ctl, OVN_VIF_RUNDIR "
        "defaulting to /var/run/ovn-vif)",
    )
    appctl.add_argument("-T", "--timeout", type=float, default=10.0, metavar="SECONDS")
    appctl.add_argument("cmd", metavar="COMMAND")
    appctl.add_argument("cmd_args", nargs=argparse.REMAINDER, metavar="ARG")
    appctl.set_defaults(func=_cmd_appctl, default_log_level="warning")

    if plugins:
        _add_plugin_commands(sub, common)
    return parser


def _wants_plugins(argv: Sequence[str]) -> bool:
    """Whether parsing *argv* needs the plugin commands: not for a built-in
    command, whose run would otherwise import every plugin's modules (the
    representor provider's command imports pyroute2, 12 MB of the agent's
    memory)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    return command not in BUILTIN_COMMANDS


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ovn-vif`` command with *argv* (default: ``sys.argv[1:]``); return its status."""
    as_program = argv is None
    if argv is None:
        argv = sys.argv[1:]
    args = _parser(plugins=_wants_plugins(argv)).parse_args(argv)
    if as_program and args.command == "agent":
        from ovn_vif.cli._allocator import reexec_with_malloc

        reexec_with_malloc()  # returns where it does not apply
    try:
        args.log_setup = _setup_logging(args)
    except ValueError as exc:
        print(f"ovn-vif {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except BrokenPipeError:
        # The reader went away (`ovn-vif status | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
