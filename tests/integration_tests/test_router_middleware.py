"""CostRouterMiddleware in real create_agent tool loops over HTTP to the local server."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import ModelFallbackMiddleware
from langchain.agents.structured_output import StructuredOutputValidationError, ToolStrategy
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from langchain_costrouter import Catalog, ChatCostRouter, track_costs
from langchain_costrouter.agents import ROUTE_KEY, CostRouterMiddleware
from langchain_costrouter.budget import Budget, BudgetGuard, BudgetMiddleware, InMemoryLedger
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.routing.scorers import prompt_text
from langchain_costrouter.testing import FaultPlan, LocalServer, ServerConfig

LEVELS = ("trivial", "standard", "complex", "expert")
TASK = "What is the magic number for 3?"
SYSTEM = "You are a careful assistant."


@tool
def magic_number(input: int) -> int:
    """Return the magic number for an input integer."""
    return input * 7


@tool
def ticket(code: str = Field(pattern=r"^ZZ-\d{9}$")) -> str:  # the server ignores patterns
    """Look up a support ticket by its code."""
    return "open"


class Seen:
    """A scorer that records what it read: 0.1 for the task, 0.9 once a tool answered."""

    def __init__(self) -> None:
        self.views: list[str] = []

    def __call__(self, messages: Sequence[BaseMessage]) -> float:
        text = "\n".join(prompt_text([m]) for m in messages)
        if [m.type for m in messages] == ["system", "human"]:  # the middleware's view
            self.views.append(text)
        return 0.9 if "21" in prompt_text(messages) else 0.1


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ServerConfig(latency_scale=0)) as srv:
        yield srv


def catalog(server: LocalServer) -> Catalog:
    """One model per level, priced up the ladder."""
    models = [{"name": lv, "provider": "openai", "model": f"{lv}-model",
               "base_url": server.base_url, "api_key_env": None,
               "prices": Prices(input=Decimal(i + 1), output=Decimal(i + 1))}
              for i, lv in enumerate(LEVELS)]
    return Catalog.build({"models": models, "levels": {lv: [lv] for lv in LEVELS}})


CUTS = (0.25, 0.45, 0.65)
"""The test scorers return 0.1 (trivial) or 0.9 (expert) on this scale."""


def make_router(server: LocalServer, **kw: Any) -> ChatCostRouter:
    if "scorer" in kw:
        kw.setdefault("thresholds", CUTS)
    return ChatCostRouter(catalog=catalog(server), breakers=False, escalate=False, **kw)


def ai(state: dict[str, Any]) -> list[AIMessage]:
    return [m for m in state["messages"] if isinstance(m, AIMessage)]


def served_levels(state: dict[str, Any]) -> list[str]:
    return [m.response_metadata["costrouter"]["level"] for m in ai(state)]


def test_each_call_is_scored_on_the_task_and_the_latest_turn(server: LocalServer) -> None:
    seen = Seen()
    router = make_router(server, scorer=seen)
    agent = create_agent(router, tools=[magic_number], system_prompt=SYSTEM,
                         middleware=[CostRouterMiddleware(router)])
    with track_costs() as cb:
        state = agent.invoke({"messages": [("user", TASK)]}, {"metadata": {"user": "alice"}})
    calls = ai(state)
    assert calls[0].tool_calls[0]["args"] == {"input": 3}  # tools stayed bound
    assert any(isinstance(m, ToolMessage) and m.content == "21" for m in state["messages"])
    assert served_levels(state) == ["trivial", "expert"]  # the tool result was re-scored
    # the middleware scored the task alone, then the task with the tool's result, in one
    # human message after the system prompt
    # (a router that also scores a call itself sees the whole conversation instead)
    assert SYSTEM in seen.views[0] and TASK in seen.views[0] and "21" not in seen.views[0]
    assert any(SYSTEM in v and TASK in v and "21" in v for v in seen.views)
    assert [m.response_metadata[ROUTE_KEY]["level"] for m in calls] == ["trivial", "expert"]
    assert cb.summary().requests == len(calls)  # each model call counted once
    meta = [r.metadata for r in cb.records]  # the route is in the run's metadata ...
    assert [m["costrouter_level"] for m in meta] == ["trivial", "expert"]
    assert all(m["user"] == "alice" for m in meta)  # ... next to the caller's own keys


async def test_async_loop_and_astream_events_carry_the_route(server: LocalServer) -> None:
    router = make_router(server, scorer=Seen())
    agent = create_agent(router, tools=[magic_number],
                         middleware=[CostRouterMiddleware(router)])
    with track_costs() as cb:
        state = await agent.ainvoke({"messages": [("user", TASK)]})
    assert served_levels(state) == ["trivial", "expert"]
    assert cb.summary().requests == 2
    starts, streamed = [], 0
    with track_costs() as cb:
        async for ev in agent.astream_events({"messages": [("user", TASK)]}, version="v2"):
            if ev["event"] == "on_chat_model_start":
                starts.append(ev["metadata"].get("costrouter_level"))
            elif ev["event"] == "on_chat_model_stream":
                streamed += 1
    assert starts == ["trivial", "expert"] and streamed > 0
    assert cb.summary().requests == 2


def test_messages_stream_mode_streams_routed_chunks_counted_once(server: LocalServer) -> None:
    router = make_router(server, scorer=Seen())
    agent = create_agent(router, tools=[magic_number],
                         middleware=[CostRouterMiddleware(router)])
    with track_costs() as cb:
        chunks = [c for c, _ in agent.stream({"messages": [("user", TASK)]},
                                             stream_mode="messages")
                  if isinstance(c, AIMessageChunk)]
    levels = [c.response_metadata["costrouter"]["level"] for c in chunks
              if "costrouter" in c.response_metadata]
    assert levels == ["trivial", "expert"]
    assert cb.summary().requests == 2


def test_invalid_tool_arguments_escalate_one_level(server: LocalServer) -> None:
    router = make_router(server, scorer=lambda m: 0.1)
    mw = CostRouterMiddleware(router, max_escalations=1)
    agent = create_agent(router, tools=[ticket], middleware=[mw])
    with track_costs() as cb:
        state = agent.invoke({"messages": [("user", "Look up my support ticket")]})
    first = ai(state)[0]
    route = first.response_metadata[ROUTE_KEY]
    assert [e["level"] for e in route["escalations"]] == ["trivial"]
    assert "invalid arguments" in route["escalations"][0]["reason"]
    assert route["level"] == "standard" and "invalid arguments" in route["unresolved"]
    assert first.response_metadata["costrouter"]["level"] == "standard"
    # the rejected answer was paid for: one record per model run, none twice
    assert cb.summary().requests == len(ai(state)) + 1


def test_a_cascade_check_escalates_until_an_answer_passes(server: LocalServer) -> None:
    def no_trivial(message: AIMessage) -> str | None:
        level = message.response_metadata["costrouter"]["level"]
        return "too cheap to trust" if level == "trivial" else None

    router = make_router(server, scorer=lambda m: 0.1)
    agent = create_agent(router, tools=[magic_number],
                         middleware=[CostRouterMiddleware(router, check=no_trivial)])
    state = agent.invoke({"messages": [("user", TASK)]})
    assert served_levels(state) == ["standard", "standard"]
    for m in ai(state):
        route = m.response_metadata[ROUTE_KEY]
        assert route["escalations"] == [{"level": "trivial", "reason": "too cheap to trust"}]
        assert "unresolved" not in route


def test_a_check_that_reads_the_request_sees_the_agent_call(server: LocalServer) -> None:
    seen: list[tuple[str, ...]] = []

    def needs_context(message: AIMessage, request: Any) -> str | None:
        seen.append(tuple(m.type for m in request.messages))
        asked = any(TASK in str(m.content) for m in request.messages)
        level = message.response_metadata["costrouter"]["level"]
        return "trivial model on a magic question" if asked and level == "trivial" else None

    router = make_router(server, scorer=lambda m: 0.1)
    agent = create_agent(router, tools=[magic_number], system_prompt=SYSTEM,
                         middleware=[CostRouterMiddleware(router, check=needs_context)])
    state = agent.invoke({"messages": [("user", TASK)]})
    assert served_levels(state) == ["standard", "standard"]
    assert seen[0] == ("system", "human")  # the call as the model saw it, system prompt first


class Code(BaseModel):
    code: str = Field(pattern=r"^ZZ-\d{9}$")  # the server never writes this


def test_a_structured_output_parse_error_escalates_then_is_raised(server: LocalServer) -> None:
    router = make_router(server, scorer=lambda m: 0.1)
    agent = create_agent(router, tools=[], response_format=ToolStrategy(Code, handle_errors=False),
                         middleware=[CostRouterMiddleware(router, max_escalations=1)])
    with track_costs() as cb, pytest.raises(StructuredOutputValidationError):
        agent.invoke({"messages": [("user", "Give me the code")]})
    assert [r.tier for r in cb.records] == ["trivial", "standard"]


def _fallback(server: LocalServer) -> ChatOpenAI:
    return ChatOpenAI(model="fallback-model", base_url=server.base_url, api_key="x",
                      max_retries=0, stream_usage=True)


@pytest.mark.filterwarnings("ignore:no price is known for model 'fallback-model'")
@pytest.mark.parametrize("router_first", [True, False])
def test_composes_with_model_fallback_in_either_order(
    server: LocalServer, router_first: bool
) -> None:
    router = make_router(server, scorer=lambda m: 0.1)
    ours, theirs = CostRouterMiddleware(router), ModelFallbackMiddleware(_fallback(server))
    agent = create_agent(router, tools=[magic_number],
                         middleware=[ours, theirs] if router_first else [theirs, ours])
    for lv in LEVELS:
        server.set_faults(f"{lv}-model", FaultPlan(error_500=1.0))
    try:
        with track_costs() as cb:
            state = agent.invoke({"messages": [("user", TASK)]})
    finally:
        for lv in LEVELS:
            server.set_faults(f"{lv}-model", None)
    calls = ai(state)
    # the fallback model answered with its own settings: no routing kwargs leaked into it
    assert all(m.response_metadata["model_name"] == "fallback-model" for m in calls)
    assert all("costrouter" not in m.response_metadata for m in calls)
    assert calls[-1].text
    assert sum(1 for r in cb.records if r.status == "ok") == len(calls)


@pytest.mark.parametrize("router_first", [True, False])
def test_composes_with_budget_middleware_in_either_order(
    server: LocalServer, router_first: bool
) -> None:
    router = make_router(server, scorer=Seen())
    guard = BudgetGuard(budgets=[Budget.usd("5", per="day", scope="user")],
                        ledger=InMemoryLedger(), clock=lambda: 1_773_145_800.0)
    ours, budget = CostRouterMiddleware(router), BudgetMiddleware(guard)
    agent = create_agent(router, tools=[magic_number],
                         middleware=[ours, budget] if router_first else [budget, ours])
    state = agent.invoke({"messages": [("user", TASK)]}, {"metadata": {"user": "ann"}})
    assert served_levels(state) == ["trivial", "expert"]
    spent = guard.status({"user": "ann"}).per_budget["usd/day/user"].used
    billed = sum(Decimal(m.response_metadata["costrouter"]["cost_usd"]) for m in ai(state))
    assert spent == billed > 0  # reconciled to what every routed call cost


def test_a_callers_level_pin_wins_over_the_middleware(server: LocalServer) -> None:
    router = make_router(server, scorer=Seen())
    agent = create_agent(router, tools=[magic_number],
                         middleware=[CostRouterMiddleware(router)])
    state = agent.invoke({"messages": [("user", TASK)]},
                         {"configurable": {"costrouter_level": "complex"}})
    assert served_levels(state) == ["complex", "complex"]
    assert all(ROUTE_KEY not in m.response_metadata for m in ai(state))


def test_misconfiguration_fails_when_the_agent_is_built(server: LocalServer) -> None:
    with pytest.raises(ConfigError, match="ChatCostRouter"):
        CostRouterMiddleware(None)
    small = make_router(server)
    with pytest.raises(ConfigError, match="level"):
        CostRouterMiddleware(small, levels=["trivial", ""])  # an empty level name
    with pytest.raises(ConfigError):
        CostRouterMiddleware(small, levels=["bogus"])
    with pytest.raises(ConfigError, match="no level"):
        CostRouterMiddleware(small, levels=[])
    with pytest.raises(ConfigError, match="max_escalations"):
        CostRouterMiddleware(small, max_escalations=-1)
