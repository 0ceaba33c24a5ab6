"""The representor port table: what devlink reported, indexed for lookup.

Nodes are keyed by their devlink handle ``(bus, dev, port index)``, which
every port message carries, including ``PORT_DEL``. A function (VF or SF)
is attached to its PF by ``(bus, dev, controller, pf number)``, not by a
pointer: the link is resolved at lookup time, so

- a VF seen before its PF is kept ("pending") and found as soon as the PF
  arrives;
- a PF that is deleted leaves its VFs pending instead of dangling;
- a PF whose MAC changes takes its VFs along (they are found through it);
- two PFs with the same number on different controllers (a NIC serving
  several hosts) are never confused.

PF MACs come from the port function ``hw_addr``; when the kernel reports
none (or all zeros) the table falls back, like ovn-vif, to
``<sysfs>/class/net/<physical port netdev>/smart_nic/pf/config``.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from ovn_vif import netdev_name_problem
from ovn_vif_representor._devlink import DevlinkPort, PortFlavour

LOG = logging.getLogger(__name__)

ZERO_MAC = "00:00:00:00:00:00"
_STORED = frozenset(
    {PortFlavour.PHYSICAL, PortFlavour.PCI_PF, PortFlavour.PCI_VF, PortFlavour.PCI_SF}
)
_FUNCTIONS = frozenset({PortFlavour.PCI_VF, PortFlavour.PCI_SF})
_FLAVOUR_LABEL = {PortFlavour.PCI_PF: "pf", PortFlavour.PCI_VF: "vf", PortFlavour.PCI_SF: "sf"}

PortKey = tuple[str, str, int]
#: ``(bus, dev, controller, pf number)``: how functions find their PF.
ParentKey = tuple[str, str, int, int]


class NodeSource(enum.Enum):
    """How a node entered the table."""

    #: From the dump at start-up: its netdev name is taken as final.
    DUMP = "dump"
    #: From a notification, or first seen in a re-dump after an overflow:
    #: udev may still rename its netdev.
    RUNTIME = "runtime"


class RepresentorState(str, enum.Enum):
    """Whether a representor can be plugged now, and if not, why."""

    #: Pluggable.
    READY = "ready"
    #: Appeared at run time; waiting (boundedly) for udev to rename it.
    AWAITING_RENAME = "awaiting-rename"
    #: The devlink port has no Ethernet netdev (yet, or any more).
    NO_NETDEV = "no-netdev"
    #: A VF or SF whose PF devlink has not reported (yet).
    PENDING_PF = "pending-pf"
    #: The PF (or the function's PF) has no host MAC to be found by.
    NO_PF_MAC = "no-pf-mac"
    #: Its netdev name cannot be an OVS port name.
    BAD_NAME = "bad-name"


@attrs.frozen(slots=True, kw_only=True)
class RepresentorRow:
    """One pluggable representor, as ``ovn-vif representors`` lists it."""

    #: ``pf``, ``vf`` or ``sf``.
    kind: str
    #: Host MAC of the PF it belongs to (its own for a PF), or ``None``.
    pf_mac: str | None
    #: Controller number (``None`` if the kernel does not report one).
    controller: int | None
    #: Whether the function belongs to an external host.
    external: bool
    pf_number: int | None
    vf_number: int | None
    sf_number: int | None
    #: Current netdev name of the representor.
    netdev: str | None
    ifindex: int | None
    #: Devlink handle ``bus/dev/index``.
    handle: str
    state: RepresentorState

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready ``dict`` (``state`` as its string value)."""
        data = attrs.asdict(self)
        data["state"] = self.state.value
        return data


@attrs.frozen(slots=True)
class Lookup:
    """What a lookup found: a netdev name, or why there is none."""

    #: The representor netdev to plug, or ``None``.
    netdev: str | None = None
    #: Why nothing can be plugged (for the warning), when ``netdev`` is None.
    reason: str | None = None
    #: Set when the answer is "not yet": the node's rename wait ends then.
    retry_at: float | None = None


