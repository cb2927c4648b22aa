"""TCO figures computed from the catalog's list prices (never typed in the code)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from langchain_costrouter.cli.tco import (
    MonthlyWorkload,
    cost_per_1k_requests,
    monthly_cost,
    parse_mix,
    parse_tokens,
    tco,
)
from langchain_costrouter.exceptions import ConfigError, UnknownModelError
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.routing.levels import Level

# The three 2025 models of the published ROI table, added as pin-only entries: a new entry is
# priced from genai-prices by its provider and model id, nothing typed here.
ROI_MODELS = {"models": {
    "gpt-4.1": {"provider": "openai", "model": "gpt-4.1", "base_url": "https://api.openai.com/v1"},
    "claude-sonnet-4.5": {"provider": "anthropic", "model": "claude-sonnet-4-5",
                          "base_url": "https://api.anthropic.com/v1/"},
    "gemini-2.5-flash": {"provider": "google", "model": "gemini-2.5-flash",
                         "base_url": "https://generativelanguage.googleapis.com/v1beta/openai/"},
}}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.default().with_overrides(ROI_MODELS)


ROI = MonthlyWorkload(input_tokens=50_000_000, output_tokens=20_000_000)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("gpt-4.1", Decimal(260)), ("claude-sonnet-4.5", Decimal(450)),
     ("gemini-2.5-flash", Decimal(65))],
)
def test_published_roi_table(catalog: Catalog, name: str, expected: Decimal) -> None:
    # GPT-4.1 $2/$8: 100 + 160; Claude Sonnet 4.5 $3/$15: 150 + 300; Gemini 2.5 Flash: 15 + 50
    assert name in catalog.pin_only()
    assert monthly_cost(catalog[name].prices, ROI) == expected
    line = next(ln for ln in tco(catalog, ROI).models if ln.name == name)
    assert line.monthly_cost == expected


def test_long_context_tier_uses_request_shape_not_monthly_total(catalog: Catalog) -> None:
    prices = catalog["gpt-5.4"].prices
    assert prices is not None and prices.long_context is not None
    small = MonthlyWorkload(input_tokens=50_000_000, output_tokens=0,
                            input_tokens_per_request=8000)
    big = MonthlyWorkload(input_tokens=50_000_000, output_tokens=0,
                          input_tokens_per_request=300_000)
    assert monthly_cost(prices, small) == 50 * prices.input
    assert monthly_cost(prices, big) == 50 * prices.long_context.input


def test_cache_hits_priced_at_cached_rate(catalog: Catalog) -> None:
    p = catalog["gpt-5.4"].prices
    assert p is not None and p.cached_input is not None
    w = MonthlyWorkload(input_tokens=10_000_000, output_tokens=0, cache_hit_rate=Decimal("0.25"))
    assert monthly_cost(p, w) == Decimal("7.5") * p.input + Decimal("2.5") * p.cached_input


def test_strategies_and_baseline(catalog: Catalog) -> None:
    rep = tco(catalog, ROI)
    by = {ln.name: ln for ln in rep.strategies}
    premium, cheapest, router = by["always-premium"], by["always-cheapest"], by["ChatCostRouter"]
    assert rep.baseline == premium.detail and premium.saving == 0
    # truthful baselines: the strongest model the router itself uses, and the cheapest listed
    assert premium.detail == catalog.first_choice(Level.EXPERT) == "claude-opus-5.5"
    assert cheapest.detail == "gpt-5.4-nano"
    pinned_dearer = [n for n in catalog.pin_only()
                     if monthly_cost(catalog[n].prices, ROI) > premium.monthly_cost]  # type: ignore[operator]
    assert pinned_dearer == ["gpt-5.5-pro"]  # dearer, but the router never picks it
    assert cheapest.monthly_cost is not None and router.monthly_cost is not None
    assert cheapest.monthly_cost <= router.monthly_cost < premium.monthly_cost
    # the router line is each level's share at that level's cheapest candidate
    expected = Decimal(0)
    for lv in Level:
        part = ROI.share(lv)
        costs = [monthly_cost(catalog[n].prices, part) for n in catalog.candidates(lv)]
        expected += min(c for c in costs if c is not None)
    assert router.monthly_cost == expected
    assert router.saving == rep.baseline_cost - expected  # type: ignore[operator]
    other = tco(catalog, ROI, baseline="gpt-4.1")
    assert other.baseline_cost == Decimal(260)
    with pytest.raises(UnknownModelError, match="nope"):
        tco(catalog, ROI, baseline="nope")


def test_unpriced_model_is_none_not_zero(catalog: Catalog) -> None:
    cat = catalog.with_overrides(
        {"models": {"mystery": {"provider": "acme", "model": "m-1", "base_url": "http://x"}}}
    )
    rep = tco(cat, ROI)
    line = next(ln for ln in rep.models if ln.name == "mystery")
    assert line.monthly_cost is None and line.per_1k_requests is None and line.saving is None
    assert rep.unpriced == ["mystery"]
    assert rep.as_dict()["models"][-1]["monthly_cost_usd"] is None


def test_cost_per_1k_requests_at_bench_shape(catalog: Catalog) -> None:
    p = catalog["gpt-5.4"].prices
    assert p is not None
    assert cost_per_1k_requests(p) == (2048 * p.input + 512 * p.output) / 1000


def test_parsers() -> None:
    assert parse_tokens("50M") == 50_000_000 and parse_tokens("1.5k") == 1500
    assert parse_mix("trivial=40,standard=30,complex=20,expert=10")[Level.TRIVIAL] == Decimal("0.4")
    with pytest.raises(ConfigError, match="add up to 1"):
        parse_mix("trivial=0.5,expert=0.2")
    with pytest.raises(ConfigError, match="'lots'"):
        parse_tokens("lots")
    with pytest.raises(ConfigError, match="cache hit rate"):
        MonthlyWorkload(input_tokens=1, output_tokens=1, cache_hit_rate=Decimal(2))
    for bad in ("nan", "inf", "-Infinity", "sNaN"):
        with pytest.raises(ConfigError, match="finite"):
            MonthlyWorkload.from_mapping({"input_tokens": 1, "output_tokens": 1,
                                          "cache_hit_rate": bad})
        with pytest.raises(ConfigError, match="finite"):
            parse_mix(f"trivial={bad},expert=0.5")
