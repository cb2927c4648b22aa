"""Regressions found in review: half-open probe slots that leaked, and a nested router's plan."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from langchain_costrouter import Catalog, ChatCostRouter, QueueFullError
from langchain_costrouter.pricing import Prices
from langchain_costrouter.resilience import BreakerConfig, Breakers, ConcurrencyLimiter
from langchain_costrouter.testing.function_model import FunctionChatModel, echo

LEVELS = ("trivial", "standard", "complex", "expert")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Boom(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status


class Switch:
    """Fails with a 503 while ``broken``; answers four words otherwise."""

    def __init__(self) -> None:
        self.broken = True

    def __call__(self, messages: list[BaseMessage], info: dict[str, Any]) -> str:
        if self.broken:
            raise Boom(503)
        return "one two three four"


def half_open_router(**kw: Any) -> tuple[ChatCostRouter, Switch]:
    """A router whose cheap model's breaker is half-open: the next call to it is the probe."""
    switch = Switch()
    models = [
        {
            "name": "cheap",
            "provider": "a",
            "model": "cheap-1",
            "chat_model": FunctionChatModel(model_name="cheap-1", fn=switch),
            "prices": Prices(input=Decimal("0.1"), output=Decimal("0.4")),
        },
        {
            "name": "backup",
            "provider": "b",
            "model": "backup-1",
            "chat_model": FunctionChatModel(model_name="backup-1", fn=echo),
            "prices": Prices(input=Decimal("1"), output=Decimal("4")),
        },
    ]
    cat = Catalog.build({"models": models, "levels": {lv: ["cheap", "backup"] for lv in LEVELS}})
    clock = Clock()
    breakers = Breakers(BreakerConfig(failure_threshold=1, window_s=60, recovery_s=30), clock=clock)
    router = ChatCostRouter(catalog=cat, breakers=breakers, **kw)
    router.invoke("trip it")  # one 503: open
    assert router.health()["cheap"].state == "open"
    clock.now += 31  # recovery passed: half-open, one probe allowed
    switch.broken = False
    return router, switch


def served_by(msg: Any) -> list[tuple[str, str]]:
    return [(a["tier"], a["status"]) for a in msg.response_metadata["costrouter"]["attempts"]]


def test_probe_is_released_when_the_concurrency_limiter_refuses_the_call() -> None:
    limiter = ConcurrencyLimiter(per_model=1, max_queue=0)
    router, _ = half_open_router(limiter=limiter)
    lease = limiter.acquire("cheap")  # the only slot is taken: the probe call is refused
    try:
        with pytest.raises(QueueFullError):
            router.invoke("x")
    finally:
        limiter.release(lease)
    # The probe slot was given back: the next call probes the cheap model and closes it.
    assert served_by(router.invoke("y")) == [("cheap", "ok")]
    assert router.health()["cheap"].state == "closed"


async def test_probe_is_released_when_a_call_waiting_for_a_slot_is_cancelled() -> None:
    limiter = ConcurrencyLimiter(per_model=1, max_queue=10)
    router, _ = half_open_router(limiter=limiter)
    lease = limiter.acquire("cheap")
    task = asyncio.ensure_future(router.ainvoke("x"))
    while limiter.queued == 0:  # progress-driven: wait until the call is queued
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    limiter.release(lease)
    assert served_by(await router.ainvoke("y")) == [("cheap", "ok")]


@pytest.mark.parametrize("stop_after", [1, 2])
async def test_async_stream_stopped_early_releases_the_probe_at_once(stop_after: int) -> None:
    router, _ = half_open_router()
    stream = router.astream("x")
    seen = 0
    async for _ in stream:
        seen += 1
        if seen == stop_after:
            break
    await stream.aclose()  # no event-loop turn in between: the release must not wait for GC
    assert served_by(await router.ainvoke("y")) == [("cheap", "ok")]


@pytest.mark.parametrize("stop_after", [1, 2])
def test_sync_stream_stopped_early_releases_the_probe_at_once(stop_after: int) -> None:
    router, _ = half_open_router()
    stream = router.stream("x")
    for seen, _ in enumerate(stream, start=1):
        if seen == stop_after:
            break
    stream.close()
    assert served_by(router.invoke("y")) == [("cheap", "ok")]


@pytest.mark.filterwarnings("ignore::langchain_costrouter.pricing.UnpricedModelWarning")
def test_a_router_serving_as_another_routers_model_plans_for_itself() -> None:
    inner = ChatCostRouter(models={"leaf": FunctionChatModel(model_name="leaf-1", fn=echo)})
    outer = ChatCostRouter(models={"sub": inner})
    msg = outer.invoke("hello")  # was RecursionError: the inner router reused the outer plan
    assert msg.content == "echo: hello"
    assert msg.response_metadata["costrouter"]["tier"] == "sub"
    chunks = list(outer.stream("hello"))
    assert "".join(str(c.content) for c in chunks) == "echo: hello"


async def test_budgeted_async_stream_stopped_early_releases_the_probe_at_once() -> None:
    from langchain_costrouter import Budget

    router, _ = half_open_router()
    guarded = router.with_budget([Budget.usd("5", per="day")])
    stream = guarded.astream("x")
    async for _ in stream:
        break
    await stream.aclose()
    assert served_by(await router.ainvoke("y")) == [("cheap", "ok")]
