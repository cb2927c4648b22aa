"""Anthropic Message Batches on the local server (shares :class:`BatchServer` state).

Routes: ``POST /v1/messages/batches`` ``{"requests": [{"custom_id", "params"}]}``,
``GET /v1/messages/batches``, ``GET /v1/messages/batches/{id}``,
``POST /v1/messages/batches/{id}/cancel``, ``GET /v1/messages/batches/{id}/results`` (JSONL,
one ``{"custom_id", "result": {"type": succeeded|errored|canceled|expired, ...}}`` per line).
A bad request is refused at creation with a 400 ``invalid_request_error``, as Anthropic does.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from langchain_costrouter.testing.batches import (
    ANTHROPIC_MAX_BYTES,
    ANTHROPIC_MAX_REQUESTS,
    BatchServer,
    ServedBatch,
)

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _err(status: int, message: str, kind: str = "invalid_request_error") -> Response:
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}},
                        status_code=status)


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def to_openai_body(params: dict[str, Any]) -> dict[str, Any]:
    """Anthropic Messages params as the OpenAI chat body the reply generator reads."""
    messages: list[dict[str, Any]] = []
    system = params.get("system")
    if isinstance(system, list):
        system = " ".join(str(p.get("text", "")) for p in system if isinstance(p, dict))
    if system:
        messages.append({"role": "system", "content": system})
    for m in params.get("messages") or []:
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        messages.append({"role": m.get("role"), "content": content})
    body: dict[str, Any] = {"model": params.get("model"), "messages": messages,
                            "max_tokens": params.get("max_tokens")}
    for key in ("temperature", "stop_sequences"):
        if key in params:
            body["stop" if key == "stop_sequences" else key] = params[key]
    return body


def _message(chat: dict[str, Any]) -> dict[str, Any]:
    choice = chat["choices"][0]
    usage = chat["usage"]
    return {
        "id": "msg_" + secrets.token_hex(12), "type": "message", "role": "assistant",
        "model": chat["model"],
        "content": [{"type": "text", "text": choice["message"].get("content") or ""}],
        "stop_reason": "max_tokens" if choice.get("finish_reason") == "length" else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": usage["prompt_tokens"],
                  "output_tokens": usage["completion_tokens"],
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


def message_batch(b: ServedBatch, base: str) -> dict[str, Any]:
    counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    if b.results is None:
        counts["processing"] = len(b.requests)
    else:
        names = {"succeeded": "succeeded", "errored": "errored", "cancelled": "canceled",
                 "expired": "expired"}
        for r in b.results:
            counts[names[r["outcome"]]] += 1
    ended = b.status == "ended"
    return {
        "id": b.id, "type": "message_batch",
        "processing_status": b.status, "request_counts": counts,
        "ended_at": _iso(b.ended_at) if ended else None,
        "created_at": _iso(b.created_at), "expires_at": _iso(b.created_at + 86400),
        "archived_at": None,
        "cancel_initiated_at": _iso(b.created_at) if b.cancel_requested else None,
        "results_url": f"{base}/v1/messages/batches/{b.id}/results" if ended else None,
    }


def _result_line(r: dict[str, Any]) -> str:
    outcome = r["outcome"]
    if outcome == "succeeded":
        result: dict[str, Any] = {"type": "succeeded", "message": _message(r["body"])}
    elif outcome == "errored":
        result = {"type": "errored", "error": {"type": "error", "error": {
            "type": r["error"]["type"], "message": r["error"]["message"]}}}
    else:
        result = {"type": "canceled" if outcome == "cancelled" else "expired"}
    text = json.dumps({"custom_id": r["custom_id"], "result": result})
    return text[: len(text) // 2] if r.get("malformed") else text


def message_batch_routes(server: BatchServer) -> list[Route]:
    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def create(request: Request) -> Response:
        raw = await request.body()
        try:
            payload = json.loads(raw)
            requests = payload["requests"]
            assert isinstance(requests, list) and requests
        except (ValueError, KeyError, TypeError, AssertionError):
            return _err(400, "requests: Field required (a non-empty list)")
        script = server.script
        limit = script.max_requests or ANTHROPIC_MAX_REQUESTS
        if len(requests) > limit:
            return _err(400, f"requests: a batch holds at most {limit} requests, "
                             f"got {len(requests)}")
        if len(raw) > (script.max_bytes or ANTHROPIC_MAX_BYTES):
            return _err(413, f"request size {len(raw)} exceeds the batch limit",
                        "request_too_large")
        seen: set[str] = set()
        reqs: list[tuple[str, dict[str, Any]]] = []
        for i, r in enumerate(requests):
            cid = r.get("custom_id") if isinstance(r, dict) else None
            params = r.get("params") if isinstance(r, dict) else None
            if not isinstance(cid, str) or not _CUSTOM_ID.match(cid):
                return _err(400, f"requests.{i}.custom_id: must match ^[a-zA-Z0-9_-]{{1,64}}$")
            if cid in seen:
                return _err(400, f"requests.{i}.custom_id: duplicate custom_id {cid!r}")
            if not isinstance(params, dict) or not params.get("max_tokens"):
                return _err(400, f"requests.{i}.params.max_tokens: Field required")
            seen.add(cid)
            reqs.append((cid, to_openai_body(params)))
        b = ServedBatch(id="msgbatch_" + secrets.token_hex(12), kind="anthropic",
                        requests=reqs, script=script, created_at=time.time(),
                        status="in_progress")
        server.add(b)
        return JSONResponse(message_batch(b, base(request)))

    def _get(request: Request) -> ServedBatch | Response:
        """The message batch the path names, or Anthropic's 404 answer."""
        b = server.batches.get(request.path_params["bid"])
        if b is None or b.kind != "anthropic":
            return _err(404, f"message batch {request.path_params['bid']!r} not found",
                        "not_found_error")
        return b

    async def retrieve(request: Request) -> Response:
        b = _get(request)
        if isinstance(b, Response):
            return b
        server.advance(b)
        return JSONResponse(message_batch(b, base(request)))

    async def cancel(request: Request) -> Response:
        b = _get(request)
        if isinstance(b, Response):
            return b
        with server.lock:
            if b.status == "in_progress":
                b.cancel_requested = True
                b.status = "canceling"
        return JSONResponse(message_batch(b, base(request)))

    async def results(request: Request) -> Response:
        b = _get(request)
        if isinstance(b, Response):
            return b
        if b.results is None:
            return _err(400, f"message batch {b.id} has not ended; results are not ready")
        body = "\n".join(_result_line(r) for r in b.results) + "\n"
        return Response(body.encode(), media_type="application/binary")

    async def listing(request: Request) -> Response:
        items = [message_batch(b, base(request)) for b in reversed(list(server.batches.values()))
                 if b.kind == "anthropic"][:100]
        return JSONResponse({"data": items, "has_more": False,
                             "first_id": items[0]["id"] if items else None,
                             "last_id": items[-1]["id"] if items else None})

    return [
        Route("/v1/messages/batches", create, methods=["POST"]),
        Route("/v1/messages/batches", listing, methods=["GET"]),
        Route("/v1/messages/batches/{bid}", retrieve, methods=["GET"]),
        Route("/v1/messages/batches/{bid}/cancel", cancel, methods=["POST"]),
        Route("/v1/messages/batches/{bid}/results", results, methods=["GET"]),
    ]
