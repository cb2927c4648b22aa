"""Batch transports: what a provider batch is, and the OpenAI wire format of it.

OpenAI-compatible endpoints take a JSONL file uploaded to ``POST /files`` with
``purpose=batch`` (one ``{"custom_id", "method": "POST", "url": "/v1/chat/completions",
"body"}`` per line), then ``POST /batches`` ``{"input_file_id", "endpoint",
"completion_window": "24h", "metadata"}``. A batch moves through ``validating``,
``in_progress``, ``finalizing`` to ``completed``, ``failed``, ``expired`` or ``cancelled``
(via ``cancelling``). Answers are in ``output_file_id``; failed, expired (``batch_expired``)
and cancelled (``batch_cancelled``) requests in ``error_file_id``; line order is not input
order, so lines are matched by ``custom_id``.

Every provider answer is untrusted: a line that is not JSON or lacks its fields becomes a
``malformed`` result naming the item when its ``custom_id`` can be read at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from langchain_costrouter.exceptions import BatchTransportError, UnknownBatchError
from langchain_costrouter.redact import scrub_text

_CUSTOM_ID_RE = re.compile(r'"custom_id"\s*:\s*"([^"\\]{1,64})"')


@dataclass(frozen=True)
class Remote:
    """A provider batch as last read."""

    id: str
    status: str
    """The provider's own status string."""
    ended: bool
    counts: dict[str, int] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    results_url: str | None = None
    input_file_id: str | None = None
    errors: str | None = None
    """Why the whole batch failed validation, when it did."""


@dataclass(frozen=True)
class ResultLine:
    """One result line, normalized: ``kind`` is succeeded, failed, expired, cancelled or
    malformed; ``chat`` the answer (content, finish_reason, usage) when succeeded."""

    custom_id: str | None
    kind: str
    chat: dict[str, Any] | None = None
    message: str = ""


class Transport(Protocol):
    """A provider batch API."""

    kind: str

    def create(self, key: str, requests: Sequence[tuple[str, dict[str, Any]]]) -> Remote: ...
    def find(self, key: str, since: float, n: int) -> Remote | None: ...
    def retrieve(self, remote_id: str) -> Remote: ...
    def cancel(self, remote_id: str) -> Remote: ...
    def results(self, remote: Remote) -> Iterator[ResultLine]: ...


def check(resp: httpx.Response, provider: str, action: str, remote_id: str = "") -> Any:
    """The JSON of a 2xx answer; else a typed error (404 on a batch: unknown id)."""
    if resp.status_code == 404 and remote_id:
        raise UnknownBatchError(remote_id, f"{provider} batches")
    if resp.status_code >= 400:
        raise BatchTransportError(provider, action, resp.status_code, scrub_text(resp.text))
    try:
        return resp.json()
    except ValueError:
        detail = "the answer is not JSON: " + scrub_text(resp.text[:200])
        raise BatchTransportError(provider, action, resp.status_code, detail) from None


def malformed(raw: str, why: str) -> ResultLine:
    m = _CUSTOM_ID_RE.search(raw)
    return ResultLine(m.group(1) if m else None, "malformed", None,
                      f"unreadable result line ({why}): {scrub_text(raw[:120])!r}")


