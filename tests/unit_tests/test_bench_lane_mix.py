"""``bench --lane-mix`` pricing: a lane the model lacks stays realtime; an unpriced lane is
``None`` with a warning, never $0."""

from __future__ import annotations

from decimal import Decimal

import pytest

from langchain_costrouter import Catalog
from langchain_costrouter.cli.bench_lanes import headline, lane_mix_report
from langchain_costrouter.cli.runner import Outcome
from langchain_costrouter.cli.tco_lanes import parse_lane_mix
from langchain_costrouter.pricing.prices import TokenUsage, cost_of


def _calls(model: str, n: int) -> list[Outcome]:
    return [Outcome(index=i, strategy="ChatCostRouter", category="c", expected_level="simple",
                    model=model, usage=TokenUsage(input_tokens=2000 + i, output_tokens=40))
            for i in range(n)]


def test_a_model_without_the_lane_keeps_its_realtime_cost() -> None:
    cat = Catalog.default().with_overrides({"models": {"gemini-3.5-flash": {"lanes": {}}}})
    calls = _calls("gemini-3.5-flash", 5)
    rep = lane_mix_report(cat, "ChatCostRouter", calls, parse_lane_mix("batch=0.5"))
    realtime = sum(cost_of(cat["gemini-3.5-flash"].prices, o.usage) for o in calls
                   if o.usage is not None)
    (row,) = rep["models"]
    assert row["lanes"]["batch"]["served"] == "realtime"
    assert Decimal(row["cost_usd"]) == realtime == Decimal(rep["realtime_cost_usd"])
    assert Decimal(rep["saving_vs_realtime_pct"]) == 0


def test_an_unpriced_lane_is_none_with_a_warning_not_zero() -> None:
    cat = Catalog.default().with_overrides(
        {"models": {"gemini-3.5-flash": {"lanes": {"batch": None}}}})
    calls = _calls("gemini-3.5-flash", 3) + _calls("gpt-5.4-nano", 3)
    with pytest.warns(UserWarning, match="gemini-3.5-flash"):
        rep = lane_mix_report(cat, "ChatCostRouter", calls, parse_lane_mix("batch=0.3"))
    rows = {r["model"]: r for r in rep["models"]}
    assert rows["gemini-3.5-flash"]["cost_usd"] is None
    assert rows["gpt-5.4-nano"]["cost_usd"] is not None
    assert rep["cost_usd"] is None and rep["cost_per_1k_requests_usd"] is None
    assert "unpriced/1K" in headline(rep)
