"""ChatCostRouter as the model of a LangChain agent (LangGraph underneath), over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.tools import tool

from langchain_costrouter import Catalog, ChatCostRouter, track_costs
from langchain_costrouter.testing import LocalServer, ServerConfig


@tool
def magic_number(input: int) -> int:
    """Return the magic number for an input integer."""
    return input * 7


@pytest.fixture(scope="module")
def router() -> Iterator[ChatCostRouter]:
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as server:
        yield ChatCostRouter(catalog=Catalog.default().served_by(server.base_url))


def test_agent_tool_loop_counts_every_model_call_once(router: ChatCostRouter) -> None:
    agent = create_agent(router, tools=[magic_number])
    with track_costs() as cb, get_usage_metadata_callback() as usage:
        state = agent.invoke({"messages": [("user", "What is the magic number for 3?")]})
    msgs = state["messages"]
    calls = [m for m in msgs if isinstance(m, AIMessage)]
    assert calls[0].tool_calls and calls[0].tool_calls[0]["args"] == {"input": 3}
    assert any(isinstance(m, ToolMessage) and m.content == "21" for m in msgs)
    assert calls[-1].text  # a text answer after the tool result
    assert all("costrouter" in m.response_metadata for m in calls)  # every step was routed
    # one record and one usage entry per model call, no double counting through the graph
    assert cb.summary().requests == len(calls)
    total_in = sum(m.usage_metadata["input_tokens"] for m in calls if m.usage_metadata)
    assert sum(u["input_tokens"] for u in usage.usage_metadata.values()) == total_in


def test_agent_streams_router_chunks_in_messages_mode(router: ChatCostRouter) -> None:
    agent = create_agent(router, tools=[magic_number])
    chunks = [
        chunk
        for chunk, _meta in agent.stream(
            {"messages": [("user", "What is the magic number for 5?")]}, stream_mode="messages"
        )
        if isinstance(chunk, AIMessageChunk)
    ]
    assert chunks, "the router's stream reaches LangGraph's messages mode"
    routed = [c for c in chunks if "costrouter" in c.response_metadata]
    assert routed and all(c.response_metadata["costrouter"]["tier"] for c in routed)
