"""The Linux devlink representor VIF plug provider.

On a SmartNIC/DPU each PCI function the host sees (PF, VF, SF) has a
*representor* netdev on the NIC's own CPU. :class:`RepresentorProvider`
answers an LSP's ``vif-plug:representor:pf-mac`` /
``vif-plug:representor:vf-num`` (or ``sf-num``) with the name of that
representor, from a table it keeps current from devlink and rtnetlink.

>>> from ovn_vif_representor import OPTION_PF_MAC, OPTION_VF_NUM
>>> OPTION_PF_MAC, OPTION_VF_NUM
('vif-plug:representor:pf-mac', 'vif-plug:representor:vf-num')
"""

from __future__ import annotations

from ovn_vif_representor._devlink import (
    DevlinkEvent,
    DevlinkPort,
    DevlinkSource,
    NetlinkDevlinkSource,
    Overflow,
    PortDel,
    PortFlavour,
    PortNew,
)
from ovn_vif_representor._listing import (
    format_representors,
    list_representors,
    representors_json,
)
from ovn_vif_representor._provider import (
    OPTION_PF_MAC,
    OPTION_SF_NUM,
    OPTION_VF_NUM,
    RepresentorProvider,
)
from ovn_vif_representor._rtnl import LinkEvent, LinkName, LinkSource, RtnlLinkSource
from ovn_vif_representor._table import RepresentorRow, RepresentorState

__all__ = [
    "OPTION_PF_MAC",
    "OPTION_SF_NUM",
    "OPTION_VF_NUM",
    "DevlinkEvent",
    "DevlinkPort",
    "DevlinkSource",
    "LinkEvent",
    "LinkName",
    "LinkSource",
    "NetlinkDevlinkSource",
    "Overflow",
    "PortDel",
    "PortFlavour",
    "PortNew",
    "RepresentorProvider",
    "RepresentorRow",
    "RepresentorState",
    "RtnlLinkSource",
    "format_representors",
    "list_representors",
    "representors_json",
]
