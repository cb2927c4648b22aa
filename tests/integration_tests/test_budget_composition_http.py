"""Budgets compose with structured output, tools, plain chat models and agents, and price
each call right: over the local server (real HTTP), the ledger's spend equals the server's
own usage at the catalog's prices. Cut and abandoned streams are paid for."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.budget import Budget, BudgetGuard, BudgetMiddleware, with_budget
from langchain_costrouter.budget.ledger import usd_to_nano
from langchain_costrouter.exceptions import StreamInterruptedError
from langchain_costrouter.pricing.prices import lookup_prices
from langchain_costrouter.pricing.tokens import count_text
from langchain_costrouter.testing.server import (
    FaultPlan,
    LocalServer,
    ModelBehaviour,
    ServerConfig,
)


class City(BaseModel):
    name: str
    population: int


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ServerConfig(default=ModelBehaviour(output_tokens_p50=300))) as srv:
        yield srv


@pytest.fixture
def catalog(server: LocalServer) -> Catalog:
    server.reset_stats()
    return Catalog.default().served_by(server.base_url)


def settled_stats(server: LocalServer) -> dict[str, dict[str, Any]]:
    """The server's counters once every request has finished (it counts after answering)."""
    for _ in range(500):  # bounded: a request ends within moments of its answer
        stats = server.stats()
        if all(st["in_flight"] == 0 for st in stats.values()):
            return stats
        time.sleep(0.01)
    raise AssertionError(f"requests still in flight: {stats}")


def server_usd(server: LocalServer, catalog: Catalog | None = None) -> Decimal:
    """What the server served, at the catalog's (or genai-prices') prices."""
    total = Decimal(0)
    for model, st in settled_stats(server).items():
        spec = next((s for s in (catalog.models.values() if catalog else ())
                     if model in (s.model, s.name)), None)
        prices = spec.prices if spec else lookup_prices(model)
        assert prices is not None
        total += (st["prompt_tokens"] * prices.input
                  + st["completion_tokens"] * prices.output) / 1_000_000
    return total


def spent_nano(guard: BudgetGuard, *scopes: dict[str, str]) -> int:
    """The guard's settled USD spend in nano-dollars (each call's cost is rounded up)."""
    return sum(usd_to_nano(guard.status(s).spent) for s in scopes or [{}])  # type: ignore[arg-type]


def same_nano(ledger_nano: int, server: Decimal, calls: int) -> bool:
    """The ledger rounds each call up to the nano-dollar: at most one nano per call above."""
    exact = server * 1_000_000_000
    return exact > 0 and 0 <= ledger_nano - exact < calls


def test_budget_then_structured_output_and_tools(server: LocalServer, catalog: Catalog) -> None:
    router = ChatCostRouter(catalog=catalog)
    guarded = router.with_budget([Budget.usd("1", per="day")])
    city = guarded.with_structured_output(City).invoke('City "Rome" population 2800000')
    assert isinstance(city, City)
    msg = guarded.bind_tools([add]).invoke("add 2 and 3")
    assert isinstance(msg, AIMessage) and msg.tool_calls[0]["name"] == "add"
    assert same_nano(spent_nano(guarded.guard), server_usd(server, catalog), 2)


def test_structured_output_then_budget(server: LocalServer, catalog: Catalog) -> None:
    router = ChatCostRouter(catalog=catalog)
    guarded = with_budget(router.with_structured_output(City), [Budget.usd("1", per="day")])
    raw = with_budget(router.with_structured_output(City, include_raw=True),
                      guard=guarded.guard)  # type: ignore[attr-defined]
    assert isinstance(guarded.invoke('City "Oslo" population 700000'), City)
    assert isinstance(raw.invoke('City "Oslo" population 700000')["parsed"], City)
    guard = guarded.guard  # type: ignore[attr-defined]
    assert same_nano(spent_nano(guard), server_usd(server, catalog), 2)
    assert guard.ledger.pending(now=guard.clock()) == 0


