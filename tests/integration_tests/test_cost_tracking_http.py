"""Cost tracking of ChatOpenAI over real loopback HTTP against LocalServer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

from langchain_costrouter.costs import CostTrackingCallbackHandler, track_costs
from langchain_costrouter.pricing.prices import MTOK, lookup_prices
from langchain_costrouter.pricing.tokens import count_messages, count_text
from langchain_costrouter.testing.server import LocalServer, ServerConfig

PROMPT = [SystemMessage("You are terse."), HumanMessage("Why is the sky blue?")]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as srv:
        yield srv


def chat(server: LocalServer, model: str = "gpt-5.4-mini", **kw: Any) -> ChatOpenAI:
    kw.setdefault("stream_usage", True)
    return ChatOpenAI(model=model, base_url=server.base_url, api_key="sk-test-NOTAREALKEY1234",
                      max_retries=0, **kw)


def test_streamed_and_invoked_calls_give_identical_totals(server: LocalServer) -> None:
    hi, hs = CostTrackingCallbackHandler(), CostTrackingCallbackHandler()
    m = chat(server)
    msg = m.invoke(PROMPT, config={"callbacks": [hi]})
    streamed = "".join(str(c.content) for c in m.stream(PROMPT, config={"callbacks": [hs]}))
    assert streamed == msg.text  # the server answers a prompt the same way each time
    for h in (hi, hs):
        s = h.summary()
        assert s.requests == 1 and s.estimated_requests == 0
    si, ss = hi.summary(), hs.summary()
    assert (si.input_tokens, si.output_tokens, si.total_cost) == (
        ss.input_tokens, ss.output_tokens, ss.total_cost)
    (r,) = hs.records
    assert (r.model, r.provider, r.tier) == ("gpt-5.4-mini", "openai", "gpt-5.4-mini")
    assert r.streamed and r.ttft_s is not None and r.ttft_s <= r.latency_s
    p = lookup_prices("gpt-5.4-mini", "openai")
    assert p is not None
    assert r.cost == (r.input_tokens * p.input + r.output_tokens * p.output) / MTOK
    assert msg.usage_metadata is not None and r.input_tokens == msg.usage_metadata["input_tokens"]


async def test_async_stream_matches_sync_invoke(server: LocalServer) -> None:
    hi, ha = CostTrackingCallbackHandler(), CostTrackingCallbackHandler()
    m = chat(server, model="gpt-5.4")
    m.invoke(PROMPT, config={"callbacks": [hi]})
    async for _ in m.astream(PROMPT, config={"callbacks": [ha]}):
        pass
    assert ha.summary().total_cost == hi.summary().total_cost > 0
    assert ha.records[0].streamed


def test_stream_without_usage_is_estimated_like_tiktoken(server: LocalServer) -> None:
    h = CostTrackingCallbackHandler()
    text = "".join(
        str(c.content)
        for c in chat(server, stream_usage=False).stream(PROMPT, config={"callbacks": [h]})
    )
    (r,) = h.records
    assert r.estimated
    assert r.input_tokens == count_messages(PROMPT)
    assert r.output_tokens == count_text(text)
    assert r.cost is not None and r.cost > 0


def test_chain_under_track_costs_counts_each_call_once_and_exports_no_key(
    server: LocalServer,
) -> None:
    from langchain_costrouter.costs import to_csv, to_json

    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | chat(server)
    with track_costs() as cb:
        chain.batch([{"q": f"question {i}"} for i in range(6)])
        list(chain.stream({"q": "one more"}))
    s = cb.summary()
    assert s.requests == 7 and s.succeeded == 7 and s.estimated_requests == 0
    assert s.input_tokens == sum(r.input_tokens for r in cb.records)
    for out in (to_json(cb), to_csv(cb), repr(cb.records)):
        assert "NOTAREALKEY" not in out
