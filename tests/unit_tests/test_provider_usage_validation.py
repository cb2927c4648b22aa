"""A provider's usage report is untrusted: impossible counts are a typed provider error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk

from langchain_costrouter.exceptions import InvalidUsageError, ProviderResponseError
from langchain_costrouter.pricing.prices import TokenUsage
from langchain_costrouter.pricing.usage import (
    ABSOLUTE_MAX_TOKENS,
    TOLERANCE,
    checked_usage,
    usage_error_of,
    usage_limit,
)
from langchain_costrouter.resilience import Action, classify


def um(inp: Any = 100, out: Any = 20, **extra: Any) -> dict[str, Any]:
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": 120, **extra}


def test_an_honest_report_becomes_token_usage() -> None:
    got = checked_usage(
        um(100, 20, input_token_details={"cache_read": 40, "cache_creation": 10},
           output_token_details={"reasoning": 5}),
        model="m", context_window=1000, max_output_tokens=100)
    assert got == TokenUsage(input_tokens=100, output_tokens=20, cached_tokens=40,
                             cache_write_tokens=10, reasoning_tokens=5)
    assert checked_usage(um(3.0, 2.0), model="m") == TokenUsage(input_tokens=3, output_tokens=2)
    assert checked_usage(None, model="m") is None and checked_usage({}, model="m") is None


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("output_tokens", -1_000_000, "negative"),
        ("input_tokens", -1, "negative"),
        ("output_tokens", "lots", "not a token count"),
        ("output_tokens", "12", "not a token count"),
        ("output_tokens", 12.5, "not an integer"),
        ("output_tokens", float("nan"), "not an integer"),
        ("output_tokens", float("inf"), "not an integer"),
        ("output_tokens", True, "not a token count"),
        ("output_tokens", Decimal(7), "not a token count"),
        ("output_tokens", [3], "not a token count"),
    ],
)
def test_a_count_that_is_not_a_non_negative_integer_is_refused(
        field: str, value: Any, problem: str) -> None:
    report = um()
    report[field] = value
    with pytest.raises(InvalidUsageError) as info:
        checked_usage(report, model="cheap", context_window=128_000)
    err = info.value
    assert isinstance(err, ProviderResponseError)
    assert (err.model, err.field, err.problem) == ("cheap", field, problem)
    text = str(err)
    assert "'cheap'" in text and field in text and repr(value)[:20] in text


@pytest.mark.parametrize("value", [10**12, 1e300, 2 * ABSOLUTE_MAX_TOKENS])
def test_huge_counts_are_refused_even_without_a_known_window(value: float) -> None:
    with pytest.raises(InvalidUsageError, match="more than the call could use"):
        checked_usage(um(out=value), model="m")  # no context window given
    with pytest.raises(InvalidUsageError, match="more than the call could use"):
        checked_usage(um(out=value), model="m", context_window=128_000, max_output_tokens=16_000)


def test_the_limit_is_window_plus_output_cap_times_the_tolerance() -> None:
    limit = usage_limit(1000, 200)
    assert limit == int(1200 * TOLERANCE)
    assert checked_usage(um(limit - 10, 10), model="m", context_window=1000,
                         max_output_tokens=200) is not None
    with pytest.raises(InvalidUsageError) as info:
        checked_usage(um(limit + 1, 0), model="m", context_window=1000, max_output_tokens=200)
    assert info.value.field == "input_tokens" and str(limit) in str(info.value)
    with pytest.raises(InvalidUsageError) as info:  # each fits, the sum does not
        checked_usage(um(limit - 5, 10), model="m", context_window=1000, max_output_tokens=200)
    assert info.value.field == "input_tokens+output_tokens"


def test_details_that_contradict_the_totals_are_refused() -> None:
    with pytest.raises(InvalidUsageError, match="more cached tokens than input"):
        checked_usage(um(10, 5, input_token_details={"cache_read": 11}), model="m")
    with pytest.raises(InvalidUsageError, match="more reasoning tokens than output"):
        checked_usage(um(10, 5, output_token_details={"reasoning": 6}), model="m")
    with pytest.raises(InvalidUsageError, match="not a mapping"):
        checked_usage(um(10, 5, input_token_details="lots"), model="m")
    with pytest.raises(InvalidUsageError) as info:
        checked_usage(um(10, 5, total_tokens=-3), model="m")
    assert info.value.field == "total_tokens"
    with pytest.raises(InvalidUsageError, match="not a mapping"):
        checked_usage(["input_tokens", 3], model="m")  # type: ignore[arg-type]


def test_an_invalid_usage_error_counts_as_the_providers_fault() -> None:
    verdict = classify(InvalidUsageError("m", "output_tokens", -5, "negative"))
    assert verdict.action is Action.TRIP  # breaker + fallback, never fail-fast


def _chunk_error(value: Any) -> Exception:
    """What langchain-openai raises when a stream's usage chunk carries ``value``."""
    try:
        AIMessageChunk(content="", usage_metadata={
            "input_tokens": 3, "output_tokens": value, "total_tokens": 3})
    except Exception as e:
        return e
    raise AssertionError(f"langchain accepted output_tokens={value!r}")


@pytest.mark.parametrize("value", ["lots", 12.5, 1e300])
def test_langchains_refusal_of_a_usage_chunk_is_the_same_typed_error(value: Any) -> None:
    raw = _chunk_error(value)
    assert isinstance(raw, ValueError)  # pydantic's ValidationError: a raw ValueError
    err = usage_error_of(raw, model="cheap")
    assert isinstance(err, InvalidUsageError)
    assert err.model == "cheap" and err.field == "output_tokens" and err.__cause__ is raw
    assert classify(raw).action is Action.TRIP


def test_other_validation_errors_are_not_taken_for_usage() -> None:
    with pytest.raises(ValueError) as info:
        AIMessageChunk(content=3.5)  # type: ignore[arg-type]
    assert usage_error_of(info.value, model="m") is None
    assert usage_error_of(ValueError("usage_metadata"), model="m") is None
