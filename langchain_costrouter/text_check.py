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

from langchain_core.messages import BaseMessage

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


def _sendable(value: Any, depth: int = 0) -> bool:
    """Whether :func:`_walk` would pass ``value``, without building the paths it names: the
    check runs on every call, and nearly every text passes (an ASCII string has no surrogate)."""
    if isinstance(value, str):
        return value.isascii() or _SURROGATE.search(value) is None
    if depth >= _MAX_DEPTH:
        return True
    if isinstance(value, Mapping):
        return all((not isinstance(k, str) or _sendable(k, depth)) and _sendable(v, depth + 1)
                   for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_sendable(v, depth + 1) for v in value)
    return True


def _message_sendable(msg: Any) -> bool:
    if isinstance(msg, Mapping):
        content, calls, name = msg.get("content"), msg.get("tool_calls"), msg.get("name")
    elif isinstance(msg, BaseMessage):  # pydantic: a missing attribute would cost an exception
        fields, extra = msg.__dict__, msg.__pydantic_extra__ or {}
        content, name = msg.content, msg.name
        calls = fields["tool_calls"] if "tool_calls" in fields else extra.get("tool_calls")
    else:
        content = getattr(msg, "content", None)
        calls = getattr(msg, "tool_calls", None)
        name = getattr(msg, "name", None)
    return ((not content or _sendable(content)) and (not calls or _sendable(calls))
            and (not name or _sendable(name)))


def check_messages(messages: Iterable[Any]) -> None:
    """Raise ``InvalidTextError`` for the first text that cannot be sent.

    Looks at each message's ``content`` (a string or a list of content blocks), its tool
    calls' arguments and its ``name``; works on LangChain messages and on plain dicts.
    """
    if not isinstance(messages, (list, tuple)):
        messages = list(messages)
    if all(_message_sendable(m) for m in messages):
        return
    for i, msg in enumerate(messages):  # one is not sendable: find it and say where
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