def test_a_plain_chat_openai_is_bounded_and_priced(server: LocalServer) -> None:
    from langchain_openai import ChatOpenAI

    server.reset_stats()
    chat = ChatOpenAI(model="gpt-4.1-mini", base_url=server.base_url, api_key="x",  # type: ignore[arg-type]
                      max_retries=0, stream_usage=True)
    guarded = with_budget(chat, [Budget.usd("0.0002", per="day", scope="user")])
    out = guarded.invoke("Write a long essay on Rome.", {"metadata": {"user": "a"}})
    bound = out.response_metadata["costrouter_budget"]["max_tokens"]
    assert 16 <= bound < 300  # the budget, not the 300-token answer, decided its length
    assert out.usage_metadata["output_tokens"] == bound  # type: ignore[index]
    assert out.response_metadata["finish_reason"] == "length"
    chunks = list(guarded.stream("Write a long essay on Rome.", {"metadata": {"user": "b"}}))
    assert sum(c.usage_metadata["output_tokens"] for c in chunks if c.usage_metadata) < 300
    g = guarded.guard  # type: ignore[attr-defined]
    for user in ("a", "b"):
        assert g.status({"user": user}).spent <= Decimal("0.0002")
    assert same_nano(spent_nano(g, {"user": "a"}, {"user": "b"}), server_usd(server), 2)


def test_budget_middleware_bounds_every_agent_model_call(
    server: LocalServer, catalog: Catalog
) -> None:
    from langchain.agents import create_agent

    router = ChatCostRouter(catalog=catalog)
    guard = BudgetGuard(budgets=[Budget.usd("1", per="day", scope="user")])
    agent = create_agent(router, tools=[add], middleware=[BudgetMiddleware(guard)])
    out = agent.invoke({"messages": [("human", "add 2 and 3")]},
                       {"metadata": {"user": "ann"}})
    assert "5" in str(out["messages"][-1].content)
    st = guard.status({"user": "ann"})
    assert same_nano(usd_to_nano(st.spent), server_usd(server, catalog), 3)  # type: ignore[arg-type]
    assert st.reserved == 0


def test_a_cut_stream_is_paid_for_not_released(server: LocalServer, catalog: Catalog) -> None:
    router = ChatCostRouter(catalog=catalog)
    guarded = router.with_budget([Budget.usd("1", per="day"), Budget.tokens(10**6, per="day")])
    spec = catalog["gpt-5.4-nano"]
    server.set_faults(spec.model, FaultPlan(stream_cut=1.0, cut_after_chunks=4))
    text = ""
    try:
        with pytest.raises(StreamInterruptedError):
            for chunk in guarded.stream("hello there", model="gpt-5.4-nano"):
                text += str(chunk.content)
    finally:
        server.set_faults(spec.model, None)
    assert text  # the caller got text
    g = guarded.guard  # type: ignore[attr-defined]
    tokens = g.status().per_budget["tokens/day"]
    plan = router.plan("hello there", model="gpt-5.4-nano")
    assert tokens.spent == plan.input_tokens + count_text(text) > plan.input_tokens
    assert tokens.reserved == 0
    assert g.status().per_budget["usd/day"].spent > 0


async def test_a_stream_the_caller_stops_reading_is_paid_for(
    server: LocalServer, catalog: Catalog
) -> None:
    router = ChatCostRouter(catalog=catalog)
    guarded = router.with_budget([Budget.tokens(10**6, per="day")])
    stream = guarded.astream("hello there", model="gpt-5.4-nano")
    got: list[Any] = []
    async for chunk in stream:
        got.append(chunk)
        if len(got) == 3:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    g = guarded.guard  # type: ignore[attr-defined]
    text = "".join(str(c.content) for c in got)
    plan = router.plan("hello there", model="gpt-5.4-nano")
    assert g.status().spent == plan.input_tokens + count_text(text) > plan.input_tokens
    assert g.ledger.pending(now=g.clock()) == 0
