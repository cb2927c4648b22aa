"""Batch APIs of the local server: the shared state and the scripted processing.

The wire formats are in :mod:`~langchain_costrouter.testing.openai_batches` (files +
``/v1/batches``) and :mod:`~langchain_costrouter.testing.message_batches` (Anthropic); both
share this state. ``POST /admin/batches`` ``{"script": {...}}`` sets the :class:`BatchScript`
and ``GET /admin/batches`` gives the counters.

Time is counted in status reads, not seconds, so tests never wait: a batch ends on its
``polls_to_end``-th read (:class:`BatchScript`). Then every request is answered the way the
chat endpoint would answer it (same replies, same token counts), except those the script
fails, expires or cuts. Result lines come out in a shuffled order, as providers do not
promise input order.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.testing.state import ServerState

OPENAI_MAX_REQUESTS = 50_000
OPENAI_MAX_BYTES = 200 * 1024 * 1024
ANTHROPIC_MAX_REQUESTS = 100_000
ANTHROPIC_MAX_BYTES = 256 * 1024 * 1024


@dataclass(kw_only=True)
class BatchScript:
    """How the server processes batches (applies to batches created after it is set)."""

    polls_to_end: int = 1
    """Status reads answered "in progress" before the batch ends (1: the first read ends it)."""
    fail_every: int = 0
    """Every n-th request of a batch (1-based) gets an error result; 0: none."""
    malformed_every: int = 0
    """Every n-th result line is cut in half; 0: none."""
    expire_after: int | None = None
    """Answer only this many requests of a batch; the rest expire."""
    max_requests: int | None = None
    """Requests per batch (``None``: the provider's limit); more fails validation."""
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.polls_to_end < 1:
            raise ConfigError(f"BatchScript.polls_to_end={self.polls_to_end!r} must be >= 1")
        for name in ("fail_every", "malformed_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"BatchScript.{name}={getattr(self, name)!r} must be >= 0")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BatchScript:
        known = {f.name for f in fields(cls)}
        bad = set(raw) - known
        if bad:
            raise ConfigError(f"unknown BatchScript keys {sorted(bad)}; known: {sorted(known)}")
        return cls(**raw)


@dataclass
class ServedBatch:
    """One batch held by the server (either format)."""

    id: str
    kind: str  # "openai" | "anthropic"
    requests: list[tuple[str, dict[str, Any]]]
    """(custom_id, OpenAI-shaped chat body)."""
    script: BatchScript
    created_at: float
    input_file_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    status: str = "validating"
    errors: list[dict[str, Any]] = field(default_factory=list)
    cancel_requested: bool = False
    results: list[dict[str, Any]] | None = None
    """Normalized outcomes, once ended: {custom_id, outcome, body|error}."""
    output_file_id: str | None = None
    error_file_id: str | None = None
    ended_at: float | None = None


class BatchServer:
    """State of the batch endpoints: files, batches, the script and counters (thread-safe)."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.script = BatchScript()
        self.files: dict[str, tuple[str, bytes, str]] = {}  # id -> (filename, data, purpose)
        self.batches: dict[str, ServedBatch] = {}
        self.processed: Counter[str] = Counter()
        self.created = 0
        self.lock = threading.Lock()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "batches_created": self.created,
                "requests_processed": sum(self.processed.values()),
                "duplicate_requests": sum(1 for n in self.processed.values() if n > 1),
                "by_kind": dict(Counter(b.kind for b in self.batches.values())),
                "script": asdict(self.script),
            }

    def add(self, batch: ServedBatch) -> None:
        with self.lock:
            self.batches[batch.id] = batch
            self.created += 1

    def advance(self, batch: ServedBatch) -> None:
        """One status read: move the batch along its script."""
        with self.lock:
            if batch.status in ("completed", "failed", "expired", "cancelled", "ended"):
                return
            batch.polls += 1
            if batch.errors:
                batch.status = "failed"
                batch.ended_at = time.time()
                return
            if batch.cancel_requested:
                self._end(batch, cancelled=True)
                return
            if batch.polls >= batch.script.polls_to_end:
                self._end(batch, cancelled=False)
            else:
                batch.status = "in_progress"

    def _end(self, batch: ServedBatch, *, cancelled: bool) -> None:
        out: list[dict[str, Any]] = []
        s = batch.script
        for n, (cid, body) in enumerate(batch.requests, start=1):
            if cancelled:
                out.append({"custom_id": cid, "outcome": "cancelled"})
            elif s.expire_after is not None and n > s.expire_after:
                out.append({"custom_id": cid, "outcome": "expired"})
            elif s.fail_every and n % s.fail_every == 0:
                self.processed[cid] += 1
                out.append({"custom_id": cid, "outcome": "errored", "status": 400,
                            "error": {"type": "invalid_request_error",
                                      "code": "invalid_value",
                                      "message": f"scripted failure of request {cid}"}})
            else:
                self.processed[cid] += 1
                out.append({"custom_id": cid, "outcome": "succeeded", **_answer(self.state, body)})
        random.Random(batch.id).shuffle(out)
        if s.malformed_every:
            for i in range(s.malformed_every - 1, len(out), s.malformed_every):
                out[i]["malformed"] = True
        batch.results = out
        batch.ended_at = time.time()
        if batch.kind == "anthropic":
            batch.status = "ended"
        else:
            expired = any(r["outcome"] == "expired" for r in out)
            batch.status = "cancelled" if cancelled else ("expired" if expired else "completed")


def _answer(state: ServerState, body: dict[str, Any]) -> dict[str, Any]:
    """What the chat endpoint would answer: ``{"body": chat.completion}`` or an error."""
    from langchain_costrouter.testing.app import _usage, prompt_tokens
    from langchain_costrouter.testing.replies import RequestError, make_reply
    from langchain_costrouter.testing.stream import completion_body

    model = str(body.get("model") or "")
    b = state.behaviour(model)
    if b is None:
        return {"outcome": "errored", "status": 404,
                "error": {"type": "invalid_request_error", "code": "model_not_found",
                          "message": f"The model `{model}` does not exist"}}
    try:
        reply = make_reply(body, model, state.config.seed, b)
    except (RequestError, KeyError, TypeError) as e:
        return {"outcome": "errored", "status": 400,
                "error": {"type": "invalid_request_error", "code": "invalid_value",
                          "message": str(e)}}
    usage = _usage(prompt_tokens(body), reply)
    return {"body": completion_body(body, model, reply, usage)}
