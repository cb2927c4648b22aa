"""The output bound: how many output tokens a call may have so that no budget is overspent.

A :class:`Quote` lists the models a call may be served by (the router's plan: the first
candidate and every fallback it may try) with their prompt sizes and prices. The guard gives
the call ``max_tokens = bound`` and reserves, per budget, the most the call can cost at that
bound: the *worst* candidate (a fallback to a pricier model is covered up front), or the *sum*
of every candidate for a cascade, which pays for each rejected answer.

Why up front rather than a re-reservation before each fallback: the engine that runs the
fallback loop is not the guard's, and a reservation made before the first attempt is the only
one that cannot race another process between two attempts. When covering every fallback does
not leave room for an answer of the expected length, the guard *pins* the call to the first
candidate instead (no fallback) and bounds it at that model's prices alone, so a nearly spent
budget still serves calls rather than refusing them early.

All amounts are ledger integers: tokens, or nano-dollars rounded up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal

from langchain_costrouter.budget.budgets import Budget
from langchain_costrouter.budget.ledger import NANO_USD
from langchain_costrouter.pricing.prices import MTOK, Prices


@dataclass(frozen=True, slots=True)
class Line:
    """One model that may serve the call."""

    name: str | None
    input_tokens: int
    prices: Prices | None


@dataclass(frozen=True)
class Quote:
    """What a call may cost: the models that may serve it, its output cap, its expected size."""

    lines: tuple[Line, ...]
    """The first serves the call; the rest are fallbacks the model may try."""
    cap: int
    """The bound never exceeds this (the caller's ``max_tokens``, or the model's maximum)."""
    expected: int
    """Expected output tokens (learned from the ledger's history): for decisions only."""
    summed: bool = False
    """A cascade: every candidate's answer may be paid for, so costs add up."""

    @property
    def primary(self) -> Line:
        return self.lines[0]

    @property
    def has_fallbacks(self) -> bool:
        return len(self.lines) > 1

    def pinned(self) -> Quote:
        """The call served by its first candidate only."""
        return replace(self, lines=self.lines[:1], summed=False)


def prompt_with_margin(tokens: int, margin: float) -> int:
    """Prompt tokens plus a safety margin (tiktoken counts are estimates for other vendors)."""
    return tokens + math.ceil(tokens * margin)


def line_nano(line: Line, out: int, margin: float) -> int | None:
    """Nano-dollars one model may cost with ``out`` output tokens; ``None`` when unpriced.

    The prompt is priced at the dearer of the input and cache-write rates (a cache write can
    cost more than a plain input token), at the long-context tier when the prompt is above it.
    """
    if line.prices is None:
        return None
    n_in = prompt_with_margin(line.input_tokens, margin)
    p = line.prices.for_input(n_in)
    rate_in = max(p.input, p.cache_write or Decimal(0))
    usd = (n_in * rate_in + out * p.output) / MTOK
    return int((usd * NANO_USD).to_integral_value(rounding=ROUND_CEILING))


def need(
    budget: Budget, quote: Quote, out: int, margin: float, *, unpriced_is_free: bool
) -> int | None:
    """What the call may take from ``budget`` at output bound ``out``.

    ``None``: a USD budget and an unpriced model (the caller decides what that means).
    """
    if budget.unit == "tokens":
        each = [prompt_with_margin(ln.input_tokens, margin) + out for ln in quote.lines]
        return sum(each) if quote.summed else max(each)
    costs = [line_nano(ln, out, margin) for ln in quote.lines]
    if any(c is None for c in costs):
        if not unpriced_is_free:
            return None
        costs = [c or 0 for c in costs]
    known = [c for c in costs if c is not None]
    return sum(known) if quote.summed else max(known)


def max_out(
    budgets: Sequence[Budget],
    rooms: Sequence[int],
    quote: Quote,
    margin: float,
    *,
    unpriced_is_free: bool,
) -> int:
    """The largest output bound in ``[0, quote.cap]`` that fits every room; -1 if none does.

    ``need`` grows with the bound, so a binary search finds it (17 steps for 128k tokens).
    """

    def fits(out: int) -> bool:
        for b, room in zip(budgets, rooms, strict=True):
            n = need(b, quote, out, margin, unpriced_is_free=unpriced_is_free)
            if n is not None and n > 0 and n > room:
                return False
        return True

    if not fits(0):
        return -1
    lo, hi = 0, quote.cap
    if fits(hi):
        return hi
    while hi - lo > 1:  # fits(lo) and not fits(hi)
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class Bound:
    """The chosen way to serve a call within the budgets' settled room."""

    quote: Quote
    """The quote reserved against (pinned to its first candidate when fallbacks did not fit)."""
    max_tokens: int
    pinned: bool


def choose_bound(
    budgets: Sequence[Budget],
    rooms: Sequence[int],
    quote: Quote,
    margin: float,
    min_output: int,
    *,
    unpriced_is_free: bool,
) -> Bound | None:
    """The bound that settled spend allows, or ``None`` when not even a minimal answer fits.

    Covering every fallback is preferred while it leaves room for an answer of the expected
    length; otherwise the call is pinned to its first candidate.
    """
    lo = min(quote.cap, min_output)
    want = max(min(quote.cap, quote.expected), lo)
    full = max_out(budgets, rooms, quote, margin, unpriced_is_free=unpriced_is_free)
    if full >= lo and (not quote.has_fallbacks or full >= want):
        return Bound(quote, full, pinned=False)
    if quote.has_fallbacks:
        pq = quote.pinned()
        b = max_out(budgets, rooms, pq, margin, unpriced_is_free=unpriced_is_free)
        if b >= lo:
            return Bound(pq, b, pinned=True)
    return None
