"""Batch jobs over real HTTP to the local server's OpenAI and Anthropic batch endpoints."""

from __future__ import annotations

import warnings
from decimal import Decimal

import pytest
from langchain_core.messages import AIMessage

from langchain_costrouter.batch import BatchJob, BatchLimits, JobStore, submit_batch
from langchain_costrouter.batch.accounting import usage_of
from langchain_costrouter.costs import CostTrackingCallbackHandler
from langchain_costrouter.exceptions import (
    BatchItemError,
    BatchLaneUnavailableError,
    MalformedBatchResultError,
    UnknownBatchError,
)
from langchain_costrouter.models.lanes import lane_prices
from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.testing import LocalServer
from tests.integration_tests._batch_setup import (
    lane_router,
    lane_server_config,
    prompts,
    script,
    stats,
)

NO_WAIT = {"poll_s": 0.0, "sleep": lambda s: None}


@pytest.fixture(scope="module")
def server():
    with LocalServer(lane_server_config()) as srv:
        yield srv


@pytest.fixture
def url(server):
    script(server.url)  # every test starts from the default script
    yield server.url
    script(server.url)


def two_provider_job(router, store, n, **kw):
    """Even items on gpt-4.1 (OpenAI batches), odd ones on claude-sonnet (message batches)."""
    openai = submit_batch(router, prompts(n)[0::2], store=store, model="gpt-4.1", **kw)
    anthropic = submit_batch(router, prompts(n)[1::2], store=store, model="claude-sonnet", **kw)
    return openai, anthropic


def test_200_items_on_two_providers_come_back_in_input_order_at_batch_prices(url, server, tmp_path):
    router = lane_router(server.base_url)
    handler = CostTrackingCallbackHandler()
    limits = {"openai": BatchLimits(max_requests=40, max_bytes=10**6),
              "anthropic": BatchLimits(max_requests=60, max_bytes=10**6)}
    before = stats(url)["batches_created"]
    jobs = two_provider_job(router, tmp_path / "jobs.db", 200, limits=limits, sinks=[handler])
    script(url, polls_to_end=3)  # scripts apply to new batches: the ones above end at once
    for job in jobs:
        st = job.wait(**NO_WAIT)
        assert st.done and st.items == {"succeeded": 100}
    # over-limit groups were split, not rejected: 100 -> 3 files of <= 40, 100 -> 2 of <= 60
    assert [c.n_items for c in jobs[0].store.chunks(jobs[0].id)] == [40, 40, 20]
    assert [c.n_items for c in jobs[1].store.chunks(jobs[1].id)] == [60, 40]
    assert stats(url)["batches_created"] - before == 5
    cat = router.route_catalog
    for job, tier in zip(jobs, ("gpt-4.1", "claude-sonnet"), strict=True):
        results = job.results()
        assert len(results) == 100 and all(isinstance(r, AIMessage) for r in results)
        # in order: item i answers prompt i, exactly as the realtime endpoint answers it
        offset = 0 if tier == "gpt-4.1" else 1
        for i in (0, 37, 99):
            live = router.invoke(prompts(200)[2 * i + offset], model=tier)
            assert results[i].content == live.content
        batch, realtime = lane_prices(cat[tier], "batch"), lane_prices(cat[tier], "realtime")
        assert batch is not None and realtime is not None and batch.input < realtime.input
        for r in results:
            meta = r.response_metadata
            assert meta["costrouter_lane"] == "batch" and meta["costrouter_tier"] == tier
            um = r.usage_metadata
            usage = TokenUsage(input_tokens=um["input_tokens"], output_tokens=um["output_tokens"])
            assert Decimal(meta["cost_usd"]) == cost_of(batch, usage)
        assert job.cost() == sum(Decimal(r.response_metadata["cost_usd"]) for r in results)
        est = job.estimated_cost()
        assert est is not None and est > 0  # priced at batch prices when planned
    # the cost handler saw each item once, at batch prices
    assert len(handler.records) == 200
    assert handler.total_cost == jobs[0].cost() + jobs[1].cost()
    assert {r.metadata["costrouter_lane"] for r in handler.records} == {"batch"}


@pytest.mark.parametrize("tier", ["gpt-4.1", "claude-sonnet"])
def test_failed_and_malformed_lines_are_typed_errors_naming_the_item(url, server, tmp_path, tier):
    router = lane_router(server.base_url)
    script(url, fail_every=5, malformed_every=7)
    job = submit_batch(router, prompts(30), store=tmp_path / "j.db", model=tier)
    job.wait(**NO_WAIT)
    results = job.results()
    assert len(results) == 30  # nothing lost
    errors = [r for r in results if isinstance(r, BatchItemError)]
    failed = [e for e in errors if e.kind == "failed"]
    bad = [e for e in errors if isinstance(e, MalformedBatchResultError)]
    assert failed and bad and len(failed) + len(bad) == len(errors)
    for e in errors:
        assert results[e.index] is e and e.custom_id == f"item-{e.index}"
        assert f"item {e.index}" in str(e)
    assert all("scripted failure" in e.message for e in failed)
    assert all("unreadable result line" in e.message for e in bad)
    # no answered item was lost or billed for an error
    answered = [r for r in results if isinstance(r, AIMessage)]
    assert len(answered) == 30 - len(errors)
    assert job.cost() == sum(Decimal(r.response_metadata["cost_usd"]) for r in answered)


