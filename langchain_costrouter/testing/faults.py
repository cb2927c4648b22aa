"""Scripted provider faults for the local server: what can go wrong, how often, and the bodies.

A :class:`FaultPlan` gives a rate per fault kind (one seeded draw per request, so a run is
deterministic), optional 429 bursts and an optional ``script`` of kinds for the first requests.
The error bodies copy the shape of OpenAI's.

Hostile providers too: ``bad_usage`` answers normally but reports ``usage_value`` (negative,
10**12, 1e300, "lots", 12.5 ...) at ``usage_field``, in the JSON body and in the stream's usage
chunk; ``cut_before_usage`` delivers the whole streamed answer, then closes the connection
before the usage chunk (a JSON answer comes with ``"usage": null``); ``echo_key`` answers
``echo_status`` with an error text that echoes the request's ``Authorization`` header whole.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

from langchain_costrouter.exceptions import ConfigError

FaultKind = Literal[
    "error_500",
    "rate_limit",
    "hang",
    "drop",
    "malformed",
    "stream_cut",
    "context_length",
    "insufficient_quota",
    "bad_usage",
    "cut_before_usage",
    "echo_key",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
USAGE_FIELDS = (
    "prompt_tokens", "completion_tokens", "total_tokens",
    "prompt_tokens_details.cached_tokens", "completion_tokens_details.reasoning_tokens",
)


@dataclass(frozen=True, kw_only=True)
class FaultPlan:
    """Fault rates of one model (each in [0, 1], summing to at most 1) and their settings."""

    error_500: float = 0.0
    rate_limit: float = 0.0
    """429 ``rate_limit_exceeded`` with a ``Retry-After`` header."""
    hang: float = 0.0
    """Wait ``hang_s`` before answering (longer than the client's timeout)."""
    drop: float = 0.0
    """Close the connection without sending a response."""
    malformed: float = 0.0
    """200 with a body that is not valid JSON (or an SSE event that is not)."""
    stream_cut: float = 0.0
    """Send part of the response (``cut_after_chunks`` SSE chunks), then close the connection."""
    context_length: float = 0.0
    """400 ``context_length_exceeded``."""
    insufficient_quota: float = 0.0
    """``quota_status`` (429 like OpenAI, or 402 like DeepSeek) ``insufficient_quota``."""
    retry_after_s: float = 1.0
    hang_s: float = 30.0
    cut_after_chunks: int = 2
    quota_status: int = 429
    bad_usage: float = 0.0
    """200 with ``usage_value`` reported at ``usage_field`` (JSON body and stream usage chunk)."""
    cut_before_usage: float = 0.0
    """Stream everything up to the finish chunk, then close before the usage chunk."""
    echo_key: float = 0.0
    """``echo_status`` with an error message that echoes the ``Authorization`` header."""
    usage_field: str = "completion_tokens"
    """Dotted path in OpenAI's ``usage`` object (see ``USAGE_FIELDS``)."""
    usage_value: int | float | str | None = -1_000_000
    echo_status: int = 500
    burst_window: int = 0
    """With ``burst_every``: requests come in windows of this many; every Nth window is all 429."""
    burst_every: int = 0
    script: tuple[FaultKind | None, ...] = ()
    """Kinds forced on the first requests after this plan is set (``None`` = no fault)."""

    def __post_init__(self) -> None:
        total = 0.0
        for name in FAULT_KINDS:
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"fault rate {name}={rate!r} must be between 0 and 1")
            total += rate
        if total > 1.0 + 1e-9:
            raise ConfigError(f"fault rates add up to {total:.3f}; they must sum to at most 1")
        if self.quota_status not in (402, 429):
            raise ConfigError(f"quota_status={self.quota_status!r} must be 402 or 429")
        if self.usage_field not in USAGE_FIELDS:
            raise ConfigError(f"usage_field={self.usage_field!r}; known: {USAGE_FIELDS}")
        if not isinstance(self.usage_value, (int, float, str, type(None))):
            raise ConfigError(f"usage_value={self.usage_value!r} must be a JSON scalar")
        if not 400 <= self.echo_status <= 599:
            raise ConfigError(f"echo_status={self.echo_status!r} must be an HTTP error status")
        for name in ("retry_after_s", "hang_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be >= 0")
        if self.cut_after_chunks < 0:
            raise ConfigError(f"cut_after_chunks={self.cut_after_chunks!r} must be >= 0")
        if (self.burst_window > 0) != (self.burst_every > 0) or min(
            self.burst_window, self.burst_every
        ) < 0:
            raise ConfigError(
                f"burst_window={self.burst_window!r} and burst_every={self.burst_every!r} "
                "must both be positive (or both 0 for no bursts)"
            )
        bad = [k for k in self.script if k is not None and k not in FAULT_KINDS]
        if bad:
            raise ConfigError(f"unknown fault kind {bad[0]!r} in script; known: {FAULT_KINDS}")
        object.__setattr__(self, "script", tuple(self.script))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultPlan:
        """Build from JSON (e.g. the ``/admin/faults`` body); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown FaultPlan field {unknown[0]!r}; known: {sorted(known)}")
        d = dict(data)
        if "script" in d:
            d["script"] = tuple(d["script"] or ())
        return cls(**d)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["script"] = list(self.script)
        return d


NO_FAULTS = FaultPlan()


@dataclass(kw_only=True)
class FaultDice:
    """The seeded fault draws of one model; ``index`` counts requests since the plan was set."""

    plan: FaultPlan
    rng: random.Random
    index: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def draw(self) -> str | None:
        """The fault for the next request, or ``None``."""
        i = self.index
        self.index += 1
        u = self.rng.random()  # drawn every time so later draws do not depend on the script
        p = self.plan
        if i < len(p.script):
            return p.script[i]
        if p.burst_window and (i // p.burst_window) % p.burst_every == p.burst_every - 1:
            return "rate_limit"
        acc = 0.0
        for kind in FAULT_KINDS:  # the rates share the unit interval in this order
            acc += getattr(p, kind)
            if u < acc:
                return kind
        return None


# OpenAI-shaped error bodies -------------------------------------------------------------


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def server_error() -> dict:
    return error_body(
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
    )


def rate_limited(model: str, retry_after_s: float) -> dict:
    return error_body(
        f"Rate limit reached for {model} on requests per min (RPM): Limit 500, Used 500, "
        f"Requested 1. Please try again in {retry_after_s:g}s.",
        "requests",
        "rate_limit_exceeded",
    )


def insufficient_quota() -> dict:
    return error_body(
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    )


def context_length_exceeded(window: int, prompt_tokens: int) -> dict:
    return error_body(
        f"This model's maximum context length is {window} tokens. However, your messages "
        f"resulted in {prompt_tokens} tokens. Please reduce the length of the messages.",
        "invalid_request_error",
        "context_length_exceeded",
        "messages",
    )


def model_not_found(model: str) -> dict:
    return error_body(
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    )


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> dict:
    return error_body(message, "invalid_request_error", code, param)


def echoed_key(authorization: str) -> dict:
    """What a careless gateway answers: the credential it was sent, whole, in the message."""
    return error_body(
        f"upstream rejected key {authorization or '(none)'}; check your credentials",
        "upstream_error",
        "upstream_auth_failed",
    )


def hostile_usage(usage: dict[str, Any], plan: FaultPlan) -> dict[str, Any]:
    """A copy of OpenAI's ``usage`` object with ``plan.usage_value`` at ``plan.usage_field``
    (and a ``total_tokens`` that agrees, when the lie is a number in a top-level count)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in usage.items()}
    *parents, leaf = plan.usage_field.split(".")
    target = out
    for name in parents:
        target = target.setdefault(name, {})
    target[leaf] = plan.usage_value
    p, c = out.get("prompt_tokens"), out.get("completion_tokens")
    if plan.usage_field in ("prompt_tokens", "completion_tokens") and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in (p, c)):
        out["total_tokens"] = p + c  # a consistent liar: the total agrees with the lie
    return out
