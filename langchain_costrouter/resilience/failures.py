"""What a failed call means: trip the breaker, cool down, fail fast, or fall back.

:func:`classify` turns an exception into a :class:`Verdict`. It is a plain callable; pass your
own ``classify(exc) -> Verdict`` wherever one is accepted (``Breakers(classify=...)``,
``RetryPolicy(classify=...)``), or build a variant with :class:`Classifier`.

Errors are recognised by type and by what they carry, not by provider-specific classes:

* langchain-core's ``ModelError`` family (``ModelRateLimitError``, ``ModelTimeoutError``, ...),
  which every partner package's HTTP errors inherit;
* any exception with an HTTP status (``.status_code``, ``.status``, ``.response.status_code``)
  and a body ``code``/``type`` (OpenAI-style ``{"error": {"code": ...}}`` or unwrapped);
* ``httpx`` / ``httpx2`` / ``openai`` timeout and connection errors, builtin ``TimeoutError``
  and ``ConnectionError``;
* malformed responses: ``json.JSONDecodeError``, ``openai.APIResponseValidationError``,
  langchain-openai's ``TypeError``/``ValueError`` for a response without ``choices`` or of
  the wrong type, pydantic's ``ValidationError`` over a message's ``usage_metadata`` (a usage
  chunk with strings or fractions), and
  :class:`~langchain_costrouter.exceptions.ProviderResponseError` (``InvalidUsageError`` too).

SDK modules are looked up in ``sys.modules`` only: if ``openai`` was never imported, none of
its exceptions can exist, so this module imports nothing heavy.
"""

from __future__ import annotations

import email.utils
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from langchain_core import exceptions as lc

from langchain_costrouter.exceptions import (
    CircuitOpenError,
    ConfigError,
    ProviderResponseError,
    QueueFullError,
    ShutdownError,
)


class Action(str, Enum):
    """What the router should do after a failure."""

    TRIP = "trip"
    """The model is unhealthy: count a breaker failure and try the next model."""
    COOLDOWN = "cooldown"
    """Skip the model until ``cooldown_s`` has passed (429, out of credit); no breaker count."""
    FAIL_FAST = "fail_fast"
    """The request itself is at fault (400/401/403/404): raise, no fallback."""
    FALLBACK = "fallback"
    """Try another model without blaming this one (context length exceeded)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classification of one failure."""

    action: Action
    reason: str
    """Short and key-free, e.g. ``"http 503"``, ``"timeout"``, ``"insufficient_quota"``."""
    cooldown_s: float | None = None
    """For :attr:`Action.COOLDOWN`: how long to skip the model (from Retry-After if sent)."""
    retryable: bool = False
    """Whether retrying the same model may succeed (used by the retry layer)."""
    provider_wide: bool = False
    """The cause is the provider account (out of credit): cool the whole provider down."""


Classify = Callable[[BaseException], Verdict]

CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
CONTEXT_PHRASES = ("maximum context length", "context length exceeded", "prompt is too long",
                   "context window", "too many tokens")
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active",
                         "insufficient_credits", "credit_balance_too_low"})
QUOTA_PHRASES = ("exceeded your current quota", "credit balance is too low",
                 "insufficient credits", "insufficient_quota")
MALFORMED_PHRASES = ("null value for 'choices'", "unexpected response type")
TRANSIENT_STATUSES = frozenset({408, 409, 425})


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date.

    ``now`` is the wall clock used for HTTP-dates. Returns ``None`` for a missing or invalid
    value; a date in the past gives ``0.0``.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now())
    if seconds != seconds or seconds < 0 or seconds == float("inf"):  # NaN, negative, inf
        return None
    return seconds


