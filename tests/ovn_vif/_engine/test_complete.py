"""Reconciler.complete(): every ovs.db.idl commit status, mapped explicitly."""

from __future__ import annotations

import ovs.db.idl
import pytest
from tests.support.rules_world import Recorder

from ovn_vif import (
    OpType,
    PlugSpec,
    PortContext,
    Reconciler,
    Registry,
    TransactionNotCommittedError,
)
from ovn_vif._engine.decision import PendingCall
from ovn_vif._engine.reconciler import COMMIT_FAILED, COMMIT_FINISHED, COMMIT_PENDING, _Batch

T = ovs.db.idl.Transaction


def test_status_tables_cover_every_ovs_status() -> None:
    statuses = {
        T.UNCOMMITTED,
        T.UNCHANGED,
        T.INCOMPLETE,
        T.ABORTED,
        T.SUCCESS,
        T.TRY_AGAIN,
        T.NOT_LOCKED,
        T.ERROR,
    }
    assert {*COMMIT_FINISHED, *COMMIT_FAILED, COMMIT_PENDING, "uncommitted"} == statuses


class _Txn:
    def get_error(self) -> str:
        return "constraint violation"


def _parked(rec: Reconciler, provider: Recorder) -> _Txn:
    txn = _Txn()
    create = PortContext(op_type=OpType.CREATE, lport_name="new")
    remove = PortContext(op_type=OpType.REMOVE, lport_name="gone", iface_name="gone")
    rec._batches.append(
        _Batch(
            txn=txn,
            calls=(
                PendingCall(lport="new", provider=provider, ctx=create, spec=PlugSpec(name="new")),
                PendingCall(lport="gone", provider=provider, ctx=remove, spec=None),
            ),
        )
    )
    rec._last_txn = txn
    return txn


@pytest.mark.parametrize("status", sorted(COMMIT_FINISHED))
def test_finished(status: str) -> None:
    provider = Recorder()
    rec = Reconciler(Registry())
    _parked(rec, provider)
    assert rec.in_flight_lports == {"new", "gone"}
    report = rec.complete(status)
    # Removals first, then finish + release for the create.
    assert provider.calls == [("finish", "gone"), ("finish", "new"), ("release", "new")]
    assert report.finished == ("gone", "new")
    assert not rec.in_flight


@pytest.mark.parametrize("status", sorted(COMMIT_FAILED))
def test_failed(status: str) -> None:
    provider = Recorder()
    rec = Reconciler(Registry())
    _parked(rec, provider)
    report = rec.complete(status)
    assert provider.calls == [("release", "new")]
    assert report.released == ("new",)
    assert not rec.in_flight


def test_incomplete_keeps_lports_in_flight_until_final_status() -> None:
    provider = Recorder()
    rec = Reconciler(Registry())
    txn = _parked(rec, provider)
    assert rec.complete(COMMIT_PENDING).pending
    assert rec.in_flight
    assert provider.calls == []
    rec._last_txn = object()  # another reconcile() ran in between
    assert rec.complete("success").finished == ()  # not that transaction
    assert rec.in_flight
    assert rec.complete("success", txn=txn).finished == ("gone", "new")
    assert not rec.in_flight


def test_uncommitted_is_a_programming_error() -> None:
    rec = Reconciler(Registry())
    with pytest.raises(TransactionNotCommittedError, match="commit"):
        rec.complete("uncommitted")
    with pytest.raises(ValueError, match="unknown transaction status"):
        rec.complete("maybe")


def test_provider_raising_in_finish_does_not_stop_others(caplog: pytest.LogCaptureFixture) -> None:
    provider = Recorder()
    provider.raise_in = {"gone": "finish"}
    rec = Reconciler(Registry())
    _parked(rec, provider)
    report = rec.complete("success")
    assert report.finished == ("new",)
    assert "RuntimeError: boom" in caplog.text


def test_policy_must_be_a_policy() -> None:
    with pytest.raises(TypeError):
        Reconciler(Registry(), policy="recommended")  # type: ignore[arg-type]
