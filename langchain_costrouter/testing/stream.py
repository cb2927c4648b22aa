"""OpenAI wire shapes: the chat completion body and its SSE chunks (text and tool-call deltas)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from langchain_costrouter.pricing.tokens import get_encoding
from langchain_costrouter.testing.replies import Reply


def _completion_id(body: dict[str, Any], model: str, reply: Reply) -> str:
    key = json.dumps([model, body.get("messages"), reply.content], sort_keys=True, default=str)
    return "chatcmpl-" + hashlib.sha256(key.encode()).hexdigest()[:29]


def completion_body(
    body: dict[str, Any], model: str, reply: Reply, usage: dict[str, Any]
) -> dict[str, Any]:
    """The ``chat.completion`` object (the base of the stream's chunks too)."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    return {
        "id": _completion_id(body, model, reply),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": usage,
        "service_tier": "flex" if body.get("service_tier") == "flex" else "default",
        "system_fingerprint": "fp_costrouter",
    }


def text_pieces(text: str) -> list[str]:
    """``text`` split at token boundaries (one token per piece, whole UTF-8 characters)."""
    enc = get_encoding("o200k_base")
    pieces: list[str] = []
    buf = b""
    for tok in enc.encode(text, disallowed_special=()):
        buf += enc.decode_single_token_bytes(tok)
        try:
            pieces.append(buf.decode("utf-8"))
            buf = b""
        except UnicodeDecodeError:
            continue
    if buf:
        pieces.append(buf.decode("utf-8", errors="replace"))
    return pieces


def _split(s: str, parts: int) -> list[str]:
    step = max(1, -(-len(s) // parts))
    return [s[i : i + step] for i in range(0, len(s), step)] or [""]


def sse_events(
    comp: dict[str, Any], reply: Reply, usage: dict[str, Any], include_usage: bool
) -> list[bytes]:
    """Every SSE event of a streamed reply, ending with ``data: [DONE]``."""
    base = {
        "id": comp["id"],
        "object": "chat.completion.chunk",
        "created": comp["created"],
        "model": comp["model"],
        "service_tier": comp["service_tier"],
        "system_fingerprint": comp["system_fingerprint"],
    }
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        data = {**base, "choices": [choice], **extra}
        return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"

    events = [chunk({"role": "assistant", "content": "" if reply.content is not None else None,
                     "refusal": None})]
    events += [chunk({"content": p}) for p in text_pieces(reply.content or "")]
    for i, tc in enumerate(reply.tool_calls):
        fn = tc["function"]
        head = {"index": i, "id": tc["id"], "type": "function",
                "function": {"name": fn["name"], "arguments": ""}}
        events.append(chunk({"tool_calls": [head]}))
        for part in _split(fn["arguments"], 4):
            events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
    events.append(chunk({}, reply.finish_reason))
    if include_usage:
        last = {**base, "choices": [], "usage": usage}
        events.append(b"data: " + json.dumps(last).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events
