"""The recommended policy: per-lport decisions from the rows OVN-plugged.

It decides from the ``ovn-plugged`` rows themselves rather than from the
local binding, so it can unplug withdrawn requests, replace a port whose
name changed and never create a port twice.
"""

from __future__ import annotations

from ovn_vif._contract.logsafe import log_safe
from ovn_vif._engine.decision import LOG, PolicyRun, Refused
from ovn_vif._engine.eligibility import (
    PLUG_TYPE_OPTION,
    REQUESTED_CHASSIS_OPTION,
    can_bind,
)
from ovn_vif._engine.report import Decision, Outcome
from ovn_vif._engine.views import (
    BindingView,
    IfaceView,
)


class RecommendedRun(PolicyRun):
    def run(self) -> None:
        ours: dict[str, list[IfaceView]] = {}
        for iface in self.ovs.bridge_ifaces:
            if (
                iface.plugged_by is not None
                and iface.iface_id is not None
                and self.ovs.sole_port(iface) is not None
            ):
                ours.setdefault(iface.iface_id, []).append(iface)
        wanted = {
            b.logical_port
            for b in self.sb.bindings.values()
            if b.requested_chassis == self.chassis.uuid
        }
        lports = sorted(set(ours) | wanted)
        # Unplugs first, so that names they free can be reused by plugs.
        to_plug: list[BindingView] = []
        for lport in lports:
            if lport in self.touched:
                continue
            binding = self.sb.bindings.get(lport)
            mine = ours.get(lport, [])
            plug_type = (
                binding.options.get(PLUG_TYPE_OPTION) if binding is not None else None
            ) or (mine[0].plugged_by if mine else None)
            self.isolated(lport, plug_type, self.sort_lport, lport, binding, mine, to_plug)
        for binding in to_plug:
            lport = binding.logical_port
            if lport in self.touched:
                continue
            self.isolated(
                lport,
                binding.options.get(PLUG_TYPE_OPTION),
                self.plug,
                binding,
                ours.get(lport, []),
            )

    def sort_lport(
        self,
        lport: str,
        binding: BindingView | None,
        ours: list[IfaceView],
        to_plug: list[BindingView],
    ) -> None:
        """Unplug *lport*'s ports if its request was withdrawn, else queue
        it for :meth:`plug` (when requested here as a plain VIF)."""
        why = self.withdrawn(lport, binding)
        if why is not None:
            for iface in ours:
                self.unplug(iface, binding, why)
            return
        assert binding is not None
        if binding.requested_chassis == self.chassis.uuid and binding.is_plain_vif:
            to_plug.append(binding)

    def withdrawn(self, lport: str, binding: BindingView | None) -> str | None:
        """Why the plug of *lport* on this chassis is no longer wanted."""
        if binding is None:
            return f"lport {lport} no longer exists"
        if not can_bind(self.chassis, binding):
            return f"lport {lport} cannot be bound on chassis {self.chassis.name}"
        if PLUG_TYPE_OPTION not in binding.options:
            return f"lport {lport} no longer asks for plugging ({PLUG_TYPE_OPTION} removed)"
        if not binding.options.get(REQUESTED_CHASSIS_OPTION):
            return (
                f"lport {lport} no longer requests a chassis ({REQUESTED_CHASSIS_OPTION} removed)"
            )
        return None

    def plug(self, binding: BindingView, ours: list[IfaceView]) -> None:
        lport = binding.logical_port
        found = self.plug_type_of(binding)
        if found is None:  # withdrawn() already handled a missing type
            return
        plug_type, provider = found
        foreign = self.foreign_binding(lport)
        if foreign is not None:
            raise self.refuse_foreign(lport, plug_type, foreign)
        mtu = self.mtu_for(binding)
        prepared = self.prepare_create(binding, plug_type, provider, ours[0].name if ours else None)
        if prepared is None:
            return
        ctx, spec = prepared
        same = [i for i in ours if i.name == spec.name]
        stale = [i for i in ours if i.name != spec.name]
        if not same:
            try:
                self.check_name_free(binding, plug_type, spec.name)
            except Refused:
                self.release(lport, provider, ctx, spec)
                raise
        if stale and not self.can_unplug:
            # Replacing or dropping a duplicate removes a port: it waits,
            # like every unplug, until unplugging is allowed.
            for iface in stale:
                self.record(
                    Decision(
                        lport=lport,
                        outcome=Outcome.DEFERRED,
                        plug_type=iface.plugged_by,
                        port=iface.name,
                        detail=f"port {iface.name} of lport {lport} is to be replaced by "
                        f"{spec.name}; unplugging is not allowed yet",
                    )
                )
            if not same:
                self.release(lport, provider, ctx, spec)
                return
            stale = []
        removals = []
        for iface in stale:
            prepared_remove = self.prepare_unplug(iface, binding)
            if prepared_remove is None:
                # Vetoed or impossible (reported): keep everything as is.
                self.release(lport, provider, ctx, spec)
                return
            removals.append(prepared_remove)
        if same:
            # Releases the spec itself if it refuses.
            self.stage_update(
                binding=binding,
                plug_type=plug_type,
                provider=provider,
                ctx=ctx,
                spec=spec,
                iface=same[0],
                mtu=mtu,
            )
        else:
            self.stage_create(
                binding=binding,
                plug_type=plug_type,
                provider=provider,
                ctx=ctx,
                spec=spec,
                mtu=mtu,
            )
        for remove_provider, remove_ctx, remove in removals:
            self.stage_remove(remove_provider, remove_ctx, remove)
        old = ", ".join(r.name for _, _, r in removals)
        if same:
            for _, _, remove in removals:
                self.report_unplugged(
                    lport,
                    lport,
                    plug_type,
                    remove.name,
                    f"duplicate of port {spec.name} for lport {lport}",
                )
        elif removals:
            LOG.info(
                "Replacing port %s by %s on %s for lport %s on this chassis.",
                log_safe(old),
                log_safe(spec.name),
                log_safe(self.bridge.name),
                log_safe(lport),
            )
            self.record(
                Decision(
                    lport=lport,
                    outcome=Outcome.REPLACED,
                    plug_type=plug_type,
                    port=spec.name,
                    old_port=old,
                    detail=f"provider {plug_type} now names port {spec.name} instead of {old}",
                )
            )
        else:
            self.report_plugged(lport, plug_type, spec.name)
