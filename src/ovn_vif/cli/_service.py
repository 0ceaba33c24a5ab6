"""What turns ``ovn-vif agent`` into a service: pidfile, control socket, systemd, metrics.

Each part is an observer of the agent's loop (:mod:`ovn_vif.agent._observers`)
or a resource held for the process's life; :class:`AgentServices` sets them
up around :meth:`Agent.start` and takes them down in reverse order.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import TYPE_CHECKING, Any

from ovn_vif._errors import AgentSetupError
from ovn_vif.agent._observers import Observer
from ovn_vif.cli._daemon import Pidfile
from ovn_vif.cli._logging import LogSetup

if TYPE_CHECKING:
    from ovn_vif.agent._control import ControlServer
    from ovn_vif.agent._loop import Agent
    from ovn_vif.agent._notify import SystemdNotifier
    from ovn_vif.cli._daemon import Daemon

LOG = logging.getLogger(__name__)


class AgentServices:
    def __init__(self, agent: Agent, args: argparse.Namespace, log_setup: LogSetup) -> None:
        self.agent = agent
        self.args = args
        self.log_setup = log_setup
        self.pidfile: Pidfile | None = None
        self.control: ControlServer | None = None
        self.notifier: SystemdNotifier | None = None

    def before_start(self) -> None:
        """Pidfile, status counters, metrics endpoint, systemd notifier.

        :raises AgentSetupError: any of them cannot be set up.
        """
        from ovn_vif.agent._control import rundir
        from ovn_vif.agent._loop_status import LoopStatus
        from ovn_vif.agent._memory import MemoryReport
        from ovn_vif.agent._notify import SystemdNotifier
        from ovn_vif.agent._trim import HeapTrim

        args, agent = self.args, self.agent
        if args.pidfile is not None:
            path = args.pidfile or os.path.join(rundir(), "ovn-vif-agent.pid")
            self.pidfile = Pidfile(path)  # raises AgentSetupError
        self.status = LoopStatus()
        agent.observers.add(self.status)
        if args.metrics_address:
            from ovn_vif.agent._metrics import Metrics

            metrics = Metrics()
            metrics.serve(args.metrics_address)
            agent.observers.add(metrics)
        self.notifier = SystemdNotifier()
        if self.notifier.enabled:
            agent.observers.add(self.notifier)
        trim = HeapTrim()
        if trim.enabled:
            agent.observers.add(trim)
        agent.observers.add(MemoryReport(self.status))
        self._open_control()

    def after_start(self) -> None:
        """Nothing yet: every part is set up before :meth:`Agent.start`."""

    def _open_control(self) -> None:
        """The control socket, before the first connection to a database, so
        that ``status`` answers while the agent waits for one.

        :raises AgentSetupError: an explicit ``--unixctl`` cannot be created.
        """
        from ovn_vif import __version__
        from ovn_vif.agent._control import ControlServer, default_socket

        path = self.args.unixctl
        if path == "none":
            return
        explicit = path is not None
        path = path or default_socket()
        if not explicit and not os.path.isdir(os.path.dirname(path)):
            LOG.info(
                "no control socket: %s does not exist (create it, set OVN_VIF_RUNDIR or pass "
                "--unixctl PATH)",
                os.path.dirname(path),
            )
            return
        try:
            self.control = ControlServer(path, self.agent, self.status, __version__)
        except AgentSetupError as exc:
            if explicit:
                raise
            LOG.warning("%s; running without a control socket", exc)
            return
        self._add_vlog_commands(self.control)
        self.agent.observers.add(self.control)

    def _add_vlog_commands(self, control: ControlServer) -> None:
        setup = self.log_setup

        def vlog_set(argv: list[str]) -> str:
            return "".join(setup.set(spec) + "\n" for spec in argv)

        def vlog_reopen(argv: list[str]) -> str:
            if not setup.reopen():
                raise ValueError("there is no log file to reopen (start with --log-file FILE)")
            LOG.info("reopened the log file through the control socket")
            return ""

        control.add("vlog/set", "[MODULE:]LEVEL | DESTINATION:LEVEL...", 1, 32, vlog_set)
        control.add("vlog/list", "", 0, 0, lambda argv: setup.listing() + "\n")
        control.add("vlog/reopen", "", 0, 0, vlog_reopen)

    def stopping(self) -> None:
        if self.notifier is not None:
            self.notifier.stopping()

    def close(self) -> None:
        # Observers (control socket, metrics, notifier) are closed by Agent.close().
        if self.pidfile is not None:
            self.pidfile.close()
            self.pidfile = None


class ReopenOnSighup(Observer):
    """Reopen the log file after SIGHUP, from the agent's loop.

    The signal handler only calls :meth:`request` (and wakes the agent):
    the reopening happens in the loop, never inside the handler.
    """

    def __init__(self, setup: LogSetup) -> None:
        self.setup = setup
        self.pending = 0

    def request(self) -> None:
        self.pending += 1

    def iteration(self, agent: Agent) -> None:
        if not self.pending:
            return
        self.pending = 0
        if self.setup.file is not None:
            self.setup.reopen()
            LOG.info("SIGHUP: reopened the log file %s", self.setup.file.baseFilename)
        else:
            LOG.info("SIGHUP: no log file to reopen; ignored")


class DetachWhenConnecting(Observer):
    """``--detach`` returns once the agent is set up and waits for the Southbound.

    As OVS daemons do (``ovn-controller`` among them), the command does not
    wait for the remote database: once the providers are loaded, the local
    database read and the settings, remotes and TLS files checked (a
    problem with any is still the command's exit status), the agent goes
    on in the background while it connects. An agent that never waits for
    the Southbound is ready when :meth:`Agent.start` returns, as before.
    """

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    def starting(self, agent: Agent, poller: Any) -> None:
        from ovn_vif.agent._databases import SOUTHBOUND

        progress = agent.start_progress
        if progress is not None and progress["database"] == SOUTHBOUND:
            self._daemon.ready()
