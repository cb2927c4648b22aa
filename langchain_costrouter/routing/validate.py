"""Call arguments are checked when the call is planned, before anything reaches a provider.

A bad ``stop``, ``max_tokens``, ``temperature``, ``tools`` or ``tool_choice`` is the caller's
mistake: it raises ``ConfigError`` naming the argument, with no network call. Sent on, it would
come back as a provider error (or a 500 from a strict gateway) and be counted against every
model the router falls back to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_costrouter.exceptions import ConfigError

TOOL_CHOICE_WORDS = frozenset({"auto", "none", "required", "any"})


def check_call_args(stop: Any, kwargs: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` for the first bad call argument, naming it and its value."""
    if stop is None and not kwargs:
        return
    if stop is not None:
        _check_stop(stop)
    if "max_tokens" in kwargs and kwargs["max_tokens"] is not None:
        _check_max_tokens(kwargs["max_tokens"])
    if "temperature" in kwargs and kwargs["temperature"] is not None:
        _check_temperature(kwargs["temperature"])
    tools = kwargs.get("tools")
    if tools is not None:
        _check_tools(tools)
    if kwargs.get("tool_choice") is not None:
        _check_tool_choice(kwargs["tool_choice"], tools)


def _bad(name: str, value: Any, want: str) -> ConfigError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ConfigError(f"{name}={shown} is not valid: {want}")


def _check_stop(stop: Any) -> None:
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, Sequence) or isinstance(items, (bytes, bytearray)):
        raise _bad("stop", stop, "give a string or a list of strings")
    for s in items:
        if not isinstance(s, str) or not s:
            raise _bad("stop", stop, "every stop sequence must be a non-empty string")


def _check_max_tokens(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad("max_tokens", value, "give a whole number of tokens >= 1")


def _check_temperature(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad("temperature", value, "give a number between 0 and 2")
    if not math.isfinite(value) or not 0 <= value <= 2:
        raise _bad("temperature", value, "give a number between 0 and 2")


def _tool_name(tool: Any) -> str | None:
    if not isinstance(tool, Mapping):  # a BaseTool, a pydantic class or a function
        name = getattr(tool, "name", None) or getattr(tool, "__name__", None)
        return name if isinstance(name, str) and name else None
    fn = tool.get("function")
    name = fn.get("name") if isinstance(fn, Mapping) else tool.get("name")
    return name if isinstance(name, str) and name else None


def _check_tools(tools: Any) -> None:
    if not isinstance(tools, Sequence) or isinstance(tools, (str, bytes)):
        raise _bad("tools", tools, "give a list of tools (use bind_tools)")
    for tool in tools:
        if _tool_name(tool) is None:
            raise _bad("tools", tool, "each tool needs a name (a tool, a schema class, a "
                       "function or an OpenAI-format tool dict)")


def _check_tool_choice(choice: Any, tools: Any) -> None:
    names = {_tool_name(t) for t in tools or ()}
    if isinstance(choice, bool):
        return
    if isinstance(choice, str):
        if choice in TOOL_CHOICE_WORDS or choice in names:
            return
        raise _bad("tool_choice", choice, "give auto, none, required or a bound tool's name")
    if isinstance(choice, Mapping):
        if choice.get("type") in TOOL_CHOICE_WORDS and "function" not in choice:
            return  # {"type": "auto"} and the like
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else choice.get("name")
        if isinstance(name, str) and name in names:
            return
        raise _bad("tool_choice", choice, "it must name one of the bound tools")
    raise _bad("tool_choice", choice, "give a string, a bool or a tool dict")
