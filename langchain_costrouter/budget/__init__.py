"""Budgets: token and USD limits per window and scope, enforced through a shared ledger.

>>> from langchain_costrouter.budget import Budget, BudgetGuard, SQLiteLedger
>>> guard = BudgetGuard(
...     budgets=[Budget.tokens(10_000_000, per="day"), Budget.tokens(2_000_000, per="hour")],
...     ledger=SQLiteLedger("budget.db"),
... )
>>> model = guard.wrap(chat_model)   # reserve, call, reconcile  # doctest: +SKIP

``RedisLedger`` (needs ``redis``) and ``BudgetMiddleware`` (needs ``langchain``) are imported
on first use, so neither package is needed by the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_costrouter.budget.amounts import AmountReservation
from langchain_costrouter.budget.budgets import Budget, hash_api_key, scopes_of
from langchain_costrouter.budget.guard import BudgetGuard, BudgetLedgerWarning, with_budget
from langchain_costrouter.budget.ledger import Charge, Grant, InMemoryLedger, Ledger, UsageRow
from langchain_costrouter.budget.settle import BudgetOvershootWarning
from langchain_costrouter.budget.sqlite import SQLiteLedger
from langchain_costrouter.budget.status import BudgetStatus, WindowStatus
from langchain_costrouter.budget.windows import Window
from langchain_costrouter.budget.wrapped import BudgetedModel

if TYPE_CHECKING:
    from langchain_costrouter.budget.middleware import BudgetMiddleware
    from langchain_costrouter.budget.redis import RedisLedger

__all__ = [
    "AmountReservation",
    "Budget",
    "BudgetGuard",
    "BudgetLedgerWarning",
    "BudgetMiddleware",
    "BudgetOvershootWarning",
    "BudgetStatus",
    "BudgetedModel",
    "Charge",
    "Grant",
    "InMemoryLedger",
    "Ledger",
    "RedisLedger",
    "SQLiteLedger",
    "UsageRow",
    "Window",
    "WindowStatus",
    "hash_api_key",
    "scopes_of",
    "with_budget",
]


def __getattr__(name: str) -> Any:
    if name == "RedisLedger":
        from langchain_costrouter.budget.redis import RedisLedger

        return RedisLedger
    if name == "BudgetMiddleware":
        from langchain_costrouter.budget.middleware import BudgetMiddleware

        return BudgetMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
