"""Cascade checks: try the cheap model first, escalate when its answer fails a cheap check.

A *check* is a plain callable ``check(message)`` or ``check(message, request)``: it returns a
short reason when the answer is **not** acceptable, ``None`` to accept it. Give one (or a list,
all must accept) to ``ChatCostRouter(cascade=...)``::

    from langchain_costrouter.cascade import arithmetic, final_answer, python_syntax

    router = ChatCostRouter(cascade=[empty_answer, final_answer, arithmetic, python_syntax])

Modules, one kind of check each: :mod:`.base` (the protocol, :class:`Request`, :func:`bind`,
:func:`all_of`, :func:`predicate`), :mod:`.basic` (empty, refusal, low confidence),
:mod:`.answers` (a final answer missing), :mod:`.arithmetic` (steps that do not re-compute),
:mod:`.code` (Python that does not parse), :mod:`.structured` (structured output, JSON answers,
with :mod:`.schema`), :mod:`.registry` (names for the CLI). Every check is deterministic and
cheap (no model call, no code execution); each docstring gives its measured false-escalation
rate. When the call asks for structured output the router also checks that the answer parses
(:func:`structured_check`); ``cascade=[]`` turns on only that check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from langchain_costrouter.cascade.answers import final_answer
from langchain_costrouter.cascade.arithmetic import arithmetic
from langchain_costrouter.cascade.base import (
    Check,
    Request,
    Verifier,
    all_of,
    bind,
    check_name,
    predicate,
)
from langchain_costrouter.cascade.basic import empty_answer, low_confidence, refusal
from langchain_costrouter.cascade.code import python_code, python_required, python_syntax
from langchain_costrouter.cascade.structured import json_answer, matches_schema, structured_check

__all__ = [
    "Check",
    "Request",
    "Verifier",
    "all_of",
    "arithmetic",
    "as_check",
    "bind",
    "check_name",
    "empty_answer",
    "final_answer",
    "json_answer",
    "low_confidence",
    "matches_schema",
    "predicate",
    "python_code",
    "python_required",
    "python_syntax",
    "refusal",
    "structured_check",
]


def as_check(
    cascade: Check | Sequence[Check] | None,
    kwargs: Mapping[str, Any],
    messages: Sequence[BaseMessage] = (),
) -> Callable[[AIMessage], str | None] | None:
    """The check for one call, as ``check(message) -> reason | None``: the structured-output
    check plus the user's checks, each bound to the call's :class:`Request` (``messages`` and
    ``kwargs``). A check that raises surfaces as ``CascadeCheckError`` naming it."""
    if cascade is None:
        return None
    user = [cascade] if callable(cascade) else list(cascade)
    request = Request(tuple(messages), dict(kwargs))
    bound = [bind(c, request) for c in user]
    parse = structured_check(kwargs)
    checks = [parse, *bound] if parse is not None else bound
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]

    def check(message: AIMessage) -> str | None:
        for c in checks:
            if (reason := c(message)) is not None:
                return reason
        return None

    check.__name__ = check.__qualname__ = "all_of(" + ", ".join(
        check_name(c) for c in checks) + ")"
    return check
