"""The lane mix of a bench run: what the router's measured calls cost when part of them can wait.

``costrouter bench --lane-mix batch=0.3`` prices 30% of each serving model's calls at that
model's batch-lane prices (from genai-prices or the catalog, :mod:`models.lanes`) and the rest
at the realtime figure the bench already reports, over the real token usage of each call. A
model without the lane serves that share on realtime, as a batch job with
``fallback_lanes=("realtime",)`` would. An unpriced lane makes the figure ``None`` (with the
warning :func:`lane_prices` gives), never $0.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from langchain_costrouter.cli.runner import Outcome
from langchain_costrouter.cli.summary import call_cost, sum_or_none
from langchain_costrouter.cli.tco_lanes import parse_lane_mix
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.models.lanes import Lane, lane_prices, offered_lanes, with_lanes
from langchain_costrouter.pricing.prices import Prices, cost_of


def lane_mix_arg(text: str) -> dict[Lane, Decimal]:
    """``--lane-mix``: :func:`parse_lane_mix`, checked at parse time (one line, exit 2)."""
    try:
        return parse_lane_mix(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--lane-mix: ")) from None


def _s(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _prices(p: Prices | None) -> dict[str, str | None] | None:
    if p is None:
        return None
    return {"input_per_mtok": str(p.input), "output_per_mtok": str(p.output),
            "cached_input_per_mtok": _s(p.cached_input), "source": p.source}


def _model_row(spec: Any, calls: Sequence[Outcome], realtime: Decimal | None,
               mix: Mapping[Lane, Decimal]) -> dict[str, Any]:
    lanes: dict[str, Any] = {}
    total: Decimal | None = Decimal(0)
    for lane, share in mix.items():
        served: Lane = lane if lane in offered_lanes(spec) else "realtime"
        if served == "realtime":
            cost, prices = realtime, spec.prices
        else:
            prices = lane_prices(spec, served)
            cost = sum_or_none(cost_of(prices, o.usage) if o.usage is not None else None
                               for o in calls)
        lanes[lane] = {"share": str(share), "served": served, "prices": _prices(prices),
                       "cost_usd": _s(cost)}
        if share:
            total = None if total is None or cost is None else total + cost * share
    return {
        "model": spec.name, "calls": len(calls), "realtime_cost_usd": _s(realtime),
        "input_tokens": sum(o.usage.input_tokens for o in calls if o.usage),
        "cached_tokens": sum(o.usage.cached_tokens for o in calls if o.usage),
        "output_tokens": sum(o.usage.output_tokens for o in calls if o.usage),
        "lanes": lanes, "cost_usd": _s(total),
    }


def lane_mix_report(catalog: Catalog, strategy: str, outcomes: Sequence[Outcome],
                    mix: Mapping[Lane, Decimal]) -> dict[str, Any]:
    """The strategy's answered calls, per serving model, priced at ``mix``; Decimal strings."""
    cat = with_lanes(catalog)
    ok = [o for o in outcomes if o.ok]
    rows = []
    for name in sorted({o.model for o in ok if o.model is not None}):
        calls = [o for o in ok if o.model == name]
        realtime = sum_or_none(call_cost(catalog, o) for o in calls)
        rows.append(_model_row(cat[name], calls, realtime, mix) if name in cat.models else
                    {"model": name, "calls": len(calls), "cost_usd": None})
    if any(o.model is None for o in ok):
        rows.append({"model": "(none)", "cost_usd": None,
                     "calls": sum(o.model is None for o in ok)})
    realtime_total = sum_or_none(call_cost(catalog, o) for o in ok)
    total = sum_or_none(Decimal(r["cost_usd"]) if r["cost_usd"] is not None else None
                        for r in rows)
    per_1k = None if total is None or not ok else total / len(ok) * 1000
    rt_1k = None if realtime_total is None or not ok else realtime_total / len(ok) * 1000
    saving = (None if per_1k is None or not rt_1k else (rt_1k - per_1k) / rt_1k * 100)
    return {
        "strategy": strategy, "mix": {k: str(v) for k, v in mix.items()}, "answered": len(ok),
        "realtime_cost_usd": _s(realtime_total), "realtime_cost_per_1k_requests_usd": _s(rt_1k),
        "cost_usd": _s(total), "cost_per_1k_requests_usd": _s(per_1k),
        "saving_vs_realtime_pct": _s(saving), "models": rows,
    }


def headline(rep: Mapping[str, Any]) -> str:
    """One line for the console: the mixed figure next to the realtime one."""
    mix = ", ".join(f"{k} {Decimal(v) * 100:.0f}%" for k, v in rep["mix"].items()
                    if Decimal(v))

    def money(v: str | None) -> str:
        return "unpriced" if v is None else f"${Decimal(v):,.4f}"

    pct = rep["saving_vs_realtime_pct"]
    tail = "" if pct is None else f" ({Decimal(pct):.1f}% less)"
    return (f"{rep['strategy']} with lanes {mix}: {money(rep['cost_per_1k_requests_usd'])}/1K "
            f"req vs {money(rep['realtime_cost_per_1k_requests_usd'])}/1K realtime{tail}")