def count(value: Any, name: str) -> int:
    """A token count from a provider: a non-negative int, else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"usage.{name} is {value!r}, not a token count")
    return value


def openai_chat(body: dict[str, Any]) -> dict[str, Any]:
    """The parts of a ``chat.completion`` we keep; ``ValueError``/``KeyError`` if unusable."""
    choice = body["choices"][0]
    msg = choice["message"]
    usage = body["usage"]
    details = usage.get("prompt_tokens_details") or {}
    return {
        "id": body.get("id"), "model": body.get("model"),
        "content": msg.get("content") or "", "finish_reason": choice.get("finish_reason"),
        "service_tier": body.get("service_tier"),
        "usage": {"input": count(usage["prompt_tokens"], "prompt_tokens"),
                  "output": count(usage["completion_tokens"], "completion_tokens"),
                  "cached": count(details.get("cached_tokens") or 0, "cached_tokens")},
    }


class OpenAIBatches:
    """Files + ``/batches`` on an OpenAI-compatible ``base_url`` (``.../v1``)."""

    kind = "openai"

    def __init__(self, base_url: str, api_key: str | None, *, provider: str = "openai",
                 client: httpx.Client | None = None, timeout_s: float = 120.0) -> None:
        self.base = base_url.rstrip("/")
        self.provider = provider
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = client or httpx.Client(timeout=timeout_s, headers=headers)

    def __repr__(self) -> str:
        return f"OpenAIBatches({self.base!r})"

    def upload(self, key: str, requests: Sequence[tuple[str, dict[str, Any]]]) -> str:
        lines = [json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                             "body": body}, ensure_ascii=False) for cid, body in requests]
        data = ("\n".join(lines) + "\n").encode()
        resp = self.http.post(f"{self.base}/files", data={"purpose": "batch"},
                              files={"file": (f"{key}.jsonl", data, "application/jsonl")})
        return str(check(resp, self.provider, "file upload")["id"])

    def create(self, key: str, requests: Sequence[tuple[str, dict[str, Any]]]) -> Remote:
        fid = self.upload(key, requests)
        resp = self.http.post(f"{self.base}/batches", json={
            "input_file_id": fid, "endpoint": "/v1/chat/completions",
            "completion_window": "24h", "metadata": {"costrouter_chunk": key}})
        return self._remote(check(resp, self.provider, "create"))

    def find(self, key: str, since: float, n: int) -> Remote | None:
        """The batch created for ``key`` (by its metadata), if the provider has one."""
        resp = self.http.get(f"{self.base}/batches", params={"limit": 100})
        for b in check(resp, self.provider, "list").get("data") or []:
            if (b.get("metadata") or {}).get("costrouter_chunk") == key:
                return self._remote(b)
        return None

    def retrieve(self, remote_id: str) -> Remote:
        resp = self.http.get(f"{self.base}/batches/{remote_id}")
        return self._remote(check(resp, self.provider, "retrieve", remote_id))

    def cancel(self, remote_id: str) -> Remote:
        resp = self.http.post(f"{self.base}/batches/{remote_id}/cancel")
        return self._remote(check(resp, self.provider, "cancel", remote_id))

    def results(self, remote: Remote) -> Iterator[ResultLine]:
        for fid in (remote.output_file_id, remote.error_file_id):
            if not fid:
                continue
            resp = self.http.get(f"{self.base}/files/{fid}/content")
            if resp.status_code >= 400:
                raise BatchTransportError(self.provider, "download", resp.status_code,
                                          scrub_text(resp.text))
            for raw in resp.text.splitlines():
                if raw.strip():
                    yield self._line(raw)

    @staticmethod
    def _line(raw: str) -> ResultLine:
        try:
            obj = json.loads(raw)
            cid = obj["custom_id"]
            if not isinstance(cid, str):
                raise ValueError("custom_id is not a string")
            resp, err = obj.get("response"), obj.get("error")
            if resp is None:
                code = (err or {}).get("code")
                kind = {"batch_expired": "expired", "batch_cancelled": "cancelled"}.get(
                    code, "failed")
                return ResultLine(cid, kind, None, f"{code}: {(err or {}).get('message')}")
            status = int(resp["status_code"])
            if status != 200:
                e = (resp.get("body") or {}).get("error") or {}
                return ResultLine(cid, "failed", None,
                                  f"HTTP {status} {e.get('code') or e.get('type')}: "
                                  f"{e.get('message')}")
            return ResultLine(cid, "succeeded", openai_chat(resp["body"]))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            return malformed(raw, f"{type(e).__name__}: {e}")

    @staticmethod
    def _remote(b: dict[str, Any]) -> Remote:
        status = str(b.get("status"))
        errs = (b.get("errors") or {}).get("data") or []
        return Remote(
            id=str(b["id"]), status=status,
            ended=status in ("completed", "failed", "expired", "cancelled"),
            counts={k: int(v) for k, v in (b.get("request_counts") or {}).items()},
            output_file_id=b.get("output_file_id"), error_file_id=b.get("error_file_id"),
            input_file_id=b.get("input_file_id"),
            errors="; ".join(f"{e.get('code')}: {e.get('message')}" for e in errs) or None,
        )
