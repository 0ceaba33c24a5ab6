"""Embed the ovn-vif agent in a program of your own.

Here the agent runs on the fake databases of ``ovn_vif.testing`` so that the
example needs no daemon; against a real chassis, drop the two ``*_idl``
arguments of ``start()`` and set ``AgentConfig(ovs_remote=...)``.
"""

from __future__ import annotations

from ovn_vif import Registry, create_sb_indexes
from ovn_vif.agent import Agent, AgentConfig, plugged_ports, prepare_ovs_helper, prepare_sb_helper
from ovn_vif.testing import PortBindingFactory, connect, ovs_database, sb_database
from ovn_vif_dummy import DummyProvider

# Fake local and Southbound databases for chassis hv1.
ovs_db = ovs_database(system_id="hv1")
sb_db = sb_database(chassis="hv1")
ovs_idl = connect(ovs_db, prepare_ovs_helper)
sb_idl = connect(sb_db, prepare_sb_helper, before_connect=create_sb_indexes)

# The providers are ours: the agent uses them but does not destroy them.
registry = Registry()
registry.register(DummyProvider())

agent = Agent(AgentConfig(), registry)
agent.start(ovs_idl=ovs_idl, sb_idl=sb_idl)
try:
    # What ovn-northd would write for an LSP with requested-chassis=hv1
    # and vif-plug-type=dummy.
    PortBindingFactory(sb_db, chassis="hv1")("vm1-eth0", plug_type="dummy")

    def plugged() -> bool:
        return any(p.lport == "vm1-eth0" for p in plugged_ports(agent.ovs_idl))

    # run() would loop until agent.stop(); run_until() returns when done:
    # plugged, and the Southbound server has acknowledged that the agent
    # now also watches the binding of the port it plugged.
    agent.run_until(lambda: plugged() and agent.synced, timeout=10)
    for port in plugged_ports(agent.ovs_idl):
        print(f"{port.lport}: port {port.port} on {port.bridge}, type {port.iface_type}")
    print(f"unplugging allowed: {agent.synced}")
finally:
    agent.close()
    registry.destroy_all()
    ovs_idl.close()
    sb_idl.close()
