"""ChatOpenAI over real loopback HTTP against LocalServer: replies, usage, faults, controls."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from langchain_costrouter.exceptions import PortInUseError
from langchain_costrouter.pricing.tokens import count_text
from langchain_costrouter.testing.config import ModelBehaviour
from langchain_costrouter.testing.faults import FaultPlan
from langchain_costrouter.testing.server import LocalServer, ServerConfig

# Our conftest may load the plugin too; registering it twice is harmless.
pytest_plugins = ["langchain_costrouter.testing.pytest_plugin"]

ServerFactory = Any


def chat(server: LocalServer, model: str = "gpt-5.4-mini", **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=server.base_url, api_key="test-key",
                      max_retries=0, stream_usage=True, **kw)


@tool
def get_weather(location: str) -> str:
    """Get the current weather of a location."""
    return "sunny"


@tool
def convert_currency(amount: float, currency: str) -> str:
    """Convert an amount of money to another currency."""
    return "ok"


def test_invoke_reports_real_usage(costrouter_server: LocalServer) -> None:
    msg = chat(costrouter_server).invoke("Why is the sky blue?")
    assert isinstance(msg, AIMessage) and msg.text
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["output_tokens"] == count_text(msg.text)
    assert msg.response_metadata["model_name"] == "gpt-5.4-mini"


def test_stream_has_usage_exactly_once(costrouter_server: LocalServer) -> None:
    chunks = list(chat(costrouter_server).stream("Describe a lighthouse at night."))
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert isinstance(full, AIMessageChunk) and full.usage_metadata is not None
    assert full.usage_metadata["output_tokens"] == count_text(full.text) > 0
    assert full.text == chat(costrouter_server).invoke("Describe a lighthouse at night.").text


def test_tools_and_named_tool_choice(costrouter_server: LocalServer) -> None:
    llm = chat(costrouter_server)
    auto = llm.bind_tools([get_weather, convert_currency]).invoke("What's the weather in Paris?")
    assert [(c["name"], c["args"]) for c in auto.tool_calls] == [
        ("get_weather", {"location": "Paris"})
    ]
    named = llm.bind_tools([get_weather, convert_currency], tool_choice="convert_currency")
    msg = named.invoke("Change 12.5 into 'EUR' please")
    assert msg.tool_calls[0]["name"] == "convert_currency"
    assert msg.tool_calls[0]["args"] == {"amount": 12.5, "currency": "EUR"}
    streamed = None
    for c in named.stream("Change 12.5 into 'EUR' please"):
        streamed = c if streamed is None else streamed + c
    assert isinstance(streamed, AIMessageChunk)
    assert streamed.tool_calls[0]["args"] == {"amount": 12.5, "currency": "EUR"}


def test_structured_output_json_schema(costrouter_server: LocalServer) -> None:
    class Person(BaseModel):
        name: str = Field(description="full name")
        age: int = Field(ge=0, le=130)
        tags: list[str]

    out = chat(costrouter_server).with_structured_output(Person, method="json_schema").invoke(
        "Extract: 'Grace Hopper' was 85."
    )
    assert isinstance(out, Person)
    assert out.name == "Grace Hopper" and out.age == 85 and out.tags


FAULTS: list[tuple[FaultPlan, type[Exception], int | None]] = [
    (FaultPlan(script=("error_500",)), openai.InternalServerError, 500),
    (FaultPlan(script=("rate_limit",)), openai.RateLimitError, 429),
    (FaultPlan(script=("insufficient_quota",)), openai.RateLimitError, 429),
    (FaultPlan(script=("insufficient_quota",), quota_status=402), openai.APIStatusError, 402),
    (FaultPlan(script=("context_length",)), openai.BadRequestError, 400),
    (FaultPlan(script=("hang",), hang_s=30), openai.APITimeoutError, None),
    (FaultPlan(script=("drop",)), openai.APIConnectionError, None),
    (FaultPlan(script=("malformed",)), ValueError, None),
]


@pytest.mark.parametrize(("plan", "exc", "status"), FAULTS,
                         ids=lambda v: v.script[0] if isinstance(v, FaultPlan) else None)
def test_each_fault_reaches_the_client_as_its_error(
    costrouter_server_factory: ServerFactory, plan: FaultPlan, exc: type[Exception],
    status: int | None,
) -> None:
    server = costrouter_server_factory(ServerConfig(models={"m": ModelBehaviour(faults=plan)}))
    llm = chat(server, "m", timeout=0.3)
    with pytest.raises(exc) as info:
        llm.invoke("hello")
    if status is not None:
        assert getattr(info.value, "status_code", None) == status
    kind = plan.script[0]
    assert server.stats()["m"]["faults"] == {kind: 1}
    assert llm.invoke("hello").text  # the script is spent: the next call succeeds


def test_stream_cut_breaks_the_stream_without_done(
    costrouter_server_factory: ServerFactory,
) -> None:
    plan = FaultPlan(script=("stream_cut",), cut_after_chunks=3)
    server = costrouter_server_factory(ServerConfig(models={"m": ModelBehaviour(faults=plan)}))
    got: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for c in chat(server, "m").stream("Tell me about rivers."):
            got.append(c.text)
    assert "".join(got)  # some text arrived before the cut
    stats = server.stats()["m"]
    assert stats["faults"] == {"stream_cut": 1} and stats["ok"] == 0


def test_faults_change_at_run_time(costrouter_server_factory: ServerFactory) -> None:
    server = costrouter_server_factory(ServerConfig.from_catalog(latency_scale=0))
    llm = chat(server, "gpt-5.4-nano")
    server.set_faults("gpt-5.4-nano", FaultPlan(error_500=1.0))
    with pytest.raises(openai.InternalServerError):
        llm.invoke("hi")
    httpx.post(server.url + "/admin/faults", json={"model": "gpt-5.4-nano", "faults": None})
    assert llm.invoke("hi").text
    httpx.post(server.url + "/admin/faults",
               json={"model": "gpt-5.4-nano", "faults": {"rate_limit": 1.0}})
    with pytest.raises(openai.RateLimitError):
        llm.invoke("hi")
    stats = httpx.get(server.url + "/admin/stats").json()["gpt-5.4-nano"]
    assert stats["requests"] == 3 and stats["ok"] == 1
    assert stats["faults"] == {"error_500": 1, "rate_limit": 1}


def test_same_seed_same_replies_and_latencies(costrouter_server_factory: ServerFactory) -> None:
    def run(seed: int) -> list[tuple[str, str]]:
        cfg = ServerConfig(models={"m": ModelBehaviour(p50_latency_ms=2)}, seed=seed)
        server = costrouter_server_factory(cfg)
        llm = chat(server, "m", include_response_headers=True)
        out = []
        for p in ("What is rust?", "Name three rivers.", "What is rust?"):
            msg = llm.invoke(p)
            out.append((msg.text, msg.response_metadata["headers"]["x-costrouter-latency-ms"]))
        return out

    a, b, c = run(3), run(3), run(4)
    assert a == b and a != c
    assert a[0][0] == a[2][0] and a[0][1] != a[2][1]  # same prompt, same reply; own latency


async def test_async_context_manager_and_in_flight_counts() -> None:
    cfg = ServerConfig(models={"m": ModelBehaviour(p50_latency_ms=30, latency_sigma=0)})
    async with LocalServer(cfg) as server:
        llm = chat(server, "m")
        replies = await asyncio.gather(*(llm.ainvoke(f"question {i}") for i in range(8)))
        assert all(r.text for r in replies)
        # a request leaves in_flight just after its last byte is sent: wait for that (bounded)
        deadline = time.monotonic() + 5
        while server.stats()["m"]["in_flight"] and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        stats = server.stats()["m"]
    assert stats["requests"] == 8 and stats["in_flight"] == 0
    assert stats["max_in_flight"] >= 2
    assert not server.running


def test_models_endpoint(costrouter_server: LocalServer) -> None:
    page = openai.OpenAI(base_url=costrouter_server.base_url, api_key="x").models.list()
    ids = {m.id for m in page.data}
    assert {"gpt-5.4", "gemini-3.5-flash", "claude-opus-5-5", "claude-opus-5.5"} <= ids


@pytest.fixture
def taken_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def test_port_in_use_is_a_clear_error(taken_port: int) -> None:
    with pytest.raises(PortInUseError, match=f"127.0.0.1:{taken_port}"):
        LocalServer(port=taken_port).start()


def test_cli_port_in_use_exits_2_with_one_line(taken_port: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "langchain_costrouter.testing.server", "--port", str(taken_port)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(taken_port) in lines[0] and "in use" in lines[0]
