"""A half-open probe slot is given back however a call ends (refused slot, cancelled wait, a
stream stopped early, a config error); a nested router plans for itself; routing kwargs never
reach the serving model while the router's defaults do; ceilings and max output filter models."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from _router_fakes import Boom, Clock, cheap_and_backup
from langchain_core.messages import BaseMessage

from langchain_costrouter import Catalog, ChatCostRouter, QueueFullError
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.resilience import BreakerConfig, Breakers, ConcurrencyLimiter
from langchain_costrouter.testing.function_model import FunctionChatModel, echo

LEVELS = ("trivial", "standard", "complex", "expert")




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
    cat = cheap_and_backup(switch)
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


@pytest.mark.filterwarnings("ignore::langchain_costrouter.pricing.prices.UnpricedModelWarning")
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


# -- what reaches the serving model (these mutations survived the suite before) -------------------


def recording_router(**kw: Any) -> tuple[ChatCostRouter, FunctionChatModel]:
    model = FunctionChatModel(model_name="only-1", fn=echo)
    cat = Catalog.build(
        {
            "models": [
                {
                    "name": "only",
                    "provider": "a",
                    "model": "only-1",
                    "chat_model": model,
                    "prices": Prices(input=Decimal("0.1"), output=Decimal("0.4")),
                }
            ],
            "levels": {lv: ["only"] for lv in LEVELS},
        }
    )
    return ChatCostRouter(catalog=cat, **kw), model


ROUTING_KEYS = {"model", "level", "max_cost", "priority", "costrouter_route"}


@pytest.mark.parametrize("how", ["invoke", "stream"])
def test_routing_kwargs_never_reach_the_serving_model(how: str) -> None:
    router, model = recording_router()
    overrides = {"model": "only", "level": "expert", "max_cost": 1, "priority": 5}
    conf = {"configurable": {"costrouter_priority": 3, "costrouter_level": "trivial"}}
    if how == "invoke":
        router.invoke("hi", **overrides)
        router.invoke("hi", config=conf)  # type: ignore[arg-type]
    else:
        list(router.stream("hi", **overrides))
        list(router.stream("hi", config=conf))  # type: ignore[arg-type]
    assert len(model.calls) == 2
    for call in model.calls:
        assert ROUTING_KEYS.isdisjoint(call), sorted(ROUTING_KEYS & set(call))


@pytest.mark.parametrize("how", ["invoke", "stream"])
def test_router_defaults_reach_the_serving_model_and_call_values_win(how: str) -> None:
    router, model = recording_router(max_tokens=9, temperature=0.3, stop=["END"])
    call = router.invoke if how == "invoke" else (lambda *a, **k: list(router.stream(*a, **k)))
    call("hi")
    call("hi", max_tokens=4, temperature=0.9, stop=["X"])
    first, second = model.calls
    assert (first["max_tokens"], first["temperature"], first["stop"]) == (9, 0.3, ["END"])
    assert (second["max_tokens"], second["temperature"], second["stop"]) == (4, 0.9, ["X"])


# -- selection and estimates (mutations that survived the suite) ----------------------------------


def three_tier_router(**kw: Any) -> ChatCostRouter:
    def entry(name: str, inp: str, out: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "provider": "p",
            "model": f"{name}-1",
            "chat_model": FunctionChatModel(model_name=f"{name}-1", fn=echo),
            "prices": Prices(input=Decimal(inp), output=Decimal(out)),
            **extra,
        }

    models = [
        entry("cheap", "0.1", "0.4", max_output_tokens=100),
        entry("mid", "1", "4"),
        entry("dear", "3", "15"),
    ]
    levels = {lv: ["dear", "mid", "cheap"] for lv in LEVELS}
    return ChatCostRouter(catalog=Catalog.build({"models": models, "levels": levels}), **kw)


def test_ceiling_between_prices_drops_the_models_over_it() -> None:
    router = three_tier_router()
    by_name = {c.name: c.estimated_cost for c in router.plan("hello", level="expert").candidates}
    mid, dear = by_name["mid"], by_name["dear"]
    assert mid is not None and dear is not None and mid < dear
    plan = router.plan("hello", level="expert", max_cost=(mid + dear) / 2)
    assert [c.name for c in plan.candidates] == ["cheap", "mid"]  # "dear" is over the ceiling


def test_a_model_whose_max_output_is_below_max_tokens_is_skipped() -> None:
    router = three_tier_router()
    plan = router.plan("hello", level="trivial", max_tokens=500)
    assert "cheap" not in [c.name for c in plan.candidates]
    assert "max_tokens 500" in plan.skipped["cheap"]


def test_estimated_stream_usage_counts_the_streamed_text() -> None:
    from langchain_costrouter.pricing.prices import TokenUsage, cost_of
    from langchain_costrouter.pricing.tokens import count_text

    quiet = FunctionChatModel(model_name="q-1", fn=echo, stream_usage=False)
    prices = Prices(input=Decimal("0.1"), output=Decimal("0.4"))
    cat = Catalog.build(
        {
            "models": [{"name": "q", "provider": "a", "model": "q-1", "chat_model": quiet,
                        "prices": prices}],
            "levels": {lv: ["q"] for lv in LEVELS},
        }
    )
    router = ChatCostRouter(catalog=cat)
    chunks = list(router.stream("hello there"))
    text = "".join(str(c.content) for c in chunks)
    entry = chunks[-1].response_metadata["costrouter"]
    plan = router.plan("hello there")
    expected = cost_of(
        prices, TokenUsage(input_tokens=plan.input_tokens, output_tokens=count_text(text))
    )
    assert entry["usage_estimated"] is True
    assert count_text(text) > 0 and Decimal(entry["cost_usd"]) == expected


def test_a_stream_that_breaks_midway_counts_against_the_models_breaker() -> None:
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    from langchain_costrouter.exceptions import StreamInterruptedError

    class Breaks(FunctionChatModel):
        def _stream(self, *args: Any, **kwargs: Any) -> Any:
            yield ChatGenerationChunk(message=AIMessageChunk(content="partial "))
            raise Boom(503)

    cat = Catalog.build(
        {
            "models": [{"name": "b", "provider": "a", "model": "b-1",
                        "chat_model": Breaks(model_name="b-1"),
                        "prices": Prices(input=Decimal("0.1"), output=Decimal("0.4"))}],
            "levels": {lv: ["b"] for lv in LEVELS},
        }
    )
    breakers = Breakers(BreakerConfig(failure_threshold=1, window_s=60), clock=Clock())
    router = ChatCostRouter(catalog=cat, breakers=breakers)
    with pytest.raises(StreamInterruptedError):
        list(router.stream("x"))
    assert router.health()["b"].state == "open"


def test_probe_is_released_when_the_model_raises_a_config_error() -> None:
    from langchain_costrouter.exceptions import ConfigError

    router, switch = half_open_router()

    def bad_config(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        raise ConfigError("bad setting in the serving model")

    model = router.route_catalog["cheap"].chat_model
    assert isinstance(model, FunctionChatModel)
    model.fn = bad_config
    with pytest.raises(ConfigError):
        router.invoke("x")
    model.fn = switch
    assert served_by(router.invoke("y")) == [("cheap", "ok")]  # the probe slot was given back
