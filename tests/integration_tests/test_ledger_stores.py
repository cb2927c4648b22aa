"""One test suite, run against every ledger store: memory, SQLite file, real redis-server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from langchain_costrouter.budget import (
    Budget,
    BudgetGuard,
    Charge,
    InMemoryLedger,
    Ledger,
    SQLiteLedger,
    UsageRow,
)
from langchain_costrouter.budget.ledger import Tally
from langchain_costrouter.costs.record import CallRecord
from langchain_costrouter.exceptions import BudgetExceededError
from langchain_costrouter.testing import FunctionChatModel

NOW = 1_750_000_000.0
TTL = 60.0


def _make(kind: str, tmp_path: Path, request: pytest.FixtureRequest, **kw: object) -> Ledger:
    if kind == "memory":
        return InMemoryLedger(**kw)  # type: ignore[arg-type]
    if kind == "sqlite":
        return SQLiteLedger(tmp_path / f"ledger-{uuid.uuid4().hex}.db", **kw)  # type: ignore[arg-type]
    from langchain_costrouter.budget.redis import RedisLedger

    url = request.getfixturevalue("redis_url")
    return RedisLedger(url, prefix=f"t{uuid.uuid4().hex[:8]}:", **kw)  # type: ignore[arg-type]


STORES = ["memory", "sqlite", "redis"]


@pytest.fixture(params=STORES)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    lg = _make(request.param, tmp_path, request)
    yield lg
    lg.close()


@pytest.fixture(params=STORES)
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Ledger] = []

    def make(**kw: object) -> Ledger:
        made.append(_make(request.param, tmp_path, request, **kw))
        return made[-1]

    yield make
    for lg in made:
        lg.close()


def ch(key: str, amount: int, limit: int = 100, bucket: int = 1000, since: int = 0) -> Charge:
    return Charge(key=key, amount=amount, limit=limit, bucket=bucket, since=since)


def test_reserve_grants_until_the_limit_then_refuses(ledger: Ledger) -> None:
    assert ledger.reserve("a", [ch("k", 60)], now=NOW, ttl=TTL).granted
    g = ledger.reserve("b", [ch("k", 41)], now=NOW, ttl=TTL)
    assert not g.granted
    assert g.tallies[0].used == 60
    assert ledger.reserve("c", [ch("k", 40)], now=NOW, ttl=TTL).granted
    assert ledger.tally("k", 0, now=NOW).used == 100


def test_a_refused_call_adds_nothing_to_any_counter(ledger: Ledger) -> None:
    # "tok" fits, "usd" does not: the reservation is all or nothing.
    g = ledger.reserve("a", [ch("tok", 10), ch("usd", 500, limit=100)], now=NOW, ttl=TTL)
    assert not g.granted
    assert [c.key for c, _ in g.denied([ch("tok", 10), ch("usd", 500, limit=100)])] == ["usd"]
    assert ledger.tally("tok", 0, now=NOW).used == 0
    assert ledger.tally("usd", 0, now=NOW).used == 0
    assert ledger.pending(now=NOW) == 0


def test_zero_amount_is_never_refused_even_when_spent(ledger: Ledger) -> None:
    assert ledger.reserve("a", [ch("usd", 100)], now=NOW, ttl=TTL).granted
    assert ledger.reserve("free", [ch("usd", 0), ch("tok", 5)], now=NOW, ttl=TTL).granted
    assert ledger.tally("tok", 0, now=NOW).used == 5


def test_reconcile_refunds_and_tops_up(ledger: Ledger) -> None:
    ledger.reserve("a", [ch("k", 50), ch("j", 10)], now=NOW, ttl=TTL)
    assert ledger.reconcile("a", [ch("k", 20), ch("j", 30)], now=NOW)
    assert ledger.tally("k", 0, now=NOW).used == 20
    assert ledger.tally("j", 0, now=NOW).used == 30
    assert ledger.pending(now=NOW) == 0
    assert not ledger.release("a", now=NOW)  # already settled
    assert ledger.tally("k", 0, now=NOW).used == 20


def test_release_gives_the_reservation_back(ledger: Ledger) -> None:
    ledger.reserve("a", [ch("k", 70)], now=NOW, ttl=TTL)
    assert ledger.release("a", now=NOW)
    assert ledger.tally("k", 0, now=NOW).used == 0
    assert ledger.reserve("b", [ch("k", 100)], now=NOW, ttl=TTL).granted


def test_expired_reservations_are_released_after_their_ttl(ledger: Ledger) -> None:
    ledger.reserve("crashed", [ch("k", 80)], now=NOW, ttl=TTL)
    assert ledger.pending(now=NOW + TTL - 1) == 1
    assert ledger.tally("k", 0, now=NOW + TTL - 1).used == 80
    assert not ledger.reserve("x", [ch("k", 30)], now=NOW + TTL - 1, ttl=TTL).granted
    assert ledger.reserve("y", [ch("k", 30)], now=NOW + TTL + 1, ttl=TTL).granted
    assert ledger.tally("k", 0, now=NOW + TTL + 1).used == 30
    assert ledger.pending(now=NOW + TTL + 1) == 1


def test_expire_sweeps_every_dead_reservation(ledger: Ledger) -> None:
    for i in range(300):  # more than one Redis sweep (256)
        ledger.reserve(f"r{i}", [ch("k", 1, limit=1000)], now=NOW, ttl=TTL)
    assert ledger.expire(now=NOW + TTL) == 300
    assert ledger.tally("k", 0, now=NOW + TTL).used == 0


def test_late_reconcile_of_an_expired_reservation_still_counts_usage(ledger: Ledger) -> None:
    ledger.reserve("slow", [ch("k", 50)], now=NOW, ttl=TTL)
    ledger.expire(now=NOW + TTL + 1)
    assert not ledger.reconcile("slow", [ch("k", 35)], now=NOW + TTL + 2)
    assert ledger.tally("k", 0, now=NOW + TTL + 2).used == 35


def test_only_buckets_from_since_count_and_oldest_is_reported(ledger: Ledger) -> None:
    ledger.reserve("a", [ch("k", 30, bucket=100)], now=NOW, ttl=TTL)
    ledger.reserve("b", [ch("k", 20, bucket=200)], now=NOW, ttl=TTL)
    t = ledger.tally("k", 100, now=NOW)
    assert (t.used, t.oldest) == (50, 100)
    t = ledger.tally("k", 150, now=NOW)
    assert (t.used, t.oldest) == (20, 200)
    g = ledger.reserve("c", [ch("k", 80, bucket=300, since=150)], now=NOW, ttl=TTL)
    assert g.granted and g.tallies[0].used == 20


def test_usage_rows_keep_counts_and_costs_not_prompts(make_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger: Ledger = make_ledger()
    rec = CallRecord(
        run_id=uuid.uuid4(), timestamp=NOW, tier="nano", model="gpt-4.1-nano", provider="openai",
        input_tokens=12, cached_input_tokens=2, output_tokens=5, cost=Decimal("0.0000031"),
        metadata={"user": "alice", "api_key": "sk-secret-123"}, prompt="my secret prompt",
    )
    ledger.write(rec)
    ledger.write(rec)
    rows = ledger.usage_rows()
    assert len(rows) == 2
    r = rows[0]
    assert (r.ts, r.tier, r.model) == (NOW, "nano", "gpt-4.1-nano")
    assert (r.input_tokens, r.cached_tokens, r.output_tokens) == (12, 2, 5)
    assert Decimal(r.cost_usd or "x") == Decimal("0.0000031")
    assert r.prompt is None
    assert "alice" in (r.scope or "") and "sk-secret-123" not in repr(r)
    keeping = make_ledger(store_prompts=True)
    keeping.write(rec)
    assert keeping.usage_rows()[0].prompt == "my secret prompt"


def test_unpriced_record_keeps_cost_none(ledger: Ledger) -> None:
    ledger.write({"ts": NOW, "model": "mystery", "input_tokens": 3, "cost": None})
    (row,) = ledger.usage_rows()
    assert isinstance(row, UsageRow) and row.cost_usd is None and row.input_tokens == 3


def test_guard_over_each_store_reconciles_actual_usage(ledger: Ledger) -> None:
    clock = [NOW]
    guard = BudgetGuard(
        budgets=[Budget.tokens(300, per="hour", scope="user")],
        ledger=ledger, clock=lambda: clock[0], default_max_tokens=100,
    )
    model = guard.wrap(FunctionChatModel(model_name="gpt-4.1-mini"))
    out = model.invoke("hello", {"metadata": {"user": "ann"}})
    actual = out.usage_metadata["total_tokens"]  # type: ignore[index]
    st = guard.status({"user": "ann"})
    assert st.used == actual < 100
    assert guard.status({"user": "bob"}).used == 0
    with pytest.raises(BudgetExceededError, match="user:ann"):
        for _ in range(50):
            model.invoke("hello", {"metadata": {"user": "ann"}})
    assert guard.status({"user": "ann"}).used <= 300


def test_reads_never_delete_whatever_their_clock_says(ledger: Ledger) -> None:
    ledger.reserve("a", [ch("k", 30, bucket=100)], now=NOW, ttl=TTL)
    ledger.reconcile("a", [ch("k", 30, bucket=100)], now=NOW)
    ledger.reserve("b", [ch("k", 20, bucket=200)], now=NOW, ttl=TTL)
    far = NOW + 10 * 86_400  # a host ten days fast
    assert ledger.tally("k", 10**9, now=far).used == 0  # nothing in its window ...
    assert ledger.tally("k", 0, now=far) == Tally(used=30, oldest=100, reserved=0)
    t = ledger.tally("k", 0, now=NOW)  # ... and nothing was deleted: "b" is still live here
    assert (t.used, t.spent, t.reserved) == (50, 30, 20)
    assert ledger.pending(now=NOW) == 1


def test_writers_prune_only_below_prune_before(ledger: Ledger) -> None:
    ledger.reserve("a", [ch("k", 30, bucket=100)], now=NOW, ttl=TTL)
    ledger.reconcile("a", [ch("k", 30, bucket=100)], now=NOW)
    ledger.reserve("b", [Charge("k", 5, 100, 300, 0, prune_before=100)], now=NOW, ttl=TTL)
    assert ledger.tally("k", 0, now=NOW).spent == 30  # bucket 100 is not below 100
    ledger.reserve("c", [Charge("k", 5, 100, 300, 0, prune_before=101)], now=NOW, ttl=TTL)
    t = ledger.tally("k", 0, now=NOW)
    assert (t.spent, t.reserved) == (0, 10)
