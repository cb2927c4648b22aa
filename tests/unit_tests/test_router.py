"""ChatCostRouter behaviour over function-backed models (no network)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest
from _router_fakes import Boom
from langchain_core.caches import InMemoryCache
from langchain_core.callbacks import BaseCallbackHandler, get_usage_metadata_callback
from langchain_core.globals import set_llm_cache
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel

from langchain_costrouter import (
    AllModelsFailedError,
    Catalog,
    ChatCostRouter,
    ConfigError,
    ContextWindowExceededError,
    MissingAPIKeyError,
    NoCapableModelError,
    StreamInterruptedError,
    UnknownModelError,
)
from langchain_costrouter.exceptions import CostCeilingError
from langchain_costrouter.pricing.prices import Prices, TokenUsage, cost_of
from langchain_costrouter.testing.function_model import FunctionChatModel, echo

CHEAP = Prices(input=Decimal("0.10"), output=Decimal("0.40"))
MID = Prices(input=Decimal("1"), output=Decimal("4"))
DEAR = Prices(input=Decimal("3"), output=Decimal("15"))


def spec(name: str, prices: Prices | None, fn: Any = echo, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "fake",
        "model": f"{name}-model",
        "chat_model": FunctionChatModel(model_name=f"{name}-model", fn=fn),
        "prices": prices,
        **extra,
    }


def make_router(
    models: list[dict[str, Any]] | None = None,
    levels: dict[str, list[str]] | None = None,
    **kw: Any,
) -> ChatCostRouter:
    models = models or [spec("cheap", CHEAP), spec("mid", MID), spec("dear", DEAR)]
    names = [m["name"] for m in models]
    levels = levels or {lv: names for lv in ("trivial", "standard", "complex", "expert")}
    return ChatCostRouter(catalog=Catalog.build({"models": models, "levels": levels}), **kw)


def fm(router: ChatCostRouter, name: str) -> FunctionChatModel:
    model = router.route_catalog[name].chat_model
    assert isinstance(model, FunctionChatModel)
    return model


def served_by(msg: BaseMessage) -> str:
    return msg.response_metadata["costrouter"]["tier"]



def failing(status: int, body: str | None = None) -> Any:
    def fn(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        raise Boom(status, body)

    return fn


# -- selection ----------------------------------------------------------------------------------


def test_cheapest_capable_model_serves_the_call() -> None:
    router = make_router(
        levels={
            "trivial": ["dear", "mid", "cheap"],
            "standard": ["dear"],
            "complex": ["dear"],
            "expert": ["dear"],
        }
    )
    msg = router.invoke("Classify the sentiment: I love it", level="trivial")
    assert served_by(msg) == "cheap"
    assert fm(router, "dear").calls == [] and fm(router, "mid").calls == []


def test_a_hard_ceiling_no_model_fits_raises_naming_the_cheapest_estimate() -> None:
    router = make_router()
    plan = router.plan("hello", model=None, level="expert")
    assert [c.name for c in plan.candidates][:3] == ["cheap", "mid", "dear"]
    tiny = Decimal("0.0000001")
    with pytest.raises(CostCeilingError) as ei:
        router.invoke("hello", level="expert", max_cost=tiny)
    assert ei.value.ceiling == tiny and ei.value.model == "cheap"
    assert ei.value.cheapest == plan.estimated_cost and "$1E-7" in str(ei.value)
    assert fm(router, "cheap").calls == []  # refused before any call


def test_a_soft_ceiling_serves_the_cheapest_and_says_over_ceiling() -> None:
    router = make_router(ceiling="soft")
    tiny = Decimal("0.0000001")
    plan = router.plan("hello", level="expert", max_cost=tiny)
    assert plan.tier == "cheap"  # nothing fits: the cheapest overall
    assert plan.estimated_cost is not None and plan.estimated_cost > tiny
    meta = router.invoke("hello", level="expert", max_cost=tiny).response_metadata["costrouter"]
    assert meta["over_ceiling"] is True and meta["tier"] == "cheap"
    fits = make_router().invoke("hello", max_cost="0.01").response_metadata["costrouter"]
    assert "over_ceiling" not in fits


def test_ceiling_between_prices_keeps_only_models_within_it() -> None:
    router = make_router(
        levels={lv: ["dear", "mid"] for lv in ("trivial", "standard", "complex", "expert")},
        selection=lambda cands, ceiling: list(cands),  # a plain function is a policy
    )
    p = router.plan("hello", level="standard")
    assert p.tier == "dear"  # the custom policy keeps list order
    est_mid = router.plan("hello", level="standard", model="mid").estimated_cost
    est_dear = router.plan("hello", level="standard", model="dear").estimated_cost
    assert est_mid is not None and est_dear is not None and est_mid < est_dear
    between = (est_mid + est_dear) / 2
    p = router.plan("hello", level="standard", max_cost=between)
    assert [c.name for c in p.candidates] == ["mid"]  # dear is over it: dropped, not reordered
    assert p.reason == "ceiling"
    assert served_by(router.invoke("hello", level="standard", max_cost=between)) == "mid"


def test_estimated_cost_counts_real_prompt_tokens_and_the_output_cap_not_a_guess() -> None:
    router = make_router(default_output_tokens=100)  # a budget's prior, never the estimate
    plan = router.plan([HumanMessage("What is the capital of France?")], level="trivial")
    from langchain_costrouter.pricing.tokens import count_messages

    n = count_messages([HumanMessage("What is the capital of France?")])
    cap = plan.spec.max_output_tokens
    assert plan.input_tokens == n
    assert plan.output_tokens == min(cap, plan.spec.context_window - n)
    assert plan.estimated_cost == cost_of(
        CHEAP, TokenUsage(input_tokens=n, output_tokens=plan.output_tokens))
    assert router.plan("x", level="trivial", max_tokens=7).output_tokens == 7
    small = make_router([spec("cheap", CHEAP, context_window=40, max_output_tokens=50)])
    p = small.plan("x", level="trivial")  # the window leaves less than the model's max output
    assert p.output_tokens == 40 - p.input_tokens


def test_prompt_too_long_for_every_model_raises_before_any_call() -> None:
    models = [spec("cheap", CHEAP, context_window=50), spec("mid", MID, context_window=60)]
    router = make_router(models)
    with pytest.raises(ContextWindowExceededError, match="fits no candidate") as ei:
        router.invoke("word " * 200)
    assert ei.value.windows == {"cheap": 50, "mid": 60}
    assert fm(router, "cheap").calls == [] and fm(router, "mid").calls == []


def test_model_whose_window_is_too_small_is_skipped() -> None:
    models = [spec("cheap", CHEAP, context_window=50), spec("mid", MID)]
    router = make_router(models)
    msg = router.invoke("word " * 200)
    assert served_by(msg) == "mid"


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, "abc", "nan"])
def test_bad_ceiling_is_a_config_error(bad: Any) -> None:
    router = make_router()
    with pytest.raises(ConfigError, match="max_cost"):
        router.invoke("hi", max_cost=bad)


def test_bad_ceiling_at_construction() -> None:
    with pytest.raises(ConfigError, match="max_cost must be > 0"):
        make_router(max_cost=Decimal(0))


def test_unknown_model_and_level_are_named() -> None:
    router = make_router()
    with pytest.raises(UnknownModelError, match=r"unknown model .nope.*cheap, mid, dear"):
        router.invoke("hi", model="nope")
    with pytest.raises(UnknownModelError, match="unknown level 'hardest'"):
        router.invoke("hi", config={"configurable": {"costrouter_level": "hardest"}})


def test_empty_message_list() -> None:
    with pytest.raises(ConfigError, match="message list is empty"):
        make_router().invoke([])


def test_missing_api_key_is_named_at_call_time_not_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COSTROUTER_API_KEY", raising=False)
    monkeypatch.delenv("MYPROV_KEY", raising=False)
    cat = Catalog.build(
        {
            "models": [
                {
                    "name": "m",
                    "provider": "p",
                    "model": "m1",
                    "base_url": "http://127.0.0.1:9/v1",
                    "api_key_env": "MYPROV_KEY",
                }
            ],
            "levels": {lv: ["m"] for lv in ("trivial", "standard", "complex", "expert")},
        }
    )
    router = ChatCostRouter(catalog=cat)  # constructing needs no key
    with pytest.raises(MissingAPIKeyError, match="MYPROV_KEY"):
        router.invoke("hi")


def test_api_key_never_in_repr_or_errors() -> None:
    secret = "sk-very-secret-123"
    router = make_router(api_key=secret)
    assert secret not in repr(router)
    assert secret not in str(router)
    with pytest.raises(ConfigError) as ei:
        router.invoke("hi", max_cost=-1)
    assert secret not in str(ei.value)


# -- overrides ----------------------------------------------------------------------------------


def test_pin_model_by_kwarg_and_by_configurable() -> None:
    router = make_router()
    assert served_by(router.invoke("hi", model="dear")) == "dear"
    msg = router.invoke("hi", config={"configurable": {"costrouter_model": "mid"}})
    assert served_by(msg) == "mid"


def test_ceiling_by_configurable() -> None:
    router = make_router(
        max_tokens=64,
        levels={lv: ["dear", "cheap"] for lv in ("trivial", "standard", "complex", "expert")},
        selection=lambda c, ceiling: (
            [x for x in c if ceiling is None or x.estimated_cost <= ceiling] or list(c)
        ),
    )
    assert served_by(router.invoke("hi")) == "dear"
    msg = router.invoke("hi", config={"configurable": {"costrouter_max_cost": "0.0005"}})
    assert served_by(msg) == "cheap"


def test_level_comes_from_the_scorer_thresholds() -> None:
    models = [spec("cheap", CHEAP), spec("dear", DEAR)]
    router = make_router(
        models,
        levels={
            "trivial": ["cheap"],
            "standard": ["cheap"],
            "complex": ["dear"],
            "expert": ["dear"],
        },
        scorer=lambda msgs: 0.9 if "prove" in msgs[-1].text else 0.1,
        thresholds=(0.25, 0.45, 0.65),
        escalate=False,
    )
    hard = router.invoke("prove it")
    easy = router.invoke("hello")
    assert served_by(hard) == "dear" and hard.response_metadata["costrouter"]["level"] == "expert"
    assert served_by(easy) == "cheap" and easy.response_metadata["costrouter"]["score"] == 0.1


# -- fallback -----------------------------------------------------------------------------------


def test_server_error_falls_back_and_records_attempts() -> None:
    models = [spec("cheap", CHEAP, fn=failing(503)), spec("mid", MID)]
    router = make_router(models)
    msg = router.invoke("hi")
    assert served_by(msg) == "mid"
    attempts = msg.response_metadata["costrouter"]["attempts"]
    assert [(a["tier"], a["status"]) for a in attempts] == [("cheap", "error"), ("mid", "ok")]
    assert "503" in attempts[0]["error"]


def test_request_error_fails_fast_without_fallback() -> None:
    models = [spec("cheap", CHEAP, fn=failing(400, "invalid parameter")), spec("mid", MID)]
    router = make_router(models)
    with pytest.raises(Boom):
        router.invoke("hi")
    assert fm(router, "mid").calls == []


def test_context_length_400_moves_to_another_model() -> None:
    models = [spec("cheap", CHEAP, fn=failing(400, "context_length_exceeded")), spec("mid", MID)]
    assert served_by(make_router(models).invoke("hi")) == "mid"


def test_all_failing_raises_one_group_listing_every_attempt() -> None:
    models = [spec("cheap", CHEAP, fn=failing(500)), spec("mid", MID, fn=failing(502))]
    router = make_router(models)
    with pytest.raises(AllModelsFailedError) as ei:
        router.invoke("hi")
    err = ei.value
    assert isinstance(err, BaseExceptionGroup)  # noqa: F821 - builtin on 3.11+
    assert [a.tier for a in err.attempts] == ["cheap", "mid"]
    assert [e.status_code for e in err.exceptions] == [500, 502]  # type: ignore[attr-defined]
    assert "cheap" in str(err) and "mid" in str(err)


def test_openai_sdk_errors_are_classified() -> None:
    req = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")

    def rate_limited(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        resp = httpx.Response(429, request=req, headers={"retry-after": "1"})
        raise openai.RateLimitError("slow down", response=resp, body=None)

    models = [spec("cheap", CHEAP, fn=rate_limited), spec("mid", MID)]
    assert served_by(make_router(models).invoke("hi")) == "mid"


def test_garbage_from_a_model_falls_back() -> None:
    class Garbage(FunctionChatModel):
        def _generate(self, *a: Any, **k: Any) -> Any:  # type: ignore[override]
            return {"not": "a chat result"}

    models = [
        {**spec("cheap", CHEAP), "chat_model": Garbage(model_name="g")},
        spec("mid", MID),
    ]
    msg = make_router(models).invoke("hi")
    assert served_by(msg) == "mid"
    assert "ProviderResponseError" in msg.response_metadata["costrouter"]["attempts"][0]["error"]


# -- streaming ----------------------------------------------------------------------------------


def test_stream_falls_back_before_the_first_chunk() -> None:
    models = [spec("cheap", CHEAP, fn=failing(500)), spec("mid", MID)]
    chunks = list(make_router(models).stream("hello world"))
    full = chunks[0]
    for c in chunks[1:]:
        full += c
    assert full.content == "echo: hello world"
    assert full.response_metadata["costrouter"]["tier"] == "mid"
    assert sum(1 for c in chunks if c.usage_metadata) == 1


def test_stream_failure_after_first_chunk_raises_with_streamed_text() -> None:
    class Cut(FunctionChatModel):
        def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any):  # type: ignore[override]
            from langchain_core.messages import AIMessageChunk
            from langchain_core.outputs import ChatGenerationChunk

            yield ChatGenerationChunk(message=AIMessageChunk(content="partial "))
            raise Boom(500)

    models = [{**spec("cheap", CHEAP), "chat_model": Cut(model_name="c")}, spec("mid", MID)]
    router = make_router(models)
    got: list[str] = []
    with pytest.raises(StreamInterruptedError) as ei:
        for chunk in router.stream("hi"):
            got.append(str(chunk.content))
    assert ei.value.streamed == "partial "
    assert got == ["partial "]
    assert fm(router, "mid").calls == []  # no second answer after output was shown


def test_stream_without_usage_is_estimated_and_marked() -> None:
    quiet = FunctionChatModel(model_name="q", stream_usage=False)
    models = [{**spec("cheap", CHEAP), "chat_model": quiet}]
    chunks = list(
        make_router(
            models, levels={lv: ["cheap"] for lv in ("trivial", "standard", "complex", "expert")}
        ).stream("hello")
    )
    entry = chunks[-1].response_metadata["costrouter"]
    assert entry["usage_estimated"] is True
    assert entry["cost_usd"] is not None


# -- accounting ---------------------------------------------------------------------------------


def test_usage_counted_once_for_invoke_and_stream() -> None:
    router = make_router()
    with get_usage_metadata_callback() as cb:
        msg = router.invoke("count me")
    with get_usage_metadata_callback() as cb2:
        chunks = list(router.stream("count me"))
    assert msg.usage_metadata is not None
    assert cb.usage_metadata == cb2.usage_metadata
    (only,) = cb.usage_metadata.values()
    assert only["input_tokens"] == msg.usage_metadata["input_tokens"]
    assert sum(1 for c in chunks if c.usage_metadata) == 1


def test_actual_cost_is_exact_decimal_from_usage() -> None:
    msg = make_router().invoke("price me", model="dear")
    um = msg.usage_metadata
    assert um is not None
    expected = cost_of(
        DEAR, TokenUsage(input_tokens=um["input_tokens"], output_tokens=um["output_tokens"])
    )
    assert Decimal(msg.response_metadata["costrouter"]["cost_usd"]) == expected
    assert msg.response_metadata["model_name"] == "dear-model"  # served model's keys kept


def test_unpriced_model_costs_none_with_a_warning() -> None:
    models = [spec("free?", None)]
    router = make_router(models)
    with pytest.warns(UserWarning, match="no price is known"):
        msg = router.invoke("hi")
    assert msg.response_metadata["costrouter"]["cost_usd"] is None


def test_tracing_sees_the_serving_model() -> None:
    seen: list[dict[str, Any]] = []

    class Spy(BaseCallbackHandler):
        def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
            seen.append(kw.get("metadata") or {})

    router = make_router()
    router.invoke("hi", model="mid", config={"callbacks": [Spy()]})
    list(router.stream("hi", model="dear", config={"callbacks": [Spy()]}))
    assert [(s["ls_provider"], s["ls_model_name"]) for s in seen] == [
        ("fake", "mid-model"),
        ("fake", "dear-model"),
    ]


# -- tools and structured output ---------------------------------------------------------------


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def tool_reply(messages: list[BaseMessage], info: dict[str, Any]) -> AIMessage:
    assert info["tools"][0]["function"]["name"] == "add"
    return AIMessage(content="", tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"}])


def test_bound_tools_reach_the_chosen_model_and_toolless_models_are_skipped() -> None:
    from langchain_costrouter.models.catalog import Capabilities

    models = [
        spec("cheap", CHEAP, capabilities=Capabilities(tools=False)),
        spec("mid", MID, fn=tool_reply),
    ]
    router = make_router(models)
    msg = router.bind_tools([add], tool_choice="add").invoke("add 1 and 2")
    assert served_by(msg) == "mid"
    assert msg.tool_calls[0]["args"] == {"a": 1, "b": 2}
    assert fm(router, "mid").calls[0]["tool_choice"] == "add"
    assert fm(router, "cheap").calls == []


def test_structured_output_through_the_router() -> None:
    class Sum(BaseModel):
        a: int
        b: int

    def reply(messages: list[BaseMessage], info: dict[str, Any]) -> AIMessage:
        name = info["tools"][0]["function"]["name"]
        return AIMessage(
            content="", tool_calls=[{"name": name, "args": {"a": 4, "b": 5}, "id": "x"}]
        )

    models = [spec("cheap", CHEAP, fn=reply)]
    router = make_router(models)
    assert router.with_structured_output(Sum).invoke("4 and 5") == Sum(a=4, b=5)


def test_json_schema_method_needs_native_structured_output() -> None:
    from langchain_costrouter.models.catalog import Capabilities

    class Sum(BaseModel):
        a: int

    models = [spec("cheap", CHEAP, capabilities=Capabilities(structured_output=False))]
    with pytest.raises(NoCapableModelError, match="no structured output"):
        make_router(models).with_structured_output(Sum, method="json_schema").invoke("x")


# -- LangChain machinery --------------------------------------------------------------------------


def test_llm_cache_keeps_working() -> None:
    set_llm_cache(InMemoryCache())
    try:
        router = make_router()
        first = router.invoke("cache me")
        second = router.invoke("cache me")
        assert first.content == second.content
        assert len(fm(router, "cheap").calls) == 1
    finally:
        set_llm_cache(None)


def test_router_rate_limiter_is_acquired() -> None:
    from langchain_core.rate_limiters import InMemoryRateLimiter

    class Counting(InMemoryRateLimiter):
        n: int = 0

        def acquire(self, *, blocking: bool = True) -> bool:
            self.n += 1
            return True

    limiter = Counting(requests_per_second=1000)
    make_router(rate_limiter=limiter).invoke("hi")
    assert limiter.n == 1


async def test_async_paths_and_batch() -> None:
    models = [spec("cheap", CHEAP, fn=failing(500)), spec("mid", MID)]
    router = make_router(models)
    msg = await router.ainvoke("hi")
    assert served_by(msg) == "mid"
    chunks = [c async for c in router.astream("hi there")]
    assert chunks[-1].response_metadata["costrouter"]["tier"] == "mid"
    outs = await router.abatch(["a", "b", "c"])
    assert [served_by(o) for o in outs] == ["mid"] * 3
    outs = router.batch(["a", "b"])
    assert [served_by(o) for o in outs] == ["mid"] * 2
    results = await asyncio.gather(*(router.ainvoke(f"q{i}") for i in range(20)))
    assert len({r.content for r in results}) == 20


def test_escalation_order_is_configurable_and_never_cheaper_by_default() -> None:
    models = [spec("t", CHEAP), spec("s", CHEAP), spec("c", MID), spec("e", DEAR)]
    levels = {"trivial": ["t"], "standard": ["s"], "complex": ["c"], "expert": ["e"]}
    up = make_router(models, levels=levels).plan("x", level="standard")
    explicit_up = make_router(models, levels=levels, escalate="up").plan("x", level="standard")
    anyway = make_router(models, levels=levels, escalate="any").plan("x", level="standard")
    down = make_router(models, levels=levels, escalate="down").plan("x", level="standard")
    only = make_router(models, levels=levels, escalate=False).plan("x", level="standard")
    assert [c.name for c in up.candidates] == ["s", "c", "e"]  # no cheaper class unless asked
    assert [c.name for c in explicit_up.candidates] == ["s", "c", "e"]
    assert [c.name for c in anyway.candidates] == ["s", "c", "e", "t"]
    assert [c.name for c in down.candidates] == ["s", "t", "c", "e"]
    assert [c.name for c in only.candidates] == ["s"]
