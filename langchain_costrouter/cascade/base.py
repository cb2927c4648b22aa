"""The check protocol: ``check(message)`` or ``check(message, request) -> reason | None``.

A check returns a short reason when the answer is **not** acceptable and ``None`` to accept it.
Checks that need the call (the prompt asks for a final answer, ``response_format`` gives a
schema) take a second argument, the :class:`Request`. One-argument checks keep working: the
router adapts every check through :func:`bind`, so both forms can be mixed in one cascade. A
callable that accepts two positional arguments gets the request as its second one.

A check that raises (or returns something that is neither ``str`` nor ``None``) is a bug in the
check, not a bad answer: :func:`bind` turns it into :class:`CascadeCheckError` naming the check.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from langchain_costrouter.exceptions import CascadeCheckError, ConfigError
from langchain_costrouter.redact import scrub_text

Check = Callable[..., "str | None"]
"""``check(message)`` or ``check(message, request)``: a reason to reject, ``None`` to accept."""


@dataclass(frozen=True)
class Request:
    """What a check may know about the call: its messages and its options (``response_format``,
    ``tools``, ``tool_choice`` ...). Empty when the caller did not pass them."""

    messages: Sequence[BaseMessage] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_prompt(cls, prompt: str, **options: Any) -> Request:
        """A one-message request (offline evaluation, tests)."""
        return cls((HumanMessage(prompt),), options)

    @cached_property
    def prompt(self) -> str:
        """The instructions: the text of every system and human message, in order."""
        parts = [m.text for m in self.messages if m.type in ("system", "human")]
        return "\n".join(p for p in parts if p)

    @cached_property
    def schema(self) -> Mapping[str, Any] | None:
        """The JSON schema the call asked for: ``response_format`` ``json_schema`` gives its
        schema, ``json_object`` an empty one (any object); ``None`` when JSON was not asked."""
        rf = self.options.get("response_format")
        if not isinstance(rf, Mapping):
            return None
        if rf.get("type") == "json_object":
            return {"type": "object"}
        if rf.get("type") == "json_schema":
            spec = rf.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, Mapping) else None
            return schema if isinstance(schema, Mapping) else {"type": "object"}
        return None


class Verifier:
    """A named check: ``verifier(message, request=None) -> reason | None``.

    ``name`` is what metadata, the CLI and reports show. Built-in checks are instances; wrap
    your own function with :func:`predicate` or ``Verifier(fn, name)``.
    """

    def __init__(
        self, fn: Callable[[AIMessage, Request], str | None], name: str, doc: str | None = None
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"a cascade check must be callable, got {fn!r}")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"a cascade check needs a non-empty name, got {name!r}")
        self.fn = fn
        self.name = name
        self.__name__ = name
        self.__doc__ = doc or fn.__doc__

    def __call__(self, message: AIMessage, request: Request | None = None) -> str | None:
        return self.fn(message, request if request is not None else Request())

    def __repr__(self) -> str:
        return f"<check {self.name}>"


def check_name(check: object) -> str:
    """``name``, else ``__name__``, else the type's name."""
    name = getattr(check, "name", None)
    if isinstance(name, str) and name:
        return name
    return str(getattr(check, "__name__", type(check).__name__))


_ARITY: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _takes_request(check: Check) -> bool:
    """Whether ``check`` accepts ``(message, request)``; cached, as the router asks per call."""
    if isinstance(check, Verifier):
        return True
    try:
        return _ARITY[check]
    except (KeyError, TypeError):  # not seen yet, or not weak-referenceable
        pass
    try:
        inspect.signature(check).bind(None, None)
        two = True
    except TypeError:
        two = False
    except ValueError:  # some builtins have no signature: call the one-argument form
        two = False
    with contextlib.suppress(TypeError):
        _ARITY[check] = two
    return two


def bind(check: Check, request: Request) -> Callable[[AIMessage], str | None]:
    """``check`` as a one-argument callable for this call; its failures are typed."""
    if not callable(check):
        raise ConfigError(f"a cascade check must be callable, got {check!r}")
    name = check_name(check)
    two = _takes_request(check)

    def run(message: AIMessage) -> str | None:
        try:
            reason = check(message, request) if two else check(message)
        except CascadeCheckError:
            raise
        except Exception as exc:
            raise CascadeCheckError(name, scrub_text(f"{type(exc).__name__}: {exc}")) from exc
        if reason is not None and not isinstance(reason, str):
            raise CascadeCheckError(
                name, f"returned {type(reason).__name__}; a check returns a reason (str) or None"
            )
        return reason

    run.__name__ = run.__qualname__ = name
    return run


def all_of(*checks: Check) -> Verifier:
    """One check from several: the first reason given wins; all must accept."""
    for c in checks:
        if not callable(c):
            raise ConfigError(f"a cascade check must be callable, got {c!r}")

    def check(message: AIMessage, request: Request) -> str | None:
        for c in checks:
            if (reason := bind(c, request)(message)) is not None:
                return reason
        return None

    return Verifier(check, "all_of(" + ", ".join(check_name(c) for c in checks) + ")")


def predicate(
    fn: Callable[..., object], name: str | None = None, reason: str | None = None
) -> Verifier:
    """A check from a yes/no function of the answer's text: ``fn(text)`` or
    ``fn(text, request)`` returns true to **accept**. A false result rejects with ``reason``
    (default: ``"<name> failed"``). Example: ``predicate(lambda t: "SELECT" in t, name="sql")``.
    """
    if not callable(fn):
        raise ConfigError(f"predicate needs a callable, got {fn!r}")
    label = name or check_name(fn)
    if label == "<lambda>":
        raise ConfigError("predicate(lambda ...) needs name=, so rejections say which check")
    why = reason or f"{label} failed"
    two = _takes_request(fn)

    def check(message: AIMessage, request: Request) -> str | None:
        ok = fn(message.text, request) if two else fn(message.text)
        return None if ok else why

    return Verifier(check, label, fn.__doc__)
