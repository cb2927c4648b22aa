"""Anthropic Message Batches: ``POST /v1/messages/batches`` ``{"requests": [{"custom_id",
"params"}]}``; poll ``GET /v1/messages/batches/{id}`` until ``processing_status`` is
``ended`` (``in_progress`` / ``canceling`` before); read the JSONL at ``results_url``: one
``{"custom_id", "result": {"type": "succeeded" | "errored" | "canceled" | "expired"}}`` per
line, in no particular order. ``request_counts`` holds processing / succeeded / errored /
canceled / expired.

Requests are kept in OpenAI chat shape in the job store and turned into Messages params here
(system messages become ``system``; ``max_tokens`` is required).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import httpx

from langchain_costrouter.batch.transport import (
    Remote,
    ResultLine,
    check,
    count,
    malformed,
)
from langchain_costrouter.exceptions import BatchTransportError
from langchain_costrouter.redact import scrub_text

ANTHROPIC_VERSION = "2023-06-01"


def to_params(body: dict[str, Any], default_max_tokens: int) -> dict[str, Any]:
    """An OpenAI chat body as Anthropic Messages params."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for m in body["messages"]:
        role, content = m.get("role"), m.get("content")
        if isinstance(content, list):
            content = [p for p in content if isinstance(p, dict)]
        if role in ("system", "developer"):
            system.append(content if isinstance(content, str) else
                          " ".join(str(p.get("text", "")) for p in content or []))
        else:
            messages.append({"role": "assistant" if role == "assistant" else "user",
                             "content": content if content is not None else ""})
    params: dict[str, Any] = {
        "model": body["model"],
        "max_tokens": body.get("max_tokens") or body.get("max_completion_tokens")
        or default_max_tokens,
        "messages": messages,
    }
    if system:
        params["system"] = "\n\n".join(system)
    if body.get("temperature") is not None:
        params["temperature"] = body["temperature"]
    if body.get("stop"):
        stop = body["stop"]
        params["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    return params


def anthropic_chat(message: dict[str, Any]) -> dict[str, Any]:
    """A Messages answer in the normalized shape of :func:`transport.openai_chat`.

    Anthropic's ``input_tokens`` leaves out cache reads and writes; LangChain's input count
    includes them, so they are added back.
    """
    usage = message["usage"]
    cached = count(usage.get("cache_read_input_tokens") or 0, "cache_read_input_tokens")
    written = count(usage.get("cache_creation_input_tokens") or 0, "cache_creation_input_tokens")
    text = "".join(str(p.get("text", "")) for p in message["content"]
                   if isinstance(p, dict) and p.get("type") == "text")
    return {
        "id": message.get("id"), "model": message.get("model"), "content": text,
        "finish_reason": message.get("stop_reason"), "service_tier": "batch",
        "usage": {"input": count(usage["input_tokens"], "input_tokens") + cached + written,
                  "output": count(usage["output_tokens"], "output_tokens"),
                  "cached": cached, "cache_write": written},
    }


class AnthropicBatches:
    """Message batches on ``base_url`` (``https://api.anthropic.com/v1`` or a local server)."""

    kind = "anthropic"

    def __init__(self, base_url: str, api_key: str | None, *, provider: str = "anthropic",
                 default_max_tokens: int = 1024, client: httpx.Client | None = None,
                 timeout_s: float = 120.0) -> None:
        self.base = base_url.rstrip("/")
        self.provider = provider
        self.default_max_tokens = default_max_tokens
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        self.http = client or httpx.Client(timeout=timeout_s, headers=headers)

    def __repr__(self) -> str:
        return f"AnthropicBatches({self.base!r})"

    def create(self, key: str, requests: Sequence[tuple[str, dict[str, Any]]]) -> Remote:
        payload = {"requests": [{"custom_id": cid,
                                 "params": to_params(body, self.default_max_tokens)}
                                for cid, body in requests]}
        resp = self.http.post(f"{self.base}/messages/batches", json=payload)
        return self._remote(check(resp, self.provider, "create"))

    def find(self, key: str, since: float, n: int) -> Remote | None:
        """A batch of ``n`` requests created since ``since`` (Anthropic batches carry no
        metadata, so a batch is matched by its size and creation time)."""
        resp = self.http.get(f"{self.base}/messages/batches", params={"limit": 100})
        for b in check(resp, self.provider, "list").get("data") or []:
            created = _ts(b.get("created_at"))
            total = sum(int(v) for v in (b.get("request_counts") or {}).values())
            if created is not None and created >= since - 5 and total == n:
                return self._remote(b)
        return None

    def retrieve(self, remote_id: str) -> Remote:
        resp = self.http.get(f"{self.base}/messages/batches/{remote_id}")
        return self._remote(check(resp, self.provider, "retrieve", remote_id))

    def cancel(self, remote_id: str) -> Remote:
        resp = self.http.post(f"{self.base}/messages/batches/{remote_id}/cancel")
        return self._remote(check(resp, self.provider, "cancel", remote_id))

    def results(self, remote: Remote) -> Iterator[ResultLine]:
        url = remote.results_url or f"{self.base}/messages/batches/{remote.id}/results"
        resp = self.http.get(url)
        if resp.status_code >= 400:
            raise BatchTransportError(self.provider, "results", resp.status_code,
                                      scrub_text(resp.text))
        for raw in resp.text.splitlines():
            if raw.strip():
                yield self._line(raw)

    @staticmethod
    def _line(raw: str) -> ResultLine:
        try:
            obj = json.loads(raw)
            cid, result = obj["custom_id"], obj["result"]
            if not isinstance(cid, str):
                raise ValueError("custom_id is not a string")
            kind = result["type"]
            if kind == "succeeded":
                return ResultLine(cid, "succeeded", anthropic_chat(result["message"]))
            if kind == "errored":
                err = (result.get("error") or {}).get("error") or result.get("error") or {}
                return ResultLine(cid, "failed", None, f"{err.get('type')}: {err.get('message')}")
            if kind in ("canceled", "expired"):
                return ResultLine(cid, "cancelled" if kind == "canceled" else "expired", None,
                                  f"the request was {kind} before it was processed")
            raise ValueError(f"unknown result type {kind!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            return malformed(raw, f"{type(e).__name__}: {e}")

    @staticmethod
    def _remote(b: dict[str, Any]) -> Remote:
        status = str(b.get("processing_status"))
        return Remote(
            id=str(b["id"]), status=status, ended=status == "ended",
            counts={k: int(v) for k, v in (b.get("request_counts") or {}).items()},
            results_url=b.get("results_url"),
        )


def _ts(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
