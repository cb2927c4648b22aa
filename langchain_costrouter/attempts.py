"""The record of one call's tries, and the default rule for when to fall back.

A fallback rule is a plain callable ``(exc) -> bool``: ``True`` moves the call to the next
candidate, ``False`` raises the error at once (the request itself is wrong, so another model
would fail the same way).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any

from langchain_costrouter.exceptions import (
    AllModelsFailedError,
    Attempt,
    ConfigError,
    StreamInterruptedError,
)
from langchain_costrouter.selection import Candidate, RoutePlan

_REQUEST_ERRORS = {400, 401, 403, 404, 422}
_MOVE_ON_CODES = ("context_length", "context_window", "insufficient_quota", "quota", "credit")


def status_of(exc: BaseException) -> int | None:
    """HTTP status of a provider error, whatever the SDK (``status_code`` or ``response``)."""
    code = getattr(exc, "status_code", None)
    if code is None:
        response = getattr(exc, "response", None)
        code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def _body_text(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    return f"{body} {exc}".lower()


def default_fallback_on(exc: BaseException) -> bool:
    """Fall back on provider trouble; raise on errors the request itself caused.

    * configuration errors and broken streams: raise;
    * 400/401/403/404/422: raise, unless the body says the context is too long or the
      account is out of credit or quota, which another model can fix;
    * everything else (5xx, 429, timeouts, connection errors, garbage): fall back.
    """
    if isinstance(exc, (ConfigError, StreamInterruptedError)):
        return False
    status = status_of(exc)
    if status in _REQUEST_ERRORS:
        return any(code in _body_text(exc) for code in _MOVE_ON_CODES)
    return True


def describe(exc: BaseException) -> str:
    """Type and first line of an error, short, for attempts lists."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    status = status_of(exc)
    head = f"{type(exc).__name__}" + (f" {status}" if status else "")
    return f"{head}: {text[:200]}" if text else head


class Action(Enum):
    RETRY = "retry"
    NEXT = "next"
    RAISE = "raise"


class AttemptLog:
    """Attempts of one call, in order, with the errors that ended them."""

    def __init__(
        self,
        fallback_on: Callable[[BaseException], bool],
        max_retries: int = 0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.fallback_on = fallback_on
        self.max_retries = max_retries
        self.clock = clock
        self.attempts: list[Attempt] = []
        self.errors: list[Exception] = []
        self._retries: dict[str, int] = {}

    def candidates(self, plan: RoutePlan) -> Iterator[Candidate]:
        yield from plan.candidates

    def failed(
        self, cand: Candidate, exc: Exception, start: float, *, final: bool = False
    ) -> Action:
        self.attempts.append(
            Attempt(
                tier=cand.name, status="error", error=describe(exc), duration_s=self.clock() - start
            )
        )
        if final or not self.fallback_on(exc):
            return Action.RAISE
        used = self._retries.get(cand.name, 0)
        if used < self.max_retries:
            self._retries[cand.name] = used + 1
            return Action.RETRY
        self.errors.append(exc)
        return Action.NEXT

    def succeeded(self, cand: Candidate, start: float) -> None:
        self.attempts.append(Attempt(tier=cand.name, status="ok", duration_s=self.clock() - start))

    def as_dicts(self) -> list[dict[str, Any]]:
        return [a.as_dict() for a in self.attempts]

    def all_failed(self, plan: RoutePlan) -> AllModelsFailedError:
        n = len({a.tier for a in self.attempts})
        return AllModelsFailedError(
            f"all {n} candidate models failed for a {plan.level.value}-level call",
            self.errors,
            self.attempts,
        )
