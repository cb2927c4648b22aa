"""``costrouter tco --lane-mix``: traffic that can wait is priced at its lane's prices."""

from __future__ import annotations

from decimal import Decimal

import pytest

from langchain_costrouter.cli.tco import MonthlyWorkload, monthly_cost, tco
from langchain_costrouter.cli.tco_lanes import lane_mix_line, parse_lane_mix
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.lanes import lane_prices
from langchain_costrouter.testing.lane_catalog import lane_catalog


@pytest.fixture(scope="module")
def cat():
    return lane_catalog("http://127.0.0.1/v1")


def test_the_lane_mix_prices_each_share_at_its_lane(cat):
    w = MonthlyWorkload(input_tokens=50_000_000, output_tokens=20_000_000,
                        mix={lv: Decimal(1) if lv.value == "expert" else Decimal(0)
                             for lv in cat.levels})
    base = tco(cat, w)
    routed = next(ln for ln in base.strategies if ln.name == "ChatCostRouter")
    line = lane_mix_line(cat, w, parse_lane_mix("batch=0.3"), base.baseline_cost)
    spec = cat["gpt-4.1"]  # expert's cheapest candidate
    assert "expert->gpt-4.1 (realtime/batch)" in line.detail
    want = (Decimal("0.7") * routed.monthly_cost
            + Decimal("0.3") * monthly_cost(lane_prices(spec, "batch"), w))
    assert line.monthly_cost == want < routed.monthly_cost


def test_a_model_without_the_lane_keeps_realtime(cat):
    w = MonthlyWorkload(input_tokens=10_000_000, output_tokens=1_000_000,
                        mix={lv: Decimal(1) if lv.value == "trivial" else Decimal(0)
                             for lv in cat.levels})
    routed = next(ln for ln in tco(cat, w).strategies if ln.name == "ChatCostRouter")
    line = lane_mix_line(cat, w, parse_lane_mix("batch=0.5"), None)
    assert "trivial->deepseek (realtime)" in line.detail
    assert line.monthly_cost == routed.monthly_cost


def test_a_bad_lane_mix_is_a_config_error():
    with pytest.raises(ConfigError, match="at most 1"):
        parse_lane_mix("batch=0.8,flex=0.4")
    with pytest.raises(ConfigError, match="unknown lane 'slow'"):
        parse_lane_mix("slow=0.1")
    assert parse_lane_mix("batch=30%") == {"realtime": Decimal("0.70"), "batch": Decimal("0.30")}
