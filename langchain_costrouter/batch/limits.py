"""Provider limits of one batch, and splitting a group of requests to fit them.

OpenAI: up to 50,000 requests and 200 MB per input file. Anthropic: up to 100,000 requests or
256 MB per message batch (both from the providers' batch guides). An over-limit group is split
into as many batches as it needs, never rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_costrouter.exceptions import ConfigError


@dataclass(frozen=True, kw_only=True)
class BatchLimits:
    """Most requests and bytes in one provider batch."""

    max_requests: int
    max_bytes: int

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.max_bytes < 1:
            raise ConfigError(
                f"BatchLimits(max_requests={self.max_requests}, max_bytes={self.max_bytes}): "
                "both must be >= 1"
            )


PROVIDER_LIMITS: dict[str, BatchLimits] = {
    "openai": BatchLimits(max_requests=50_000, max_bytes=200 * 1024 * 1024),
    "anthropic": BatchLimits(max_requests=100_000, max_bytes=256 * 1024 * 1024),
}


def request_bytes(kind: str, custom_id: str, body: dict[str, Any]) -> int:
    """Bytes one request adds to its batch (a JSONL line for OpenAI; an array entry for
    Anthropic, with its separator), measured on the JSON actually sent."""
    if kind == "openai":
        line = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                "body": body}
    else:
        line = {"custom_id": custom_id, "params": body}
    return len(json.dumps(line, ensure_ascii=False).encode()) + 1


def split(
    sizes: Sequence[int], limits: BatchLimits, *, overhead: int = 64
) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` ranges of ``sizes`` (bytes per request) that each fit ``limits``.

    A single request larger than ``max_bytes`` gets a batch of its own (the provider will
    refuse it, and that item alone fails with the provider's reason).
    """
    start, used = 0, overhead
    for i, size in enumerate(sizes):
        full = i - start >= limits.max_requests or (used + size > limits.max_bytes and i > start)
        if full:
            yield start, i
            start, used = i, overhead
        used += size
    if start < len(sizes):
        yield start, len(sizes)