def retry_after_of(exc: BaseException, *, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After of an HTTP error in seconds (``retry-after-ms`` first, as OpenAI sends)."""
    headers = _headers(exc)
    if headers is None:
        return None
    ms = parse_retry_after(_get(headers, "retry-after-ms"), now=now)
    if ms is not None:
        return ms / 1000.0
    return parse_retry_after(_get(headers, "retry-after"), now=now)


def _get(headers: Any, name: str) -> str | None:
    try:
        value = headers.get(name)
    except Exception:  # odd header containers: treat as absent
        return None
    return None if value is None else str(value)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes/contexts (wrappers often hide the SDK error)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen and len(seen) < 8:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def status_of(exc: BaseException) -> int | None:
    """HTTP status of an error or of an error in its cause chain, whatever the SDK."""
    for e in _chain(exc):
        for attr in ("status_code", "status", "http_status"):
            value = getattr(e, attr, None)
            if isinstance(value, int) and 100 <= value <= 599:
                return value
        response = getattr(e, "response", None)
        value = getattr(response, "status_code", None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def _headers(exc: BaseException) -> Any:
    for e in _chain(exc):
        response = getattr(e, "response", None)
        headers = getattr(response, "headers", None)
        if headers is None:
            headers = getattr(e, "headers", None)
        if headers is not None:
            return headers
    return None


def _codes(exc: BaseException) -> set[str]:
    """Lower-cased error ``code``/``type`` values from the exception and its JSON body."""
    out: set[str] = set()
    for e in _chain(exc):
        for attr in ("code", "type"):
            value = getattr(e, attr, None)
            if isinstance(value, str):
                out.add(value.lower())
        body = getattr(e, "body", None)
        if isinstance(body, Mapping):
            for part in (body, body.get("error")):
                if isinstance(part, Mapping):
                    for attr in ("code", "type"):
                        value = part.get(attr)
                        if isinstance(value, str):
                            out.add(value.lower())
    return out


def _types(module: str, *names: str) -> tuple[type[BaseException], ...]:
    mod = sys.modules.get(module)
    if mod is None:
        return ()
    return tuple(t for n in names if isinstance(t := getattr(mod, n, None), type))


def _is_timeout(exc: BaseException) -> bool:
    kinds = (lc.ModelTimeoutError, TimeoutError, *_types("openai", "APITimeoutError"),
             *_types("httpx", "TimeoutException"), *_types("httpx2", "TimeoutException"))
    return any(isinstance(e, kinds) for e in _chain(exc))


def _is_connection(exc: BaseException) -> bool:
    kinds = (lc.ModelConnectionError, ConnectionError, *_types("openai", "APIConnectionError"),
             *_types("httpx", "TransportError"), *_types("httpx2", "TransportError"))
    return any(isinstance(e, kinds) for e in _chain(exc))


def _is_malformed(exc: BaseException) -> bool:
    kinds = (ProviderResponseError, json.JSONDecodeError,
             *_types("openai", "APIResponseValidationError"),
             *_types("httpx", "DecodingError"), *_types("httpx2", "DecodingError"))
    from langchain_costrouter.pricing.usage import usage_error_of

    for e in _chain(exc):
        if isinstance(e, kinds):
            return True
        if isinstance(e, ValueError) and usage_error_of(e, model="?") is not None:
            return True  # langchain refused the provider's usage chunk ("lots", 12.5, 1e300)
        if isinstance(e, (TypeError, ValueError)):
            text = str(e).lower()
            if any(p in text for p in MALFORMED_PHRASES):
                return True
    return False


@dataclass(frozen=True, kw_only=True)
class Classifier:
    """The default failure policy, with its knobs. An instance is a ``classify`` callable."""

    rate_limit_cooldown_s: float = 1.0
    """Cooldown after a 429 that sends no Retry-After."""
    quota_cooldown_s: float = 300.0
    """How long an out-of-credit model (or provider) is skipped; retrying it is pointless."""
    max_cooldown_s: float = 3600.0
    """Cap on a server-sent Retry-After."""
    wall_clock: Callable[[], float] = time.time
    """Wall clock for Retry-After HTTP-dates."""

    def __post_init__(self) -> None:
        for name in ("rate_limit_cooldown_s", "quota_cooldown_s", "max_cooldown_s"):
            value = getattr(self, name)
            if not value >= 0:
                raise ConfigError(f"Classifier.{name} must be >= 0 seconds, got {value!r}")

    def __call__(self, exc: BaseException) -> Verdict:
        if isinstance(exc, (CircuitOpenError, QueueFullError)):  # ours: try another model
            return Verdict(Action.FALLBACK, type(exc).__name__)
        if isinstance(exc, ShutdownError):
            return Verdict(Action.FAIL_FAST, "shutting down")
        status = status_of(exc)
        codes = _codes(exc)
        text = str(exc).lower()
        if (any(isinstance(e, lc.ContextOverflowError) for e in _chain(exc))
                or codes & CONTEXT_CODES
                or (status in (400, 413, 422, None) and any(p in text for p in CONTEXT_PHRASES))):
            return Verdict(Action.FALLBACK, "context_length_exceeded")
        if status == 402 or codes & QUOTA_CODES or any(p in text for p in QUOTA_PHRASES):
            reason = next(iter(sorted(codes & QUOTA_CODES)), "out of credit")
            return Verdict(Action.COOLDOWN, reason, cooldown_s=self.quota_cooldown_s,
                           provider_wide=True)
        if status == 429 or (status is None and isinstance(exc, lc.ModelRateLimitError)):
            after = retry_after_of(exc, now=self.wall_clock)
            cooldown = self.rate_limit_cooldown_s if after is None else after
            return Verdict(Action.COOLDOWN, "http 429", retryable=True,
                           cooldown_s=min(cooldown, self.max_cooldown_s))
        if status is not None and (status >= 500 or status in TRANSIENT_STATUSES):
            return Verdict(Action.TRIP, f"http {status}", retryable=True)
        if status is not None and status >= 400:
            return Verdict(Action.FAIL_FAST, f"http {status}")
        if _is_timeout(exc):
            return Verdict(Action.TRIP, "timeout", retryable=True)
        if _is_connection(exc):
            return Verdict(Action.TRIP, "connection error", retryable=True)
        if _is_malformed(exc):
            return Verdict(Action.TRIP, "malformed response")
        if isinstance(exc, lc.ModelError):  # a status-less langchain-core error
            if exc.is_retryable:
                return Verdict(Action.TRIP, type(exc).__name__, retryable=True)
            return Verdict(Action.FAIL_FAST, type(exc).__name__)
        return Verdict(Action.FAIL_FAST, f"unclassified {type(exc).__name__}")


classify: Classify = Classifier()
"""The default :class:`Classifier`."""
