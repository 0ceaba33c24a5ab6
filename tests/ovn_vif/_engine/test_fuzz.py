"""The engine against hostile worlds (Hypothesis), both policies.

Each example builds a local switch and a Southbound database on the fake
IDL (the real ``ovs.db.idl`` on an in-memory OVSDB server) holding:

* *valid* lports: plain names, ``vif-plug-type=dummy``, this chassis, a
  sane MTU or none;
* *hostile* lports: names of any alphabet and length (control characters,
  unicode, names cut at 15 bytes onto each other or onto existing ports),
  option values of any length and alphabet (``vif-plug-mtu-request`` of
  thousands of digits, odd ``requested-chassis`` and ``vif-plug-type``
  values), and a provider that raises or returns garbage for some of them;
* foreign rows (ports nobody plugged, some claiming a hostile lport's
  ``iface-id``) and OVN-plugged rows left over for hostile lports,
  duplicate ``iface-id`` s included.

Then it runs the engine to a standstill and checks that no exception ever
escaped ``reconcile()``, that every valid lport is plugged exactly once,
that no foreign row was touched and that the valid lports' decisions are
the same as in the world without the hostile lports.

The default profile is bounded for CI; ``nox -s fuzz`` (or
``HYPOTHESIS_PROFILE=fuzz``) runs the long one, 2,000 examples per policy
unless ``FUZZ_EXAMPLES`` says otherwise.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import ovs.db.idl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovn_vif import (
    OpType,
    PlugSpec,
    Policy,
    PortContext,
    Reconciler,
    Registry,
    VifPlugProvider,
    create_sb_indexes,
    truncate_netdev_name,
)
from ovn_vif.testing import (
    FakeDatabase,
    PortBindingFactory,
    add_chassis,
    assign_ofports,
    connect,
    ovs_database,
    sb_database,
)
from ovn_vif_dummy import DummyProvider

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

CHASSIS = "hv1"
ITERATIONS = 6

# --- the hostile provider -----------------------------------------------------

BEHAVIOURS = (
    "ok",
    "raise-create",
    "raise-remove",
    "none",
    "not-a-spec",
    "bad-name",
    "long-name",
    "exploding-spec",
    "raise-release",
    "raise-finish",
)


class _Exploding(PlugSpec):
    @property
    def name(self) -> str:
        raise RuntimeError("exploding\nspec")


class HostileProvider(VifPlugProvider):
    """Raises or returns garbage, per lport, as told."""

    type = "hostile"

    def __init__(self, behaviour: dict[str, str], garbage_maintained: bool) -> None:
        self.behaviour = behaviour
        self.garbage_maintained = garbage_maintained

    def _what(self, ctx: PortContext) -> str:
        return self.behaviour.get(ctx.lport_name, "ok")

    def maintained_iface_options(self) -> Any:
        return 7 if self.garbage_maintained else None

    def prepare_create(self, ctx: PortContext) -> Any:
        what = self._what(ctx)
        if what == "raise-create":
            raise ValueError(f"cannot plug {ctx.lport_name}\n")
        if what == "none":
            return None
        if what == "not-a-spec":
            return {"name": "x"}
        if what == "bad-name":
            return PlugSpec(name="bad/name")
        if what == "long-name":
            return PlugSpec(name="n" * 40)
        if what == "exploding-spec":
            return _Exploding.__new__(_Exploding)
        return PlugSpec(name="hx" + uuid.uuid5(uuid.NAMESPACE_OID, ctx.lport_name).hex[:12])

    def prepare_remove(self, ctx: PortContext) -> bool:
        if self._what(ctx) == "raise-remove":
            raise OSError("remove\x1bfailed")
        return True

    def finish(self, ctx: PortContext, spec: PlugSpec | None) -> None:
        if self._what(ctx) == "raise-finish":
            raise RuntimeError("finish")

    def release(self, ctx: PortContext, spec: PlugSpec) -> None:
        assert ctx.op_type is OpType.CREATE
        if self._what(ctx) == "raise-release":
            raise RuntimeError("release")


# --- strategies ---------------------------------------------------------------------

# What a CMS can write: any Unicode text OVSDB takes (no NUL, no surrogates).
any_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40
)
edgy_text = st.sampled_from(
    [
        "vm\neth0",
        "\x1b[31mred",
        "\u202eevil",
        "ünïcödé-pört-nämé",
        "a" * 15,
        "a" * 16,
        "é" * 8,
        "collision-name-1",
        "collision-name-2",
        "foreign-0",
        "br-int",
        ".",
        "..",
        "a/b",
        "a:b",
        " ",
    ]
)
hostile_names = st.one_of(any_text, edgy_text).filter(bool)
digits = st.integers(min_value=1, max_value=20_000).map(lambda n: "9" * n)
mtu_values = st.one_of(
    any_text,
    digits,
    digits.map(lambda d: "-" + d),
    st.integers(min_value=-(2**40), max_value=2**40).map(str),
    st.integers(min_value=0, max_value=6000).map(lambda n: "0" * n + "1500"),
    st.sampled_from(["0", "-5", "70000", "67", "65536", " 1500", "+1600", "1500 ", "0x10"]),
)
chassis_values = st.one_of(
    any_text,
    st.sampled_from(["hv1", "hv2", ",hv1", "hv2,hv1", "hv1,hv1", ",,,", "HV1", " hv1"]),
    st.integers(min_value=0, max_value=50_000).map(lambda n: "x," * n + "hv1"),
)
type_values = st.one_of(
    st.sampled_from(["dummy", "hostile", "hostile", "hostile", "bogus"]),
    st.sampled_from(["dummy", "hostile", "hostile", "hostile", "bogus"]),
    st.sampled_from(["dummy", "hostile", "hostile", "hostile", "bogus"]),
    any_text,
)


@st.composite
def hostile_lport(draw: st.DrawFn) -> dict[str, Any]:
    options: dict[str, str] = {}
    if draw(st.booleans()):
        options["vif-plug-mtu-request"] = draw(mtu_values)
    options["requested-chassis"] = draw(st.one_of(st.just(CHASSIS), chassis_values))
    plug_type = draw(type_values)
    options["vif-plug-type"] = plug_type
    for key, value in draw(st.dictionaries(any_text.filter(bool), any_text, max_size=3)).items():
        options.setdefault(key, value)
    return {
        "name": draw(hostile_names),
        "options": options,
        "requested": draw(st.integers(0, 4)) > 0 or options["requested-chassis"] == CHASSIS,
        "type": draw(st.sampled_from(["", "", "", "", "", "localport", "virtual"])),
        "behaviour": draw(st.sampled_from(BEHAVIOURS)),
    }


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    valid = draw(
        st.lists(st.from_regex(r"v[a-z0-9]{0,10}", fullmatch=True), max_size=8, unique=True)
    )
    valid_mtus = {
        lport: draw(st.one_of(st.none(), st.integers(68, 9000).map(str))) for lport in valid
    }
    taken = set(valid)
    hostile = []
    for lport in draw(st.lists(hostile_lport(), max_size=10)):
        name = lport["name"]
        # A hostile lport may collide with other hostile lports or foreign
        # ports, not with the valid ones (whose plugs then could not be
        # told from the hostile ones').
        if name in taken or truncate_netdev_name(name) in valid or name.startswith("v"):
            continue
        taken.add(name)
        hostile.append(lport)
    hostile_names_ = [h["name"] for h in hostile]
    foreign = []
    for number in range(draw(st.integers(0, 4))):
        claim = draw(st.one_of(st.none(), st.sampled_from(hostile_names_ or [None])))
        name = draw(
            st.one_of(
                st.just(f"foreign-{number}"),
                st.sampled_from([truncate_netdev_name(n) for n in hostile_names_] or ["f"]),
            )
        )
        foreign.append({"name": name, "iface_id": claim})
    leftovers = []
    for number in range(draw(st.integers(0, 4))):
        if not hostile_names_:
            break
        leftovers.append(
            {
                "name": f"left-{number}",
                "iface_id": draw(st.sampled_from(hostile_names_)),
                "plugged": draw(st.sampled_from(["dummy", "hostile", "hostile", "gone"])),
            }
        )
    return {
        "valid": valid,
        "valid_mtus": valid_mtus,
        "hostile": hostile,
        "foreign": foreign,
        "leftovers": leftovers,
        "garbage_maintained": draw(st.booleans()),
    }


# --- running one world ----------------------------------------------------------------


def _build(world: dict[str, Any], with_hostile: bool) -> tuple[FakeDatabase, FakeDatabase]:
    ovs_db = ovs_database(system_id=CHASSIS)
    sb_db = sb_database(chassis=CHASSIS)
    add_chassis(sb_db, "hv2")
    bridge = ovs_db.find("Bridge", name="br-int")[0]
    ports = list(ovs_db.get("Bridge", bridge)["ports"])
    # Names are unique per table: a row drawn with a taken name is left out.
    names = {row["name"] for row in ovs_db.rows("Interface").values()}
    with ovs_db.batch() as t:
        for row in [*world["foreign"], *world["leftovers"]]:
            if row["name"] in names:
                continue
            names.add(row["name"])
            ext = {}
            if row.get("iface_id") is not None:
                ext["iface-id"] = row["iface_id"]
            if row.get("plugged") is not None:
                ext["ovn-plugged"] = row["plugged"]
            iface = t.insert("Interface", name=row["name"], external_ids=ext, type="internal")
            ports.append(t.insert("Port", name=row["name"], interfaces=[iface]))
        t.update("Bridge", bridge, ports=ports)
    pbs = PortBindingFactory(sb_db, chassis=CHASSIS)
    for lport in world["valid"]:
        options = {"requested-chassis": CHASSIS}
        if world["valid_mtus"][lport] is not None:
            options["vif-plug-mtu-request"] = world["valid_mtus"][lport]
        pbs(lport, plug_type="dummy", options=options)
    if with_hostile:
        for lport in world["hostile"]:
            pbs(
                lport["name"],
                plug_type=None,
                options=lport["options"],
                requested_chassis=CHASSIS if lport["requested"] else None,
                type=lport["type"],
            )
    return ovs_db, sb_db


def _foreign_rows(db: FakeDatabase) -> dict[Any, Any]:
    return {
        key: {c: row[c] for c in ("name", "type", "options", "external_ids", "mtu_request")}
        for key, row in db.rows("Interface").items()
        if "ovn-plugged" not in row["external_ids"]
    }


def _run(world: dict[str, Any], policy: Policy, with_hostile: bool) -> dict[str, Any]:
    ovs_db, sb_db = _build(world, with_hostile)
    foreign_before = _foreign_rows(ovs_db)
    ovs_idl = connect(ovs_db)
    sb_idl = connect(sb_db, before_connect=create_sb_indexes)
    registry = Registry()
    registry.register(DummyProvider())
    behaviour = {h["name"]: h["behaviour"] for h in world["hostile"]}
    registry.register(HostileProvider(behaviour, world["garbage_maintained"]))
    reconciler = Reconciler(registry, policy=policy)
    valid = set(world["valid"])
    first: set[tuple[Any, ...]] = set()
    try:
        for iteration in range(ITERATIONS):
            ovs_idl.run()
            sb_idl.run()
            txn = ovs.db.idl.Transaction(ovs_idl)
            # The property: nothing escapes reconcile(), whatever the world.
            report = reconciler.reconcile(ovs_idl, sb_idl, txn, chassis=CHASSIS, can_unplug=True)
            if iteration == 0:
                first = {
                    (d.lport, d.outcome, d.reason, d.port, d.plug_type)
                    for d in report.decisions
                    if d.lport in valid
                }
            reconciler.complete(txn.commit(), txn=txn)
            ovs_idl.run()
            assign_ofports(ovs_db)
        plugged: dict[str, list[str]] = {}
        for row in ovs_db.rows("Interface").values():
            ext = row["external_ids"]
            if "ovn-plugged" in ext and "iface-id" in ext:
                plugged.setdefault(ext["iface-id"], []).append(row["name"])
        return {
            "first": first,
            "plugged": plugged,
            "foreign_touched": foreign_before != _foreign_rows(ovs_db),
            "valid_rows": {
                row["name"]: (row["type"], row["options"], row["mtu_request"])
                for row in ovs_db.rows("Interface").values()
                if row["external_ids"].get("iface-id") in valid
            },
        }
    finally:
        ovs_idl.close()
        sb_idl.close()


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Thousands of (escaped) warnings per run are expected; do not keep them.
    caplog.set_level(100)


@pytest.mark.parametrize("policy", [Policy.OVN_COMPATIBLE, Policy.RECOMMENDED], ids=str)
@settings(settings.get_profile(PROFILE))
@given(world=worlds())
def test_hostile_worlds(policy: Policy, world: dict[str, Any]) -> None:
    full = _run(world, policy, with_hostile=True)
    for lport in world["valid"]:
        assert full["plugged"].get(lport) == [lport], (lport, full["plugged"].get(lport))
    assert not full["foreign_touched"]
    alone = _run(world, policy, with_hostile=False)
    assert full["first"] == alone["first"]
    assert full["valid_rows"] == alone["valid_rows"]
