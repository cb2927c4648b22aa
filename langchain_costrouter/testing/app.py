"""The ASGI app of the local OpenAI-compatible server (Starlette routes, raw ASGI chat handler).

Routes: ``POST /v1/chat/completions`` (JSON or SSE), ``GET /v1/models``, ``GET /health``,
``GET /admin/stats``, ``POST /admin/faults`` ``{"model": ..., "faults": {...} | null}``,
``POST /admin/reset``. The chat handler is raw ASGI so that a fault can close the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.pricing.tokens import count_messages, count_text
from langchain_costrouter.testing import faults as F
from langchain_costrouter.testing.config import ServerConfig
from langchain_costrouter.testing.replies import Reply, RequestError, make_reply, stop_sequences
from langchain_costrouter.testing.state import ServerState, Ticket
from langchain_costrouter.testing.stream import completion_body, sse_events

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_TRANSPORT = "costrouter.transport"


class ConnectionDropped(ConnectionResetError):
    """Raised in-process (no socket to close) where a real server would drop the connection."""


def prompt_tokens(body: dict[str, Any]) -> int:
    """Prompt tokens in OpenAI chat framing, as :func:`tokens.count_messages` counts them."""
    from langchain_core.messages import convert_to_messages

    tools = body.get("tools") or None
    try:
        return count_messages(convert_to_messages(body["messages"]), tools=tools)
    except Exception:  # odd shapes: count the JSON
        return 3 + count_text(json.dumps([body["messages"], tools], ensure_ascii=False))


class _Exchange:
    """One HTTP exchange: read the body, answer, or break the connection."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope, self.receive, self.send = scope, receive, send

    async def body(self) -> bytes:
        chunks = []
        while True:
            msg = await self.receive()
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                return b"".join(chunks)

    async def start(self, status: int, headers: dict[str, str]) -> None:
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    async def chunk(self, data: bytes, more: bool = True) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode()
        h = {"content-type": "application/json", "content-length": str(len(data))}
        await self.start(status, {**h, **(headers or {})})
        await self.chunk(data, more=False)

    async def drop(self) -> None:
        """Close the socket now; nothing more is sent."""
        transport = self.scope.get(_TRANSPORT)
        if transport is None:
            raise ConnectionDropped("costrouter fault: connection dropped")
        transport.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.receive(), 1.0)  # let the server see the disconnect

    async def wait_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass


