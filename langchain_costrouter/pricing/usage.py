"""A provider's usage report is untrusted input: :func:`checked_usage` is the one gate it
passes before anything is billed, refunded or charged to a budget.

Counts must be non-negative integers, and no count may exceed what the call could have used:
the model's context window plus its output cap, times a small tolerance (providers count
special tokens and tool schemas a little differently from us). Anything else raises
:class:`~langchain_costrouter.exceptions.ProviderResponseError`, which counts as the provider's
fault (breaker, fallback).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_costrouter.exceptions import ProviderResponseError
from langchain_costrouter.pricing.prices import TokenUsage

TOLERANCE = 1.25
"""How far above context window + output cap a reported count may go before it is refused."""

_FIELDS: tuple[tuple[str, str | None, str], ...] = (
    ("input_tokens", None, "input_tokens"),
    ("output_tokens", None, "output_tokens"),
    ("cached_tokens", "input_token_details", "cache_read"),
    ("cache_write_tokens", "input_token_details", "cache_creation"),
    ("reasoning_tokens", "output_token_details", "reasoning"),
)


def _count(model: str, label: str, value: Any, limit: int | None) -> int:
    if value is None:
        return 0
    # bool is an int subclass; a float that is integral (3.0) is accepted, 3.5 is not
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProviderResponseError(
            f"{model!r} reported usage {label}={value!r}: not a token count"
        )
    if isinstance(value, float) and not value.is_integer():
        raise ProviderResponseError(f"{model!r} reported usage {label}={value!r}: not an integer")
    n = int(value)
    if n < 0:
        raise ProviderResponseError(f"{model!r} reported usage {label}={n}: negative")
    if limit is not None and n > limit:
        raise ProviderResponseError(
            f"{model!r} reported usage {label}={n}: more than the call could use ({limit})"
        )
    return n


def checked_usage(
    usage_metadata: Mapping[str, Any] | None,
    *,
    model: str,
    context_window: int | None = None,
    max_output_tokens: int | None = None,
) -> TokenUsage | None:
    """``usage_metadata`` as a :class:`TokenUsage`, or ``None`` when the provider sent none.

    Raises ``ProviderResponseError`` naming the model, the field and the value when a count is
    not a non-negative integer, or exceeds ``(context_window + max_output_tokens) * TOLERANCE``.
    """
    if not usage_metadata:
        return None
    if not isinstance(usage_metadata, Mapping):
        raise ProviderResponseError(f"{model!r} reported usage {usage_metadata!r}: not a mapping")
    limit = None
    if context_window is not None:
        limit = int((context_window + (max_output_tokens or 0)) * TOLERANCE)
    counts: dict[str, int] = {}
    for name, section, key in _FIELDS:
        source: Any = usage_metadata if section is None else usage_metadata.get(section) or {}
        if not isinstance(source, Mapping):
            raise ProviderResponseError(f"{model!r} reported usage {section}={source!r}")
        label = key if section is None else f"{section}.{key}"
        counts[name] = _count(model, label, source.get(key), limit)
    if counts["cached_tokens"] + counts["cache_write_tokens"] > counts["input_tokens"]:
        raise ProviderResponseError(
            f"{model!r} reported more cached tokens than input tokens ({counts})"
        )
    if counts["reasoning_tokens"] > counts["output_tokens"]:
        raise ProviderResponseError(
            f"{model!r} reported more reasoning tokens than output tokens ({counts})"
        )
    return TokenUsage(**counts)
