"""CostTrackingCallbackHandler: what one call records, streams, nesting, pricing, errors."""

from __future__ import annotations

import asyncio
import warnings
from decimal import Decimal
from typing import Any

import pytest
from _cost_fakes import ChildModeWrapper, FakeClock, NaiveWrapper, UsageModel, usage
from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableParallel

from langchain_costrouter.costs import CostTrackingCallbackHandler
from langchain_costrouter.pricing.prices import (
    MTOK,
    UnpricedModelWarning,
    lookup_prices,
)
from langchain_costrouter.pricing.tokens import count_messages, get_encoding

USAGE = usage(120, 9)


def handler(**kw: Any) -> CostTrackingCallbackHandler:
    return CostTrackingCallbackHandler(**kw)


def cfg(h: CostTrackingCallbackHandler, **kw: Any) -> dict[str, Any]:
    return {"callbacks": [h], **kw}


def list_price(model: str, provider: str, inp: int, out: int, cached: int = 0) -> Decimal:
    p = lookup_prices(model, provider)
    assert p is not None and p.cached_input is not None
    return ((inp - cached) * p.input + cached * p.cached_input + out * p.output) / MTOK


# -- one call -------------------------------------------------------------------------------


def test_invoke_records_model_tokens_cost_latency_and_metadata() -> None:
    clock = FakeClock()
    h = handler(clock=clock, wall_clock=lambda: 1_700_000_000.0)
    m = UsageModel(usage=USAGE, clock=clock, first_token_s=0.25, per_chunk_s=0.01)
    m.invoke("hi", config=cfg(h, tags=["t1"], metadata={"user": "ann", "team": "search"}))
    (r,) = h.records
    assert (r.model, r.provider, r.tier, r.level) == ("gpt-5.4-mini", "fake", "gpt-5.4-mini", None)
    assert (r.input_tokens, r.output_tokens, r.status, r.estimated) == (120, 9, "ok", False)
    assert r.cost == list_price("gpt-5.4-mini", "openai", 120, 9)
    assert r.latency_s == pytest.approx(0.25 + 0.01 * 6)
    assert r.ttft_s is None and not r.streamed
    assert r.tags == ("t1",) and r.metadata == {"user": "ann", "team": "search"}
    assert r.timestamp == 1_700_000_000.0 and r.prompt is None


def test_stream_and_invoke_give_identical_totals_and_stream_has_ttft() -> None:
    clock = FakeClock()
    m = UsageModel(usage=usage(50, 7, cached=20), clock=clock, first_token_s=0.3, per_chunk_s=0.02)
    hi, hs = handler(clock=clock), handler(clock=clock)
    m.invoke("hello", config=cfg(hi))
    chunks = list(m.stream("hello", config=cfg(hs)))
    assert "".join(str(c.content) for c in chunks) == m.reply
    si, ss = hi.summary(), hs.summary()
    for f in ("requests", "input_tokens", "cached_input_tokens", "output_tokens", "total_cost"):
        assert getattr(si, f) == getattr(ss, f), f
    assert ss.total_cost > 0
    (r,) = hs.records
    assert r.streamed and r.ttft_s == pytest.approx(0.3)
    assert r.latency_s == pytest.approx(hi.records[0].latency_s)
    assert ss.ttft_p50_s == pytest.approx(0.3, rel=0.01)


async def test_async_invoke_and_stream_are_counted_like_sync() -> None:
    h = handler()
    m = UsageModel(usage=USAGE)
    await m.ainvoke("a", config=cfg(h))
    async for _ in m.astream("b", config=cfg(h)):
        pass
    s = h.summary()
    assert (s.requests, s.input_tokens, s.output_tokens) == (2, 240, 18)
    assert [r.streamed for r in h.records] == [False, True]


