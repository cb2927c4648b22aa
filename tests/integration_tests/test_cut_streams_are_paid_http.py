"""A stream that breaks after text went out is paid for, in the cost handler's records.

Over real loopback HTTP against the local server: a routed stream cut mid-way (``stream_cut``)
or just before its usage chunk (``cut_before_usage``) raises ``StreamCutError``; the handler
records that call once, at the prompt plus the counted tokens of the delivered text, priced at
the catalog's prices and marked estimated. A caller that stops iterating early is recorded at
counted tokens too, never as a free call.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.costs import CostTrackingCallbackHandler
from langchain_costrouter.exceptions import StreamCutError
from langchain_costrouter.pricing.prices import MTOK, Prices
from langchain_costrouter.pricing.tokens import count_messages, count_text
from langchain_costrouter.testing import FaultPlan, LocalServer, ServerConfig

pytestmark = pytest.mark.enable_socket

LEVELS = ("trivial", "standard", "complex", "expert")
PROMPT = "tell me about tea"
IN_PRICE, OUT_PRICE = Decimal("1.5"), Decimal("6")  # USD per million tokens
CUTS = {
    "mid_stream": FaultPlan(stream_cut=1.0, cut_after_chunks=4),
    "before_usage": FaultPlan(cut_before_usage=1.0),
}


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[LocalServer] = []

    def start(plan: FaultPlan) -> LocalServer:
        config = ServerConfig(latency_scale=0).with_faults({"cheap": plan})
        started.append(LocalServer(config).start())
        return started[-1]

    yield start
    for s in started:
        s.stop()


def catalog(server: LocalServer) -> Catalog:
    models = [
        {"name": n, "provider": f"prov-{n}", "model": n, "base_url": server.base_url,
         "api_key_env": None, "context_window": 128_000,
         "prices": Prices(input=IN_PRICE * (i + 1), output=OUT_PRICE * (i + 1))}
        for i, n in enumerate(["cheap", "backup"])
    ]
    return Catalog.build({"models": models, "levels": {lv: ["cheap", "backup"]
                                                           for lv in LEVELS}})


def price(input_tokens: int, output_tokens: int) -> Decimal:
    return (input_tokens * IN_PRICE + output_tokens * OUT_PRICE) / MTOK


async def _astream(router: ChatCostRouter, handler: CostTrackingCallbackHandler,
                   got: list[str]) -> None:
    async for c in router.astream(PROMPT, config={"callbacks": [handler]}):
        got.append(c.text)


def _stream(router: ChatCostRouter, handler: CostTrackingCallbackHandler,
            got: list[str]) -> None:
    for c in router.stream(PROMPT, config={"callbacks": [handler]}):
        got.append(c.text)


def assert_paid_once(handler: CostTrackingCallbackHandler, delivered: str,
                     input_tokens: int) -> None:
    (rec,) = handler.records  # exactly once
    out = count_text(delivered, "o200k_base")
    assert delivered and out > 0
    assert (rec.input_tokens, rec.output_tokens) == (input_tokens, out)
    assert rec.cost == price(input_tokens, out) > 0
    assert rec.estimated and rec.status == "error" and rec.streamed
    s = handler.summary()
    assert s.requests == 1 and s.total_cost == rec.cost and s.estimated_requests == 1
    assert s.unpriced_requests == 0 and not s.cost_is_lower_bound


@pytest.mark.parametrize("how", ["stream", "astream"])
@pytest.mark.parametrize("cut", sorted(CUTS))
async def test_a_routed_stream_cut_is_recorded_at_the_delivered_texts_tokens(
        serve: Any, cut: str, how: str) -> None:
    server = serve(CUTS[cut])
    router = ChatCostRouter(catalog=catalog(server), max_tokens=60)
    handler = CostTrackingCallbackHandler(catalog=router.catalog)
    got: list[str] = []
    with pytest.raises(StreamCutError) as ei:
        if how == "stream":
            _stream(router, handler, got)
        else:
            await _astream(router, handler, got)
    err, delivered = ei.value, "".join(got)
    assert err.streamed == delivered
    assert_paid_once(handler, delivered, err.usage_metadata["input_tokens"])
    (rec,) = handler.records
    assert rec.cost == err.cost  # the router's bill, not a second pricing
    assert (rec.tier, rec.model, rec.provider) == ("cheap", "cheap", "prov-cheap")
    assert rec.served_level == rec.level == err.route["served_level"]
    assert "StreamCutError" in rec.error  # type: ignore[operator]
    assert handler.summary().by_served_level[rec.served_level].total_cost == rec.cost  # type: ignore[index]


def test_a_cut_stream_is_not_free(serve: Any) -> None:
    """The failure this guards against: a cut stream recorded at 0 tokens and no cost."""
    server = serve(CUTS["before_usage"])
    router = ChatCostRouter(catalog=catalog(server), max_tokens=60)
    handler = CostTrackingCallbackHandler(catalog=router.catalog)
    for _ in range(3):
        with pytest.raises(StreamCutError):
            _stream(router, handler, [])
    s = handler.summary()
    assert s.requests == 3 and s.output_tokens > 0 and s.total_cost > 0


def chat(server: LocalServer) -> ChatOpenAI:
    return ChatOpenAI(model="cheap", base_url=server.base_url, api_key="sk-test-NOTAREALKEY1234",
                      max_retries=0, stream_usage=True, max_tokens=60)  # type: ignore[call-arg]


@pytest.mark.parametrize("how", ["stream", "astream"])
async def test_a_caller_that_stops_early_pays_for_what_it_received(serve: Any, how: str) -> None:
    server = serve(FaultPlan())
    handler = CostTrackingCallbackHandler(catalog=catalog(server))
    model, got = chat(server), []
    if how == "stream":
        it = model.stream(PROMPT, config={"callbacks": [handler]})
        for c in it:
            got.append(c.text)
            if len("".join(got)) > 8:
                break
        it.close()  # type: ignore[attr-defined]
    else:
        ait = model.astream(PROMPT, config={"callbacks": [handler]})
        async for c in ait:
            got.append(c.text)
            if len("".join(got)) > 8:
                break
        await ait.aclose()  # type: ignore[attr-defined]
    (rec,) = handler.records
    assert rec.error is not None and rec.error.startswith("GeneratorExit")
    assert_paid_once(handler, "".join(got), count_messages([HumanMessage(PROMPT)], "o200k_base"))
    whole = model.invoke(PROMPT)
    assert whole.usage_metadata is not None
    assert rec.output_tokens < whole.usage_metadata["output_tokens"]  # only what went out


@pytest.mark.parametrize("how", ["stream", "astream"])
@pytest.mark.filterwarnings("ignore::langchain_costrouter.pricing.prices.UnpricedModelWarning")
async def test_a_routed_stream_stopped_early_is_counted_not_free(serve: Any, how: str) -> None:
    server = serve(FaultPlan())
    router = ChatCostRouter(catalog=catalog(server), max_tokens=60)
    handler = CostTrackingCallbackHandler(catalog=router.catalog)
    got: list[str] = []
    if how == "stream":
        it = router.stream(PROMPT, config={"callbacks": [handler]})
        got.append(next(it).text)
        got.append(next(it).text)
        it.close()  # type: ignore[attr-defined]
    else:
        ait = router.astream(PROMPT, config={"callbacks": [handler]})
        got.append((await ait.__anext__()).text)
        got.append((await ait.__anext__()).text)
        await ait.aclose()  # type: ignore[attr-defined]
    (rec,) = handler.records
    assert rec.estimated and rec.input_tokens > 0
    assert rec.output_tokens == count_text("".join(got), "o200k_base") > 0
    # the router's report comes with the last chunk, so the handler cannot tell which model
    # served a stream stopped before it: its tokens are counted, its price is unknown (None,
    # with a warning), never $0
    assert rec.cost is None and handler.summary().cost_is_lower_bound


def test_a_cut_stream_through_a_budget_guard_is_recorded_once(serve: Any) -> None:
    from langchain_costrouter.budget import Budget

    server = serve(CUTS["mid_stream"])
    router = ChatCostRouter(catalog=catalog(server), max_tokens=60)
    guarded = router.with_budget([Budget.usd(1)])
    handler = CostTrackingCallbackHandler(catalog=router.catalog)
    got: list[str] = []
    with pytest.raises(StreamCutError) as ei:
        for c in guarded.stream(PROMPT, config={"callbacks": [handler]}):
            got.append(c.text)
    assert_paid_once(handler, "".join(got), ei.value.usage_metadata["input_tokens"])
    assert handler.records[0].cost == ei.value.cost
