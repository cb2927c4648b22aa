"""Hosts whose clocks disagree share one ledger (SQLite file, real redis-server).

Reads never delete: a host two days fast calling ``status()`` used to wipe today's spend for
everyone. Writers prune old buckets only a window plus three days before their own window
start, so no skewed writer removes the current or the previous window. A clock stepping back
two hours does not reopen a spent window.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.budget import Budget, BudgetGuard, Ledger, SQLiteLedger
from langchain_costrouter.exceptions import BudgetExceededError
from langchain_costrouter.testing import FunctionChatModel

DAY = 86_400.0
T = datetime(2026, 3, 10, 0, 30, tzinfo=timezone.utc).timestamp()  # 00:30 UTC


@pytest.fixture(params=["sqlite", "redis"])
def ledgers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A factory of ledgers on one shared store (one per simulated host)."""
    made: list[Ledger] = []
    if request.param == "sqlite":
        path = tmp_path / "shared.db"

        def make() -> Ledger:
            made.append(SQLiteLedger(path))
            return made[-1]
    else:
        from langchain_costrouter.budget.redis import RedisLedger

        url, prefix = request.getfixturevalue("redis_url"), f"s{uuid.uuid4().hex[:8]}:"

        def make() -> Ledger:
            made.append(RedisLedger(url, prefix=prefix))
            return made[-1]

    yield make
    for lg in made:
        lg.close()


def host(ledgers: Any, offset: float, *budgets: Budget) -> tuple[BudgetGuard, list[float]]:
    clock = [T + offset]
    guard = BudgetGuard(budgets=list(budgets or [Budget.tokens(10_000, per="day")]),
                        ledger=ledgers(), clock=lambda: clock[0], default_max_tokens=50)
    return guard, clock


def spend(guard: BudgetGuard, calls: int = 3) -> int:
    model = guard.wrap(FunctionChatModel(model_name="gpt-4.1-mini"))
    return sum(model.invoke("hello").usage_metadata["total_tokens"]  # type: ignore[index]
               for _ in range(calls))


@pytest.mark.parametrize("skew_days", [2, -2])
def test_a_skewed_hosts_status_and_writes_never_wipe_todays_spend(
    ledgers: Any, skew_days: int
) -> None:
    here, _ = host(ledgers, 0)
    today = spend(here)
    assert here.status().spent == today
    there, _ = host(ledgers, skew_days * DAY)
    there.status()  # a read from a host two days off
    assert here.status().spent == today
    theirs = spend(there, 1)  # a write from it prunes with a margin
    st = here.status()
    assert st.spent == today + (theirs if skew_days > 0 else 0)  # a future bucket still counts
    assert st.reserved == 0


def test_a_clock_stepping_back_two_hours_does_not_reopen_a_spent_window(ledgers: Any) -> None:
    guard, clock = host(ledgers, 0, Budget.tokens(120, per="day"),
                        Budget.tokens(120, per="hour", rolling=True, name="rolling"))
    model = guard.wrap(FunctionChatModel(model_name="gpt-4.1-mini"))
    with pytest.raises(BudgetExceededError):
        for _ in range(50):
            model.invoke("hello")
    spent = guard.status().per_budget["tokens/day"].spent
    clock[0] -= 2 * 3600  # 22:30 the day before: yesterday's window is "current" again
    assert guard.status().per_budget["tokens/day"].spent == spent
    assert guard.status().per_budget["rolling"].spent == spent
    with pytest.raises(BudgetExceededError):
        model.invoke("hello")
    clock[0] += 2 * 3600 + DAY  # the next real day starts empty
    assert guard.status().per_budget["tokens/day"].spent == 0
