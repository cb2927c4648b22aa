"""A hostile OpenAI-compatible endpoint: impossible usage, streams cut before their usage chunk,
error texts that echo the key, and a bad ``stop`` answered as the caller's 400.

The local server's fault plans play the provider over real HTTP (loopback). The first tests
check the server says what the plan says; the end-to-end ones route through
``ChatCostRouter`` and expect the bad report to count as the provider's fault: the call falls
back to the next model, nothing is billed from the report, a token budget is not driven
negative.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.budget import Budget
from langchain_costrouter.costs import CostTrackingCallbackHandler
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.resilience import BreakerConfig, Breakers
from langchain_costrouter.testing import FaultPlan, LocalServer, ServerConfig

pytestmark = pytest.mark.enable_socket

HOSTILE = [-1_000_000, 10**12, 1e300, "lots", 12.5]
LEVELS = ("trivial", "standard", "complex", "expert")


def serve(plan: FaultPlan) -> LocalServer:
    config = ServerConfig(latency_scale=0).with_faults({"cheap": plan})
    return LocalServer(config).start()


@pytest.fixture
def hostile() -> Iterator[Any]:
    started: list[LocalServer] = []

    def start(plan: FaultPlan) -> LocalServer:
        server = serve(plan)
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()


def post(server: LocalServer, model: str = "cheap", **body: Any) -> httpx.Response:
    payload = {"model": model, "messages": [{"role": "user", "content": "tell me about tea"}],
               **body}
    return httpx.post(server.base_url + "/chat/completions", json=payload,
                      headers={"Authorization": "Bearer test-key-123"}, timeout=10)


def sse(text: str) -> list[Any]:
    return [json.loads(line[6:]) for line in text.splitlines()
            if line.startswith("data: ") and line != "data: [DONE]"]


# -- the server plays the hostile provider ------------------------------------------------------
@pytest.mark.parametrize("value", HOSTILE)
def test_bad_usage_is_sent_in_the_json_body_and_the_stream_usage_chunk(
        hostile: Any, value: Any) -> None:
    server = hostile(FaultPlan(bad_usage=1.0, usage_value=value))
    body = post(server).json()
    assert body["usage"]["completion_tokens"] == value
    assert body["usage"]["prompt_tokens"] > 0  # the rest stays honest, the total agrees
    if not isinstance(value, str):
        assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + value
    streamed = post(server, stream=True, stream_options={"include_usage": True})
    events = sse(streamed.text)
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == value
    assert streamed.text.rstrip().endswith("data: [DONE]")


def test_bad_usage_can_target_any_usage_field(hostile: Any) -> None:
    server = hostile(FaultPlan(bad_usage=1.0, usage_field="prompt_tokens_details.cached_tokens",
                               usage_value=10**9))
    usage = post(server).json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 10**9
    assert usage["completion_tokens"] > 0
    with pytest.raises(ConfigError, match="usage_field"):
        FaultPlan(usage_field="tokens")
    with pytest.raises(ConfigError, match="JSON scalar"):
        FaultPlan(usage_value=[1])  # type: ignore[arg-type]
    plan = FaultPlan.from_dict({"bad_usage": 0.5, "usage_value": "lots"})
    assert FaultPlan.from_dict(plan.as_dict()) == plan


def test_a_stream_cut_before_its_usage_chunk_delivers_the_whole_answer(hostile: Any) -> None:
    server = hostile(FaultPlan(cut_before_usage=1.0))
    whole = post(server).json()  # a JSON answer comes whole, without a usage report
    assert whole["usage"] is None
    text_of = lambda evs: "".join(  # noqa: E731
        (c["delta"].get("content") or "") for e in evs for c in e["choices"])
    request = {"model": "cheap", "messages": [{"role": "user", "content": "tell me about tea"}],
               "stream": True, "stream_options": {"include_usage": True}}
    received = ""
    # the connection closes where the usage chunk was due
    with (pytest.raises(httpx.HTTPError),
          httpx.stream("POST", server.base_url + "/chat/completions", json=request,
                       timeout=10) as r):
        for chunk in r.iter_text():
            received += chunk
    events = sse(received)
    assert events[-1]["choices"][0]["finish_reason"] == "stop"  # the answer was complete
    assert all(e.get("usage") is None for e in events)  # ... but never priced by the provider
    assert text_of(events) == whole["choices"][0]["message"]["content"]
    assert "[DONE]" not in received


def test_an_error_that_echoes_the_key(hostile: Any) -> None:
    server = hostile(FaultPlan(echo_key=1.0, echo_status=500))
    r = post(server)
    assert r.status_code == 500
    assert "Bearer test-key-123" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("stop", "why"),
    [(5, "an integer"), ([1], "stop[0]"), (["a", "b", "c", "d", "e"], "maximum length 4"),
     ({"x": 1}, "an object"), (True, "a boolean")],
)
def test_a_bad_stop_is_the_callers_400_not_a_500(hostile: Any, stop: Any, why: str) -> None:
    server = hostile(FaultPlan())
    r = post(server, stop=stop)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == "stop" and err["type"] == "invalid_request_error" and why in err[
        "message"]


def test_good_stops_still_cut_the_reply(hostile: Any) -> None:
    server = hostile(FaultPlan())
    full = post(server).json()["choices"][0]["message"]["content"]
    word = full.split()[3]
    for stop in (word, [word], ["zzzz-never", word], None, []):
        r = post(server, stop=stop)
        assert r.status_code == 200
        got = r.json()["choices"][0]["message"]["content"]
        assert got == (full if not stop else full[: full.find(word)])


# -- end to end through the router --------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def router(server: LocalServer) -> ChatCostRouter:
    models = [
        {"name": n, "provider": f"prov-{n}", "model": n, "base_url": server.base_url,
         "api_key_env": None, "context_window": 128_000,
         "prices": Prices(input=Decimal(i + 1), output=Decimal(i + 1))}
        for i, n in enumerate(["cheap", "backup"])
    ]
    catalog = Catalog.build({"models": models, "levels": {lv: ["cheap", "backup"]
                                                           for lv in LEVELS}})
    breakers = Breakers(BreakerConfig(failure_threshold=3), clock=Clock())
    return ChatCostRouter(catalog=catalog, breakers=breakers, max_tokens=60)


@pytest.mark.parametrize("value", HOSTILE)
def test_impossible_usage_falls_back_and_bills_only_the_honest_answer(
        hostile: Any, value: Any) -> None:
    server = hostile(FaultPlan(bad_usage=1.0, usage_value=value))
    handler = CostTrackingCallbackHandler()
    msg = router(server).invoke("tell me about tea", config={"callbacks": [handler]})
    meta = msg.response_metadata["costrouter"]
    assert meta["tier"] == "backup"
    first = meta["attempts"][0]
    assert first["tier"] == "cheap" and first["status"] == "error"
    assert "InvalidUsageError" in first["error"] and "[trip]" in first["error"]
    um = msg.usage_metadata
    assert um is not None and 0 < um["output_tokens"] <= 60
    assert 0 < Decimal(meta["cost_usd"]) < Decimal("0.01")  # the backup's honest bill
    assert Decimal(0) < handler.total_cost < Decimal("0.01")
    assert all(r.input_tokens >= 0 and r.output_tokens >= 0 for r in handler.records)


@pytest.mark.parametrize("value", [-1_000_000, 10**12])
def test_impossible_usage_does_not_move_a_token_budget(hostile: Any, value: Any) -> None:
    server = hostile(FaultPlan(bad_usage=1.0, usage_value=value))
    guard = router(server).with_budget([Budget.tokens(100_000)])
    msgs = [guard.invoke("tell me about tea") for _ in range(3)]
    status = guard.guard.status()  # type: ignore[attr-defined]
    honest = sum(m.usage_metadata["total_tokens"] for m in msgs)
    assert 0 < status.used == honest  # the backup's real tokens; never negative, never 10**12
    assert all(m.response_metadata["costrouter"]["tier"] == "backup" for m in msgs)


def test_impossible_usage_counts_against_the_providers_breaker(hostile: Any) -> None:
    server = hostile(FaultPlan(bad_usage=1.0, usage_value=-5))
    r = router(server)
    for _ in range(3):
        assert r.invoke("tell me about tea").response_metadata["costrouter"]["tier"] == "backup"
    assert r.health()["cheap"].state == "open"


def test_a_stream_with_impossible_usage_is_billed_from_counted_tokens(hostile: Any) -> None:
    server = hostile(FaultPlan(bad_usage=1.0, usage_value=-1_000_000))
    chunks = list(router(server).stream("tell me about tea"))
    meta = next(c.response_metadata["costrouter"] for c in chunks
                if "costrouter" in c.response_metadata)
    assert meta["usage_estimated"] is True  # counted by us, not the provider's -1,000,000
    assert Decimal(meta["cost_usd"]) > 0


def test_a_bad_stop_never_trips_the_providers_breaker(hostile: Any) -> None:
    """What the server answers (400 ``stop``) is the caller's fault, whatever the router does."""
    server = hostile(FaultPlan())
    r = router(server)
    for _ in range(4):
        with pytest.raises(Exception) as info:
            r.invoke("hi", stop=5)  # type: ignore[arg-type]
        assert "500" not in str(info.value)
    assert r.invoke("hello").response_metadata["costrouter"]["tier"] == "cheap"


def test_a_lone_surrogate_is_refused_before_any_request(hostile: Any) -> None:
    from langchain_costrouter.exceptions import InvalidTextError

    server = hostile(FaultPlan())
    with pytest.raises(InvalidTextError, match="lone surrogate"):
        router(server).invoke("caf\udce9 au lait")
    assert sum(s["requests"] for s in server.stats().values()) == 0