@attrs.define(slots=True)
class _Node:
    port: DevlinkPort
    source: NodeSource
    #: Whether the netdev name is taken as final (no rename to wait for).
    name_final: bool
    first_seen: float
    netdev: str | None
    ifindex: int | None
    #: PF only: MAC read from sysfs when devlink reports none.
    fallback_mac: str | None = None
    #: PF only: the MAC it is indexed under.
    indexed_mac: str | None = None

    @property
    def key(self) -> PortKey:
        return (self.port.bus, self.port.dev, self.port.index)

    @property
    def flavour(self) -> int | None:
        return self.port.flavour

    @property
    def mac(self) -> str | None:
        hw_addr = self.port.hw_addr
        if hw_addr is not None and hw_addr != ZERO_MAC:
            return hw_addr
        return self.fallback_mac


def _parent_key(port: DevlinkPort) -> ParentKey | None:
    if port.pf_number is None:
        return None
    return (port.bus, port.dev, port.controller or 0, port.pf_number)


def _function_number(port: DevlinkPort) -> int | None:
    return port.vf_number if port.flavour == PortFlavour.PCI_VF else port.sf_number


#: ``name_assign_type`` values (``linux/netdevice.h``).
NET_NAME_ENUM = 1
_FINAL_NAME_TYPES = frozenset({2, 3, 4})  # PREDICTABLE, USER, RENAMED


def read_name_assign_type(sysfs_root: Path, netdev: str) -> int | None:
    """``<sysfs>/class/net/<netdev>/name_assign_type``, or ``None`` if unknown."""
    path = sysfs_root / "class" / "net" / netdev / "name_assign_type"
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def read_smart_nic_pf_mac(sysfs_root: Path, physical_netdev: str) -> str | None:
    """Read the host PF MAC from ``smart_nic/pf/config`` of a physical port.

    The file holds ``Key: value`` lines; the first key starting with
    ``MAC`` gives the address. Returns ``None`` if the file cannot be read
    or holds no valid MAC.
    """
    path = sysfs_root / "class" / "net" / physical_netdev / "smart_nic" / "pf" / "config"
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        LOG.warning("fallback lookup of the host PF MAC in %s failed: %s", path, exc)
        return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().startswith("MAC"):
            mac = parse_mac(value.strip())
            if mac is None:
                LOG.warning("fallback lookup of the host PF MAC: %s has %r", path, line)
            return mac
    LOG.warning("fallback lookup of the host PF MAC: no MAC line in %s", path)
    return None


def parse_mac(text: str) -> str | None:
    """Normalise a MAC address; ``None`` if malformed.

    Exactly six colon-separated pairs of hex digits; nothing else.

    >>> parse_mac("00:53:00:00:00:4A")
    '00:53:00:00:00:4a'
    >>> parse_mac("0:53:0:0:0:4a") is None
    True
    """
    if len(text) != 17:  # checked first: the text may come from a CMS, of any length
        return None
    parts = text.split(":")
    if len(parts) != 6:
        return None
    for part in parts:
        if len(part) != 2 or any(c not in "0123456789abcdefABCDEF" for c in part):
            return None
    return text.lower()


