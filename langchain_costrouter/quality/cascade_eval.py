"""Offline evaluation of cascade checks, scored exactly as routers are (:mod:`.metrics`).

A check reads the weak model's recorded answer; a rejection sends the prompt to the strong
model. So a check is a router with a two-valued score (1 = rejected), and its operating point
on the router curve is the share it rejects. For each group of rows (dataset x weak model):

* **strong share**: rejected / rows (the escalation rate);
* **PGR** at that point: ``(Q - Q_weak) / (Q_strong - Q_weak)``, ``Q`` the mean quality when
  the rejected prompts get the strong model's quality (:func:`.metrics.curve`);
* **random** at the same share: its expected PGR equals the share (the diagonal), and the PGR
  of a few seeded random draws of as many rows shows the spread;
* **false escalation**: the share of the weak model's *correct* answers (quality > 0.5) it
  rejects; **caught**: the share of wrong ones it rejects;
* **cost**: a cascade pays the weak call on every prompt, plus the strong call where it
  escalates; a router at the same share pays one call per prompt. Costs come from cost columns,
  else from token counts (o200k_base) of the prompt and both recorded answers at genai-prices
  list prices of the row's model names (``None`` when a model has no known price).
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from langchain_core.messages import AIMessage

from langchain_costrouter.cascade.base import Request, Verifier, bind
from langchain_costrouter.exceptions import RoutingDataError
from langchain_costrouter.quality.cells import number_cell, read_csv, usd_cell
from langchain_costrouter.quality.metrics import curve
from langchain_costrouter.quality.table import RoutingTable

if TYPE_CHECKING:
    from langchain_costrouter.pricing.prices import Prices

SEEDS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class CascadeRows:
    """The rows of one group: prompts, both qualities, the weak answers, optional costs."""

    table: RoutingTable
    answers: tuple[str, ...]
    cost_weak: tuple[Decimal | None, ...] | None = None
    cost_strong: tuple[Decimal | None, ...] | None = None


@dataclass(frozen=True)
class CascadeReport:
    """One check on one group of rows."""

    check: str
    group: str
    rows: int
    escalated: int
    weak_quality: float
    strong_quality: float
    quality: float
    """Mean quality with the rejected prompts escalated."""
    pgr: float | None
    """Gap recovered at the check's share; ``None`` when strong and weak tie on these rows."""
    random_seeds: tuple[float, ...]
    """PGR of random draws of ``escalated`` rows, one per seed (empty without a gap)."""
    false_escalation: float | None
    """Share of correct weak answers rejected; ``None`` when no weak answer is correct."""
    caught: float | None
    """Share of wrong weak answers rejected; ``None`` when none is wrong."""
    cost_cascade: Decimal | None
    cost_router: Decimal | None
    """A router at the same share: strong where escalated, weak elsewhere."""
    cost_all_weak: Decimal | None
    cost_all_strong: Decimal | None

    @property
    def share(self) -> float:
        return self.escalated / self.rows

    @property
    def random_pgr(self) -> float:
        """Random's expected PGR at the same share: the share itself."""
        return self.share

    @property
    def vs_random(self) -> float | None:
        """PGR over random's expected PGR; ``None`` when nothing is escalated or no gap."""
        return None if self.pgr is None or self.escalated == 0 else self.pgr / self.share

    def as_dict(self) -> dict[str, object]:
        def money(d: Decimal | None) -> str | None:
            return None if d is None else str(d)

        return {
            "check": self.check, "group": self.group, "rows": self.rows,
            "escalated": self.escalated, "strong_share": self.share, "pgr": self.pgr,
            "random_pgr": self.random_pgr, "random_seeds_pgr": list(self.random_seeds),
            "vs_random": self.vs_random, "false_escalation": self.false_escalation,
            "caught": self.caught, "weak_quality": self.weak_quality,
            "strong_quality": self.strong_quality, "quality": self.quality,
            "cost_cascade_usd": money(self.cost_cascade),
            "cost_router_same_share_usd": money(self.cost_router),
            "cost_all_weak_usd": money(self.cost_all_weak),
            "cost_all_strong_usd": money(self.cost_all_strong),
        }


