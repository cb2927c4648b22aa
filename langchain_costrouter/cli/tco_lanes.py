"""The lane mix of a TCO report: what routing costs when part of the traffic can wait.

``--lane-mix batch=0.3,flex=0.1`` sends 30% of each level's traffic through the provider
Batch API and 10% through the flex tier, at those lanes' prices (from genai-prices or the
catalog); the rest stays realtime. A model without a lane serves that share on realtime, as a
batch job with ``fallback_lanes=("realtime",)`` would.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from langchain_costrouter.cli.tco import (
    Line,
    MonthlyWorkload,
    _decimal,
    cost_per_1k_requests,
    monthly_cost,
)
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.models.lanes import Lane, lane_prices, offered_lanes, parse_lane
from langchain_costrouter.routing.levels import LEVELS


def parse_lane_mix(value: str | Mapping[str, Any]) -> dict[Lane, Decimal]:
    """``batch=0.3,flex=10%`` -> shares per lane, realtime taking the rest."""
    if isinstance(value, str):
        pairs: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in value.split(","))):
            if "=" not in part:
                raise ConfigError(f"--lane-mix: expected lane=share pairs, got {part!r}")
            k, v = part.split("=", 1)
            pairs[k.strip()] = v
        value = pairs
    mix = {parse_lane(k): _decimal(v, f"--lane-mix share of {k}") for k, v in value.items()}
    if any(s < 0 for s in mix.values()) or sum(mix.values(), Decimal(0)) > 1:
        raise ConfigError(f"--lane-mix: shares must be >= 0 and add up to at most 1, got {value}")
    rest = 1 - sum((s for k, s in mix.items() if k != "realtime"), Decimal(0))
    return {"realtime": rest, **{k: s for k, s in mix.items() if k != "realtime"}}


def lane_mix_line(catalog: Catalog, workload: MonthlyWorkload, lane_mix: Mapping[Lane, Decimal],
                  baseline_cost: Decimal | None) -> Line:
    """ChatCostRouter's level mapping, each level's share split across lanes."""
    total: Decimal | None = Decimal(0)
    per_1k: Decimal | None = Decimal(0)
    parts = []
    for lv in LEVELS:
        if not workload.mix.get(lv):
            continue
        part = workload.share(lv)
        priced = [(n, monthly_cost(catalog[n].prices, part)) for n in catalog.candidates(lv)]
        priced = [(n, c) for n, c in priced if c is not None]
        if not priced:
            total = per_1k = None
            continue
        name, _ = min(priced, key=lambda x: x[1])
        spec = catalog[name]
        used = []
        for lane, share in lane_mix.items():
            if not share:
                continue
            served: Lane = lane if lane in offered_lanes(spec) else "realtime"
            prices = lane_prices(spec, served)
            c, one = monthly_cost(prices, part), cost_per_1k_requests(prices)
            if c is None or total is None or one is None or per_1k is None:
                total = per_1k = None
                continue
            total += c * share
            per_1k += one * share * workload.mix[lv]
            used.append(served)
        parts.append(f"{lv.value}->{name} ({'/'.join(dict.fromkeys(used))})")
    mix = ", ".join(f"{k} {v * 100:.0f}%" for k, v in lane_mix.items() if v)
    saving = pct = None
    if total is not None and baseline_cost:
        saving = baseline_cost - total
        pct = saving / baseline_cost * 100
    return Line(name=f"ChatCostRouter, lanes {mix}", kind="strategy", monthly_cost=total,
                per_1k_requests=per_1k, detail=", ".join(parts), saving=saving, saving_pct=pct)
