"""A scope's standing in every budget: spent, reserved and remaining, apart.

``spent`` is what finished calls used; ``reserved`` is held by calls in flight in any process
sharing the ledger; ``remaining`` is what is left of the limit after both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from langchain_costrouter.budget.budgets import Budget
from langchain_costrouter.budget.ledger import Tally, nano_to_usd


@dataclass(frozen=True)
class WindowStatus:
    budget: str
    unit: str
    window: str
    scope: str
    limit: int | Decimal
    used: int | Decimal
    """Spent plus reserved."""
    remaining: int | Decimal
    """Limit minus spent minus reserved (never below 0)."""
    utilization: float
    """Percent of the limit used, reservations included."""
    resets_at: datetime
    spent: int | Decimal = 0
    """Settled: what finished calls used."""
    reserved: int | Decimal = 0
    """Held by calls in flight, across every process sharing the ledger."""


@dataclass(frozen=True)
class BudgetStatus:
    """A scope's standing. Top-level figures are those of its most used budget."""

    scope: Mapping[str, str]
    windows: list[WindowStatus]
    waiters: int
    """Calls of this process waiting for this scope's budgets."""
    available: bool
    """Every budget has something left."""
    used: int | Decimal | None = None
    limit: int | Decimal | None = None
    remaining: int | Decimal | None = None
    utilization: float = 0.0
    per_budget: dict[str, WindowStatus] = field(default_factory=dict)
    spent: int | Decimal | None = None
    reserved: int | Decimal | None = None


def in_unit(budget: Budget, amount: int) -> int | Decimal:
    """A ledger integer in the budget's unit (USD as Decimal)."""
    return nano_to_usd(amount) if budget.unit == "usd" else int(amount)


def window_status(
    budget: Budget, scope_label: str, scope_id: str, tally: Tally, now: float
) -> WindowStatus:
    limit = budget.limit_for(scope_id)
    used = in_unit(budget, tally.used)
    util = float(used / limit * 100) if limit else (100.0 if used else 0.0)
    return WindowStatus(
        budget=budget.name, unit=budget.unit, window=budget.window.key, scope=scope_label,
        limit=limit, used=used, remaining=max(limit - used, 0), utilization=round(util, 4),
        resets_at=budget.window.resets_at(now, tally.oldest),
        spent=in_unit(budget, tally.spent), reserved=in_unit(budget, tally.reserved),
    )


def budget_status(
    scopes: Mapping[str, str], rows: Sequence[WindowStatus], waiters: int
) -> BudgetStatus:
    top = max(rows, key=lambda r: r.utilization)
    return BudgetStatus(
        scope=scopes, windows=list(rows), waiters=waiters,
        available=all(r.remaining > 0 for r in rows),
        used=top.used, limit=top.limit, remaining=top.remaining,
        utilization=top.utilization, per_budget={r.budget: r for r in rows},
        spent=top.spent, reserved=top.reserved,
    )