class ChatCompletions:
    """``POST /v1/chat/completions``."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ex = _Exchange(scope, receive, send)
        raw = await ex.body()
        try:
            body = _validate(raw)
        except RequestError as e:
            self.state.record_error("-", 400)
            return await ex.json(400, F.invalid_request(str(e), e.param))
        model = body["model"]
        behaviour = self.state.behaviour(model)
        if behaviour is None:
            self.state.record_error(model, 404)
            return await ex.json(404, F.model_not_found(model))
        ticket = self.state.begin(model, behaviour)
        ok, p_tok, c_tok = False, 0, 0
        try:
            ok, p_tok, c_tok = await self._answer(ex, body, model, ticket)
        finally:
            self.state.end(model, ok=ok, prompt_tokens=p_tok, completion_tokens=c_tok)

    async def _answer(
        self, ex: _Exchange, body: dict[str, Any], model: str, ticket: Ticket
    ) -> tuple[bool, int, int]:
        cfg, b = self.state.config, self.state.behaviour(model)
        assert b is not None
        headers = {
            "x-costrouter-provider": b.provider,
            "x-costrouter-request-index": str(ticket.index),
            "x-costrouter-latency-ms": f"{ticket.latency_s * 1000:.3f}",
            "openai-processing-ms": str(round(ticket.latency_s * 1000)),
        }
        if ticket.latency_s > 0:
            await cfg.sleep(ticket.latency_s)
        fault = ticket.fault
        if fault == "hang" and await self._hang(ex, b.faults.hang_s):
            return False, 0, 0  # the client gave up: nothing was answered
        try:
            p_tok = prompt_tokens(body)
            reply = make_reply(body, model, cfg.seed, b)
        except RequestError as e:
            self.state.record_error(model, 400)
            await ex.json(400, F.invalid_request(str(e), e.param), headers)
            return False, 0, 0
        if b.context_window is not None and p_tok > b.context_window:
            self.state.record_error(model, 400)
            await ex.json(400, F.context_length_exceeded(b.context_window, p_tok), headers)
            return False, 0, 0
        if fault in ("error_500", "rate_limit", "context_length", "insufficient_quota", "drop",
                     "echo_key"):
            await self._error(ex, fault, model, b.faults, p_tok, b.context_window, headers)
            return False, 0, 0
        stream = bool(body.get("stream"))
        usage = _usage(p_tok, reply)
        if fault == "bad_usage":
            usage = F.hostile_usage(usage, b.faults)
        comp = completion_body(body, model, reply, usage)
        if fault == "cut_before_usage" and not stream:
            comp["usage"] = None
        if fault == "malformed":
            bad = b'data: {"id": "chatcmpl-broken", "choices": [{\n\n' if stream else b'{"id": "'
            ctype = "text/event-stream" if stream else "application/json"
            await ex.start(200, {"content-type": ctype, **headers})
            await ex.chunk(bad, more=False)
            return False, 0, 0
        if not stream:
            if fault == "stream_cut":
                data = json.dumps(comp).encode()
                await ex.start(200, {"content-type": "application/json",
                                     "content-length": str(len(data)), **headers})
                await ex.chunk(data[: len(data) // 2])
                await ex.drop()
                return False, 0, 0
            await self._pace(reply, b.tokens_per_s, whole=True)
            await ex.json(200, comp, headers)
            return True, p_tok, reply.completion_tokens
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        await ex.start(200, {"content-type": "text/event-stream", "cache-control": "no-cache",
                             **headers})
        events = sse_events(comp, reply, usage, include_usage)
        # A cut stream never reaches its finish chunk nor [DONE]; a cut before the usage chunk
        # sends the whole answer and its finish chunk, then nothing more.
        cut = min(b.faults.cut_after_chunks, len(events) - 3) if fault == "stream_cut" else None
        if fault == "cut_before_usage":
            cut = len(events) - (2 if include_usage else 1)
        for i, event in enumerate(events):
            if cut is not None and i >= cut:
                await ex.drop()
                return False, 0, 0
            await ex.chunk(event)
            if i > 0:
                await self._pace(reply, b.tokens_per_s, whole=False)
        await ex.chunk(b"", more=False)
        return True, p_tok, reply.completion_tokens

    async def _pace(self, reply: Reply, tokens_per_s: float, *, whole: bool) -> None:
        scale = self.state.config.latency_scale
        if tokens_per_s <= 0 or scale <= 0:
            return
        n = reply.completion_tokens if whole else 1
        await self.state.config.sleep(n * scale / tokens_per_s)

    async def _hang(self, ex: _Exchange, hang_s: float) -> bool:
        """Hang for ``hang_s``; ``True`` when the client left (or the server closed) first."""
        sleep = asyncio.ensure_future(self.state.config.sleep(hang_s))
        tasks = [
            sleep,
            asyncio.ensure_future(ex.wait_disconnect()),
            asyncio.ensure_future(self.state.wait_closing()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
        return sleep not in done

    async def _error(
        self,
        ex: _Exchange,
        fault: str,
        model: str,
        plan: F.FaultPlan,
        p_tok: int,
        window: int | None,
        headers: dict[str, str],
    ) -> None:
        if fault == "drop":
            await ex.drop()
        elif fault == "error_500":
            await ex.json(500, F.server_error(), headers)
        elif fault == "rate_limit":
            retry = {
                "retry-after": str(max(1, round(plan.retry_after_s))),
                "retry-after-ms": str(round(plan.retry_after_s * 1000)),
                "x-ratelimit-remaining-requests": "0",
            }
            await ex.json(429, F.rate_limited(model, plan.retry_after_s), {**headers, **retry})
        elif fault == "insufficient_quota":
            await ex.json(plan.quota_status, F.insufficient_quota(), headers)
        elif fault == "echo_key":
            auth = dict(ex.scope.get("headers") or []).get(b"authorization", b"").decode()
            await ex.json(plan.echo_status, F.echoed_key(auth), headers)
        else:  # context_length
            limit = window or max(p_tok - 1, 1)
            await ex.json(400, F.context_length_exceeded(limit, p_tok), headers)


def _usage(p_tok: int, reply: Reply) -> dict[str, Any]:
    c_tok = reply.completion_tokens
    return {
        "prompt_tokens": p_tok,
        "completion_tokens": c_tok,
        "total_tokens": p_tok + c_tok,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _validate(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly.)"
        ) from None
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise RequestError("you must provide a model parameter", "model")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise RequestError("Missing required parameter: 'messages'.", "messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in msgs):
        raise RequestError("Each message must be an object with a 'role'.", "messages")
    if body.get("n") not in (None, 1):
        raise RequestError(f"n={body.get('n')!r} is not supported; only n=1", "n")
    stop_sequences(body.get("stop"))
    for key in ("max_tokens", "max_completion_tokens"):
        v = body.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise RequestError(f"Invalid '{key}': {v!r}; expected an integer >= 1.", key)
    return body


# other routes ---------------------------------------------------------------------------


def _routes(state: ServerState) -> list[Route]:
    async def models(_: Request) -> JSONResponse:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": b.provider}
            for name, b in state.models().items()
        ]
        return JSONResponse({"object": "list", "data": data})

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse(state.stats())

    async def set_faults(request: Request) -> JSONResponse:
        try:
            payload = await request.json()
            model = payload["model"]
            raw = payload.get("faults")
            plan = None if raw is None else F.FaultPlan.from_dict(raw)
        except (ValueError, KeyError, TypeError, ConfigError) as e:
            return JSONResponse(F.invalid_request(f"bad fault plan: {e}"), status_code=400)
        state.set_faults(model, plan)
        return JSONResponse({"model": model, "faults": (plan or F.NO_FAULTS).as_dict()})

    async def reset(_: Request) -> JSONResponse:
        state.reset_stats()
        return JSONResponse({"reset": True})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "time": time.time()})

    # lanes: flex tier on the chat route, OpenAI and Anthropic batch APIs (testing/batches.py)
    from langchain_costrouter.testing.batches import BatchServer
    from langchain_costrouter.testing.flex import FlexGate, FlexScript, flex_routes
    from langchain_costrouter.testing.message_batches import message_batch_routes
    from langchain_costrouter.testing.openai_batches import openai_routes

    state.batches, state.flex = BatchServer(state), FlexScript()  # type: ignore[attr-defined]
    lane_routes = [*openai_routes(state.batches), *message_batch_routes(state.batches),  # type: ignore[attr-defined]
                   *flex_routes(state.flex)]  # type: ignore[attr-defined]
    return [
        *lane_routes,
        Route("/v1/chat/completions", FlexGate(ChatCompletions(state), state.flex),  # type: ignore[attr-defined]
              methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/admin/stats", stats, methods=["GET"]),
        Route("/admin/faults", set_faults, methods=["POST"]),
        Route("/admin/reset", reset, methods=["POST"]),
    ]


class ServerApp:
    """The ASGI app; ``state`` gives stats and run-time fault changes."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.state = ServerState(config)
        self.starlette = Starlette(routes=_routes(self.state))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # uvicorn passes its RequestResponseCycle.send; its transport lets a fault drop
            # the connection. In-process transports have none.
            cycle = getattr(send, "__self__", None)
            scope[_TRANSPORT] = getattr(cycle, "transport", None)
        await self.starlette(scope, receive, send)


def server_app(config: ServerConfig | None = None) -> ServerApp:
    """The ASGI app of a server with ``config`` (default: every model name, zero faults)."""
    return ServerApp(config or ServerConfig())
