"""Cascade checks: try the cheap model first, escalate when its answer fails a cheap check.

A *check* is a plain callable ``check(message) -> str | None``: it returns a short reason when
the answer is **not** acceptable, ``None`` to accept it. Give one (or a list, all must accept)
to ``ChatCostRouter(cascade=...)``::

    from langchain_costrouter.cascade import empty_answer, low_confidence, refusal

    router = ChatCostRouter(cascade=[empty_answer, refusal, low_confidence(-1.0)])

When the call asks for structured output (tools with a forced ``tool_choice``, or a
``response_format``), the router also checks that the answer parses (:func:`structured_check`);
``cascade=[]`` turns on only that check. These checks are heuristics: cheap to run, blind to
wrong-but-confident answers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.utils.json import parse_json_markdown

from langchain_costrouter.exceptions import ConfigError

Check = Callable[[AIMessage], "str | None"]
"""``check(message) -> reason`` when the answer is not acceptable, ``None`` to accept it."""


def _text(message: AIMessage) -> str:
    return message.text


def empty_answer(message: AIMessage) -> str | None:
    """Reject an answer with no text (whitespace only) and no tool calls."""
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


def refusal(message: AIMessage) -> str | None:
    """Reject a refusal: the provider's ``refusal`` field (OpenAI structured output), or an
    answer that *starts* with a common refusal phrase ("I can't help", "I cannot assist",
    "I'm sorry, but", "As an AI" ...). A heuristic: a refusal worded otherwise passes."""
    if message.additional_kwargs.get("refusal"):
        return "refusal (provider refusal field)"
    if message.tool_calls:
        return None
    head = _text(message)[:200].replace("\u2019", "'")
    m = _REFUSAL.match(head)
    return f"refusal: {m.group(0).strip()!r}" if m else None


def low_confidence(threshold: float) -> Check:
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

    def check(message: AIMessage) -> str | None:
        values = _logprobs(message.response_metadata.get("logprobs"))
        if not values:
            return None
        mean = sum(values) / len(values)
        if mean < threshold:
            return f"low confidence: mean token logprob {mean:.3f} < {threshold}"
        return None

    check.__name__ = check.__qualname__ = f"low_confidence({threshold})"
    return check


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


def all_of(*checks: Check) -> Check:
    """One check from several: the first reason given wins; all must accept."""
    for c in checks:
        if not callable(c):
            raise ConfigError(f"a cascade check must be callable, got {c!r}")

    def check(message: AIMessage) -> str | None:
        for c in checks:
            if (reason := c(message)) is not None:
                return reason
        return None

    check.__name__ = check.__qualname__ = (
        "all_of(" + ", ".join(getattr(c, "__name__", repr(c)) for c in checks) + ")"
    )
    return check


# -- structured output ------------------------------------------------------------------------


def structured_check(kwargs: Mapping[str, Any]) -> Check | None:
    """The parse check for a structured-output call, ``None`` for any other call.

    * tools with a forced ``tool_choice`` (``"any"``, ``"required"``, a tool's name or a dict):
      the answer must hold a tool call of a bound tool, with JSON arguments that are an object
      having the tool schema's required keys;
    * ``response_format`` ``json_schema``: the text must parse as a JSON object (fenced JSON
      accepted, like LangChain's parsers) with the schema's required keys; ``json_object``: a
      JSON object.
    """
    tools = kwargs.get("tools")
    choice = kwargs.get("tool_choice")
    if tools and _forced(choice):
        schemas = {_tool_name(t): _tool_params(t) for t in tools}
        wanted = _chosen_name(choice)
        return lambda message: _check_tool_call(message, schemas, wanted)
    rf = kwargs.get("response_format")
    if isinstance(rf, Mapping) and rf.get("type") in ("json_schema", "json_object"):
        schema = (rf.get("json_schema") or {}).get("schema") or {}
        return lambda message: _check_json(message, schema)
    return None


def _forced(choice: Any) -> bool:
    if isinstance(choice, Mapping):
        return True
    return isinstance(choice, str) and choice not in ("auto", "none")


def _chosen_name(choice: Any) -> str | None:
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        return fn.get("name") if isinstance(fn, Mapping) else choice.get("name")
    return None if choice in ("any", "required") else choice


def _tool_name(tool: Any) -> str:
    if isinstance(tool, Mapping):
        fn = tool.get("function")
        return str(fn.get("name") if isinstance(fn, Mapping) else tool.get("name"))
    return str(getattr(tool, "name", getattr(tool, "__name__", tool)))


def _tool_params(tool: Any) -> Mapping[str, Any]:
    if isinstance(tool, Mapping):
        fn = tool.get("function")
        params = fn.get("parameters") if isinstance(fn, Mapping) else tool.get("parameters")
        return params if isinstance(params, Mapping) else {}
    return {}


def _missing(args: Any, schema: Mapping[str, Any]) -> str | None:
    if not isinstance(args, Mapping):
        return f"arguments are {type(args).__name__}, not a JSON object"
    required = [k for k in schema.get("required") or [] if k not in args]
    return f"missing required keys {required}" if required else None


def _check_tool_call(
    message: AIMessage, schemas: Mapping[str, Mapping[str, Any]], wanted: str | None
) -> str | None:
    calls = [c for c in message.tool_calls if wanted is None or c["name"] == wanted]
    if not calls:
        bad = [c for c in message.invalid_tool_calls if wanted is None or c["name"] == wanted]
        if bad:
            return f"structured output: tool call {bad[0]['name']!r} has invalid JSON arguments"
        return "structured output: no tool call" + (f" to {wanted!r}" if wanted else "")
    call = calls[0]
    if call["name"] not in schemas:
        return f"structured output: call to unknown tool {call['name']!r}"
    why = _missing(call["args"], schemas[call["name"]])
    return f"structured output: tool call {call['name']!r} {why}" if why else None


def _check_json(message: AIMessage, schema: Mapping[str, Any]) -> str | None:
    text = _text(message).strip()
    try:
        value = parse_json_markdown(text)
    except (json.JSONDecodeError, ValueError, TypeError):
        return "structured output: the answer is not valid JSON"
    why = _missing(value, schema)
    return f"structured output: {why}" if why else None


def as_check(cascade: Check | Sequence[Check] | None, kwargs: Mapping[str, Any]) -> Check | None:
    """The check for one call: the user's checks plus the structured-output check."""
    if cascade is None:
        return None
    user = [cascade] if callable(cascade) else list(cascade)
    parse = structured_check(kwargs)
    checks = [parse, *user] if parse is not None else user
    if not checks:
        return None
    return checks[0] if len(checks) == 1 else all_of(*checks)