def test_store_prompts_keeps_the_prompt_only_when_asked() -> None:
    m = UsageModel(usage=USAGE)
    msgs = [SystemMessage("be brief"), HumanMessage("what is 2+2?")]
    off, on = handler(), handler(store_prompts=True)
    m.invoke(msgs, config=cfg(off))
    m.invoke(msgs, config=cfg(on))
    assert off.records[0].prompt is None
    assert on.records[0].prompt == "System: be brief\nHuman: what is 2+2?"


# -- streams without usage --------------------------------------------------------------------


def test_stream_without_usage_is_estimated_with_tiktoken() -> None:
    h = handler()
    m = UsageModel(usage=None, reply="Paris is the capital of France, on the Seine.")
    msgs = [SystemMessage("answer in one line"), HumanMessage("capital of France?")]
    list(m.stream(msgs, config=cfg(h)))
    (r,) = h.records
    assert r.estimated
    assert r.input_tokens == count_messages(msgs)
    assert r.output_tokens == len(get_encoding("o200k_base").encode(m.reply))
    assert r.cost == list_price("gpt-5.4-mini", "openai", r.input_tokens, r.output_tokens)
    assert h.summary().estimated_requests == 1


# -- exactly once -----------------------------------------------------------------------------


def test_chain_with_nested_runs_counts_the_model_once() -> None:
    h = handler()
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | UsageModel(usage=USAGE)
    out = (chain | StrOutputParser()).invoke({"q": "hi"}, config=cfg(h))
    assert out == UsageModel().reply
    s = h.summary()
    assert (s.requests, s.input_tokens, s.nested_runs_skipped) == (1, 120, 0)
    assert h.records[0].parent_run_id is not None  # the sequence run


def test_parallel_models_under_one_parent_are_both_counted() -> None:
    h = handler()
    par = RunnableParallel(a=UsageModel(usage=usage(10, 1)), b=UsageModel(usage=usage(20, 2)))
    par.invoke("x", config=cfg(h))
    s = h.summary()
    assert (s.requests, s.input_tokens, s.output_tokens) == (2, 30, 3)


def test_child_mode_wrapper_counts_the_outermost_run_once_where_core_counts_twice() -> None:
    ours, core = handler(), UsageMetadataCallbackHandler()
    wrapper = ChildModeWrapper(inner=UsageModel(usage=USAGE))
    wrapper.invoke("hi", config={"callbacks": [ours, core]})
    # langchain-core's handler sees two LLM runs with usage and adds both.
    assert core.usage_metadata["gpt-5.4-mini"]["input_tokens"] == 240
    s = ours.summary()
    assert (s.requests, s.input_tokens, s.nested_runs_skipped) == (1, 120, 1)
    assert ours.records[0].parent_run_id is None  # the outer (wrapper) run


def test_child_mode_wrapper_without_own_usage_takes_the_inner_usage() -> None:
    class Stripping(ChildModeWrapper):
        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                      **kw: Any) -> Any:
            result = super()._generate(messages, stop, run_manager, **kw)
            msg = result.generations[0].message
            result.generations[0].message = msg.model_copy(
                update={"usage_metadata": None, "response_metadata": {}, "id": None}
            )
            return result

    h = handler()
    Stripping(inner=UsageModel(usage=USAGE)).invoke("hi", config=cfg(h))
    (r,) = h.records
    assert (r.input_tokens, r.output_tokens, r.estimated, r.model) == (120, 9, False,
                                                                       "gpt-5.4-mini")
    assert r.cost == list_price("gpt-5.4-mini", "openai", 120, 9)


def test_naive_wrapper_in_a_chain_counts_once() -> None:
    h = handler()
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | NaiveWrapper(
        inner=UsageModel(usage=USAGE)
    )
    chain.invoke({"q": "hi"}, config=cfg(h))
    s = h.summary()
    assert (s.requests, s.input_tokens, s.duplicate_runs_skipped) == (1, 120, 1)
    assert h.records[0].model == "gpt-5.4-mini"