class PortTable:
    """Representors by devlink handle, ifindex, and (PF MAC, function number).

    :param clock: ``time.monotonic`` or a test clock.
    :param sysfs_root: where ``class/net`` lives (``/sys``); tests pass a
        temporary directory.
    :param rename_wait: seconds a representor that appeared at run time is
        held back while udev may rename it; ``0`` plugs it at once.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sysfs_root: Path | str = "/sys",
        rename_wait: float = 5.0,
    ) -> None:
        self._clock = clock
        self.sysfs_root = Path(sysfs_root)
        self.rename_wait = rename_wait
        self._nodes: dict[PortKey, _Node] = {}
        self._by_ifindex: dict[int, PortKey] = {}
        self._pf_by_parent: dict[ParentKey, PortKey] = {}
        self._pf_by_mac: dict[str, set[PortKey]] = {}
        self._functions: dict[ParentKey, dict[tuple[int, int], PortKey]] = {}
        self._ignored: set[PortKey] = set()

    # -- queries --------------------------------------------------------

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, bus: str, dev: str, index: int) -> DevlinkPort | None:
        """The stored port with that devlink handle, or ``None``."""
        node = self._nodes.get((bus, dev, index))
        return None if node is None else node.port

    def netdev_of(self, bus: str, dev: str, index: int) -> str | None:
        """The current netdev name of a stored port."""
        node = self._nodes.get((bus, dev, index))
        return None if node is None else node.netdev

    def by_ifindex(self, ifindex: int) -> DevlinkPort | None:
        """The stored port whose netdev has *ifindex*, or ``None``."""
        key = self._by_ifindex.get(ifindex)
        return None if key is None else self._nodes[key].port

    def source_of(self, bus: str, dev: str, index: int) -> NodeSource | None:
        """How the port entered the table."""
        node = self._nodes.get((bus, dev, index))
        return None if node is None else node.source

    def pf_mac_of(self, bus: str, dev: str, index: int) -> str | None:
        """The MAC a PF is found by (devlink's, or the sysfs fallback)."""
        node = self._nodes.get((bus, dev, index))
        return None if node is None else node.mac

    def rename_expected(self, bus: str, dev: str, index: int) -> bool:
        """Whether the port's netdev name is not final yet."""
        node = self._nodes.get((bus, dev, index))
        return node is not None and self._awaiting_rename(node, self._clock())

    def next_deadline(self) -> float | None:
        """When the earliest pending rename wait ends, if any."""
        now = self._clock()
        deadlines = [
            node.first_seen + self.rename_wait
            for node in self._nodes.values()
            if self._awaiting_rename(node, now)
        ]
        return min(deadlines, default=None)

    def _awaiting_rename(self, node: _Node, now: float) -> bool:
        return (
            not node.name_final
            and node.netdev is not None
            and now < node.first_seen + self.rename_wait
        )

    def _name_is_final(self, netdev: str | None, source: NodeSource) -> bool:
        """Whether a netdev name just learnt can be plugged without waiting.

        The kernel says how a name was given (``name_assign_type``): one it
        enumerated (``eth%d``) is what udev renames; one a driver predicted,
        a user chose or that was already renamed is final. When the kernel
        does not say, ports from the start-up dump are taken as named (as
        ovn-vif does) and new ones as not yet.
        """
        kind = None if netdev is None else read_name_assign_type(self.sysfs_root, netdev)
        if kind == NET_NAME_ENUM:
            return False
        if kind in _FINAL_NAME_TYPES:
            return True
        return source is NodeSource.DUMP

    def _pf_of(self, node: _Node) -> _Node | None:
        parent = _parent_key(node.port)
        key = None if parent is None else self._pf_by_parent.get(parent)
        return None if key is None else self._nodes[key]

    def _state(self, node: _Node, now: float) -> RepresentorState:
        if node.flavour in _FUNCTIONS:
            pf = self._pf_of(node)
            if pf is None:
                return RepresentorState.PENDING_PF
            if pf.mac is None:
                return RepresentorState.NO_PF_MAC
        elif node.mac is None:
            return RepresentorState.NO_PF_MAC
        if node.netdev is None or node.ifindex is None:
            return RepresentorState.NO_NETDEV
        if netdev_name_problem(node.netdev) is not None:
            return RepresentorState.BAD_NAME
        if self._awaiting_rename(node, now):
            return RepresentorState.AWAITING_RENAME
        return RepresentorState.READY

    def rows(self) -> tuple[RepresentorRow, ...]:
        """Every PF, VF and SF representor, sorted by PF MAC and numbers."""
        now = self._clock()
        rows = []
        for node in self._nodes.values():
            flavour = node.flavour
            if flavour is None or flavour not in _FLAVOUR_LABEL:
                continue
            pf = node if flavour == PortFlavour.PCI_PF else self._pf_of(node)
            port = node.port
            rows.append(
                RepresentorRow(
                    kind=_FLAVOUR_LABEL[PortFlavour(flavour)],
                    pf_mac=None if pf is None else pf.mac,
                    controller=port.controller,
                    external=port.external,
                    pf_number=port.pf_number,
                    vf_number=port.vf_number if flavour == PortFlavour.PCI_VF else None,
                    sf_number=port.sf_number if flavour == PortFlavour.PCI_SF else None,
                    netdev=node.netdev,
                    ifindex=node.ifindex,
                    handle=port.handle,
                    state=self._state(node, now),
                )
            )
        return tuple(
            sorted(
                rows,
                key=lambda r: (
                    r.pf_mac or "~",
                    r.handle.rsplit("/", 1)[0],
                    r.controller or 0,
                    r.pf_number if r.pf_number is not None else -1,
                    r.kind != "pf",
                    r.kind,
                    r.vf_number if r.vf_number is not None else (r.sf_number or 0),
                ),
            )
        )

    # -- lookup ---------------------------------------------------------

    def _pfs_with_mac(self, mac: str) -> list[_Node]:
        return [self._nodes[k] for k in sorted(self._pf_by_mac.get(mac, ()))]

    def describe_pfs(self) -> str:
        """One line per PF the table holds, for "nothing found" warnings."""
        pfs = [n for n in self._nodes.values() if n.flavour == PortFlavour.PCI_PF]
        if not pfs:
            return "the table holds no PF representor"
        return "the table holds " + "; ".join(
            self._describe_pf(n) for n in sorted(pfs, key=lambda n: n.key)
        )

    def _describe_pf(self, pf: _Node) -> str:
        port = pf.port
        parent = _parent_key(port)
        functions = self._functions.get(parent, {}) if parent is not None else {}
        vfs = sorted(n for (f, n) in functions if f == PortFlavour.PCI_VF)
        sfs = sorted(n for (f, n) in functions if f == PortFlavour.PCI_SF)
        text = (
            f"PF {port.handle} (MAC {pf.mac or 'unknown'}, controller {port.controller or 0}, "
            f"pf {port.pf_number}, netdev {pf.netdev or '-'}, VFs {_ranges(vfs)}"
        )
        if sfs:
            text += f", SFs {_ranges(sfs)}"
        return text + ")"

    def lookup(self, pf_mac: str, flavour: PortFlavour, number: int | None) -> Lookup:
        """Find the representor of function *number* of the PF with *pf_mac*.

        *flavour* is ``PCI_PF`` (then *number* is ignored), ``PCI_VF`` or
        ``PCI_SF``. Only PF, VF and SF representors that devlink reported
        can be returned, and only once their netdev is known and final.
        """
        pfs = self._pfs_with_mac(pf_mac)
        if not pfs:
            return Lookup(reason=f"no PF representor has host MAC {pf_mac}; {self.describe_pfs()}")
        if len(pfs) > 1:
            return Lookup(
                reason=f"several PF representors have host MAC {pf_mac}, refusing to guess: "
                + "; ".join(self._describe_pf(p) for p in pfs)
            )
        (pf,) = pfs
        if flavour == PortFlavour.PCI_PF:
            node = pf
        else:
            parent = _parent_key(pf.port)
            assert parent is not None  # PFs are indexed only with a pf number
            key = self._functions.get(parent, {}).get((int(flavour), number or 0))
            if key is None:
                what = "VF" if flavour == PortFlavour.PCI_VF else "SF"
                return Lookup(reason=f"{self._describe_pf(pf)} has no {what} {number}")
            node = self._nodes[key]
        now = self._clock()
        state = self._state(node, now)
        if state is RepresentorState.AWAITING_RENAME:
            return Lookup(
                reason=f"representor {node.port.handle} ({node.netdev}) is new and "
                "its netdev may still be renamed",
                retry_at=node.first_seen + self.rename_wait,
            )
        if state is not RepresentorState.READY:
            return Lookup(
                reason=f"representor {node.port.handle} ({node.netdev or 'no netdev'}) "
                f"is {state.value}"
            )
        return Lookup(netdev=node.netdev)

    # -- updates --------------------------------------------------------

    def upsert(self, port: DevlinkPort, source: NodeSource = NodeSource.RUNTIME) -> bool:
        """Add or update a port (``PORT_NEW``, dump reply).

        Returns whether anything a lookup can see changed.
        """
        key: PortKey = (port.bus, port.dev, port.index)
        flavour = port.flavour
        if flavour is None or flavour not in _STORED:
            if key not in self._ignored:
                self._ignored.add(key)
                LOG.info(
                    "ignoring devlink port %s (%s): unsupported flavour %s",
                    port.handle,
                    port.netdev or "no netdev",
                    port.flavour_name,
                )
            # A port can change flavour only by being re-created; drop any
            # node it replaced.
            return self._drop(key)
        self._ignored.discard(key)
        now = self._clock()
        old = self._nodes.get(key)
        if old is not None and old.flavour != flavour:
            self._drop(key)
            old = None
        before = None if old is None else (old.port, old.netdev, old.mac)
        if old is None:
            node = _Node(
                port=port,
                source=source,
                name_final=self._name_is_final(port.netdev, source),
                first_seen=now,
                netdev=port.netdev,
                ifindex=port.ifindex,
            )
            self._nodes[key] = node
            LOG.info(
                "representor table: add %s %s (%s) from %s",
                port.flavour_name,
                port.handle,
                port.netdev or "no netdev",
                source.value,
            )
        else:
            node = old
            if old.ifindex != port.ifindex:
                # A new netdev: udev may rename it again.
                node.source, node.first_seen = source, now
                node.name_final = self._name_is_final(port.netdev, source)
            elif old.netdev != port.netdev:
                node.name_final = True
            self._unindex(node)
            node.port, node.netdev, node.ifindex = port, port.netdev, port.ifindex
        self._index(node)
        if flavour == PortFlavour.PHYSICAL:
            self._retry_fallback(port)
        if flavour in _FUNCTIONS and self._pf_of(node) is None:
            LOG.info(
                "representor table: %s %s (%s) kept pending until devlink reports "
                "PF %s of controller %s",
                port.flavour_name,
                port.handle,
                port.netdev,
                port.pf_number,
                port.controller or 0,
            )
        return before != (node.port, node.netdev, node.mac)

    def remove(self, port: DevlinkPort) -> bool:
        """Forget a port (``PORT_DEL``); harmless if it is unknown."""
        key: PortKey = (port.bus, port.dev, port.index)
        self._ignored.discard(key)
        if key not in self._nodes:
            LOG.debug("representor table: delete of unknown port %s", port.handle)
            return False
        LOG.info("representor table: delete %s %s", port.flavour_name, port.handle)
        return self._drop(key)

    def rename(self, ifindex: int, name: str) -> bool:
        """Record that the netdev *ifindex* is now called *name*."""
        key = self._by_ifindex.get(ifindex)
        if key is None:
            return False
        node = self._nodes[key]
        if node.netdev == name:
            return False
        LOG.info(
            "representor table: %s %s renamed %s -> %s",
            node.port.flavour_name,
            node.port.handle,
            node.netdev,
            name,
        )
        node.netdev = name
        node.name_final = True
        if node.flavour == PortFlavour.PHYSICAL:
            self._retry_fallback(node.port)
        return True

    def load(self, ports: Iterable[DevlinkPort], source: NodeSource) -> bool:
        """Replace the whole table with a dump's *ports*.

        Ports that were already known keep how and when they were first
        seen (and whether their name is final); new ones get *source*. Returns
        whether anything changed.
        """
        before = self.rows()
        ports = list(ports)
        seen = {(p.bus, p.dev, p.index) for p in ports}
        for key in [k for k in self._nodes if k not in seen]:
            self._drop(key)
        self._ignored &= seen
        # PFs and physical ports first, so that functions find them.
        for port in sorted(ports, key=lambda p: p.flavour in _FUNCTIONS):
            self.upsert(port, source)
        return self.rows() != before

    # -- indexes --------------------------------------------------------

    def _index(self, node: _Node) -> None:
        port = node.port
        if node.ifindex is not None:
            self._by_ifindex[node.ifindex] = node.key
        parent = _parent_key(port)
        if node.flavour == PortFlavour.PCI_PF and parent is not None:
            self._pf_by_parent[parent] = node.key
            if node.mac is None:
                node.fallback_mac = self._fallback_mac(port)
            self._index_mac(node)
        elif node.flavour in _FUNCTIONS and parent is not None:
            number = _function_number(port)
            if number is not None:
                assert node.flavour is not None
                self._functions.setdefault(parent, {})[(node.flavour, number)] = node.key

    def _index_mac(self, node: _Node) -> None:
        mac = node.mac
        if mac == node.indexed_mac:
            return
        if node.indexed_mac is not None:
            self._discard_mac(node)
            LOG.info(
                "representor table: PF %s host MAC changed %s -> %s; its functions follow",
                node.port.handle,
                node.indexed_mac,
                mac,
            )
        if mac is not None:
            self._pf_by_mac.setdefault(mac, set()).add(node.key)
        node.indexed_mac = mac

    def _discard_mac(self, node: _Node) -> None:
        if node.indexed_mac is None:
            return
        keys = self._pf_by_mac.get(node.indexed_mac)
        if keys is not None:
            keys.discard(node.key)
            if not keys:
                del self._pf_by_mac[node.indexed_mac]

    def _unindex(self, node: _Node) -> None:
        if node.ifindex is not None and self._by_ifindex.get(node.ifindex) == node.key:
            del self._by_ifindex[node.ifindex]
        parent = _parent_key(node.port)
        if parent is None:
            return
        if node.flavour == PortFlavour.PCI_PF:
            if self._pf_by_parent.get(parent) == node.key:
                del self._pf_by_parent[parent]
        elif node.flavour in _FUNCTIONS:
            number = _function_number(node.port)
            functions = self._functions.get(parent, {})
            if functions.get((node.flavour, number or 0)) == node.key:
                del functions[(node.flavour, number or 0)]
                if not functions:
                    del self._functions[parent]

    def _drop(self, key: PortKey) -> bool:
        node = self._nodes.pop(key, None)
        if node is None:
            return False
        self._unindex(node)
        if node.flavour == PortFlavour.PCI_PF:
            self._discard_mac(node)
            node.indexed_mac = None
            parent = _parent_key(node.port)
            if parent is not None and parent in self._functions:
                LOG.info(
                    "representor table: PF %s is gone; its %d function(s) wait for it",
                    node.port.handle,
                    len(self._functions[parent]),
                )
        return True

    # -- sysfs fallback -------------------------------------------------

    def _fallback_mac(self, pf: DevlinkPort) -> str | None:
        for node in self._nodes.values():
            port = node.port
            if (
                node.flavour == PortFlavour.PHYSICAL
                and port.bus == pf.bus
                and port.dev == pf.dev
                and port.number == pf.pf_number
                and node.netdev
            ):
                mac = read_smart_nic_pf_mac(self.sysfs_root, node.netdev)
                if mac is not None and mac != ZERO_MAC:
                    LOG.info(
                        "representor table: PF %s host MAC %s read from the smart_nic config of %s",
                        pf.handle,
                        mac,
                        node.netdev,
                    )
                    return mac
                return None
        LOG.warning(
            "representor table: PF %s reports no host MAC and there is no PHYSICAL port "
            "%s on %s/%s for the sysfs fallback (yet)",
            pf.handle,
            pf.pf_number,
            pf.bus,
            pf.dev,
        )
        return None

    def _retry_fallback(self, physical: DevlinkPort) -> None:
        for node in list(self._nodes.values()):
            port = node.port
            if (
                node.flavour == PortFlavour.PCI_PF
                and port.bus == physical.bus
                and port.dev == physical.dev
                and port.pf_number == physical.number
                and (port.hw_addr is None or port.hw_addr == ZERO_MAC)
            ):
                node.fallback_mac = None
                node.fallback_mac = self._fallback_mac(port)
                self._index_mac(node)


def _ranges(numbers: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``'0-2, 5'``; ``'none'`` if empty."""
    if not numbers:
        return "none"
    out = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)
