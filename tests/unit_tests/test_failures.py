"""The failure classifier on the real exceptions ChatOpenAI raises against a local server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime

import httpx
import httpx2
import openai
import pytest
import uvicorn
from langchain_core.exceptions import ContextOverflowError, ModelRateLimitError
from langchain_openai import ChatOpenAI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from langchain_costrouter.exceptions import (
    CircuitOpenError,
    ProviderResponseError,
    QueueFullError,
)
from langchain_costrouter.resilience import Action, Classifier, classify, retry_after_of

pytestmark = pytest.mark.enable_socket


def _error(status: int, message: str, code: str | None, type_: str = "invalid_request_error",
           headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": type_, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


SCRIPTS = {
    "500": lambda: _error(500, "boom", None, "server_error"),
    "503": lambda: _error(503, "overloaded", None, "server_error"),
    "429": lambda: _error(429, "slow down", "rate_limit_exceeded", "requests",
                          {"retry-after": "7"}),
    "429ms": lambda: _error(429, "slow down", "rate_limit_exceeded", "requests",
                            {"retry-after-ms": "1500", "retry-after": "9"}),
    "429bare": lambda: _error(429, "slow down", "rate_limit_exceeded", "requests"),
    "quota": lambda: _error(429, "You exceeded your current quota", "insufficient_quota",
                            "insufficient_quota"),
    "context": lambda: _error(400, "This model's maximum context length is 8192 tokens",
                              "context_length_exceeded"),
    "400": lambda: _error(400, "bad temperature", None),
    "401": lambda: _error(401, "Incorrect API key provided", "invalid_api_key"),
    "403": lambda: _error(403, "forbidden", None),
    "404": lambda: _error(404, "model not found", "model_not_found"),
    "malformed": lambda: Response("{not json", media_type="application/json"),
    "html": lambda: Response("<html>bad gateway</html>", media_type="text/html"),
    "no_choices": lambda: JSONResponse({"id": "x", "object": "chat.completion", "created": 1,
                                        "model": "m", "choices": None}),
}


async def chat(request: Request) -> Response:
    script = request.headers.get("x-script", "500")
    if script == "slow":
        await asyncio.sleep(1.0)  # server side only; the client times out at 0.1 s
        return JSONResponse({})
    return SCRIPTS[script]()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # start-up only; no behaviour is timed
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.005)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(5)


def raised_by(base_url: str, script: str) -> BaseException:
    llm = ChatOpenAI(model="m", base_url=base_url, api_key="sk-test", max_retries=0,
                     timeout=0.1, default_headers={"x-script": script})
    with pytest.raises(Exception) as info:
        llm.invoke("hi")
    return info.value


@pytest.mark.parametrize(("script", "action", "reason", "retryable"), [
    ("500", Action.TRIP, "http 500", True),
    ("503", Action.TRIP, "http 503", True),
    ("slow", Action.TRIP, "timeout", True),
    ("malformed", Action.TRIP, "malformed response", False),
    ("html", Action.TRIP, "malformed response", False),
    ("no_choices", Action.TRIP, "malformed response", False),
    ("400", Action.FAIL_FAST, "http 400", False),
    ("401", Action.FAIL_FAST, "http 401", False),
    ("403", Action.FAIL_FAST, "http 403", False),
    ("404", Action.FAIL_FAST, "http 404", False),
    ("context", Action.FALLBACK, "context_length_exceeded", False),
])
def test_chatopenai_errors(base_url: str, script: str, action: Action, reason: str,
                           retryable: bool) -> None:
    verdict = classify(raised_by(base_url, script))
    assert (verdict.action, verdict.reason, verdict.retryable) == (action, reason, retryable)


def test_what_chatopenai_raises_for_malformed_json(base_url: str) -> None:
    # Pinned so a change in langchain-openai/openai is noticed here first.
    assert isinstance(raised_by(base_url, "malformed"), json.JSONDecodeError)
    assert isinstance(raised_by(base_url, "no_choices"), TypeError)


def test_429_honours_retry_after_seconds(base_url: str) -> None:
    exc = raised_by(base_url, "429")
    assert isinstance(exc, ModelRateLimitError) and isinstance(exc, openai.RateLimitError)
    verdict = classify(exc)
    assert (verdict.action, verdict.cooldown_s, verdict.retryable) == (Action.COOLDOWN, 7.0, True)
    assert not verdict.provider_wide


def test_429_prefers_retry_after_ms(base_url: str) -> None:
    assert classify(raised_by(base_url, "429ms")).cooldown_s == 1.5


def test_429_without_retry_after_uses_the_default(base_url: str) -> None:
    exc = raised_by(base_url, "429bare")
    assert Classifier(rate_limit_cooldown_s=2.5)(exc).cooldown_s == 2.5


def test_out_of_credit_takes_the_provider_out(base_url: str) -> None:
    verdict = Classifier(quota_cooldown_s=900)(raised_by(base_url, "quota"))
    assert verdict.action is Action.COOLDOWN
    assert verdict.reason == "insufficient_quota"
    assert (verdict.cooldown_s, verdict.retryable, verdict.provider_wide) == (900, False, True)


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens
    llm = ChatOpenAI(model="m", base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test",
                     max_retries=0, timeout=2)
    with pytest.raises(openai.APIConnectionError) as info:
        llm.invoke("hi")
    verdict = classify(info.value)
    assert (verdict.action, verdict.reason) == (Action.TRIP, "connection error")


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx2.Response:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    return httpx2.Response(status, json=body, headers=headers, request=request)


def test_sdk_errors_built_from_real_responses() -> None:
    quota = openai.APIStatusError("x", response=_response(402, {}), body={"message": "pay"})
    assert classify(quota).action is Action.COOLDOWN
    wrapped = {"error": {"code": "context_length_exceeded", "message": "too long"}}
    ctx = openai.BadRequestError("x", response=_response(400, wrapped), body=wrapped)
    assert classify(ctx).action is Action.FALLBACK
    request = httpx2.Request("POST", "http://127.0.0.1/")
    assert classify(openai.APITimeoutError(request)).reason == "timeout"
    assert classify(openai.APIConnectionError(request=request)).reason == "connection error"


def test_httpx_and_httpx2_transport_errors() -> None:
    for module in (httpx, httpx2):
        assert classify(module.ReadTimeout("slow")).reason == "timeout"
        assert classify(module.ConnectError("refused")).reason == "connection error"
        assert classify(module.RemoteProtocolError("eof")).action is Action.TRIP


def test_httpx_status_error_uses_the_response_status() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/")
    response = httpx.Response(502, request=request)
    exc = httpx.HTTPStatusError("bad gateway", request=request, response=response)
    assert classify(exc).reason == "http 502"


def test_wrapped_errors_are_found_through_the_cause_chain() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/")
    try:
        try:
            raise openai.APITimeoutError(request)
        except openai.APITimeoutError as inner:
            raise RuntimeError("tier failed") from inner
    except RuntimeError as outer:
        assert classify(outer).reason == "timeout"


def test_langchain_core_and_own_errors() -> None:
    assert classify(ContextOverflowError("too long")).action is Action.FALLBACK
    assert classify(ModelRateLimitError("429")).action is Action.COOLDOWN
    assert classify(ProviderResponseError("no choices")).reason == "malformed response"
    assert classify(CircuitOpenError("m")).action is Action.FALLBACK
    assert classify(QueueFullError("full")).action is Action.FALLBACK


def test_unknown_errors_fail_fast_rather_than_hide_bugs() -> None:
    verdict = classify(KeyError("oops"))
    assert (verdict.action, verdict.reason) == (Action.FAIL_FAST, "unclassified KeyError")


def test_retry_after_http_date_from_response_headers() -> None:
    when = datetime(2026, 1, 1, 12, 0, 30, tzinfo=timezone.utc)
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    exc = openai.RateLimitError(
        "x", response=_response(429, {}, {"retry-after": format_datetime(when, usegmt=True)}),
        body=None)
    assert retry_after_of(exc, now=lambda: now) == 30.0
    assert Classifier(wall_clock=lambda: now)(exc).cooldown_s == 30.0


def test_a_plain_function_replaces_the_classifier() -> None:
    from langchain_costrouter.resilience import Breakers, Verdict

    b = Breakers(classify=lambda exc: Verdict(Action.FALLBACK, "mine"), clock=lambda: 0.0)
    permit = b.allow("m")
    assert permit is not None
    assert b.failure(permit, TimeoutError()).reason == "mine"
    assert b.health()["m"].failures == 0