def test_fallbacks_with_failing_primary_count_the_answer_once() -> None:
    h = handler()
    primary = UsageModel(model_name="gpt-4.1", error="503 overloaded")
    chain = primary.with_fallbacks([UsageModel(usage=USAGE)])
    chain.invoke("hi", config=cfg(h))
    s = h.summary()
    assert (s.requests, s.succeeded, s.failed, s.input_tokens) == (2, 1, 1, 120)
    assert s.total_cost == list_price("gpt-5.4-mini", "openai", 120, 9)
    err = next(r for r in h.records if not r.ok)
    assert err.model == "gpt-4.1" and err.cost is None and "503 overloaded" in (err.error or "")
    assert s.unpriced_requests == 0  # a failure without usage is not an unpriced call


def test_model_called_inside_a_tool_inside_an_agent_is_counted_once_each() -> None:
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    from langchain_costrouter.testing import FunctionChatModel

    inner = UsageModel(usage=usage(30, 3))

    @tool
    def ask_expert(question: str) -> str:
        """Ask a second model."""
        return str(inner.invoke(question).content)

    def agent_fn(messages: list[Any], info: dict[str, Any]) -> Any:
        if not any(m.type == "tool" for m in messages):
            return AIMessage("", tool_calls=[{"name": "ask_expert", "args": {"question": "q"},
                                              "id": "call_1"}])
        return "done"

    agent_model = FunctionChatModel(fn=agent_fn, model_name="gpt-4.1")
    h = handler()
    create_agent(agent_model, tools=[ask_expert]).invoke(
        {"messages": [HumanMessage("go")]}, config=cfg(h)
    )
    s = h.summary()
    assert s.requests == 3 and s.nested_runs_skipped == 0 and s.duplicate_runs_skipped == 0
    assert s.by_model["gpt-4.1"].requests == 2
    assert s.by_model["gpt-5.4-mini"].input_tokens == 30


# -- prices -----------------------------------------------------------------------------------


def test_unpriced_model_costs_none_with_a_warning_never_zero() -> None:
    h = handler()
    m = UsageModel(model_name="acme-llm-unknown-7b", usage=USAGE)
    with pytest.warns(UnpricedModelWarning, match="acme-llm-unknown-7b"):
        m.invoke("hi", config=cfg(h))
    m.invoke("hi", config=cfg(h))  # warned once per model; still None
    UsageModel(usage=USAGE).invoke("hi", config=cfg(h))
    s = h.summary()
    assert [r.cost for r in h.records[:2]] == [None, None]
    assert s.unpriced_requests == 2 and s.cost_is_lower_bound
    assert s.total_cost == h.records[2].cost
    assert s.by_model["acme-llm-unknown-7b"].total_cost == 0
    assert s.by_model["acme-llm-unknown-7b"].cost_is_lower_bound


def test_cached_tokens_are_priced_at_the_cached_rate_catalog_and_genai_prices() -> None:
    h = handler()
    u = usage(10_000, 500, cached=6_000, reasoning=200)
    UsageModel(model_name="gpt-5.4-mini", usage=u).invoke("a", config=cfg(h))
    UsageModel(model_name="gpt-4o-mini", provider="openai", usage=u).invoke("b", config=cfg(h))
    cat, gp = h.records
    # hand computation from genai-prices figures (USD per 1M tokens)
    assert cat.cost == list_price("gpt-5.4-mini", "openai", 10_000, 500, cached=6_000)
    assert gp.cost == list_price("gpt-4o-mini", "openai", 10_000, 500, cached=6_000)
    assert cat.price_source is not None and cat.price_source.startswith("catalog")
    assert gp.price_source is not None and gp.price_source.startswith("genai-prices")
    assert gp.tier is None and cat.tier == "gpt-5.4-mini"
    full = lookup_prices("gpt-5.4-mini", "openai")
    assert full is not None and cat.cost < 10_000 * full.input / MTOK + 500 * full.output / MTOK
    assert (cat.cached_input_tokens, cat.reasoning_tokens) == (6_000, 200)


