"""One priced LLM call (:class:`CallRecord`), the sink protocol, and secret scrubbing.

A record holds names and numbers only: no prompt unless the handler was built with
``store_prompts=True``, and never an API key. :func:`scrub` removes key-like entries from any
mapping that reaches a record (metadata), and key-like strings from any text (error messages).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

_SECRET_KEY = re.compile(
    r"(^|[_\-.])(api[_\-]?key|apikey|secret|password|passwd|authorization|auth|headers?|"
    r"credentials?|cookies?|access[_\-]?token|refresh[_\-]?token|session[_\-]?token|"
    r"bearer|token|private[_\-]?key|signature)($|[_\-.])",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(?:\b(?:sk|pk|rk|xai|gsk|ghp|gho|hf|key)[-_][A-Za-z0-9_\-]{12,})"
    r"|(?:AIza[0-9A-Za-z_\-]{20,})"
    r"|(?:Bearer\s+[A-Za-z0-9._\-~+/=]{8,})",
)
REDACTED = "[redacted]"


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a credential (``api_key``, ``openai_api_key``, headers ...)."""
    return bool(_SECRET_KEY.search(key))


def scrub_text(text: str) -> str:
    """``text`` with key-like substrings (``sk-...``, ``Bearer ...``, ``AIza...``) redacted."""
    return _SECRET_VALUE.sub(REDACTED, text)


def scrub(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` without credential keys or key-like strings."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if _depth >= 4:
        return REDACTED
    if isinstance(value, (dict, Mapping)):
        return {
            str(k): scrub(v, _depth + 1)
            for k, v in value.items()
            if not is_secret_key(str(k))
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v, _depth + 1) for v in value]
    return scrub_text(str(value))[:200]


@dataclass(frozen=True, kw_only=True, slots=True)
class CallRecord:
    """One counted model call. Token counts follow LangChain: ``input_tokens`` includes cached."""

    run_id: UUID
    """LangChain run id of the counted (outermost) LLM run."""
    parent_run_id: UUID | None = None
    timestamp: float = 0.0
    """Start of the call, Unix seconds (from the handler's ``wall_clock``)."""
    status: str = "ok"
    """``"ok"`` or ``"error"``."""
    error: str | None = None
    """Error type and short message (scrubbed of keys) when ``status == "error"``."""
    level: str | None = None
    """Complexity level chosen by ``ChatCostRouter``; ``None`` for other chat models."""
    tier: str | None = None
    """Catalog name of the model that served the call (router calls, or a catalog match)."""
    provider: str | None = None
    model: str | None = None
    """Model id as the provider reported it (e.g. ``gpt-4.1-mini-2025-04-14``)."""
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal | None = None
    """USD; ``None`` when the model has no known price (never a silent 0)."""
    price_source: str | None = None
    """``costrouter`` (the router priced it), ``catalog``, or ``genai-prices <version>``."""
    estimated: bool = False
    """Token counts were counted with tiktoken because the provider sent no usage."""
    streamed: bool = False
    latency_s: float = 0.0
    ttft_s: float | None = None
    """Time to the first content token, for streamed calls."""
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    """Run metadata (user, team, project ...) without ``ls_*`` keys or credentials."""
    prompt: str | None = None
    """Prompt text, only with ``store_prompts=True``."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@runtime_checkable
class RecordSink(Protocol):
    """Where records go as they are made (a ledger, a file). Must be thread-safe and fast.

    ``write`` is called once per counted call, outside the handler's lock, in the thread (or
    event loop) that ran the model; an exception is logged and counted, never raised into the
    model call.
    """

    def write(self, record: CallRecord) -> None: ...
