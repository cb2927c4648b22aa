"""Shallow checks: an empty answer, a refusal, low token confidence."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage

from langchain_costrouter.cascade.base import Request, Verifier
from langchain_costrouter.exceptions import ConfigError


def _text(message: AIMessage) -> str:
    return message.text


def _empty_answer(message: AIMessage, request: Request) -> str | None:
    """Reject an answer with no text (whitespace only) and no tool calls.

    False-escalation rate on the shared routing data's responses: 0% (it rejected no answer)."""
    if _text(message).strip() or message.tool_calls or message.invalid_tool_calls:
        return None
    return "empty answer"


# Heuristic, kept conservative: only phrases that open a refusal, matched at the very start of
# the answer. "I can't" alone is not enough ("I can't stress enough how ..."): it must be
# followed by a verb of helping. Extend it with your own check rather than loosening it.
_REFUSAL = re.compile(
    r"""^\s*(?:
        i\s*(?:can't|cannot|can\s+not|am\s+unable\s+to|'m\s+unable\s+to|won't|will\s+not
            |am\s+not\s+able\s+to|'m\s+not\s+able\s+to)
            \s+(?:help|assist|comply|provide|answer|do\s+that|fulfil|fulfill|support|share
                |create|generate|write|complete|engage|give)\b
      | i(?:'m|\s+am)\s+sorry,?\s+but\b
      | sorry,?\s+but\s+i\b
      | as\s+an\s+ai\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def _refusal(message: AIMessage, request: Request) -> str | None:
    """Reject a refusal: the provider's ``refusal`` field (OpenAI structured output), or an
    answer that *starts* with a common refusal phrase ("I can't help", "I cannot assist",
    "I'm sorry, but", "As an AI" ...). A heuristic: a refusal worded otherwise passes.

    False-escalation rate on the shared routing data's responses: 0% (it rejected no answer)."""
    if message.additional_kwargs.get("refusal"):
        return "refusal (provider refusal field)"
    if message.tool_calls:
        return None
    head = _text(message)[:200].replace("\u2019", "'")
    m = _REFUSAL.match(head)
    return f"refusal: {m.group(0).strip()!r}" if m else None


def low_confidence(threshold: float) -> Verifier:
    """Reject an answer whose mean token log-probability is below ``threshold`` (e.g. -1.0).

    Reads OpenAI-style ``response_metadata["logprobs"]["content"][i]["logprob"]``, present only
    when the model was asked for them (``ChatOpenAI(logprobs=True)``). No logprobs: accept.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ConfigError(f"low_confidence threshold must be a number, got {threshold!r}")
    if not math.isfinite(threshold) or threshold > 0:
        raise ConfigError(
            f"low_confidence threshold is a mean log-probability, so <= 0; got {threshold!r}"
        )

    def check(message: AIMessage, request: Request) -> str | None:
        values = _logprobs(message.response_metadata.get("logprobs"))
        if not values:
            return None
        mean = sum(values) / len(values)
        if mean < threshold:
            return f"low confidence: mean token logprob {mean:.3f} < {threshold}"
        return None

    return Verifier(check, f"low_confidence({threshold})", low_confidence.__doc__)


def _logprobs(raw: Any) -> list[float]:
    items = raw.get("content") if isinstance(raw, Mapping) else raw
    if not isinstance(items, Sequence) or isinstance(items, str):
        return []
    out = []
    for item in items:
        lp = item.get("logprob") if isinstance(item, Mapping) else None
        if isinstance(lp, (int, float)) and not isinstance(lp, bool) and math.isfinite(lp):
            out.append(float(lp))
    return out


empty_answer = Verifier(_empty_answer, "empty_answer")
refusal = Verifier(_refusal, "refusal")