def test_cache_writes_are_priced_at_the_cache_write_rate() -> None:
    h = handler()
    u = usage(3_000, 100, cached=1_000, written=1_500)
    UsageModel(model_name="claude-sonnet-4-5", provider="anthropic", usage=u).invoke(
        "a", config=cfg(h)
    )
    p = lookup_prices("claude-sonnet-4-5", "anthropic")
    assert p is not None and p.cached_input is not None and p.cache_write is not None
    expected = (500 * p.input + 1_000 * p.cached_input + 1_500 * p.cache_write
                + 100 * p.output) / MTOK
    assert h.records[0].cost == expected and h.records[0].cache_write_tokens == 1_500


def test_router_cost_is_used_as_is_with_level_and_tier() -> None:
    from langchain_costrouter.router import ChatCostRouter
    from langchain_costrouter.testing import FunctionChatModel

    router = ChatCostRouter(models={
        "nano": FunctionChatModel(model_name="gpt-4.1-nano", provider="openai"),
        "big": FunctionChatModel(model_name="gpt-4.1", provider="openai"),
    })
    hi, hs = handler(), handler()
    msg = router.invoke("hello there", config=cfg(hi), level="trivial")
    list(router.stream("hello there", config=cfg(hs), level="trivial"))
    cr = msg.response_metadata["costrouter"]
    (r,) = hi.records
    assert (r.level, r.tier, r.model) == ("trivial", cr["tier"], cr["model_name"])
    assert r.cost == Decimal(cr["cost_usd"]) and r.price_source == cr["price_source"]
    assert hs.summary().total_cost == hi.summary().total_cost
    assert hi.summary().by_level["trivial"].requests == 1


# -- errors -----------------------------------------------------------------------------------


def test_error_runs_are_recorded_as_errors_with_keys_scrubbed() -> None:
    clock = FakeClock()
    h = handler(clock=clock)
    bad = UsageModel(error="401 invalid key sk-proj-ABCDEFGHIJKLMNOPQRSTUV")
    for call in (lambda: bad.invoke("x", config=cfg(h)),
                 lambda: list(bad.stream("x", config=cfg(h)))):
        with pytest.raises(RuntimeError):
            call()
    s = h.summary()
    assert (s.requests, s.failed, s.success_rate, s.total_cost) == (2, 2, 0.0, 0)
    for r in h.records:
        assert r.status == "error" and r.error is not None
        assert r.error.startswith("RuntimeError: 401 invalid key")
        assert "ABCDEFGHIJ" not in r.error


# -- sinks ------------------------------------------------------------------------------------


def test_sinks_receive_every_record_and_a_failing_sink_never_breaks_the_call() -> None:
    got: list[Any] = []

    class ListSink:
        def write(self, record: Any) -> None:
            got.append(record)

    class Broken:
        def write(self, record: Any) -> None:
            raise OSError("disk full")

    h = handler(sinks=[Broken(), ListSink()], max_records=0)
    m = UsageModel(usage=USAGE)
    for _ in range(3):
        m.invoke("x", config=cfg(h))
    assert len(got) == 3 and h.records == []
    assert h.summary().sink_errors == 3 and h.summary().requests == 3


def test_handler_rejects_bad_configuration() -> None:
    from langchain_costrouter.exceptions import ConfigError

    with pytest.raises(ConfigError, match="max_records"):
        handler(max_records=-1)
    with pytest.raises(ConfigError, match="write"):
        handler(sinks=[object()])  # type: ignore[list-item]


def test_async_gather_counts_every_call() -> None:
    h = handler()
    m = UsageModel(usage=usage(7, 3))

    async def main() -> None:
        await asyncio.gather(*(m.ainvoke(f"q{i}", config=cfg(h)) for i in range(200)))

    asyncio.run(main())
    s = h.summary()
    assert (s.requests, s.input_tokens, s.output_tokens) == (200, 1400, 600)


def test_no_warning_for_priced_models() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = handler()
        UsageModel(usage=USAGE).invoke("x", config=cfg(h))
    assert h.records[0].cost is not None
