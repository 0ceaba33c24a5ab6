"""The representor VIF plug provider.

A CMS asks for a port with the LSP options ``vif-plug-type=representor``,
``vif-plug:representor:pf-mac`` (the host-facing MAC of the PF) and
``vif-plug:representor:vf-num`` (the VF of that PF; absent for the PF
itself) or ``vif-plug:representor:sf-num`` (an SF). The provider answers
with the name of the representor netdev that devlink reports for that
function on this NIC: no Interface type, no options.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ovn_vif import (
    Decline,
    PlugSpec,
    PortContext,
    ProviderUnavailableError,
    RateLimitedLogger,
    VifPlugProvider,
    log_safe,
    netdev_name_problem,
)
from ovn_vif_representor._devlink import (
    DevlinkSource,
    DevlinkSourceFactory,
    NetlinkDevlinkSource,
    PortDel,
    PortFlavour,
    PortNew,
)
from ovn_vif_representor._rtnl import LinkName, LinkSource, LinkSourceFactory, RtnlLinkSource
from ovn_vif_representor._table import (
    ZERO_MAC,
    NodeSource,
    PortTable,
    RepresentorRow,
    parse_mac,
)

if TYPE_CHECKING:
    from typing_extensions import override
else:
    # The decorator is for type checkers; importing typing_extensions for it
    # would cost every agent that loads this provider half a megabyte.
    def override(method: Any) -> Any:
        return method


LOG = logging.getLogger(__name__)

#: LSP option: host-facing MAC of the PF (required).
OPTION_PF_MAC = "vif-plug:representor:pf-mac"
#: LSP option: VF number relative to that PF (absent: plug the PF itself).
OPTION_VF_NUM = "vif-plug:representor:vf-num"
#: LSP option: SF number relative to that PF (an extension of ovn-vif).
OPTION_SF_NUM = "vif-plug:representor:sf-num"

#: Largest VF number (``DEVLINK_ATTR_PORT_PCI_VF_NUMBER`` is a u16) and SF
#: number (a u32).
MAX_VF_NUM = 0xFFFF
MAX_SF_NUM = 0xFFFFFFFF


def parse_function_number(text: str, limit: int) -> tuple[int | None, str | None]:
    """Parse a VF/SF number strictly: ASCII digits only, at most *limit*.

    Returns ``(number, None)`` or ``(None, why)``. ovn-vif reads ``"3abc"``
    as 3 and ``"abc"`` as 0; this refuses both.

    >>> parse_function_number("3", 0xFFFF)
    (3, None)
    >>> parse_function_number("3abc", 0xFFFF)
    (None, 'is not a plain non-negative decimal integer')
    """
    if not text:
        return None, "is empty (remove the key to plug the PF representor)"
    if any(c not in "0123456789" for c in text):
        return None, "is not a plain non-negative decimal integer"
    if len(text) > len(str(limit)) or int(text) > limit:
        return None, f"is out of range (0 to {limit})"
    return int(text), None


class RepresentorProvider(VifPlugProvider):
    """Plug the devlink representor of a SmartNIC/DPU function.

    :param type: the plug type to serve (``vif-plug-type`` value and
        ``ovn-plugged`` marker); change it to run beside an ovn-controller
        built with ovn-vif's own ``representor`` provider.
    :param rename_wait: seconds to hold back a representor that appeared at
        run time, while udev may still rename its netdev (``0``: never).
    :param sysfs_root: root of sysfs, for the ``smart_nic`` PF MAC fallback.
    :param devlink: factory of the devlink source (default: the kernel's).
    :param links: factory of the netdev rename source (default: rtnetlink).
    :param clock: ``time.monotonic`` or a test clock.

    >>> provider = RepresentorProvider(type="representor-py")
    >>> provider.type
    'representor-py'
    """

    type = "representor"

    def __init__(
        self,
        type: str = "representor",
        *,
        rename_wait: float = 5.0,
        sysfs_root: Path | str = "/sys",
        devlink: DevlinkSourceFactory | None = None,
        links: LinkSourceFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rename_wait < 0:
            raise ValueError(f"rename_wait must be >= 0, got {rename_wait!r}")
        self.type = type
        self.rename_wait = rename_wait
        self.sysfs_root = Path(sysfs_root)
        self._devlink_factory: DevlinkSourceFactory = devlink or NetlinkDevlinkSource
        self._links_factory: LinkSourceFactory = links or RtnlLinkSource
        self._clock = clock
        self._devlink: DevlinkSource | None = None
        self._links: LinkSource | None = None
        self._table: PortTable | None = None
        self._deadline: float | None = None
        # Changes seen by a refresh that prepare_create() or
        # representors() did, reported by the next run().
        self._unreported_change = False
        self._resync_pending = False
        self._warn = RateLimitedLogger(LOG)

    # -- life cycle -----------------------------------------------------

    @override
    def init(self) -> None:
        """Open devlink and rtnetlink, then read every devlink port.

        :raises ProviderUnavailableError: no devlink on this kernel, or a
            socket or the port dump failed.
        """
        devlink = self._devlink_factory()
        try:
            links = self._links_factory()
        except BaseException:
            devlink.close()
            raise
        table = PortTable(
            clock=self._clock, sysfs_root=self.sysfs_root, rename_wait=self.rename_wait
        )
        try:
            # Both sockets listen before the dump: nothing that changes
            # during it is missed (it is replayed by the first run()).
            table.load(devlink.dump(), NodeSource.DUMP)
        except OSError as exc:
            devlink.close()
            links.close()
            raise ProviderUnavailableError(f"devlink port dump failed: {exc}") from exc
        self._devlink, self._links, self._table = devlink, links, table
        LOG.info(
            "%s VIF plug provider: %d devlink port(s), %d representor(s)",
            self.type,
            len(table),
            len(table.rows()),
        )

    @override
    def destroy(self) -> None:
        for source in (self._devlink, self._links):
            if source is not None:
                source.close()
        self._devlink = self._links = None
        self._table = None

    @override
    def run(self) -> bool:
        """Apply devlink and rename notifications; ``True`` if the table changed.

        Also ``True`` once a rename wait has run out, so that the agent
        retries the lports that were held back.
        """
        if self._table is None:
            return False
        self._refresh()  # if it raises, what it saw is reported next time
        changed, self._unreported_change = self._unreported_change, False
        return changed

    @override
    def wait_fds(self) -> Sequence[int]:
        if self._devlink is None or self._links is None:
            return ()
        return (self._devlink.fileno(), self._links.fileno())

    @override
    def next_wakeup(self) -> float | None:
        return None if self._table is None else self._table.next_deadline()

    @override
    def maintained_iface_options(self) -> frozenset[str]:
        return frozenset()

    # -- refresh --------------------------------------------------------

    def _refresh(self) -> None:
        """Apply what the sockets hold; remember whether anything changed.

        :raises OSError: a socket failed, or the re-dump after an overflow
            did (it is tried again on the next refresh).
        """
        assert self._table is not None
        assert self._devlink is not None
        assert self._links is not None
        table = self._table
        changed = False
        if self._deadline is not None and self._clock() >= self._deadline:
            changed = True  # a rename wait ran out: held-back lports can go
        for event in self._devlink.poll():
            if isinstance(event, PortNew):
                changed |= table.upsert(event.port, NodeSource.RUNTIME)
            elif isinstance(event, PortDel):
                changed |= table.remove(event.port)
            else:
                self._resync_pending = True
        for link_event in self._links.poll():
            if isinstance(link_event, LinkName):
                changed |= table.rename(link_event.ifindex, link_event.name)
            else:
                self._resync_pending = True
        self._unreported_change |= changed
        if self._resync_pending:
            LOG.warning(
                "%s VIF plug provider: netlink notifications were lost (ENOBUFS); "
                "re-reading all devlink ports",
                self.type,
            )
            ports = self._devlink.dump()
            self._resync_pending = False
            self._unreported_change |= table.load(ports, NodeSource.RUNTIME)
        self._deadline = table.next_deadline()

    def _safe_refresh(self, lport: str) -> None:
        try:
            self._refresh()
        except OSError as exc:
            self._warn.warning(
                ("refresh", self.type),
                "%s VIF plug provider: cannot refresh the representor table "
                "(looking up lport %s with what it holds): %s",
                self.type,
                lport,
                exc,
            )

    # -- prepare --------------------------------------------------------

    @override
    def prepare_create(self, ctx: PortContext) -> PlugSpec | Decline:
        lport = ctx.lport_name
        if self._table is None:
            return self._decline(
                lport, "uninitialised", "%s VIF plug provider is not initialised", self.type
            )
        self._safe_refresh(lport)
        options = ctx.lport_options
        raw_mac = options.get(OPTION_PF_MAC)
        if raw_mac is None:
            return self._decline(lport, "missing", "option %s is missing", OPTION_PF_MAC)
        mac = parse_mac(raw_mac)
        if mac is None or mac == ZERO_MAC:
            return self._decline(
                lport,
                "pf-mac",
                "option %s='%s' is not a host PF MAC address (six colon-separated "
                "pairs of hex digits, not all zero)",
                OPTION_PF_MAC,
                raw_mac,
            )
        raw_vf, raw_sf = options.get(OPTION_VF_NUM), options.get(OPTION_SF_NUM)
        if raw_vf is not None and raw_sf is not None:
            return self._decline(
                lport,
                "vf-and-sf",
                "options %s='%s' and %s='%s' are both set; a port is a VF or an SF, not both",
                OPTION_VF_NUM,
                raw_vf,
                OPTION_SF_NUM,
                raw_sf,
            )
        flavour, number, asked = PortFlavour.PCI_PF, None, f"{OPTION_PF_MAC}={mac}"
        for option, raw, limit, fn_flavour in (
            (OPTION_VF_NUM, raw_vf, MAX_VF_NUM, PortFlavour.PCI_VF),
            (OPTION_SF_NUM, raw_sf, MAX_SF_NUM, PortFlavour.PCI_SF),
        ):
            if raw is None:
                continue
            number, problem = parse_function_number(raw, limit)
            if problem is not None:
                return self._decline(lport, option, "option %s='%s' %s", option, raw, problem)
            flavour = fn_flavour
            asked += f" {option}={number}"
        result = self._table.lookup(mac, flavour, number)
        if result.netdev is None:
            if result.retry_at is not None:
                self._warn.info(
                    ("rename", lport),
                    "lport %s: %s: %s; not plugging it until its name is final",
                    lport,
                    asked,
                    result.reason,
                )
                return Decline(
                    f"{asked}: {result.reason}; not plugging it until its name is final",
                    retry_after=max(0.0, result.retry_at - self._clock()),
                )
            return self._decline(
                lport, "lookup", "no representor to plug for %s: %s", asked, result.reason
            )
        problem = netdev_name_problem(result.netdev)
        if problem is not None:  # the table never returns one; belt and braces
            return self._decline(lport, "name", "representor name '%s' %s", result.netdev, problem)
        LOG.debug("lport %s: %s -> representor %s", log_safe(lport), asked, result.netdev)
        return PlugSpec(name=result.netdev)

    def _decline(self, lport: str, what: str, msg: str, *args: object) -> Decline:
        """Warn (rate-limited per lport and problem) and decline with the reason."""
        self._warn.warning((what, lport), "lport %s: " + msg, lport, *args)
        return Decline(msg % args)

    @override
    def prepare_remove(self, ctx: PortContext) -> bool:
        """Never veto an unplug: a representor needs no clean-up."""
        return True

    # -- introspection --------------------------------------------------

    def representors(self) -> tuple[RepresentorRow, ...]:
        """The PF, VF and SF representors the provider knows, with their state.

        :raises ProviderUnavailableError: the provider is not initialised.
        """
        if self._table is None:
            raise ProviderUnavailableError(f"the {self.type} VIF plug provider is not initialised")
        try:
            self._refresh()
        except OSError as exc:
            LOG.warning("cannot refresh the representor table: %s", exc)
        return self._table.rows()
