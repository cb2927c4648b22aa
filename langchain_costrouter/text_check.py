"""Text that cannot be sent: a prompt with a lone UTF-16 surrogate (``"\\ud800"``, left by a
bad decode or a cut emoji) cannot be encoded as UTF-8, so the HTTP client fails at send time
with a raw ``UnicodeEncodeError``, after planning, budgeting and breaker bookkeeping ran.

:func:`check_messages` finds it before anything is sent and raises
:class:`~langchain_costrouter.exceptions.InvalidTextError` (a ``ConfigError``) naming the
message, the part and the character position. Nothing is repaired silently: replacing the
character would change the prompt the caller wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from langchain_costrouter.exceptions import InvalidTextError

_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 6


def check_text(text: str, where: str) -> str:
    """``text`` if it can be encoded as UTF-8; else ``InvalidTextError`` naming ``where``."""
    m = _SURROGATE.search(text)
    if m is not None:
        raise InvalidTextError(where, m.start(), ord(m.group()))
    return text


def _walk(value: Any, where: str, depth: int = 0) -> None:
    if isinstance(value, str):
        check_text(value, where)
    elif depth >= _MAX_DEPTH:
        return
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str):
                check_text(k, f"{where} key {k!r}")
            _walk(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _walk(v, f"{where}[{i}]", depth + 1)


def check_messages(messages: Iterable[Any]) -> None:
    """Raise ``InvalidTextError`` for the first text that cannot be sent.

    Looks at each message's ``content`` (a string or a list of content blocks), its tool
    calls' arguments and its ``name``; works on LangChain messages and on plain dicts.
    """
    for i, msg in enumerate(messages):
        if isinstance(msg, Mapping):
            role, parts = str(msg.get("role", "message")), dict(msg)
        else:
            role = str(getattr(msg, "type", type(msg).__name__))
            parts = {
                "content": getattr(msg, "content", None),
                "tool_calls": getattr(msg, "tool_calls", None),
                "name": getattr(msg, "name", None),
            }
        for key in ("content", "tool_calls", "name"):
            value = parts.get(key)
            if value:
                _walk(value, f"message {i} ({role}) {key}")


def check_payload(value: Any, where: str) -> None:
    """The same check over any JSON-like value (tool schemas, ``response_format``...)."""
    _walk(value, where)
