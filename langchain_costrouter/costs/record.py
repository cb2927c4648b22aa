"""One priced LLM call (:class:`CallRecord`) and the sink protocol.

A record holds names and numbers only: no prompt unless the handler was built with
``store_prompts=True``, and never an API key: the handler passes metadata and error text
through :mod:`langchain_costrouter.redact` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable
from uuid import UUID


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
    scored_level: str | None = None
    """Level the router's scorer gave the prompt (``None``: pinned, or not a router call)."""
    served_level: str | None = None
    """Level of the model that answered; differs from ``scored_level`` when ``reason`` says."""
    reason: str | None = None
    """Why the served model is not the scored level's first choice: one of
    :data:`~langchain_costrouter.routing.metadata.REASONS` (``budget_downgrade``, ``ceiling``,
    ``missing_capability``, ``fallback``, ``cascade_escalation``, ``pinned``), else ``None``."""
    score: float | None = None
    """The router's complexity score of the prompt (``None`` when it did not score)."""
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
