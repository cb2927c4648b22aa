"""One reservation decision, from the ledger's tallies: go, wait for calls in flight, or refuse.

* **refuse** (:class:`Refusal`) only when *settled* spend plus the call's smallest bound (its
  prompt and a minimal answer on its first model) is over a limit: waiting for calls in flight
  cannot help then, only a window reset can;
* **wait** (:class:`Busy`) when it would fit but other calls' reservations hold the room;
* **go** (:class:`Go`) with the output bound the settled room allows, or, if calls in flight
  hold part of it, the bound that is free now when that still covers the expected answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_costrouter.budget.bounds import Bound, Quote, choose_bound, max_out, need
from langchain_costrouter.budget.budgets import Budget
from langchain_costrouter.budget.ledger import Tally
from langchain_costrouter.budget.status import in_unit
from langchain_costrouter.exceptions import (
    BudgetBusyError,
    BudgetExceededError,
    BudgetUnpricedError,
)


@dataclass(frozen=True)
class Go:
    option: Any
    bound: Bound
    amounts: tuple[int, ...]


@dataclass(frozen=True)
class Busy:
    option: Any
    bound: Bound
    amounts: tuple[int, ...]
    tallies: tuple[Tally, ...]


@dataclass(frozen=True)
class Refusal:
    error: BudgetExceededError
    wake: float | None
    """When every refusing budget has room again; ``None`` when waiting cannot help."""


@dataclass(frozen=True)
class Rules:
    budgets: Sequence[Budget]
    limits: Sequence[int]
    labels: Sequence[str]
    margin: float
    min_output: int
    unpriced_is_free: bool
    downgrade: bool


def _usable(rules: Rules, quote: Quote) -> Quote | BudgetUnpricedError:
    """The quote a USD budget can check: unpriced fallbacks are dropped (pinned)."""
    if rules.unpriced_is_free or not any(b.unit == "usd" for b in rules.budgets):
        return quote
    usd = next(b for b in rules.budgets if b.unit == "usd")
    if quote.primary.prices is None:
        return BudgetUnpricedError(budget=usd.name, model=quote.primary.name)
    if any(ln.prices is None for ln in quote.lines):
        return quote.pinned()
    return quote


def decide(
    rules: Rules, options: Sequence[Any], tallies: Sequence[Tally], now: float
) -> Go | Busy | Refusal:
    """``options`` carry a ``quote``; the first is the requested model, the rest downgrades."""
    settled = [lim - t.spent for lim, t in zip(rules.limits, tallies, strict=True)]
    free = [lim - t.used for lim, t in zip(rules.limits, tallies, strict=True)]
    tries = options if rules.downgrade else options[:1]
    found: list[tuple[Any, Bound]] = []
    unpriced: BudgetUnpricedError | None = None
    for opt in tries:
        q = _usable(rules, opt.quote)
        if isinstance(q, BudgetUnpricedError):
            unpriced = unpriced or q
            continue
        b = choose_bound(
            rules.budgets, settled, q, rules.margin, rules.min_output,
            unpriced_is_free=rules.unpriced_is_free,
        )
        if b is not None:
            found.append((opt, b))
    if not found:
        if unpriced is not None and all(
            isinstance(_usable(rules, o.quote), BudgetUnpricedError) for o in tries[:1]
        ) and not rules.downgrade:
            raise unpriced
        refusal = _refusal(rules, options[0].quote, tallies, settled, now)
        if refusal is None:  # only unpriced options were left
            assert unpriced is not None
            raise unpriced
        return refusal
    # Downgrade: the first option whose bound covers the expected answer, else the first at all.
    full = [(o, b) for o, b in found if b.max_tokens >= _want(rules, b.quote)]
    opt, bound = (full or found)[0]
    amounts = _amounts(rules, bound.quote, bound.max_tokens)
    if _fits(amounts, tallies, rules.limits):
        return Go(opt, bound, amounts)
    lo = min(bound.quote.cap, rules.min_output)
    now_b = max_out(
        rules.budgets, free, bound.quote, rules.margin, unpriced_is_free=rules.unpriced_is_free
    )
    if now_b >= max(lo, min(bound.max_tokens, _want(rules, bound.quote))):
        smaller = Bound(bound.quote, now_b, bound.pinned)
        return Go(opt, smaller, _amounts(rules, bound.quote, now_b))
    return Busy(opt, bound, amounts, tuple(tallies))


def _want(rules: Rules, quote: Quote) -> int:
    return max(min(quote.cap, quote.expected), min(quote.cap, rules.min_output))


def _amounts(rules: Rules, quote: Quote, out: int) -> tuple[int, ...]:
    return tuple(
        need(b, quote, out, rules.margin, unpriced_is_free=True) or 0 for b in rules.budgets
    )


def _fits(amounts: Sequence[int], tallies: Sequence[Tally], limits: Sequence[int]) -> bool:
    return all(
        a <= 0 or t.used + a <= lim for a, t, lim in zip(amounts, tallies, limits, strict=True)
    )


def _refusal(
    rules: Rules, quote: Quote, tallies: Sequence[Tally], settled: Sequence[int], now: float
) -> Refusal | None:
    """The error naming the first budget the smallest call does not fit, and when to retry."""
    smallest = quote.pinned()
    lo = min(smallest.cap, rules.min_output)
    error: BudgetExceededError | None = None
    wake: float | None = 0.0
    for b, lim, t, room, label in zip(
        rules.budgets, rules.limits, tallies, settled, rules.labels, strict=True
    ):
        n = need(b, smallest, lo, rules.margin, unpriced_is_free=True) or 0
        if n <= 0 or n <= room:
            continue
        resets = b.window.resets_at(now, t.oldest)
        if error is None:
            error = BudgetExceededError(
                budget=b.name, scope=label, unit=b.unit, limit=in_unit(b, lim),
                used=in_unit(b, t.spent), reserved=in_unit(b, t.reserved),
                requested=in_unit(b, n), resets_at=resets,
            )
        if n > lim:
            wake = None  # larger than the whole budget: waiting cannot help
        elif wake is not None:
            wake = max(wake, resets.timestamp())
    return None if error is None else Refusal(error, wake)


def scope_labels(budgets: Sequence[Budget], scopes: Mapping[str, str]) -> list[str]:
    return [f"{b.scope}:{scopes[b.scope]}" if b.scope != "global" else "global" for b in budgets]


def busy_error(rules: Rules, busy: Busy, waited_s: float) -> BudgetBusyError:
    """The error of a call whose room stayed held by calls in flight for ``settle_timeout``."""
    rows = zip(rules.budgets, rules.limits, busy.amounts, busy.tallies, rules.labels,
               strict=True)
    for b, lim, a, t, label in rows:
        if a > 0 and t.used + a > lim:
            return BudgetBusyError(
                budget=b.name, scope=label, unit=b.unit, limit=in_unit(b, lim),
                spent=in_unit(b, t.spent), reserved=in_unit(b, t.reserved),
                requested=in_unit(b, a), waited_s=waited_s,
            )
    b = rules.budgets[0]
    return BudgetBusyError(budget=b.name, scope=rules.labels[0], unit=b.unit,
                           limit=in_unit(b, rules.limits[0]), spent=0, reserved=0,
                           requested=0, waited_s=waited_s)


def explained(out: Refusal, wait_timeout: float) -> BudgetExceededError:
    """A refusal in ``wait`` mode whose reset is too far: the error says so and when."""
    e = out.error
    reset = e.resets_at.isoformat() if e.resets_at else "never"
    return BudgetExceededError(
        budget=e.budget, scope=e.scope, unit=e.unit, limit=e.limit, used=e.used,
        reserved=e.reserved, requested=e.requested, resets_at=e.resets_at,
        note=f"not waiting: the window resets at {reset}, beyond wait_timeout={wait_timeout:g} s",
    )