def test_expired_items_are_retried_on_realtime_by_policy(url, server, tmp_path):
    router = lane_router(server.base_url)
    script(url, expire_after=4)
    kept = submit_batch(router, prompts(10), store=tmp_path / "a.db", model="gpt-4.1")
    retried = submit_batch(router, prompts(10), store=tmp_path / "b.db", model="gpt-4.1",
                           retry=True)
    kept.wait(**NO_WAIT)
    retried.wait(**NO_WAIT)
    lost = kept.results()
    assert [isinstance(r, AIMessage) for r in lost] == [True] * 4 + [False] * 6
    assert {r.kind for r in lost if isinstance(r, BatchItemError)} == {"expired"}
    again = retried.results()
    assert all(isinstance(r, AIMessage) for r in again)
    lanes = [r.response_metadata["costrouter_lane"] for r in again]
    assert lanes.count("realtime") == 6 and lanes.count("batch") == 4
    for r in again:
        if r.response_metadata["costrouter_lane"] == "realtime":
            assert r.response_metadata["retried_after"] == "expired"


@pytest.mark.parametrize("tier", ["gpt-4.1", "claude-sonnet"])
def test_a_cancelled_job_returns_cancelled_items(url, server, tmp_path, tier):
    router = lane_router(server.base_url)
    script(url, polls_to_end=5)
    job = submit_batch(router, prompts(6), store=tmp_path / "j.db", model=tier)
    assert not job.poll().done
    job.cancel()
    st = job.wait(**NO_WAIT)
    assert st.items == {"cancelled": 6}
    assert all(isinstance(r, BatchItemError) and r.kind == "cancelled" for r in job.results())
    assert job.cost() == 0


def test_an_unknown_job_id_is_a_typed_error(tmp_path):
    store = JobStore(tmp_path / "j.db")
    with pytest.raises(UnknownBatchError, match="unknown batch job 'cbj_nope'"):
        BatchJob.resume("cbj_nope", store)


def test_a_provider_without_a_batch_api_fails_at_planning_or_falls_back(url, server, tmp_path):
    router = lane_router(server.base_url)
    store = tmp_path / "j.db"
    inputs = prompts(3)
    with pytest.raises(BatchLaneUnavailableError, match="item 0: model 'deepseek'") as info:
        submit_batch(router, inputs, store=store, model="deepseek")
    assert info.value.lane == "batch" and info.value.item == 0
    assert JobStore(store).jobs() == []  # nothing stored, nothing sent
    job = submit_batch(router, inputs, store=store, model="deepseek",
                       fallback_lanes=("flex", "realtime"))
    job.wait(**NO_WAIT)
    out = job.results()
    assert [r.response_metadata["costrouter_lane"] for r in out] == ["realtime"] * 3


def test_a_job_not_finished_says_so(url, server, tmp_path):
    router = lane_router(server.base_url)
    script(url, polls_to_end=50)
    job = submit_batch(router, prompts(3), store=tmp_path / "j.db", model="gpt-4.1")
    with pytest.raises(Exception, match="not finished: 3 of 3 items pending"):
        job.results()
    job.cancel()


def test_wait_backs_off_on_the_injected_sleep(url, server, tmp_path):
    router = lane_router(server.base_url)
    script(url, polls_to_end=4)
    job = submit_batch(router, prompts(2), store=tmp_path / "j.db", model="gpt-4.1")
    slept: list[float] = []
    st = job.wait(poll_s=10, backoff=2, max_poll_s=25, sleep=slept.append)
    assert st.done and slept == [10, 20, 25]


def test_usage_from_a_provider_is_checked(url):
    with pytest.raises(ValueError, match="not a token count"):
        from langchain_costrouter.batch.transport import openai_chat

        openai_chat({"choices": [{"message": {"content": "x"}}],
                     "usage": {"prompt_tokens": -3, "completion_tokens": 1}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert usage_of({"usage": {"input": 1, "output": 2}}).output_tokens == 2


def test_router_batch_semantics_on_the_batch_lane(url, server, tmp_path):
    from langchain_costrouter.batch import alane_batch, lane_batch, lane_of

    router = lane_router(server.base_url)
    handler = CostTrackingCallbackHandler()
    config = {"configurable": {"costrouter_lane": "batch", "costrouter_batch_poll_s": 0,
                               "costrouter_batch_store": str(tmp_path / "j.db")},
              "callbacks": [handler]}
    assert lane_of(config, {}) == "batch" and lane_of({}, {}) is None
    out = lane_batch(router, prompts(6), config, model="gpt-4.1")
    assert [r.response_metadata["costrouter_lane"] for r in out] == ["batch"] * 6
    assert len(handler.records) == 6
    script(url, fail_every=3)
    with pytest.raises(BatchItemError, match="item 2"):
        lane_batch(router, prompts(6), config, model="gpt-4.1")
    import asyncio

    mixed = asyncio.run(alane_batch(router, prompts(6), config, model="claude-sonnet",
                                    return_exceptions=True))
    assert [isinstance(r, BatchItemError) for r in mixed] == [False, False, True] * 2


def test_items_are_routed_among_the_models_that_offer_the_batch_lane(url, server, tmp_path):
    # trivial's only model (deepseek) has no batch API: routing at batch prices moves the items
    # up to the cheapest model that has one, instead of failing on the realtime choice
    router = lane_router(server.base_url)
    job = submit_batch(router, prompts(3), store=tmp_path / "j.db", level="trivial")
    job.wait(**NO_WAIT)
    out = job.results()
    assert [r.response_metadata["costrouter_lane"] for r in out] == ["batch"] * 3
    assert {r.response_metadata["costrouter_tier"] for r in out} == {"gemini-flash"}
