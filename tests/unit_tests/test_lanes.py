"""Lane prices come from genai-prices or the catalog, never the realtime price by accident."""

from __future__ import annotations

import warnings
from decimal import Decimal

import pytest

from langchain_costrouter.exceptions import BatchLaneUnavailableError, ConfigError
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.models.lanes import (
    genai_lane_prices,
    lane_for,
    lane_prices,
    offered_lanes,
    with_lanes,
)
from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.testing.lane_catalog import lane_catalog


@pytest.fixture(scope="module")
def cat():
    return lane_catalog("http://127.0.0.1/v1")


def test_a_model_is_realtime_only_unless_given_lanes():
    for spec in Catalog.default().models.values():
        assert offered_lanes(spec) == ("realtime",)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explicit = with_lanes(Catalog.default(), {})  # an explicit empty choice: no lanes
    assert {offered_lanes(s) for s in explicit.models.values()} == {("realtime",)}


def test_lanes_from_genai_prices_are_its_batch_and_flex_variants(cat):
    from genai_prices import Usage, calc_price

    for name, lane, ctx in [("gpt-4.1", "batch", {"processing": "batch"}),
                            ("claude-sonnet", "batch", {"processing": "batch"}),
                            ("gpt-5", "flex", {"service_tier": "flex"})]:
        spec = cat[name]
        got = lane_prices(spec, lane)
        for n_in in (1000, 300_000):  # below and above a long-context threshold
            ref = calc_price(Usage(input_tokens=n_in, output_tokens=1000), spec.model,
                             provider_id=spec.provider, price_context=ctx)
            mine = cost_of(got, TokenUsage(input_tokens=n_in, output_tokens=1000))
            assert mine == ref.total_price
        assert got.input < spec.prices.input  # cheaper than realtime


def test_a_provider_without_a_batch_api_gets_no_batch_lane(cat):
    assert offered_lanes(cat["deepseek"]) == ("realtime",)
    assert genai_lane_prices("deepseek-v3.2", "deepseek", "batch") is None
    with pytest.raises(BatchLaneUnavailableError, match="has no batch lane"):
        lane_prices(cat["deepseek"], "batch")


def test_catalog_lane_prices_override_and_unknown_ones_stay_none():
    cat = lane_catalog("http://127.0.0.1/v1").with_overrides({"models": {
        "deepseek": {"lanes": {"batch": {"input": "0.1", "output": "0.2"}}},
        "gemini-flash": {"lanes": {"flex": None}},
    }})
    assert lane_prices(cat["deepseek"], "batch").input == Decimal("0.1")
    with pytest.warns(UserWarning, match="no flex price is known for model 'gemini-flash'"):
        assert lane_prices(cat["gemini-flash"], "flex") is None


def test_a_bad_lane_name_is_a_config_error():
    with pytest.raises(ConfigError, match="lanes"):
        Catalog.build({"models": [{"name": "m", "provider": "openai", "model": "m",
                                   "base_url": "http://x", "lanes": {"slow": None}}],
                       "levels": {lv: ["m"] for lv in ("trivial", "standard", "complex",
                                                       "expert")}})
    with pytest.raises(ConfigError, match="unknown lane 'slow'"):
        lane_for(lane_catalog("http://127.0.0.1/v1")["gpt-4.1"], lane="slow")


def test_a_deadline_picks_the_cheapest_lane_that_meets_it(cat):
    gpt5 = cat["gpt-5"]
    assert lane_for(gpt5) == "realtime"
    assert lane_for(gpt5, deadline_s=30) == "realtime"
    assert lane_for(gpt5, deadline_s=3600) == "flex"
    assert lane_for(gpt5, deadline_s=86400) == "batch"
    assert lane_for(gpt5, urgency="soon") == "flex"
    assert lane_for(gpt5, urgency="later") == "batch"
    assert lane_for(cat["gpt-4.1"], urgency="soon") == "realtime"
    with pytest.raises(BatchLaneUnavailableError):
        lane_for(cat["gpt-4.1"], lane="flex")
