"""A provider's usage report is untrusted input: :func:`checked_usage` is the one gate it
passes before anything is billed, refunded or charged to a budget.

Counts must be non-negative integers, and no count may exceed what the call could have used:
the model's context window plus its output cap, times a small tolerance (providers count
special tokens and tool schemas a little differently from us). Without a known window a count
above :data:`ABSOLUTE_MAX_TOKENS` is refused all the same (10**12 or 1e300 tokens is never a
real call). Anything else raises :class:`~langchain_costrouter.exceptions.InvalidUsageError`
(a ``ProviderResponseError``), which counts as the provider's fault (breaker, fallback).

A report that is not even a valid LangChain message never reaches this gate: langchain-openai
builds each stream chunk as a pydantic model, so a usage chunk with ``"lots"`` or ``12.5``
raises a pydantic ``ValidationError`` (a ``ValueError``) from inside the model call.
:func:`usage_error_of` turns that into the same typed error, so the caller can treat both alike.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from langchain_costrouter.exceptions import InvalidUsageError
from langchain_costrouter.pricing.prices import TokenUsage

TOLERANCE = 1.25
"""How far above context window + output cap a reported count may go before it is refused."""
ABSOLUTE_MAX_TOKENS = 100_000_000
"""No count is believed above this, window known or not (the largest 2026 windows are ~10M)."""

_FIELDS: tuple[tuple[str, str | None, str], ...] = (
    ("input_tokens", None, "input_tokens"),
    ("output_tokens", None, "output_tokens"),
    ("cached_tokens", "input_token_details", "cache_read"),
    ("cache_write_tokens", "input_token_details", "cache_creation"),
    ("reasoning_tokens", "output_token_details", "reasoning"),
)


def _count(model: str, label: str, value: Any, limit: int) -> int:
    if value is None:
        return 0
    # bool is an int subclass; a float that is integral (3.0) is accepted, 3.5 is not
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, float)):
        raise InvalidUsageError(model, label, value, "not a token count")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise InvalidUsageError(model, label, value, "not an integer")
    if value < 0:
        raise InvalidUsageError(model, label, value, "negative")
    if value > limit:
        raise InvalidUsageError(model, label, value, f"more than the call could use ({limit})")
    return int(value)


def usage_limit(context_window: int | None, max_output_tokens: int | None) -> int:
    """The most tokens a call may report: ``(window + output cap) * TOLERANCE``, capped."""
    if context_window is None:
        return ABSOLUTE_MAX_TOKENS
    return min(int((context_window + (max_output_tokens or 0)) * TOLERANCE), ABSOLUTE_MAX_TOKENS)


def checked_usage(
    usage_metadata: Mapping[str, Any] | None,
    *,
    model: str,
    context_window: int | None = None,
    max_output_tokens: int | None = None,
) -> TokenUsage | None:
    """``usage_metadata`` as a :class:`TokenUsage`, or ``None`` when the provider sent none.

    Raises ``InvalidUsageError`` (a ``ProviderResponseError``) naming the model, the field and
    the value when a count is not a non-negative integer, when a count or input + output
    exceeds :func:`usage_limit`, or when the details contradict the totals (more cached than
    input tokens, more reasoning than output tokens).
    """
    if not usage_metadata:
        return None
    if type(usage_metadata) is not dict and not isinstance(usage_metadata, Mapping):
        raise InvalidUsageError(model, "usage_metadata", usage_metadata, "not a mapping")
    limit = usage_limit(context_window, max_output_tokens)
    counts: dict[str, int] = {}
    for name, section, key in _FIELDS:
        source: Any = usage_metadata if section is None else usage_metadata.get(section) or {}
        if type(source) is not dict and not isinstance(source, Mapping):  # dict: no ABC check
            raise InvalidUsageError(model, str(section), source, "not a mapping")
        value = source.get(key)
        if value is None:
            counts[name] = 0
        elif type(value) is int and 0 <= value <= limit:  # the usual report: no label built
            counts[name] = value
        else:
            label = key if section is None else f"{section}.{key}"
            counts[name] = _count(model, label, value, limit)
    total = usage_metadata.get("total_tokens")
    if not (type(total) is int and 0 <= total <= 2 * limit):
        _count(model, "total_tokens", total, 2 * limit)
    if counts["input_tokens"] + counts["output_tokens"] > limit:
        raise InvalidUsageError(
            model, "input_tokens+output_tokens", counts["input_tokens"] + counts["output_tokens"],
            f"more than the call could use ({limit})")
    if counts["cached_tokens"] + counts["cache_write_tokens"] > counts["input_tokens"]:
        raise InvalidUsageError(
            model, "input_token_details", counts["cached_tokens"] + counts["cache_write_tokens"],
            f"more cached tokens than input tokens ({counts['input_tokens']})")
    if counts["reasoning_tokens"] > counts["output_tokens"]:
        raise InvalidUsageError(
            model, "output_token_details.reasoning", counts["reasoning_tokens"],
            f"more reasoning tokens than output tokens ({counts['output_tokens']})")
    return TokenUsage(**counts)


def usage_error_of(exc: BaseException, *, model: str) -> InvalidUsageError | None:
    """The ``InvalidUsageError`` that ``exc`` stands for, when it is langchain's pydantic
    ``ValidationError`` over a message's ``usage_metadata`` (a stream usage chunk with strings
    or fractions); else ``None``. The engine maps model-call errors through this."""
    errors = getattr(exc, "errors", None)
    if not callable(errors) or type(exc).__name__ != "ValidationError":
        return None
    try:
        items = errors()
    except Exception:  # not pydantic's
        return None
    for item in items:
        loc = tuple(str(p) for p in item.get("loc", ()))
        if loc and loc[0] == "usage_metadata":
            field = ".".join(loc[1:]) or "usage_metadata"
            err = InvalidUsageError(model, field, item.get("input"), "not a token count")
            err.__cause__ = exc
            return err
    return None
