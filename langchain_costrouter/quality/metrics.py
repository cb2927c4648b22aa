"""RouteLLM's evaluation protocol (arXiv 2406.18665): APGR, CPT and cost at a quality target.

A scorer gives each prompt a score (higher = needs the strong model). Routing sends a prompt to
the strong model iff ``score >= threshold``. Sweeping the threshold from above the highest score
down to the lowest traces the *curve*: strong-call share (0 -> 1) against mean quality
(weak-only quality -> strong-only quality). Exact definitions used here:

* Operating points sit at each distinct score (tied prompts are routed together), plus share 0.
  Between two points the curve is linear: the expected result of routing a random part of the
  tied group.
* PGR (performance gap recovered) at a point = ``(Q - Q_weak) / (Q_strong - Q_weak)``, so
  weak-only = 0 and strong-only = 1. It can leave [0, 1] where the weak model beats the strong.
* APGR = area under PGR against strong share on [0, 1] (trapezoids, exact for the linear curve).
  A random scorer's expected curve is the diagonal, so APGR = 0.5 in expectation.
* CPT(x%) = the smallest strong share at which PGR first reaches ``x / 100``.
* Quality target ``f`` (e.g. 0.95): the first point on the curve with ``Q >= f * Q_strong``;
  its strong share and, with cost columns, its cost = the sum of per-prompt costs of the model
  each prompt was routed to (``Decimal``, interpolated like the quality).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.table import RoutingTable


@dataclass(frozen=True)
class OperatingPoint:
    """Where a curve meets a target."""

    share: float
    """Share of calls sent to the strong model."""
    quality: float
    cost: Decimal | None
    """USD of the whole table at this point; ``None`` without cost columns."""


@dataclass(frozen=True)
class Curve:
    """Quality (and cost) against strong-call share, from share 0 to share 1."""

    shares: tuple[float, ...]
    quality: tuple[float, ...]
    costs: tuple[Decimal, ...] | None
    weak_quality: float
    """Mean quality when every prompt goes to the weak model (share 0)."""
    strong_quality: float

    @property
    def gap(self) -> float:
        return self.strong_quality - self.weak_quality

    def pgr(self) -> list[float]:
        if self.gap == 0:
            raise ConfigError(
                "PGR is undefined: the strong and the weak model have the same mean quality "
                f"({self.strong_quality:g}); there is no gap to recover"
            )
        return [(q - self.weak_quality) / self.gap for q in self.quality]

    def apgr(self) -> float:
        """Area under the PGR curve on strong share in [0, 1]."""
        p, s = self.pgr(), self.shares
        return sum((s[i + 1] - s[i]) * (p[i] + p[i + 1]) / 2 for i in range(len(s) - 1))

    def cpt(self, percent: float) -> float:
        """Strong-call share needed to recover ``percent`` % of the weak -> strong gap."""
        if not 0 < percent <= 100:
            raise ConfigError(f"CPT needs a percentage in (0, 100], got {percent}")
        return self._first(self.pgr(), percent / 100).share

    def at_quality(self, fraction: float = 0.95) -> OperatingPoint:
        """The first point reaching ``fraction`` x the strong model's mean quality."""
        if not 0 < fraction <= 1:
            raise ConfigError(f"quality fraction must be in (0, 1], got {fraction}")
        target = fraction * self.strong_quality
        return self._first(list(self.quality), min(target, max(self.quality)))

    def _first(self, ys: Sequence[float], target: float) -> OperatingPoint:
        s = self.shares
        if ys[0] >= target:
            return self._point(0, 0.0)
        for i in range(len(ys) - 1):
            y0, y1 = ys[i], ys[i + 1]
            if y0 < target <= y1:
                t = (target - y0) / (y1 - y0)
                return self._point(i, t) if t < 1 else self._point(i + 1, 0.0)
        return self._point(len(s) - 1, 0.0)  # pragma: no cover - target <= max(ys) by contract

    def _point(self, i: int, t: float) -> OperatingPoint:
        if t == 0:
            cost = None if self.costs is None else self.costs[i]
            return OperatingPoint(self.shares[i], self.quality[i], cost)
        s = self.shares[i] + t * (self.shares[i + 1] - self.shares[i])
        q = self.quality[i] + t * (self.quality[i + 1] - self.quality[i])
        cost = None
        if self.costs is not None:
            dt = Decimal(repr(round(t, 12)))
            cost = self.costs[i] + dt * (self.costs[i + 1] - self.costs[i])
        return OperatingPoint(s, q, cost)


def curve(scores: Sequence[float], table: RoutingTable) -> Curve:
    """Sweep the threshold over ``scores`` (one per row of ``table``)."""
    n = len(table)
    if len(scores) != n:
        raise ConfigError(f"{len(scores)} scores for {n} rows")
    if n == 0:
        raise ConfigError("cannot evaluate a router on an empty table")
    order = sorted(range(n), key=lambda i: -scores[i])
    q = sum(table.weak)
    cost = sum(table.cost_weak, Decimal(0)) if table.cost_weak is not None else None
    shares, quality, costs = [0.0], [q / n], [cost]
    for k, i in enumerate(order):
        q += table.strong[i] - table.weak[i]
        if cost is not None:
            cost += table.cost_strong[i] - table.cost_weak[i]  # type: ignore[index]
        if k + 1 < n and scores[order[k + 1]] == scores[i]:
            continue  # tied prompts are routed together
        shares.append((k + 1) / n)
        quality.append(q / n)
        costs.append(cost)
    return Curve(
        shares=tuple(shares),
        quality=tuple(quality),
        costs=None if cost is None else tuple(costs),  # type: ignore[arg-type]
        weak_quality=sum(table.weak) / n,
        strong_quality=sum(table.strong) / n,
    )


@dataclass(frozen=True)
class RouterReport:
    """One scorer's figures on one table."""

    name: str
    rows: int
    apgr: float
    cpt50: float
    cpt80: float
    quality_target: float
    share_at_target: float
    cost_at_target: Decimal | None
    cost_all_strong: Decimal | None
    cost_all_weak: Decimal | None
    weak_quality: float
    strong_quality: float

    def as_dict(self) -> dict[str, object]:
        def money(d: Decimal | None) -> str | None:
            return None if d is None else str(d)

        return {
            "scorer": self.name, "rows": self.rows, "apgr": self.apgr, "cpt50": self.cpt50,
            "cpt80": self.cpt80, "quality_target": self.quality_target,
            "strong_share_at_target": self.share_at_target,
            "cost_at_target_usd": money(self.cost_at_target),
            "cost_all_strong_usd": money(self.cost_all_strong),
            "cost_all_weak_usd": money(self.cost_all_weak),
            "weak_quality": self.weak_quality, "strong_quality": self.strong_quality,
        }


def evaluate(
    name: str, scores: Sequence[float], table: RoutingTable, quality_target: float = 0.95
) -> RouterReport:
    """APGR, CPT(50%), CPT(80%) and the operating point at ``quality_target`` x strong quality."""
    c = curve(scores, table)
    at = c.at_quality(quality_target)
    return RouterReport(
        name=name, rows=len(table), apgr=c.apgr(), cpt50=c.cpt(50), cpt80=c.cpt(80),
        quality_target=quality_target, share_at_target=at.share, cost_at_target=at.cost,
        cost_all_strong=None if c.costs is None else c.costs[-1],
        cost_all_weak=None if c.costs is None else c.costs[0],
        weak_quality=c.weak_quality, strong_quality=c.strong_quality,
    )
