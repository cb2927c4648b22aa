"""Summaries, bounded memory, latency percentiles, track_costs and thread safety."""

from __future__ import annotations

import asyncio
import contextvars
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from _cost_fakes import FakeClock, UsageModel, usage

from langchain_costrouter.costs import (
    CallRecord,
    CostTrackingCallbackHandler,
    LatencyHistogram,
    active_tracker,
    track_costs,
)
from langchain_costrouter.costs.summary import UNROUTED
from langchain_costrouter.pricing.prices import MTOK, lookup_prices


def rec(**kw: Any) -> CallRecord:
    base: dict[str, Any] = {"run_id": uuid4(), "model": "m", "input_tokens": 10,
                            "output_tokens": 5, "cost": Decimal("0.001"), "latency_s": 0.5}
    return CallRecord(**{**base, **kw})


# -- summary arithmetic -----------------------------------------------------------------------


def test_summary_totals_rates_and_per_request_costs() -> None:
    h = CostTrackingCallbackHandler()
    h.record(rec(cost=Decimal("0.003"), level="standard"))
    h.record(rec(cost=Decimal("0.001"), model="n", level="standard"))
    h.record(rec(status="error", error="E: x", cost=None, input_tokens=0, output_tokens=0))
    h.record(rec(cost=None, model="unknown-model"))
    s = h.summary()
    assert (s.requests, s.succeeded, s.failed) == (4, 3, 1)
    assert s.success_rate == 0.75
    assert s.total_cost == Decimal("0.004") and s.unpriced_requests == 1
    assert s.cost_is_lower_bound
    assert s.avg_cost_per_request == Decimal("0.001")
    assert s.cost_per_success == Decimal("0.004") / 3
    assert s.input_tokens == 30 and s.total_tokens == 45
    assert set(s.by_model) == {"m", "n", "unknown-model"}
    assert s.by_model["m"].requests == 2 and s.by_model["m"].failed == 1
    assert s.by_level["standard"].total_cost == Decimal("0.004")
    assert s.by_level[UNROUTED].requests == 2
    d = s.as_dict()
    assert d["total_cost"] == "0.004" and d["by_model"]["n"]["total_cost"] == "0.001"


def test_empty_summary_has_no_rates() -> None:
    s = CostTrackingCallbackHandler().summary()
    assert s.requests == 0 and s.success_rate is None and s.avg_cost_per_request is None
    assert s.latency_p50_s is None and s.total_cost == 0 and not s.cost_is_lower_bound


# -- bounded memory ---------------------------------------------------------------------------


def test_ring_buffer_keeps_recent_records_while_totals_count_every_call() -> None:
    h = CostTrackingCallbackHandler(max_records=5)
    for i in range(50):
        h.record(rec(input_tokens=i))
    assert [r.input_tokens for r in h.records] == list(range(45, 50))
    s = h.summary()
    assert s.requests == 50 and s.input_tokens == sum(range(50))
    assert s.total_cost == Decimal("0.050")


def test_latency_histogram_quantiles_within_one_percent_in_bounded_buckets() -> None:
    rng = random.Random(7)
    xs = [rng.lognormvariate(-1.0, 1.2) for _ in range(50_000)]
    hist = LatencyHistogram(alpha=0.01)
    for x in xs:
        hist.add(x)
    xs.sort()
    for q in (0.5, 0.95, 0.99):
        true = xs[int(q * (len(xs) - 1))]
        assert hist.quantile(q) == pytest.approx(true, rel=0.01)
    assert hist.quantile(0) == xs[0] and hist.quantile(1) == xs[-1]
    assert hist.buckets < 1_200  # vs 50,000 samples
    with pytest.raises(ValueError, match="quantile"):
        hist.quantile(1.5)


def test_summary_percentiles_come_from_all_calls_not_only_the_ring_buffer() -> None:
    h = CostTrackingCallbackHandler(max_records=10)
    for i in range(1, 1001):
        h.record(rec(latency_s=i / 1000))
    s = h.summary()
    assert s.latency_p50_s == pytest.approx(0.5, rel=0.011)
    assert s.latency_p99_s == pytest.approx(0.99, rel=0.011)
    assert s.latency_p95_s == pytest.approx(0.95, rel=0.011)


# -- track_costs ------------------------------------------------------------------------------


def test_track_costs_reaches_calls_without_callbacks_and_nested_blocks_count_once() -> None:
    m = UsageModel(usage=usage(10, 2))
    with track_costs() as outer:
        m.invoke("a")
        with track_costs() as inner:
            m.invoke("b")
            assert active_tracker() is inner
        m.invoke("c")
    assert inner.summary().requests == 1
    assert outer.summary().requests == 3 and outer.summary().input_tokens == 30
    m.invoke("after")
    assert outer.summary().requests == 3


def test_track_costs_leaks_nothing_when_the_block_raises() -> None:
    m = UsageModel(usage=usage(10, 2))
    with pytest.raises(ZeroDivisionError), track_costs() as cb:
        m.invoke("a")
        _ = 1 / 0
    assert active_tracker() is None
    m.invoke("b")
    assert cb.summary().requests == 1
    # and a nested block that raises does not keep forwarding to its outer tracker
    keep = CostTrackingCallbackHandler()
    with track_costs() as outer:
        with pytest.raises(KeyError), track_costs(keep):
            raise KeyError("x")
        assert active_tracker() is outer
    keep.record(rec())
    assert outer.summary().requests == 0 and keep.summary().requests == 1


async def test_track_costs_reaches_asyncio_tasks_started_in_the_block() -> None:
    m = UsageModel(usage=usage(4, 1))
    with track_costs() as cb:
        await asyncio.gather(*(m.ainvoke(str(i)) for i in range(20)))
    assert cb.summary().requests == 20


def test_track_costs_takes_a_handler_or_arguments_not_both() -> None:
    with pytest.raises(TypeError, match="either"), track_costs(
        CostTrackingCallbackHandler(), max_records=3
    ):
        pass


# -- thread safety ----------------------------------------------------------------------------


def test_eight_threads_times_500_calls_give_exact_totals() -> None:
    clock = FakeClock()
    h = CostTrackingCallbackHandler(clock=clock, max_records=100)
    models = [UsageModel(usage=usage(100 + t, 10 + t), reply=f"r{t}") for t in range(8)]
    start = threading.Barrier(8)

    def worker(t: int) -> None:
        start.wait()
        for i in range(500):
            models[t].invoke(f"q{i}", config={"callbacks": [h], "metadata": {"thread": t}})

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to surface races
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(worker, range(8)))
    finally:
        sys.setswitchinterval(old)
    s = h.summary()
    assert s.requests == 4_000 and s.succeeded == 4_000
    assert s.input_tokens == 500 * sum(100 + t for t in range(8))
    assert s.output_tokens == 500 * sum(10 + t for t in range(8))
    p = lookup_prices("gpt-5.4-mini", "openai")  # the UsageModel fakes' default model
    assert p is not None
    expected = sum(((100 + t) * p.input + (10 + t) * p.output) / MTOK for t in range(8)) * 500
    assert s.total_cost == expected
    assert {r.metadata["thread"] for r in h.records} <= set(range(8))
    assert len(h.records) == 100


def test_threads_started_with_a_copied_context_are_tracked() -> None:
    m = UsageModel(usage=usage(3, 1))
    with track_costs() as cb:
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(m.invoke, "x"))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert cb.summary().requests == 4
