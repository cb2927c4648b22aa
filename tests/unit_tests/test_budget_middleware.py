"""BudgetMiddleware in a real create_agent tool loop with a function-backed tool-calling model."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import tool

from langchain_costrouter.budget import Budget, BudgetGuard, BudgetMiddleware, InMemoryLedger
from langchain_costrouter.exceptions import BudgetExceededError
from langchain_costrouter.testing import FunctionChatModel

T0 = 1_773_145_800.0


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def tool_then_answer(messages: list[BaseMessage], info: dict[str, Any]) -> AIMessage | str:
    if not any(isinstance(m, ToolMessage) for m in messages):
        return AIMessage("", tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "c1"}])
    return f"the sum is {messages[-1].content}"


def _guard(*budgets: Budget, **kw: Any) -> BudgetGuard:
    return BudgetGuard(budgets=list(budgets), ledger=InMemoryLedger(), clock=lambda: T0, **kw)


def _total(messages: list[BaseMessage]) -> int:
    return sum(m.usage_metadata["total_tokens"] for m in messages
               if isinstance(m, AIMessage) and m.usage_metadata)


def test_agent_loop_charges_every_model_call_per_user() -> None:
    model = FunctionChatModel(fn=tool_then_answer, model_name="gpt-4.1-mini")
    guard = _guard(Budget.tokens(10_000, per="day", scope="user"),
                   Budget.usd("1", per="day"), default_max_tokens=200)
    agent = create_agent(model, tools=[add], middleware=[BudgetMiddleware(guard)])
    out = agent.invoke({"messages": [("human", "what is 2+3?")]},
                       {"metadata": {"user": "carol"}})
    assert out["messages"][-1].content == "the sum is 5"
    assert len(model.calls) == 2
    st = guard.status({"user": "carol"})
    assert st.per_budget["tokens/day/user"].used == _total(out["messages"])
    assert st.per_budget["usd/day"].used > 0
    assert guard.status({"user": "dave"}).per_budget["tokens/day/user"].used == 0
    # The estimate counted the tool schema: the model saw it as a bound tool.
    assert model.calls[0]["tools"][0]["function"]["name"] == "add"
    # Every model call of the loop was bounded through its model settings.
    assert [c["max_tokens"] for c in model.calls] == [200, 200]


async def test_async_agent_loop_and_refusal_stops_the_agent() -> None:
    model = FunctionChatModel(fn=tool_then_answer, model_name="gpt-4.1-mini")
    guard = _guard(Budget.tokens(10_000, per="day"), default_max_tokens=200)
    agent = create_agent(model, tools=[add], middleware=[BudgetMiddleware(guard)])
    out = await agent.ainvoke({"messages": [("human", "what is 2+3?")]})
    assert guard.status().used == _total(out["messages"])

    tight = _guard(Budget.tokens(150, per="day"), default_max_tokens=200)
    agent = create_agent(FunctionChatModel(fn=tool_then_answer, model_name="gpt-4.1-mini"),
                         tools=[add], middleware=[BudgetMiddleware(tight)])
    with pytest.raises(BudgetExceededError, match="tokens/day"):
        await agent.ainvoke({"messages": [("human", "what is 2+3?")]})
    assert 0 < tight.status().used <= 150  # the first call ran and was reconciled


def test_a_failing_model_call_releases_its_reservation() -> None:
    def boom(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        raise RuntimeError("provider down")

    guard = _guard(Budget.tokens(10_000, per="day"))
    agent = create_agent(FunctionChatModel(fn=boom, model_name="gpt-4.1-mini"), tools=[add],
                         middleware=[BudgetMiddleware(guard)])
    with pytest.raises(RuntimeError, match="provider down"):
        agent.invoke({"messages": [("human", "hi")]})
    assert guard.status().used == 0


def test_downgrade_swaps_in_the_cheapest_fitting_model() -> None:
    big = FunctionChatModel(fn=tool_then_answer, model_name="gpt-4.1")
    nano = FunctionChatModel(fn=tool_then_answer, model_name="gpt-4.1-nano")
    guard = _guard(Budget.usd("0.0004", per="day"), on_exceeded="downgrade",
                   default_max_tokens=200)
    agent = create_agent(big, tools=[add],
                         middleware=[BudgetMiddleware(guard, downgrade_to=[nano])])
    out = agent.invoke({"messages": [("human", "what is 2+3?")]})
    assert out["messages"][-1].content == "the sum is 5"
    assert big.calls == [] and len(nano.calls) == 2
