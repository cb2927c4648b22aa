"""Reserving, settling and releasing known amounts (what a batch job's chunks cost) on the
same counters as calls, in a real SQLite ledger file."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from decimal import Decimal

import pytest

from langchain_costrouter.budget import (
    AmountReservation,
    Budget,
    BudgetGuard,
    BudgetLedgerWarning,
    SQLiteLedger,
)
from langchain_costrouter.budget.ledger import Charge
from langchain_costrouter.exceptions import (
    BudgetBusyError,
    BudgetExceededError,
    BudgetUnpricedError,
    ConfigError,
    LedgerUnavailableError,
)

ALICE = {"user": "alice"}


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def guard(tmp_path, clock: Clock | None = None, **kw) -> BudgetGuard:
    clock = clock or Clock()
    return BudgetGuard(budgets=[Budget.usd("1", per="day", scope="user"),
                                Budget.tokens(10_000, per="day")],
                       ledger=kw.pop("ledger", None) or SQLiteLedger(tmp_path / "l.db"),
                       clock=clock, sleep=clock.sleep, **kw)


def rows(g: BudgetGuard, scope=ALICE):
    st = g.status(scope).per_budget
    return st["usd/day/user"], st["tokens/day"]


def test_an_amount_is_reserved_on_every_budget_and_settled_at_the_actual_amount(tmp_path):
    g = guard(tmp_path)
    res = g.reserve_amount("job-0", usd=Decimal("0.30"), tokens=4000, metadata=ALICE)
    usd, tok = rows(g)
    assert (usd.reserved, usd.spent, tok.reserved) == (Decimal("0.3"), 0, 4000)
    assert rows(g, {"user": "bob"})[0].reserved == 0  # another user's budget is untouched
    assert g.settle_amount("job-0", usd=Decimal("0.123456789"), tokens=2500)
    usd, tok = rows(g)
    assert (usd.spent, usd.reserved, tok.spent, tok.reserved) == (
        Decimal("0.123456789"), 0, 2500, 0)
    # a replay of the same settlement (another process, after a crash) charges nothing more
    again = AmountReservation.from_json(res.to_json())
    assert g.settle_amount(again, usd=Decimal("0.123456789"), tokens=2500)
    assert rows(g)[0].spent == Decimal("0.123456789")


def test_an_amount_over_settled_spend_is_refused_with_the_detail(tmp_path):
    g = guard(tmp_path)
    g.reserve_amount("a", usd="0.7", tokens=10, metadata=ALICE)
    g.settle_amount("a", usd="0.7", tokens=10)
    g.reserve_amount("b", usd="0.1", tokens=10, metadata=ALICE)
    with pytest.raises(BudgetExceededError) as info:
        g.reserve_amount("c", usd="0.35", tokens=10, metadata=ALICE)
    e = info.value
    assert (e.budget, e.scope, e.spent, e.reserved, e.requested, e.limit) == (
        "usd/day/user", "user:alice", Decimal("0.7"), Decimal("0.1"), Decimal("0.35"), 1)
    assert rows(g)[0].reserved == Decimal("0.1")  # the refused one holds nothing


def test_an_amount_held_back_only_by_reservations_waits_then_is_busy(tmp_path):
    clock = Clock()
    g = guard(tmp_path, clock, settle_timeout=5.0, poll_interval=1.0)
    g.reserve_amount("other", usd="0.8", tokens=0, metadata=ALICE)
    with pytest.raises(BudgetBusyError) as info:
        g.reserve_amount("mine", usd="0.3", tokens=0, metadata=ALICE)
    assert info.value.waited_s >= 5.0 and info.value.reserved == Decimal("0.8")
    g.release_amount("other")
    g.reserve_amount("mine", usd="0.3", tokens=0, metadata=ALICE)
    assert rows(g)[0].reserved == Decimal("0.3")


def test_a_released_amount_gives_its_room_back(tmp_path):
    g = guard(tmp_path)
    g.reserve_amount("x", usd="0.9", tokens=9000, metadata=ALICE)
    assert g.release_amount("x")
    usd, tok = rows(g)
    assert usd.reserved == usd.spent == tok.reserved == 0


def test_unpriced_and_inexact_amounts_are_refused_clearly(tmp_path):
    g = guard(tmp_path)
    with pytest.raises(BudgetUnpricedError, match="gpt-x"):
        g.reserve_amount("u", usd=None, tokens=10, metadata=ALICE, model="gpt-x")
    with pytest.raises(ConfigError, match="money is exact"):
        g.reserve_amount("f", usd=0.1, tokens=10, metadata=ALICE)
    with pytest.raises(ConfigError, match="tokens"):
        g.reserve_amount("t", usd="0.1", tokens=-1, metadata=ALICE)
    with pytest.raises(ConfigError, match="unknown amount reservation"):
        g.settle_amount("never-reserved", usd="0.1", tokens=1)
    allow = guard(tmp_path, on_unpriced="allow")
    allow.reserve_amount("u", usd=None, tokens=10, metadata=ALICE)
    assert rows(allow)[0].reserved == 0 and rows(allow)[1].reserved == 10


class FlakyLedger(SQLiteLedger):
    down = False

    def reconcile(self, rid: str, charges: Sequence[Charge], *, now: float) -> bool:
        if self.down:
            raise LedgerUnavailableError("ledger file locked by another host")
        return super().reconcile(rid, charges, now=now)

    def reserve(self, rid, charges, *, now, ttl):  # type: ignore[no-untyped-def]
        if self.down:
            raise LedgerUnavailableError("ledger file locked by another host")
        return super().reserve(rid, charges, now=now, ttl=ttl)


def test_a_settlement_the_ledger_cannot_take_is_replayed_once(tmp_path):
    ledger = FlakyLedger(tmp_path / "l.db")
    g = guard(tmp_path, ledger=ledger)
    g.reserve_amount("j", usd="0.5", tokens=100, metadata=ALICE)
    ledger.down = True
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert not g.settle_amount("j", usd="0.2", tokens=50)
    assert any(issubclass(x.category, BudgetLedgerWarning) for x in w)
    ledger.down = False
    assert g.flush() == 0
    assert g.flush() == 0
    usd, tok = rows(g)
    assert (usd.spent, usd.reserved, tok.spent) == (Decimal("0.2"), 0, 50)


def test_a_dead_ledger_refuses_amounts_unless_fail_open(tmp_path):
    ledger = FlakyLedger(tmp_path / "l.db")
    ledger.down = True
    with pytest.raises(LedgerUnavailableError):
        guard(tmp_path, ledger=ledger).reserve_amount("d", usd="0.1", tokens=1, metadata=ALICE)
    g = guard(tmp_path, ledger=ledger, on_ledger_error="fail_open")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = g.reserve_amount("d", usd="0.1", tokens=1, metadata=ALICE)
        assert res.id is None
        with pytest.raises(BudgetExceededError):  # larger than the whole budget: still refused
            g.reserve_amount("e", usd="2", tokens=1, metadata=ALICE)


def test_a_settled_id_is_remembered_longer_than_a_batch_reservation_lives() -> None:
    # a settlement replayed while its reservation could still be live must be recognised,
    # or a resumed batch job would be charged twice
    from langchain_costrouter.batch.budgeting import RESERVATION_TTL_S
    from langchain_costrouter.budget.ledger import SETTLED_KEEP_S

    assert SETTLED_KEEP_S > RESERVATION_TTL_S + 3600
