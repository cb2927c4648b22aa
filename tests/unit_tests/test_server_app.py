"""The local provider server's app, called in-process (no socket)."""

from __future__ import annotations

import json
import statistics
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import convert_to_messages

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.pricing.tokens import count_messages, count_text
from langchain_costrouter.testing.app import server_app
from langchain_costrouter.testing.config import ModelBehaviour, ServerConfig
from langchain_costrouter.testing.faults import FaultPlan
from langchain_costrouter.testing.inprocess import ASGITransport

URL = "/v1/chat/completions"


class SleepRecorder:
    """Stands in for asyncio.sleep: records the simulated delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def client_for(config: ServerConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=ASGITransport(app=server_app(config)), base_url="http://t")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(ServerConfig(unknown_models="404", models={"m": ModelBehaviour()})) as c:
        yield c


def req(content: str = "What is a cache?", **kw: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": content}], **kw}


def sse(text: str) -> list[dict[str, Any]]:
    lines = [ln[len("data: "):] for ln in text.split("\n\n") if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(x) for x in lines[:-1]]


# validation -----------------------------------------------------------------------------


async def test_bad_json_body_is_400_openai_error(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({**req(), "n": 2}, "n"),
        ({**req(), "max_tokens": 0}, "max_tokens"),
    ],
)
async def test_invalid_requests_are_400_naming_the_param(
    client: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    r = await client.post(URL, json=body)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == param


async def test_unknown_model_is_404_model_not_found(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={**req(), "model": "nope"})
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "model_not_found" and "nope" in err["message"]


async def test_unknown_model_is_served_when_configured() -> None:
    async with client_for(ServerConfig(unknown_models="serve")) as c:
        r = await c.post(URL, json={**req(), "model": "anything"})
    assert r.status_code == 200 and r.json()["model"] == "anything"


# replies and usage ----------------------------------------------------------------------


async def test_usage_is_real_token_counts(client: httpx.AsyncClient) -> None:
    body = req("Explain how a CPU cache works.")
    r = (await client.post(URL, json=body)).json()
    text = r["choices"][0]["message"]["content"]
    assert r["usage"]["prompt_tokens"] == count_messages(convert_to_messages(body["messages"]))
    assert r["usage"]["completion_tokens"] == count_text(text) > 0
    assert r["usage"]["total_tokens"] == r["usage"]["prompt_tokens"] + count_text(text)


async def test_max_tokens_truncates_with_finish_reason_length(client: httpx.AsyncClient) -> None:
    full = (await client.post(URL, json=req())).json()
    assert full["choices"][0]["finish_reason"] == "stop"
    cut = (await client.post(URL, json=req(max_tokens=7))).json()
    text = cut["choices"][0]["message"]["content"]
    assert cut["choices"][0]["finish_reason"] == "length"
    assert count_text(text) == cut["usage"]["completion_tokens"] <= 7
    assert full["choices"][0]["message"]["content"].startswith(text)
    alt = (await client.post(URL, json=req(max_completion_tokens=7))).json()
    assert alt["choices"][0]["message"]["content"] == text


async def test_stop_sequence_cuts_the_reply(client: httpx.AsyncClient) -> None:
    full = (await client.post(URL, json=req())).json()["choices"][0]["message"]["content"]
    word = full.split()[3]
    cut = (await client.post(URL, json=req(stop=[word]))).json()["choices"][0]["message"]
    assert cut["content"] == full[: full.index(word)]


async def test_stream_matches_json_and_ends_with_one_usage_chunk(
    client: httpx.AsyncClient,
) -> None:
    plain = (await client.post(URL, json=req())).json()
    r = await client.post(URL, json=req(stream=True, stream_options={"include_usage": True}))
    assert r.headers["content-type"].startswith("text/event-stream")
    chunks = sse(r.text)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == plain["usage"]
    assert all(c["usage"] is None for c in chunks[:-1])
    bare = sse((await client.post(URL, json=req(stream=True))).text)
    assert all("usage" not in c for c in bare)


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["location", "days"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    },
]


async def test_tool_call_args_come_from_the_prompt(client: httpx.AsyncClient) -> None:
    body = req("What is the weather in San Francisco, CA for 3 days?", tools=TOOLS)
    r = (await client.post(URL, json=body)).json()
    choice = r["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "San Francisco, CA", "days": 3}
    assert r["usage"]["completion_tokens"] == count_text(call["function"]["arguments"])


@pytest.mark.parametrize(
    ("prompt", "choice", "expected"),
    [
        ("Hello!", "auto", None),
        ("Hello!", "none", None),
        ("Hello!", "required", "get_weather"),
        ("Hello!", {"type": "function", "function": {"name": "add"}}, "add"),
        ("Please add 2 and 5", "auto", "add"),
    ],
)
async def test_tool_choice(
    client: httpx.AsyncClient, prompt: str, choice: Any, expected: str | None
) -> None:
    r = (await client.post(URL, json=req(prompt, tools=TOOLS, tool_choice=choice))).json()
    calls = r["choices"][0]["message"].get("tool_calls") or []
    assert [c["function"]["name"] for c in calls][:1] == ([expected] if expected else [])


async def test_after_a_tool_result_the_reply_is_text(client: httpx.AsyncClient) -> None:
    messages = [
        {"role": "user", "content": "Please add 2 and 5"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "c1", "type": "function",
            "function": {"name": "add", "arguments": '{"a":2,"b":5}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "7"},
    ]
    r = (await client.post(URL, json={"model": "m", "messages": messages, "tools": TOOLS})).json()
    msg = r["choices"][0]["message"]
    assert "tool_calls" not in msg and "7" in msg["content"]


async def test_streamed_tool_call_deltas_rebuild_the_call(client: httpx.AsyncClient) -> None:
    body = req("Please add 2 and 5", tools=TOOLS, tool_choice="required")
    plain = (await client.post(URL, json=body)).json()["choices"][0]["message"]["tool_calls"][0]
    chunks = sse((await client.post(URL, json={**body, "stream": True})).text)
    deltas = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks
              if c["choices"][0]["delta"].get("tool_calls")]
    assert deltas[0]["id"] == plain["id"] and deltas[0]["function"]["arguments"] == ""
    assert deltas[0]["function"]["name"] == "add" and len(deltas) > 2
    assert all("id" not in d and d["index"] == 0 for d in deltas[1:])
    assert "".join(d["function"]["arguments"] for d in deltas) == plain["function"]["arguments"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_json_schema_response_is_schema_valid(client: httpx.AsyncClient) -> None:
    from typing import Literal

    from pydantic import BaseModel, Field

    class Item(BaseModel):
        sku: str
        qty: int = Field(ge=1, le=9)

    class Order(BaseModel):
        customer: str
        status: Literal["open", "shipped"]
        total: float = Field(gt=0)
        rush: bool
        items: list[Item] = Field(min_length=1)
        note: str | None

    fmt = {"type": "json_schema",
           "json_schema": {"name": "Order", "schema": Order.model_json_schema()}}
    prompt = "Order for 'Ada Lovelace' costing 19.5, status shipped, 4 lamps"
    r = (await client.post(URL, json=req(prompt, response_format=fmt))).json()
    order = Order.model_validate_json(r["choices"][0]["message"]["content"])
    assert order.customer == "Ada Lovelace" and order.status == "shipped"
    assert order.total == 19.5 and order.items[0].qty == 4  # numbers fill fields in order


async def test_json_object_uses_the_keys_named_in_the_prompt(client: httpx.AsyncClient) -> None:
    prompt = "Tell me a joke. Return JSON with 'setup' and 'punchline' keys."
    r = await client.post(URL, json=req(prompt, response_format={"type": "json_object"}))
    assert set(json.loads(r.json()["choices"][0]["message"]["content"])) == {"setup", "punchline"}


async def test_reply_kinds(client: httpx.AsyncClient) -> None:
    async def text(p: str) -> str:
        r = await client.post(URL, json=req(p))
        return str(r.json()["choices"][0]["message"]["content"])

    label = await text("Classify the sentiment as positive, negative or neutral: I love it")
    assert label in {"positive", "negative", "neutral"}
    assert "```python" in await text("Write a python function that reverses a list")
    assert count_text(await text("hi")) < 20


async def test_default_output_lengths_are_realistic(client: httpx.AsyncClient) -> None:
    lengths = []
    for i in range(40):
        r = await client.post(URL, json=req(f"Explain topic number {i} of distributed systems."))
        lengths.append(r.json()["usage"]["completion_tokens"])
    assert 130 <= statistics.median(lengths) <= 300
    assert min(lengths) >= 60 and max(lengths) <= 600
    assert len(set(lengths)) > 20


# determinism and latency ----------------------------------------------------------------


async def _run(config: ServerConfig, prompts: list[str]) -> tuple[list[str], list[str]]:
    async with client_for(config) as c:
        out = [await c.post(URL, json=req(p)) for p in prompts]
    return ([r.json()["choices"][0]["message"]["content"] for r in out],
            [r.headers["x-costrouter-latency-ms"] for r in out])


async def test_same_seed_same_replies_and_latencies() -> None:
    prompts = ["What is a cache?", "Explain TCP.", "What is a cache?"]

    def cfg(seed: int) -> ServerConfig:
        m = {"m": ModelBehaviour(p50_latency_ms=100)}
        return ServerConfig(models=m, seed=seed, sleep=SleepRecorder())

    a, b, c = await _run(cfg(1), prompts), await _run(cfg(1), prompts), await _run(cfg(2), prompts)
    assert a == b
    assert a[0][0] == a[0][2]  # same messages, same reply
    assert a[0] != c[0] and a[1] != c[1]


async def test_latency_is_lognormal_around_scaled_p50() -> None:
    sleep = SleepRecorder()
    cfg = ServerConfig(models={"m": ModelBehaviour(p50_latency_ms=400, latency_sigma=0.3)},
                       latency_scale=0.5, sleep=sleep)
    async with client_for(cfg) as c:
        for _ in range(300):
            await c.post(URL, json=req())
    assert len(sleep.delays) == 300
    assert 0.18 <= statistics.median(sleep.delays) <= 0.22
    assert statistics.pstdev(sleep.delays) > 0.02
    zero = ServerConfig(models={"m": ModelBehaviour(p50_latency_ms=400)}, latency_scale=0,
                        sleep=SleepRecorder())
    async with client_for(zero) as c:
        await c.post(URL, json=req())
    assert zero.sleep.delays == []  # type: ignore[attr-defined]


# faults ---------------------------------------------------------------------------------


async def _statuses(config: ServerConfig, n: int) -> list[int]:
    async with client_for(config) as c:
        return [(await c.post(URL, json=req())).status_code for _ in range(n)]


async def test_fault_rate_is_seeded_and_deterministic() -> None:
    def cfg(seed: int) -> ServerConfig:
        plan = FaultPlan(error_500=0.3)
        return ServerConfig(models={"m": ModelBehaviour(faults=plan)}, seed=seed)

    a, b = await _statuses(cfg(7), 200), await _statuses(cfg(7), 200)
    c = await _statuses(cfg(8), 200)
    assert a == b and a != c
    assert set(a) == {200, 500}
    assert 40 <= a.count(500) <= 80


async def test_rate_limit_bursts_every_nth_window() -> None:
    plan = FaultPlan(burst_window=3, burst_every=2, retry_after_s=2)
    statuses = await _statuses(ServerConfig(models={"m": ModelBehaviour(faults=plan)}), 12)
    assert statuses == [200] * 3 + [429] * 3 + [200] * 3 + [429] * 3


async def test_error_bodies_and_headers() -> None:
    plan = FaultPlan(script=("rate_limit", "insufficient_quota", "context_length", "error_500"),
                     retry_after_s=2, quota_status=402)
    async with client_for(ServerConfig(models={"m": ModelBehaviour(faults=plan)})) as c:
        rl, quota, ctx, err = [await c.post(URL, json=req()) for _ in range(4)]
    assert rl.status_code == 429 and rl.headers["retry-after"] == "2"
    assert rl.json()["error"]["code"] == "rate_limit_exceeded"
    assert quota.status_code == 402 and quota.json()["error"]["code"] == "insufficient_quota"
    assert ctx.status_code == 400 and ctx.json()["error"]["code"] == "context_length_exceeded"
    assert err.status_code == 500 and err.json()["error"]["type"] == "server_error"


async def test_malformed_and_dropped_responses() -> None:
    plan = FaultPlan(script=("malformed", "drop", "stream_cut"))
    async with client_for(ServerConfig(models={"m": ModelBehaviour(faults=plan)})) as c:
        bad = await c.post(URL, json=req())
        assert bad.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            bad.json()
        with pytest.raises(httpx.RemoteProtocolError):
            await c.post(URL, json=req())
        with pytest.raises(httpx.RemoteProtocolError):
            await c.post(URL, json=req(stream=True))


async def test_context_window_gives_a_real_400() -> None:
    cfg = ServerConfig(models={"m": ModelBehaviour(context_window=20)})
    async with client_for(cfg) as c:
        assert (await c.post(URL, json=req("short"))).status_code == 200
        r = await c.post(URL, json=req("a much longer prompt " * 10))
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"


async def test_admin_endpoints_change_faults_and_report_stats(client: httpx.AsyncClient) -> None:
    r = await client.post("/admin/faults", json={"model": "m", "faults": {"error_500": 1.0}})
    assert r.status_code == 200 and r.json()["faults"]["error_500"] == 1.0
    assert (await client.post(URL, json=req())).status_code == 500
    await client.post("/admin/faults", json={"model": "m", "faults": None})
    assert (await client.post(URL, json=req())).status_code == 200
    stats = (await client.get("/admin/stats")).json()["m"]
    assert stats["requests"] == 2 and stats["ok"] == 1 and stats["faults"] == {"error_500": 1}
    assert stats["in_flight"] == 0 and stats["max_in_flight"] == 1
    bad = await client.post("/admin/faults", json={"model": "m", "faults": {"error_500": 2}})
    assert bad.status_code == 400 and "error_500=2" in bad.json()["error"]["message"]


async def test_models_endpoint_lists_configured_models() -> None:
    cfg = ServerConfig.from_catalog(Catalog.default())
    async with client_for(cfg) as c:
        data = (await c.get("/v1/models")).json()["data"]
    ids = {d["id"] for d in data}
    assert {"gpt-5.4", "claude-sonnet-5-5", "claude-sonnet-5.5", "gemini-3.5-flash"} <= ids


# configuration --------------------------------------------------------------------------


def test_from_catalog_takes_latency_and_window_from_specs() -> None:
    cat = Catalog.default()
    cfg = ServerConfig.from_catalog(cat, latency_scale=0.1,
                                    faults={"claude-sonnet-5.5": FaultPlan(error_500=0.5)})
    spec = cat["claude-sonnet-5.5"]
    for key in (spec.model, spec.name):
        b = cfg.models[key]
        assert b.p50_latency_ms == spec.p50_latency_ms
        assert b.context_window == spec.context_window and b.faults.error_500 == 0.5
    assert cfg.latency_scale == 0.1 and cfg.unknown_models == "404"
    with pytest.raises(ConfigError, match="no-such"):
        ServerConfig.from_catalog(cat, faults={"no-such": FaultPlan()})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"error_500": 1.5}, "error_500=1.5"),
        ({"error_500": 0.6, "drop": 0.6}, "sum to at most 1"),
        ({"quota_status": 403}, "quota_status=403"),
        ({"burst_window": 3}, "burst_window=3"),
        ({"script": ("explode",)}, "explode"),
    ],
)
def test_fault_plan_validation_names_the_value(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        FaultPlan(**kwargs)


def test_server_config_validation() -> None:
    with pytest.raises(ConfigError, match="latency_scale=-1"):
        ServerConfig(latency_scale=-1)
    with pytest.raises(ConfigError, match="unknown_models"):
        ServerConfig(unknown_models="maybe")  # type: ignore[arg-type]
