"""Budgets cover batch jobs: each provider batch reserves its estimate at batch prices before
it is created, shows as reserved while it runs, and settles once with its items' actual cost,
even when the process is killed between the collect and the settlement."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from langchain_costrouter.batch import BatchJob, BatchLimits, submit_batch
from langchain_costrouter.batch.planning import plan_job
from langchain_costrouter.batch.transport import OpenAIBatches
from langchain_costrouter.budget import Budget, BudgetGuard, InMemoryLedger, SQLiteLedger
from langchain_costrouter.costs import CostTrackingCallbackHandler
from langchain_costrouter.exceptions import BudgetExceededError
from langchain_costrouter.models.lanes import lane_prices
from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.testing import LocalServer
from tests.integration_tests._batch_budget_worker import SCOPE, batch_guard
from tests.integration_tests._batch_setup import (
    lane_router,
    lane_server_config,
    prompts,
    script,
    stats,
)

NO_WAIT = {"poll_s": 0.0, "sleep": lambda s: None}
WORKER = Path(__file__).with_name("_batch_budget_worker.py")
ROOT = Path(__file__).resolve().parents[2]
LIMITS = BatchLimits(max_requests=10, max_bytes=10**7)


@pytest.fixture(scope="module")
def server():
    with LocalServer(lane_server_config()) as srv:
        yield srv


@pytest.fixture
def url(server):
    script(server.url)
    yield server.url
    script(server.url)


def estimate(router, inputs, **kw):
    planned = plan_job(router, inputs, call_kwargs=kw)
    return sum(Decimal(it.estimated_cost) for it in planned.items)


def batch_cost(router, job):
    """The answered items' cost recomputed from their usage at the model's batch prices."""
    total = Decimal(0)
    tokens = 0
    for r in job.results():
        tier = r.response_metadata["costrouter_tier"]
        um = r.usage_metadata
        total += cost_of(lane_prices(router.route_catalog[tier], "batch"),
                         TokenUsage(input_tokens=um["input_tokens"],
                                    output_tokens=um["output_tokens"]))
        tokens += um["input_tokens"] + um["output_tokens"]
    return total, tokens


def usd_row(guard, scope=SCOPE):
    return guard.status(scope).per_budget["usd/day/team"]


def test_a_job_over_the_remaining_budget_is_refused_before_any_batch_is_created(
        url, server, tmp_path):
    router = lane_router(server.base_url)
    inputs = prompts(30)
    est = estimate(router, inputs, model="gpt-4.1")
    guard = BudgetGuard(budgets=[Budget.usd("1", per="day", scope="team")],
                        ledger=InMemoryLedger())
    # spend all but half the job's estimate first
    guard.reserve_amount("earlier", usd=Decimal(1) - est / 2, tokens=0, metadata=SCOPE)
    guard.settle_amount("earlier", usd=Decimal(1) - est / 2, tokens=0)
    before = stats(url)
    with pytest.raises(BudgetExceededError) as info:
        submit_batch(router, inputs, store=tmp_path / "j.db", model="gpt-4.1", limits=LIMITS,
                     budget=guard, metadata=SCOPE, job_id="cbj_refused")
    e = info.value
    assert e.spent == Decimal(1) - est / 2 and e.reserved == 0
    assert e.requested == est  # the whole job, checked before its first chunk is reserved
    assert "nothing was submitted" in "".join(e.__notes__)
    after = stats(url)
    assert after["batches_created"] == before["batches_created"]
    assert after["requests_processed"] == before["requests_processed"]
    row = usd_row(guard)
    assert row.reserved == 0 and row.spent == Decimal(1) - est / 2  # nothing left held
    job = BatchJob("cbj_refused", tmp_path / "j.db")
    assert {c.state for c in job.store.chunks(job.id)} == {"planned"}
    # with more room (a larger limit on the same ledger), resuming submits it
    bigger = BudgetGuard(budgets=[Budget.usd("2", per="day", scope="team")],
                         ledger=guard.ledger)
    job = BatchJob.resume("cbj_refused", tmp_path / "j.db", router=router, budget=bigger)
    assert {c.state for c in job.store.chunks(job.id)} == {"submitted"}
    assert stats(url)["batches_created"] == before["batches_created"] + 3
    assert usd_row(bigger).reserved == est


def test_a_running_job_holds_its_estimate_and_settles_at_the_items_batch_cost(
        url, server, tmp_path):
    router = lane_router(server.base_url)
    inputs = prompts(24)
    handler = CostTrackingCallbackHandler()
    guard = BudgetGuard(budgets=[Budget.usd("5", per="day", scope="team"),
                                 Budget.tokens(1_000_000, per="day")],
                        ledger=SQLiteLedger(tmp_path / "ledger.db"))
    script(url, polls_to_end=2)  # the first read of each batch says "in progress"
    job = submit_batch(router, inputs, store=tmp_path / "j.db", model="claude-sonnet",
                       limits=LIMITS, budget=guard, metadata=SCOPE, sinks=[handler])
    chunks = job.store.chunks(job.id)
    assert len(chunks) == 3 and {c.state for c in chunks} == {"submitted"}
    est = job.estimated_cost()
    assert est is not None and est > 0
    row = usd_row(guard)
    assert row.reserved == est and row.spent == 0  # held at submission, at batch prices
    assert guard.ledger.pending(now=guard.clock()) == 3  # one reservation per provider batch
    tokens_row = guard.status(SCOPE).per_budget["tokens/day"]
    assert tokens_row.reserved == sum(it.estimated_tokens for it in job.store.items(job.id))
    job.poll()
    assert usd_row(guard).reserved == est and usd_row(guard).spent == 0  # still running
    st = job.wait(**NO_WAIT)
    assert st.done and st.items == {"succeeded": 24}
    cost, tokens = batch_cost(router, job)
    row = usd_row(guard)
    assert row.spent == cost == job.cost() and row.reserved == 0  # exactly, as Decimal
    tokens_row = guard.status(SCOPE).per_budget["tokens/day"]
    assert tokens_row.spent == tokens and tokens_row.reserved == 0
    # the cost handler recorded each item once, at batch prices
    assert len(handler.records) == 24 and handler.total_cost == cost
    assert {r.metadata["costrouter_lane"] for r in handler.records} == {"batch"}
    realtime = sum(
        cost_of(lane_prices(router.route_catalog["claude-sonnet"], "realtime"),
                TokenUsage(input_tokens=r.input_tokens, output_tokens=r.output_tokens))
        for r in handler.records)
    assert cost < realtime
    # polling again, or resuming in a new handle, charges nothing more
    job.poll()
    BatchJob.resume(job.id, tmp_path / "j.db", router=router, budget=guard).poll()
    assert usd_row(guard).spent == cost and len(handler.records) == 24
    states = [json.loads(c.budget)["state"] for c in job.store.chunks(job.id)]
    assert states == ["settled"] * 3


def test_a_budgeted_job_resumed_without_its_guard_is_refused_clearly(url, server, tmp_path):
    router = lane_router(server.base_url)
    guard = BudgetGuard(budgets=[Budget.usd("5", per="day")])
    job = submit_batch(router, prompts(3), store=tmp_path / "j.db", model="gpt-4.1",
                       budget=guard)
    with pytest.raises(Exception, match="resume it with the same guard"):
        BatchJob(job.id, tmp_path / "j.db", router=router).poll()
    assert guard.status().reserved == job.estimated_cost()  # still held, not lost


def test_a_batch_the_provider_refuses_at_create_releases_its_reservation(url, server, tmp_path):
    router = lane_router(server.base_url)
    guard = BudgetGuard(budgets=[Budget.usd("5", per="day", scope="team")])

    def wrong_path(chunk):  # a real 404 from the local server at upload
        return OpenAIBatches(chunk.base_url.rstrip("/") + "/no-such-api", "test-key",
                             provider=chunk.provider)

    before = stats(url)["batches_created"]
    job = submit_batch(router, prompts(12), store=tmp_path / "j.db", model="gpt-4.1",
                       limits=LIMITS, budget=guard, metadata=SCOPE, transports=wrong_path)
    assert {c.state for c in job.store.chunks(job.id)} == {"failed"}
    assert stats(url)["batches_created"] == before
    row = usd_row(guard)
    assert row.reserved == 0 and row.spent == 0
    assert [json.loads(c.budget)["state"] for c in job.store.chunks(job.id)] == ["released"] * 2


def test_a_batch_that_fails_validation_releases_its_reservation(url, server, tmp_path):
    router = lane_router(server.base_url)
    guard = BudgetGuard(budgets=[Budget.usd("5", per="day", scope="team")])
    script(url, max_requests=5)  # the server refuses batches over 5 requests
    job = submit_batch(router, prompts(8), store=tmp_path / "j.db", model="gpt-4.1",
                       budget=guard, metadata=SCOPE)
    assert usd_row(guard).reserved == job.estimated_cost()
    st = job.wait(**NO_WAIT)
    assert st.items == {"failed": 8}
    assert usd_row(guard).reserved == 0 and usd_row(guard).spent == 0


def test_items_retried_on_realtime_are_charged_through_the_guard_at_realtime_prices(
        url, server, tmp_path):
    router = lane_router(server.base_url)
    guard = BudgetGuard(budgets=[Budget.usd("5", per="day", scope="team")])
    script(url, expire_after=7)  # of each batch of 10, three expire
    job = submit_batch(router, prompts(10), store=tmp_path / "j.db", model="gpt-4.1",
                       budget=guard, metadata=SCOPE, retry=True)
    st = job.wait(**NO_WAIT)
    assert st.done and st.items == {"succeeded": 10}
    results = job.results()
    lanes = [r.response_metadata["costrouter_lane"] for r in results]
    assert lanes.count("batch") == 7 and lanes.count("realtime") == 3
    cat = router.route_catalog["gpt-4.1"]
    expected = Decimal(0)
    for r, lane in zip(results, lanes, strict=True):
        um = r.usage_metadata
        expected += cost_of(lane_prices(cat, lane), TokenUsage(
            input_tokens=um["input_tokens"], output_tokens=um["output_tokens"]))
    row = usd_row(guard)
    assert row.spent == expected == job.cost() and row.reserved == 0


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize("moment", ["before", "after"])
def test_a_kill_between_collect_and_settle_is_settled_once_on_resume(
        url, server, tmp_path, moment):
    store, ledger = str(tmp_path / "jobs.db"), str(tmp_path / "ledger.db")
    proc = start("submit", server.base_url, store, ledger, "30")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    job_id = out.strip()
    guard = batch_guard(ledger)
    est = BatchJob(job_id, store).estimated_cost()
    assert usd_row(guard).reserved == est
    # a new process collects the first batch and dies by SIGKILL at the settlement
    proc = start("collect", server.base_url, store, ledger, job_id, "--die", moment)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    job = BatchJob(job_id, store)
    first = job.store.chunks(job_id)[0]
    assert first.state == "collected" and json.loads(first.budget)["state"] == "settling"
    held = usd_row(guard)
    if moment == "before":
        assert held.reserved == est and held.spent == 0
    else:
        assert 0 < held.spent < est and held.reserved < est
    # this process resumes with the same guard: the first batch is settled once, the rest
    # collected and settled
    router = lane_router(server.base_url)
    job = BatchJob.resume(job_id, store, router=router, budget=guard)
    st = job.wait(**NO_WAIT)
    assert st.done and st.items == {"succeeded": 30}
    cost, tokens = batch_cost(router, job)
    row = usd_row(guard)
    assert row.spent == cost and row.reserved == 0
    assert guard.status(SCOPE).per_budget["tokens/day"].spent == tokens
    BatchJob.resume(job_id, store, router=router, budget=batch_guard(ledger)).poll()
    assert usd_row(batch_guard(ledger)).spent == cost


async def test_the_async_twin_reserves_and_settles_the_same_way(url, server, tmp_path):
    from langchain_costrouter.batch import asubmit_batch

    router = lane_router(server.base_url)
    guard = BudgetGuard(budgets=[Budget.usd("5", per="day", scope="team")],
                        ledger=SQLiteLedger(tmp_path / "ledger.db"))
    script(url, polls_to_end=2)
    job = await asubmit_batch(router, prompts(6), store=tmp_path / "j.db", model="gpt-4.1",
                              budget=guard, metadata=SCOPE)
    assert usd_row(guard).reserved == job.estimated_cost()

    async def no_sleep(s: float) -> None:
        return None

    st = await job.wait_async(poll_s=0.0, sleep=no_sleep)
    assert st.done
    cost, _ = batch_cost(router, job)
    assert usd_row(guard).spent == cost and usd_row(guard).reserved == 0


@pytest.mark.parametrize("key", [{"api_key": "sk-live-abcdef0123456789"}, {}])
def test_retried_items_charge_the_same_api_key_scope_as_the_batches(url, server, tmp_path, key):
    router = lane_router(server.base_url)
    guard = BudgetGuard(budgets=[Budget.usd("5", per="day", scope="api_key")])
    script(url, expire_after=3)
    job = submit_batch(router, prompts(5), store=tmp_path / "j.db", model="gpt-4.1",
                       budget=guard, metadata=key, retry=True)
    assert "sk-live" not in job.store.job(job.id).options  # only the key's hash is stored
    st = job.wait(**NO_WAIT)
    assert st.items == {"succeeded": 5}
    row = guard.status(key).per_budget["usd/day/api_key"]
    assert row.spent == job.cost() and row.reserved == 0  # batches and retries, one scope
