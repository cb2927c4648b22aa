"""Aggregate recorded calls: routing mix, exact costs, latency percentiles, and how many calls
were served at or above their labelled level.

The quality columns read what the router *did*: the level of the model that served each call
(:func:`served_level`) against the prompt's label in the workload, whatever scorer chose it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from langchain_costrouter.cli.runner import Outcome, percentile
from langchain_costrouter.cli.tco import (
    BENCH_INPUT_TOKENS,
    BENCH_OUTPUT_TOKENS,
    candidate_names,
    cost_per_1k_requests,
)
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.pricing.prices import cost_of
from langchain_costrouter.routing.levels import Level


def premium_model(catalog: Catalog) -> str:
    """The strongest model the router itself would use: the EXPERT level's first choice at the
    benchmark's request shape (the always-premium baseline)."""
    return catalog.first_choice(Level.EXPERT, BENCH_INPUT_TOKENS, BENCH_OUTPUT_TOKENS)


def cheapest_model(catalog: Catalog) -> str:
    """The cheapest priced model any level lists, at the benchmark's request shape."""
    priced = [(n, cost_per_1k_requests(catalog[n].prices)) for n in candidate_names(catalog)]
    known = [(n, c) for n, c in priced if c is not None]
    if not known:
        return candidate_names(catalog)[0]
    return min(known, key=lambda x: x[1])[0]


def served_level(catalog: Catalog, o: Outcome) -> Level | None:
    """The level of the model that answered: the router's own ``served_level`` when its
    metadata gives one, else the model's class in the catalog (``Catalog.class_of``)."""
    if not o.ok:
        return None
    if o.served_level is not None:
        return Level.parse(o.served_level)
    if o.model is None or o.model not in catalog.models:
        return None
    return catalog.class_of(o.model)


@dataclass(frozen=True, kw_only=True)
class Quality:
    """Answered calls served at or above their labelled level, and below it (under-routed)."""

    judged: int
    """Answered calls whose serving model has a known level."""
    at_or_above: int
    under: int

    @property
    def at_or_above_share(self) -> float | None:
        return self.at_or_above / self.judged if self.judged else None

    @property
    def under_share(self) -> float | None:
        return self.under / self.judged if self.judged else None


def quality(catalog: Catalog, outcomes: Iterable[Outcome]) -> Quality:
    judged = at = under = 0
    for o in outcomes:
        lv = served_level(catalog, o)
        if lv is None:
            continue
        judged += 1
        if lv.rank >= Level.parse(o.expected_level).rank:
            at += 1
        else:
            under += 1
    return Quality(judged=judged, at_or_above=at, under=under)


def sum_or_none(values: Iterable[Decimal | None]) -> Decimal | None:
    total = Decimal(0)
    for v in values:
        if v is None:
            return None
        total += v
    return total


@dataclass(frozen=True, kw_only=True)
class Group:
    """Totals of a set of calls (a strategy, or one model within it)."""

    name: str
    calls: int
    errors: int
    p50: float | None
    p95: float | None
    p99: float | None
    cost: Decimal | None
    """Cost of these calls' real usage at the answering models' prices (None if unpriced)."""
    premium_cost: Decimal | None
    """Cost of the same usage at the premium model's prices."""
    quality: Quality
    wall_s: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def per_1k(self) -> Decimal | None:
        ok = self.calls - self.errors
        if self.cost is None or not ok:
            return None
        return self.cost / ok * 1000

    @property
    def throughput(self) -> float | None:
        if not self.wall_s:
            return None
        return (self.calls - self.errors) / self.wall_s

    @property
    def saving(self) -> Decimal | None:
        if self.cost is None or self.premium_cost is None:
            return None
        return self.premium_cost - self.cost

    @property
    def saving_pct(self) -> Decimal | None:
        s = self.saving
        if s is None or not self.premium_cost:
            return None
        return s / self.premium_cost * 100

    def as_dict(self) -> dict[str, Any]:
        def s(d: Decimal | None) -> str | None:
            return None if d is None else str(d)

        return {
            "name": self.name, "calls": self.calls, "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "p50_ms": _ms(self.p50), "p95_ms": _ms(self.p95), "p99_ms": _ms(self.p99),
            "throughput_rps": None if self.throughput is None else round(self.throughput, 3),
            "cost_usd": s(self.cost), "cost_per_1k_requests_usd": s(self.per_1k),
            "premium_cost_usd": s(self.premium_cost), "saving_vs_premium_usd": s(self.saving),
            "saving_vs_premium_pct": s(self.saving_pct),
            "served_at_or_above_label_share": _r(self.quality.at_or_above_share),
            "under_routed_share": _r(self.quality.under_share),
            "quality_judged_calls": self.quality.judged,
        }


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 3)


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 6)


def call_cost(catalog: Catalog, o: Outcome) -> Decimal | None:
    """The router's own figure when it gave one (it sums every answer a cascade paid for),
    else the usage at the serving model's catalog prices; ``None`` when unpriced."""
    if o.ok and o.router_cost is not None:
        return o.router_cost
    if not o.ok or o.usage is None or o.model is None or o.model not in catalog.models:
        return None if o.ok else Decimal(0)
    return cost_of(catalog[o.model].prices, o.usage)


def group(
    name: str, outcomes: Sequence[Outcome], catalog: Catalog, premium: str,
    wall_s: float | None = None,
) -> Group:
    ok = [o for o in outcomes if o.ok]
    lat = [o.latency_s for o in ok]
    prem = catalog[premium].prices
    return Group(
        name=name, calls=len(outcomes), errors=len(outcomes) - len(ok),
        p50=percentile(lat, 50), p95=percentile(lat, 95), p99=percentile(lat, 99),
        cost=sum_or_none(call_cost(catalog, o) for o in ok),
        premium_cost=sum_or_none(
            cost_of(prem, o.usage) if o.usage is not None else None for o in ok
        ),
        quality=quality(catalog, ok),
        wall_s=wall_s,
    )


def by_model(outcomes: Sequence[Outcome], catalog: Catalog, premium: str) -> list[Group]:
    names = sorted({o.model or "(none)" for o in outcomes})
    return [
        group(n, [o for o in outcomes if (o.model or "(none)") == n], catalog, premium)
        for n in names
    ]


def routing_mix(catalog: Catalog, outcomes: Sequence[Outcome]) -> Counter[tuple[str, str, str]]:
    """Calls per (labelled level, served level, model)."""
    def served(o: Outcome) -> str:
        lv = served_level(catalog, o)
        return "-" if lv is None else lv.value

    return Counter((o.expected_level, served(o), o.model or "(failed)") for o in outcomes)


def by_label(catalog: Catalog, outcomes: Sequence[Outcome]) -> list[tuple[str, int, Quality]]:
    """``(labelled level, calls, quality)`` per labelled level, in level order."""
    out = []
    for lv in Level:
        these = [o for o in outcomes if o.expected_level == lv.value]
        if these:
            out.append((lv.value, len(these), quality(catalog, these)))
    return out
