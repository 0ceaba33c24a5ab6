"""The OVN-compatible policy: ``controller/vif-plug.c`` of OVN 23.03, step by step.

Pass A over the interfaces OVN plugged, pass B over the Port_Bindings
requested for this chassis, the "touched" rule and the local-binding rule
(``iface-id`` + ``ofport > 0``), with no by-name lookup.
"""

from __future__ import annotations

from ovn_vif._contract.logsafe import log_safe
from ovn_vif._engine.decision import LOG, PolicyRun, Refused
from ovn_vif._engine.eligibility import (
    PLUG_TYPE_OPTION,
    CanBind,
    can_bind,
)
from ovn_vif._engine.report import Reason
from ovn_vif._engine.views import (
    BindingView,
    IfaceView,
)

#: The ovn-controller releases whose VIF plugging ``Policy.OVN_COMPATIBLE``
#: follows, row for row except where docs/engine.rst says otherwise; the
#: side-by-side suite runs against both. Shown by ``ovn-vif status``.
COMPATIBLE_WITH = "ovn-controller 23.03 and 25.03 (see docs/engine.rst)"


class OvnCompatibleRun(PolicyRun):
    def run(self) -> None:
        # Pass A: every interface with ovn-plugged and iface-id.
        for iface in self.ovs.ifaces.values():
            if iface.plugged_by is None or iface.iface_id is None:
                continue
            if iface.iface_id in self.touched:
                continue
            self.isolated(iface.iface_id, iface.plugged_by, self.handle_iface, iface)
        # Pass B: plain VIF Port_Bindings requested for this chassis.
        for binding in self.sb.bindings.values():
            if binding.requested_chassis != self.chassis.uuid or not binding.is_plain_vif:
                continue
            lport = binding.logical_port
            if lport in self.touched:
                continue
            self.isolated(
                lport,
                binding.options.get(PLUG_TYPE_OPTION),
                self.consider_plug,
                binding,
                self.local_binding(lport),
            )

    def handle_iface(self, iface: IfaceView) -> None:
        """Pass A for one OVN-plugged interface (OVN ``handle_iface``)."""
        assert iface.iface_id is not None
        lport = iface.iface_id
        lbinding = self.local_binding(lport)
        binding = self.sb.bindings.get(lport)
        verdict = can_bind(self.chassis, binding) if binding is not None else CanBind.CANNOT
        if binding is not None and lbinding is not None and verdict:
            self.consider_plug(binding, lbinding)
        elif verdict is CanBind.CANNOT and self.ovs.on_bridge(iface):
            # OVN also "unplugs" interfaces of other bridges, which
            # stages nothing (it only edits br-int); we skip them.
            self.unplug(iface, binding, self.unplug_reason(binding, lport))

    def unplug_reason(self, binding: BindingView | None, lport: str) -> str:
        if binding is None:
            return f"lport {lport} no longer exists"
        return f"lport {lport} cannot be bound on chassis {self.chassis.name}"

    def consider_plug(self, binding: BindingView, lbinding: IfaceView | None) -> None:
        try:
            self._consider_plug(binding, lbinding)
        except Refused as refused:
            self.record(refused.decision)

    def _consider_plug(self, binding: BindingView, lbinding: IfaceView | None) -> None:
        if not can_bind(self.chassis, binding) or binding.requested_chassis != self.chassis.uuid:
            return
        found = self.plug_type_of(binding)
        if found is None:
            return
        plug_type, provider = found
        lport = binding.logical_port
        mtu = self.mtu_for(binding)
        if lbinding is not None:
            if lbinding.plugged_by is None:
                raise self.refuse_foreign(lport, plug_type, lbinding)
            prepared = self.prepare_create(binding, plug_type, provider, lbinding.name)
            if prepared is None:
                return
            ctx, spec = prepared
            if lbinding.name != spec.name:
                # Not rate-limited in OVN: logged on every run.
                LOG.warning(
                    "Attempt of incompatible change to existing port detected, "
                    "please recreate port: %s",
                    log_safe(lport),
                )
                self.release(lport, provider, ctx, spec)
                raise self.refuse(
                    lport,
                    Reason.INCOMPATIBLE_CHANGE,
                    f"provider {plug_type} now names port {spec.name}, "
                    f"but {lbinding.name} is plugged",
                    plug_type=plug_type,
                    port=spec.name,
                )
            self.stage_update(
                binding=binding,
                plug_type=plug_type,
                provider=provider,
                ctx=ctx,
                spec=spec,
                iface=lbinding,
                mtu=mtu,
            )
            return
        prepared = self.prepare_create(binding, plug_type, provider)
        if prepared is None:
            return
        ctx, spec = prepared
        try:
            # OVN 23.03 has no by-name lookup: an OVN-plugged row of that
            # name without ofport yet is created again (and the commit fails
            # on the unique index). Foreign rows are never clobbered.
            self.check_name_free(binding, plug_type, spec.name)
        except Refused:
            self.release(lport, provider, ctx, spec)
            raise
        self.report_plugged(lport, plug_type, spec.name)
        self.stage_create(
            binding=binding, plug_type=plug_type, provider=provider, ctx=ctx, spec=spec, mtu=mtu
        )


# --- RECOMMENDED -----------------------------------------------------------
