"""Lanes through the router itself, over real HTTP to the local server: a call asks for flex
(kwarg, field, configurable, deadline or urgency) and every entry point sends the flex tier,
prices it at flex prices and falls back to realtime on a refusal without tripping a breaker;
plans, ceilings and budgets use lane prices; the batch lane is reached through router.batch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from langchain_costrouter import Budget, ConfigError, CostCeilingError, FlexCapacityError
from langchain_costrouter.batch import BatchJob, FlexPolicy
from langchain_costrouter.costs import CostTrackingCallbackHandler
from langchain_costrouter.models.lanes import lane_prices
from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.resilience.retry import RetryPolicy
from langchain_costrouter.testing import LocalServer, paths
from tests.integration_tests._batch_setup import lane_router, lane_server_config, prompts

pytestmark = pytest.mark.enable_socket

MODES = paths.PATHS


@pytest.fixture(scope="module")
def server() -> Any:
    with LocalServer(lane_server_config()) as srv:
        yield srv


def refuse(server: LocalServer, model: str, n: int) -> None:
    httpx.post(f"{server.url}/admin/flex", json={"model": model, "refuse": n}).raise_for_status()


def served(server: LocalServer) -> int:
    return int(httpx.get(f"{server.url}/admin/flex").json()["served"].get("gpt-5", 0))


def call(router: Any, mode: str, text: str, **kw: Any) -> tuple[dict[str, Any], Any]:
    """(the router's metadata, usage_metadata) of one call made the ``mode`` way."""
    msg = paths.call(router, mode, text, **kw)
    return msg.response_metadata["costrouter"], msg.usage_metadata  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", MODES)
def test_a_flex_call_sends_the_tier_and_is_billed_at_flex_prices(server: LocalServer,
                                                                 mode: str) -> None:
    router = lane_router(server.base_url)
    spec = router.route_catalog["gpt-5"]
    flex = lane_prices(spec, "flex")
    assert flex is not None and spec.prices is not None and flex.output < spec.prices.output
    before = served(server)
    meta, um = call(router, mode, "Explain flex processing briefly.", model="gpt-5", lane="flex")
    assert served(server) == before + 1  # the request carried service_tier=flex
    assert (meta["tier"], meta["lane"]) == ("gpt-5", "flex")
    usage = TokenUsage(input_tokens=um["input_tokens"], output_tokens=um["output_tokens"])
    assert Decimal(meta["cost_usd"]) == cost_of(flex, usage)
    assert Decimal(meta["cost_usd"]) < cost_of(spec.prices, usage)  # type: ignore[operator]


@pytest.mark.parametrize("mode", MODES)
def test_a_flex_refusal_is_served_on_realtime_by_the_same_model_without_a_breaker_trip(
        server: LocalServer, mode: str) -> None:
    router = lane_router(server.base_url)
    refuse(server, "gpt-5", 1)
    meta, um = call(router, mode, "hello there", model="gpt-5",
                    config={"configurable": {"costrouter_lane": "flex"}})
    assert (meta["tier"], meta["lane"]) == ("gpt-5", "realtime")
    assert [a["status"] for a in meta["attempts"]] == ["flex_refused", "ok"]
    assert "429" in meta["attempts"][0]["error"] and "[realtime]" in meta["attempts"][0]["error"]
    usage = TokenUsage(input_tokens=um["input_tokens"], output_tokens=um["output_tokens"])
    spec = router.route_catalog["gpt-5"]
    assert Decimal(meta["cost_usd"]) == cost_of(spec.prices, usage)  # type: ignore[arg-type]
    assert router.health()["gpt-5"].failures == 0
    assert router.health()["gpt-5"].state == "closed"


def test_flex_policy_waits_on_the_injected_sleep_or_raises(server: LocalServer) -> None:
    slept: list[float] = []
    router = lane_router(server.base_url, lane="flex", retry=RetryPolicy(sleep=slept.append),
                         flex_policy=FlexPolicy(on_unavailable="wait", max_waits=3,
                                                first_wait_s=5))
    refuse(server, "gpt-5", 2)
    meta, _ = call(router, "invoke", "hi", model="gpt-5")
    assert slept == [5, 10] and meta["lane"] == "flex"
    strict = lane_router(server.base_url, lane="flex",
                         flex_policy=FlexPolicy(on_unavailable="raise"))
    refuse(server, "gpt-5", 1)
    with pytest.raises(FlexCapacityError):
        strict.invoke("hi", model="gpt-5")
    assert strict.health()["gpt-5"].state == "closed"
    refuse(server, "gpt-5", 0)


def test_plans_price_each_candidate_at_its_lane_and_skip_models_without_it(
        server: LocalServer) -> None:
    router = lane_router(server.base_url)
    realtime = router.plan("Prove it step by step.", level="expert")
    flex = router.plan("Prove it step by step.", level="expert", lane="flex")
    assert flex.first.name == "gpt-5" and flex.first.lane == "flex"
    assert "no flex lane" in flex.skipped["claude-sonnet"]
    pinned = router.plan("Prove it step by step.", model="gpt-5")
    assert flex.estimated_cost is not None and pinned.estimated_cost is not None
    assert flex.estimated_cost < pinned.estimated_cost
    assert realtime.first.lane == "realtime"
    # urgency and deadlines choose the cheapest lane that meets them; a call is synchronous
    assert router.plan("hi", model="gpt-5", urgency="soon").first.lane == "flex"
    assert router.plan("hi", model="gpt-5", urgency="later").first.lane == "flex"
    assert router.plan("hi", model="gpt-5", lane_deadline_s=10).first.lane == "realtime"
    with pytest.raises(ConfigError, match="lane_deadline_s"):
        router.plan("hi", lane_deadline_s=-1)
    with pytest.raises(ConfigError, match="unknown lane"):
        router.plan("hi", lane="overnight")


def test_the_ceiling_and_budgets_use_lane_prices(server: LocalServer) -> None:
    router = lane_router(server.base_url, max_tokens=64)
    rt = router.plan("hi", model="gpt-5").estimated_cost
    fx = router.plan("hi", model="gpt-5", lane="flex").estimated_cost
    assert rt is not None and fx is not None and fx < rt
    ceiling = (rt + fx) / 2
    with pytest.raises(CostCeilingError):
        router.invoke("hi", model="gpt-5", max_cost=ceiling)
    meta, _ = call(router, "invoke", "hi", model="gpt-5", max_cost=ceiling, lane="flex")
    assert meta["lane"] == "flex"
    # a budget with room for one flex estimate but not a realtime one lets the flex call in
    guarded = router.with_budget([Budget.usd(ceiling)])
    out = guarded.invoke("hi", config={"configurable": {"costrouter_model": "gpt-5",
                                                        "costrouter_lane": "flex"}})
    assert out.response_metadata["costrouter"]["lane"] == "flex"


def test_the_batch_lane_on_a_single_call_says_where_it_is(server: LocalServer) -> None:
    router = lane_router(server.base_url)
    for mode in MODES:
        with pytest.raises(ConfigError, match=r"router\.batch"):
            call(router, mode, "hi", lane="batch")
    with pytest.raises(ConfigError, match="submit_batch"):
        router.invoke("hi", config={"configurable": {"costrouter_lane": "batch"}})


def test_router_batch_on_the_batch_lane_uses_the_providers_batch_api(
        server: LocalServer, tmp_path: Any) -> None:
    router = lane_router(server.base_url)
    handler = CostTrackingCallbackHandler()
    config = {"configurable": {"costrouter_lane": "batch", "costrouter_batch_poll_s": 0,
                               "costrouter_batch_store": str(tmp_path / "j.db")},
              "callbacks": [handler]}
    before = httpx.get(f"{server.url}/admin/batches").json()
    out = router.batch(prompts(4), config, model="gpt-4.1")
    assert [r.response_metadata["costrouter_lane"] for r in out] == ["batch"] * 4
    assert len(handler.records) == 4
    assert httpx.get(f"{server.url}/admin/batches").json() != before
    out = paths.run(router.abatch(prompts(3), config, model="gpt-4.1"))
    assert [r.response_metadata["costrouter_lane"] for r in out] == ["batch"] * 3
    # without the lane, batch() is LangChain's: one realtime call per input
    plain = router.batch(prompts(2), model="gpt-4.1")
    assert [r.response_metadata["costrouter"]["lane"] for r in plain] == ["realtime"] * 2
    # flex through batch() is served per call by the engine
    flex = router.batch(prompts(2), {"configurable": {"costrouter_lane": "flex"}}, model="gpt-5")
    assert [r.response_metadata["costrouter"]["lane"] for r in flex] == ["flex"] * 2
    job = router.submit_batch(prompts(2), store=tmp_path / "k.db", model="gpt-4.1")
    assert isinstance(job, BatchJob)
    job.wait(poll_s=0, sleep=lambda s: None)
    assert [r.response_metadata["costrouter_lane"] for r in job.results()] == ["batch"] * 2
    ajob = paths.run(router.asubmit_batch(prompts(2), store=tmp_path / "a.db", model="gpt-4.1"))
    assert isinstance(ajob, BatchJob)
