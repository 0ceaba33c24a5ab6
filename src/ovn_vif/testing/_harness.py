"""A harness for provider unit tests: :class:`ProviderHarness`.

It holds what an agent holds -- fake local and Southbound databases, their
IDLs, a registry and the real engine -- and lets a test say what the CMS
does (add an lport, change one option, move it to another chassis, delete
it), run one agent iteration with a chosen commit outcome, and read what is
plugged::

    from ovn_vif.testing import ProviderHarness

    def test_acme_plugs_slot_3():
        with ProviderHarness(AcmeProvider()) as h:
            h.add_lport("lsp1", {"vif-plug:acme:slot": "3"})
            step = h.iterate()
            assert step.outcomes == {"lsp1": (Outcome.PLUGGED,)}
            assert h.plugged()["lsp1"].name == "acme3"
            h.set_options("lsp1", {"vif-plug:acme:slot": "4"})
            h.iterate(commit="error")        # the commit fails: release() only
            h.delete_lport("lsp1")
            h.iterate()
            assert h.plugged() == {}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Final

import attrs
from ovs.db.idl import Transaction

from ovn_vif._contract.frozenmap import FrozenMap, freeze
from ovn_vif._contract.provider import RestoredPort, VifPlugProvider
from ovn_vif._contract.registry import Registry
from ovn_vif._engine.columns import create_sb_indexes, register_ovs_columns, register_sb_columns
from ovn_vif._engine.reconciler import Reconciler, restored_ports
from ovn_vif._engine.report import CompletionReport, Outcome, Policy, ReconcileReport
from ovn_vif._engine.snapshot import read_ovs, read_sb
from ovn_vif._memdb.idl import FakeIdl
from ovn_vif._memdb.server import COMMIT_OUTCOMES, FakeDatabase
from ovn_vif._memdb.topology import (
    PortBindingFactory,
    add_chassis,
    connect,
    ovs_database,
    sb_database,
)

#: Option keys the harness manages itself (the CMS's plug request).
PLUG_TYPE_OPTION: Final = "vif-plug-type"
REQUESTED_CHASSIS_OPTION: Final = "requested-chassis"


@attrs.frozen(kw_only=True)
class PluggedInterface:
    """One Interface plugged by ovn-vif, as the local database holds it."""

    #: The lport (``external_ids:iface-id``).
    lport: str
    #: The plug type (``external_ids:ovn-plugged``).
    plug_type: str
    #: Interface (and Port) name.
    name: str
    #: Interface ``type`` (``""`` for a system device).
    type: str
    #: Interface ``options``.
    options: FrozenMap = attrs.field(converter=freeze)
    #: Interface ``external_ids``.
    external_ids: FrozenMap = attrs.field(converter=freeze)
    #: ``mtu_request``, or ``None``.
    mtu_request: int | None
    #: ``ofport``, or ``None`` (the harness assigns one after each commit).
    ofport: int | None


@attrs.frozen(kw_only=True)
class Iteration:
    """What one :meth:`ProviderHarness.iterate` did."""

    #: The engine's report (:meth:`ovn_vif.Reconciler.reconcile`).
    report: ReconcileReport
    #: The commit status (``"success"``, ``"unchanged"``, ``"error"``...).
    status: str
    #: What :meth:`ovn_vif.Reconciler.complete` did with it.
    completion: CompletionReport

    @property
    def outcomes(self) -> dict[str, tuple[Outcome, ...]]:
        """``{lport: (outcome, ...)}`` of this iteration."""
        return self.report.outcomes()


def assign_ofports(db: FakeDatabase) -> None:
    """Give every Interface without an ``ofport`` one, as ``ovs-vswitchd`` does.

    The engine treats an interface as bound only once it has an ofport.
    """
    rows = db.rows("Interface")
    used = {r["ofport"][0] for r in rows.values() if r["ofport"]}
    free = (n for n in range(1, 65280) if n not in used)
    with db.batch() as t:
        for row_uuid, row in rows.items():
            if not row["ofport"]:
                t.update("Interface", row_uuid, ofport=[next(free)])


def _single(value: Any) -> Any:
    return value[0] if isinstance(value, (list, tuple)) and value else None


class ProviderHarness:
    """Fake databases, the real engine and your providers, driven a step at a time.

    :param providers: the providers to register (one or more instances).
    :param chassis: this chassis's name (``system-id``).
    :param other_chassis: more chassis to create in the Southbound database,
        so lports can be requested for, or moved to, them.
    :param bridge: the integration bridge.
    :param policy: the engine's policy.

    Attributes for tests that need more: :attr:`ovs_db`, :attr:`sb_db` (the
    :class:`~ovn_vif.testing.FakeDatabase` objects), :attr:`ovs_idl`,
    :attr:`sb_idl`, :attr:`registry`, :attr:`reconciler`.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        *providers: VifPlugProvider,
        chassis: str = "hv1",
        other_chassis: Sequence[str] = ("hv2",),
        bridge: str = "br-int",
        policy: Policy = Policy.RECOMMENDED,
    ) -> None:
        self.chassis = chassis
        self.bridge = bridge
        self.policy = policy
        self.ovs_db: FakeDatabase = ovs_database(system_id=chassis, bridge=bridge)
        self.sb_db: FakeDatabase = sb_database(chassis=chassis)
        for n, name in enumerate(other_chassis, start=2):
            add_chassis(self.sb_db, name, encap_ip=f"192.0.2.{n}")
        self._bindings = PortBindingFactory(self.sb_db, chassis=chassis)
        self.ovs_idl: FakeIdl = connect(self.ovs_db, register_ovs_columns)
        self.sb_idl: FakeIdl = connect(
            self.sb_db, register_sb_columns, before_connect=create_sb_indexes
        )
        self.registry = Registry()
        try:
            for provider in providers:
                self.registry.register(provider)
        except BaseException:
            self.close()  # no harness to close it for the caller
            raise
        self.reconciler = Reconciler(self.registry, policy=policy)
        self.iterations: list[Iteration] = []

    # -- the CMS's side --------------------------------------------------

    def _binding(self, lport: str) -> Any:
        found = self.sb_db.find("Port_Binding", logical_port=lport)
        if not found:
            raise LookupError(f"no Port_Binding for lport {lport!r}; add_lport() it first")
        return found[0]

    def _chassis_uuid(self, name: str) -> Any:
        found = self.sb_db.find("Chassis", name=name)
        if not found:
            raise LookupError(f"no Chassis {name!r}; pass it in other_chassis")
        return found[0]

    def _plug_type(self, plug_type: str | None) -> str:
        if plug_type is not None:
            return plug_type
        types = self.registry.types()
        if len(types) != 1:
            raise ValueError(f"pass plug_type= (registered: {', '.join(types) or 'none'})")
        return types[0]

    def add_lport(
        self,
        lport: str,
        options: Mapping[str, str] | None = None,
        *,
        plug_type: str | None = None,
        chassis: str | None = None,
    ) -> None:
        """Add a Logical Switch Port's Port_Binding, as ovn-northd writes it.

        *plug_type* defaults to the type of the only registered provider;
        *chassis* (``requested-chassis``) to this chassis. *options* are the
        provider's own keys (``vif-plug:<type>:...``, ``vif-plug-mtu-request``).
        """
        self._bindings(
            lport,
            plug_type=self._plug_type(plug_type),
            options=dict(options or {}),
            requested_chassis=chassis or self.chassis,
        )

    def options(self, lport: str) -> dict[str, str]:
        """The lport's current Port_Binding options."""
        return dict(self.sb_db.get("Port_Binding", self._binding(lport))["options"])

    def set_options(
        self,
        lport: str,
        changes: Mapping[str, str] | None = None,
        *,
        remove: Sequence[str] = (),
    ) -> None:
        """Change some options of an lport (the others stay): keys of
        *changes* are set, keys in *remove* deleted."""
        row = self._binding(lport)
        options = self.options(lport)
        options.update(changes or {})
        for key in remove:
            options.pop(key, None)
        self.sb_db.update("Port_Binding", row, options=options)

    def move_lport(self, lport: str, chassis: str) -> None:
        """Request *lport* on another chassis (``requested-chassis`` and the
        ``requested_chassis`` column, as ovn-northd sets them)."""
        row = self._binding(lport)
        options = self.options(lport)
        options[REQUESTED_CHASSIS_OPTION] = chassis
        self.sb_db.update(
            "Port_Binding",
            row,
            options=options,
            requested_chassis=[self._chassis_uuid(chassis)],
        )

    def delete_lport(self, lport: str) -> None:
        """Delete the lport's Port_Binding (the LSP was deleted)."""
        self.sb_db.delete("Port_Binding", self._binding(lport))

    # -- the agent's side ------------------------------------------------

    def run_providers(self) -> bool:
        """Call every provider's ``run()``, as the agent's loop does at the
        start of an iteration (:meth:`ovn_vif.Registry.run_all`: a provider
        that raises is logged and counts as unchanged).

        :meth:`iterate` calls it for you; call it yourself to run the
        providers without reconciling (a provider that finishes work in
        ``run()``), or to look at them between ``run()`` and the engine's
        calls, then ``iterate(run=False)``.

        :returns: whether any provider reported a change.
        """
        return self.registry.run_all()

    def iterate(
        self,
        *,
        commit: str = "success",
        can_unplug: bool = True,
        details: str | None = None,
        run: bool = True,
    ) -> Iteration:
        """One agent iteration: read both databases, run the providers,
        reconcile, commit and tell the engine the outcome.

        :param commit: the outcome of the commit, one of
            :data:`~ovn_vif.testing.COMMIT_OUTCOMES` (``"success"``,
            ``"try again"``, ``"error"``, ``"not locked"``). A failed commit
            changes nothing; an empty transaction is ``"unchanged"``
            whatever is scripted.
        :param can_unplug: passed to the engine (``False`` = start-up delay).
        :param details: the error text of a scripted ``"error"``.
        :param run: call :meth:`run_providers` first; ``False`` when the
            test has just called it itself.
        """
        if commit not in COMMIT_OUTCOMES:
            raise ValueError(f"commit must be one of {COMMIT_OUTCOMES}, not {commit!r}")
        self.ovs_idl.run()
        self.sb_idl.run()
        if run:
            self.run_providers()
        txn = Transaction(self.ovs_idl)
        report = self.reconciler.reconcile(
            self.ovs_idl,
            self.sb_idl,
            txn,
            chassis=self.chassis,
            bridge=self.bridge,
            can_unplug=can_unplug,
        )
        scripted = commit != "success" and report.changed
        if scripted:
            self.ovs_db.script_commit(commit, details=details or "failure injected by the test")
        status = txn.commit_block()
        completion = self.reconciler.complete(status, txn=txn)
        assign_ofports(self.ovs_db)
        self.ovs_idl.run()
        step = Iteration(report=report, status=status, completion=completion)
        self.iterations.append(step)
        return step

    def converge(self, *, limit: int = 10) -> Iteration:
        """Iterate (commits succeed) until an iteration decides nothing.

        :raises AssertionError: still deciding after *limit* iterations.
        """
        for _ in range(limit):
            step = self.iterate()
            if not step.report.decisions and not step.report.changed:
                return step
        raise AssertionError(
            f"the engine still decides something after {limit} iterations: {step.outcomes}"
        )

    def restart(self, *providers: VifPlugProvider) -> None:
        """Play an agent restart: a new engine and, if given, new provider
        instances (the old ones are unregistered, without ``destroy``
        errors mattering). Plugged ports stay in the database."""
        if providers:
            if self.registry.destroy_all():
                # A destroy() raised and its provider stayed registered: the
                # new instances get a registry of their own, as a restarted
                # agent would.
                self.registry = Registry()
            for provider in providers:
                self.registry.register(provider)
        self.reconciler = Reconciler(self.registry, policy=self.policy)

    def reconnect_local_db(self) -> None:
        """Drop and re-establish the local database connection, and tell the
        engine (:meth:`ovn_vif.Reconciler.resync`), as the agent does."""
        self.ovs_db.reconnect_clients()
        for _ in range(3):
            self.ovs_idl.run()
        self.reconciler.resync()

    # -- reading ---------------------------------------------------------

    def plugged(self) -> dict[str, PluggedInterface]:
        """``{lport: PluggedInterface}`` of the Interfaces on the bridge that
        carry ``ovn-plugged`` and ``iface-id``."""
        bridge_ifaces: set[Any] = set()
        ports = self.ovs_db.rows("Port")
        for br in self.ovs_db.rows("Bridge").values():
            if br["name"] != self.bridge:
                continue
            for port_uuid in br["ports"]:
                bridge_ifaces.update(ports[port_uuid]["interfaces"])
        result: dict[str, PluggedInterface] = {}
        for row_uuid, row in self.ovs_db.rows("Interface").items():
            ids = row["external_ids"]
            if row_uuid not in bridge_ifaces or "ovn-plugged" not in ids or "iface-id" not in ids:
                continue
            result[ids["iface-id"]] = PluggedInterface(
                lport=ids["iface-id"],
                plug_type=ids["ovn-plugged"],
                name=row["name"],
                type=row["type"],
                options=row["options"],
                external_ids=ids,
                mtu_request=_single(row["mtu_request"]),
                ofport=_single(row["ofport"]),
            )
        return dict(sorted(result.items()))

    def restored_ports(self, plug_type: str | None = None) -> tuple[RestoredPort, ...]:
        """What :meth:`~ovn_vif.VifPlugProvider.restore` of a provider of
        *plug_type* would get now: the engine's own list, read from both
        databases (the Interfaces plugged for that type, each with its
        lport's current options).

        Give it to another instance of your provider to check that it
        rebuilds, from the rows alone, what the instance that plugged them
        holds in memory -- without a :meth:`restart`, so that the two can
        be compared::

            second = AcmeProvider()
            second.restore(h.restored_ports())

        *plug_type* defaults to the type of the only registered provider.
        """
        wanted = self._plug_type(plug_type)
        self.ovs_idl.run()
        self.sb_idl.run()
        ovs_view = read_ovs(self.ovs_idl, self.bridge)
        sb_view = read_sb(self.sb_idl, self.chassis, ovs_view.plugged_lports)
        return restored_ports(ovs_view, sb_view).get(wanted, ())

    def add_foreign_port(self, name: str, **external_ids: str) -> None:
        """Add a Port and Interface to the bridge that ovn-vif did not plug
        (as an operator's ``ovs-vsctl add-port`` would)."""
        [br] = self.ovs_db.find("Bridge", name=self.bridge)
        ports = list(self.ovs_db.get("Bridge", br)["ports"])
        with self.ovs_db.batch() as t:
            iface = t.insert("Interface", name=name, external_ids=dict(external_ids))
            port = t.insert("Port", name=name, interfaces=[iface])
            t.update("Bridge", br, ports=[*ports, port])
        assign_ofports(self.ovs_db)

    # -- life cycle --------------------------------------------------------

    def close(self) -> None:
        """Close both IDLs (the providers are not destroyed)."""
        for idl in (self.ovs_idl, self.sb_idl):
            idl.close()

    def __enter__(self) -> ProviderHarness:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
