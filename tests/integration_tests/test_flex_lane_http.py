"""The flex lane over real HTTP: service_tier=flex is sent, a 429 resource_unavailable falls
back to realtime or waits by policy (never a breaker trip), and cost follows the reported tier."""

from __future__ import annotations

import httpx
import pytest

from langchain_costrouter.batch import FlexPolicy, flex_invoke, submit_batch
from langchain_costrouter.exceptions import BatchLaneUnavailableError, FlexCapacityError
from langchain_costrouter.models.lanes import lane_prices
from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.testing import LocalServer
from tests.integration_tests._batch_setup import lane_router, lane_server_config, prompts


@pytest.fixture(scope="module")
def server():
    with LocalServer(lane_server_config()) as srv:
        yield srv


def refuse(url: str, model: str, n: int) -> None:
    httpx.post(f"{url}/admin/flex", json={"model": model, "refuse": n}).raise_for_status()


def flex_stats(url: str) -> dict:
    return httpx.get(f"{url}/admin/flex").json()


def test_flex_call_is_served_and_priced_at_the_flex_tier(server):
    router = lane_router(server.base_url)
    before = flex_stats(server.url)["served"].get("gpt-5", 0)
    msg = flex_invoke(router, [("user", "Explain flex processing briefly.")], tier="gpt-5")
    assert flex_stats(server.url)["served"]["gpt-5"] == before + 1
    meta = msg.response_metadata
    assert meta["service_tier"] == "flex" and meta["costrouter_lane"] == "flex"
    spec = router.route_catalog["gpt-5"]
    um = msg.usage_metadata
    usage = TokenUsage(input_tokens=um["input_tokens"], output_tokens=um["output_tokens"])
    flex = lane_prices(spec, "flex")
    assert flex is not None and spec.prices is not None and flex.output < spec.prices.output
    assert str(cost_of(flex, usage)) == meta["cost_usd"]


def test_a_flex_refusal_falls_back_to_realtime_without_tripping_a_breaker(server):
    router = lane_router(server.base_url)
    refuse(server.url, "gpt-5", 1)
    msg = flex_invoke(router, [("user", "hello there")], tier="gpt-5")
    meta = msg.response_metadata
    assert meta["costrouter_lane"] == "realtime" and meta["flex_refusals"] == 1
    assert meta["costrouter"]["tier"] == "gpt-5"  # served by the same model, realtime
    assert router.health()["gpt-5"].state == "closed"


def test_a_flex_refusal_waits_and_retries_by_policy(server):
    router = lane_router(server.base_url)
    refuse(server.url, "gpt-5", 2)
    slept: list[float] = []
    policy = FlexPolicy(on_unavailable="wait", max_waits=3, first_wait_s=5)
    msg = flex_invoke(router, [("user", "hi")], tier="gpt-5", policy=policy, sleep=slept.append)
    assert slept == [5, 10] and msg.response_metadata["costrouter_lane"] == "flex"
    refuse(server.url, "gpt-5", 5)
    with pytest.raises(FlexCapacityError, match="after 3 attempt"):
        flex_invoke(router, [("user", "hi")], tier="gpt-5",
                    policy=FlexPolicy(on_unavailable="wait", max_waits=2), sleep=slept.append)
    refuse(server.url, "gpt-5", 0)


def test_a_model_without_flex_is_a_config_error(server):
    router = lane_router(server.base_url)
    with pytest.raises(BatchLaneUnavailableError, match=r"'gpt-4\.1'.*has no flex lane"):
        flex_invoke(router, [("user", "hi")], tier="gpt-4.1")


def test_a_job_on_the_flex_lane_answers_every_item(server, tmp_path):
    router = lane_router(server.base_url)
    refuse(server.url, "gpt-5", 1)
    job = submit_batch(router, prompts(4), store=tmp_path / "j.db", lane="flex", model="gpt-5")
    st = job.wait(poll_s=0, sleep=lambda s: None)
    assert st.items == {"succeeded": 4}
    lanes = [r.response_metadata["costrouter_lane"] for r in job.results()]
    assert lanes.count("flex") == 3 and lanes.count("realtime") == 1


def test_flex_streams_and_a_refused_stream_falls_back_before_any_chunk(server):
    from langchain_costrouter.batch import flex_stream

    router = lane_router(server.base_url)
    whole = flex_invoke(router, [("user", "Tell me about tides.")], tier="gpt-5")
    chunks = list(flex_stream(router, [("user", "Tell me about tides.")], tier="gpt-5"))
    assert "".join(str(c.content) for c in chunks) == whole.content
    assert any(c.response_metadata.get("service_tier") == "flex" for c in chunks)
    refuse(server.url, "gpt-5", 1)
    again = list(flex_stream(router, [("user", "Tell me about tides.")], tier="gpt-5"))
    assert "".join(str(c.content) for c in again) == whole.content
    assert not any(c.response_metadata.get("service_tier") == "flex" for c in again)