def verdicts(check: Verifier | Callable[..., str | None], rows: CascadeRows) -> list[bool]:
    """``True`` where the check rejects the weak answer (the prompt would escalate)."""
    out = []
    for prompt, answer in zip(rows.table.prompts, rows.answers, strict=True):
        out.append(bind(check, Request.of_prompt(prompt))(AIMessage(answer)) is not None)
    return out


def _sum(values: Sequence[Decimal | None] | None) -> Decimal | None:
    if values is None or any(v is None for v in values):
        return None
    return sum(values, Decimal(0))  # type: ignore[arg-type]


def score(name: str, group: str, rejected: Sequence[bool], rows: CascadeRows) -> CascadeReport:
    """The figures of one check's verdicts on one group."""
    t = rows.table
    n = len(t)
    if n == 0:
        raise RoutingDataError(t.source, f"no rows in group {group!r}")
    k = sum(rejected)
    c = curve([1.0 if r else 0.0 for r in rejected], t)
    share = k / n
    quality = c.quality[c.shares.index(share)] if share in c.shares else c.weak_quality
    gap = c.gap
    pgr = None if gap == 0 else (quality - c.weak_quality) / gap
    seeds: tuple[float, ...] = ()
    if gap != 0:
        seeds = tuple(  # PGR of k random rows = their quality gain / n / gap
            sum(t.strong[i] - t.weak[i] for i in random.Random(s).sample(range(n), k)) / n / gap
            for s in SEEDS
        )
    good = [r for r, w in zip(rejected, t.weak, strict=True) if w > 0.5]
    bad = [r for r, w in zip(rejected, t.weak, strict=True) if w <= 0.5]
    cw, cs = rows.cost_weak, rows.cost_strong
    cascade = router = None
    if cw is not None and cs is not None:
        esc = [cs[i] for i in range(n) if rejected[i]]
        stay = [cw[i] for i in range(n) if not rejected[i]]
        total_weak, total_esc, total_stay = _sum(cw), _sum(esc), _sum(stay)
        if total_weak is not None and total_esc is not None:
            cascade = total_weak + total_esc
            router = None if total_stay is None else total_stay + total_esc
    return CascadeReport(
        check=name, group=group, rows=n, escalated=k, weak_quality=c.weak_quality,
        strong_quality=c.strong_quality, quality=quality, pgr=pgr, random_seeds=seeds,
        false_escalation=sum(good) / len(good) if good else None,
        caught=sum(bad) / len(bad) if bad else None,
        cost_cascade=cascade, cost_router=router,
        cost_all_weak=_sum(cw), cost_all_strong=_sum(cs),
    )


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Column names of a responses file."""

    prompt: str = "prompt"
    strong: str = "strong"
    weak: str = "weak"
    weak_response: str = "weak_response"
    strong_response: str | None = "strong_response"
    """For estimated costs; ignored when absent."""
    group_by: tuple[str, ...] = ("dataset", "weak_model")
    cost_strong: str | None = None
    cost_weak: str | None = None
    strong_model: str | None = "strong_model"
    weak_model: str | None = "weak_model"


def read_groups(
    path: str, cols: Columns = Columns(), *, group_by_given: bool = False
) -> dict[str, CascadeRows]:
    """Rows of a responses CSV, grouped by ``cols.group_by`` (joined with " / ").

    Required columns missing, a file with no rows, a bad number: :class:`RoutingDataError`
    naming file, row and column. Default group columns that are absent are dropped unless
    ``group_by_given``.
    """
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    header, raw = read_csv(path)
    need = [cols.prompt, cols.strong, cols.weak, cols.weak_response]
    if (cols.cost_strong is None) != (cols.cost_weak is None):
        raise RoutingDataError(path, "give both --cost-strong and --cost-weak, or neither")
    need += [c for c in (cols.cost_strong, cols.cost_weak) if c]
    groups = [g for g in cols.group_by if group_by_given or g in header]
    for c in [*need, *groups]:
        if c not in header:
            raise RoutingDataError(path, f"no such column (columns: {', '.join(header)})",
                                   column=c)
    if not raw:
        raise RoutingDataError(path, "no data rows under the header")
    ix = {c: i for i, c in enumerate(header)}
    estimate = cols.cost_strong is None and all(
        c is not None and c in ix for c in (cols.strong_response, cols.strong_model,
                                            cols.weak_model))
    buckets: dict[str, list[int]] = {}
    parsed: list[tuple[str, float, float, str, Decimal | None, Decimal | None]] = []
    for r, row in enumerate(raw, start=1):
        if len(row) < len(header):
            raise RoutingDataError(path, f"{len(row)} cells for {len(header)} columns", row=r)
        prompt = row[ix[cols.prompt]]
        if not prompt.strip():
            raise RoutingDataError(path, "empty prompt", column=cols.prompt, row=r)
        s = number_cell(path, cols.strong, r, row[ix[cols.strong]])
        w = number_cell(path, cols.weak, r, row[ix[cols.weak]])
        answer = row[ix[cols.weak_response]]
        cw = cs = None
        if cols.cost_strong and cols.cost_weak:
            cs = usd_cell(path, cols.cost_strong, r, row[ix[cols.cost_strong]])
            cw = usd_cell(path, cols.cost_weak, r, row[ix[cols.cost_weak]])
        elif estimate:
            cw = _estimate(row[ix[cols.weak_model]], prompt, answer)  # type: ignore[index]
            cs = _estimate(row[ix[cols.strong_model]], prompt,  # type: ignore[index]
                           row[ix[cols.strong_response]])  # type: ignore[index]
        parsed.append((prompt, s, w, answer, cw, cs))
        key = " / ".join(row[ix[g]] for g in groups) or "all rows"
        buckets.setdefault(key, []).append(r - 1)
    with_costs = bool(cols.cost_strong) or estimate
    out = {}
    for key in sorted(buckets):
        rows = [parsed[i] for i in buckets[key]]
        out[key] = CascadeRows(
            table=RoutingTable(prompts=tuple(p[0] for p in rows), strong=tuple(p[1] for p in rows),
                               weak=tuple(p[2] for p in rows), source=path),
            answers=tuple(p[3] for p in rows),
            cost_weak=tuple(p[4] for p in rows) if with_costs else None,
            cost_strong=tuple(p[5] for p in rows) if with_costs else None,
        )
    return out


def _estimate(model: str, prompt: str, answer: str) -> Decimal | None:
    from langchain_costrouter.pricing.prices import TokenUsage, cost_of, warn_unpriced
    from langchain_costrouter.pricing.tokens import count_text

    prices = _prices(model)
    if prices is None:
        warn_unpriced(model)
        return None
    return cost_of(prices, TokenUsage(input_tokens=count_text(prompt),
                                      output_tokens=count_text(answer)))


_PRICES: dict[str, Prices | None] = {}


def _prices(model: str) -> Prices | None:
    """List prices of ``model``, trying its name without an ``org/`` prefix and ``-chat``."""
    if model not in _PRICES:
        import warnings

        from langchain_costrouter.pricing.prices import lookup_prices

        found = None
        base = model.rsplit("/", 1)[-1]
        for name in dict.fromkeys((model, base, base.removesuffix("-chat"))):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = lookup_prices(name)
            if found is not None:
                break
        _PRICES[model] = found
    return _PRICES[model]


def evaluate_checks(
    checks: Sequence[Verifier], groups: dict[str, CascadeRows]
) -> list[CascadeReport]:
    """Every check on every group, in that order (check-major)."""
    return [score(c.name, g, verdicts(c, rows), rows) for c in checks
            for g, rows in groups.items()]
