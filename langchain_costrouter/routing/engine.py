"""What every call of one router shares: its policies, settled once when the router is built.

The router builds one :class:`Engine` in its constructor and never changes it; each call gets
its own :class:`~langchain_costrouter.routing.run.CallRun` from :meth:`Engine.start`. Settling
the policies here is where conflicting arguments are refused (see :func:`settle`), so the
engine never has to choose between two of them at run time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel

from langchain_costrouter.cascade import Check, as_check
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.pool import ModelPool
from langchain_costrouter.resilience.breaker import Breakers
from langchain_costrouter.resilience.concurrency import ConcurrencyLimiter
from langchain_costrouter.resilience.failures import Classify
from langchain_costrouter.resilience.failures import classify as default_classify
from langchain_costrouter.resilience.retry import RetryPolicy
from langchain_costrouter.routing.overrides import ROUTING_KWARGS

if TYPE_CHECKING:
    from langchain_costrouter.routing.plan import RoutePlan
    from langchain_costrouter.routing.run import CallRun

TOOL_KWARGS = ("tool_choice", "parallel_tool_calls", "strict")


@dataclass(frozen=True, kw_only=True)
class Engine:
    """A router's call policies and shared resources (immutable)."""

    pool: ModelPool
    breakers: Breakers | None
    classify: Classify
    """The one classifier: the breakers and the retry policy see its verdicts."""
    retry: RetryPolicy | None
    deadline_s: float | None
    limiter: ConcurrencyLimiter | None
    cascade: Check | Sequence[Check] | None
    temperature: float | None
    max_tokens: int | None
    stop: list[str] | None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] = time.sleep
    asleep: Callable[[float], Awaitable[object]] = asyncio.sleep

    def start(self, plan: RoutePlan, kwargs: Mapping[str, Any],
              stop: list[str] | None) -> CallRun:
        from langchain_costrouter.routing.run import CallRun

        return CallRun(self, plan, kwargs, stop)

    def check_for(self, kwargs: Mapping[str, Any]) -> Check | None:
        return as_check(self.cascade, kwargs)

    def priority_of(self, kwargs: Mapping[str, Any]) -> int:
        value = kwargs.get("priority")
        if value is None:
            return 0
        bad = ConfigError(f"priority must be an integer (lower = sooner), got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise bad
        try:
            return int(value)
        except ValueError:
            raise bad from None

    def call_kwargs(self, chat: BaseChatModel, kwargs: Mapping[str, Any],
                    stop: list[str] | None) -> dict[str, Any]:
        """What the chosen model gets: routing keys removed, router defaults, its own tools."""
        kw = {k: v for k, v in kwargs.items() if k not in ROUTING_KWARGS}
        if self.temperature is not None:
            kw.setdefault("temperature", self.temperature)
        if self.max_tokens is not None:
            kw.setdefault("max_tokens", self.max_tokens)
        tools = kw.pop("tools", None)
        if tools is not None:
            extra = {k: kw.pop(k) for k in TOOL_KWARGS if k in kw}
            bound = chat.bind_tools(tools, **extra)
            kw = {**getattr(bound, "kwargs", {}), **kw}
        kw["stop"] = stop
        return kw


def settle(
    *,
    fields_set: set[str],
    classify: Classify,
    breakers: Breakers | bool | None,
    retry: RetryPolicy | None,
    max_retries: int,
    deadline_s: float | None,
    providers: Mapping[str, str],
) -> tuple[Classify, Breakers | None, RetryPolicy]:
    """One way to set each policy: the classifier, the breakers and the retry policy.

    ``classify=`` is honoured with ``breakers=Breakers(...)`` (the router classifies and hands
    the breakers the verdict); two different classifiers given both ways, or ``retry=`` with
    ``max_retries``/``deadline_s``, are a ``ConfigError`` naming both.
    """
    given = "classify" in fields_set
    if isinstance(breakers, Breakers):
        own = breakers.classify
        if given and own is not default_classify and own is not classify:
            raise ConfigError("classify= and breakers=Breakers(classify=...) disagree: "
                              "give the classifier in one place")
        if not given:
            classify = own
    if retry is not None:
        both = sorted({"max_retries", "deadline_s"} & fields_set)
        if both:
            raise ConfigError(f"retry= and {', '.join(both)}= both set the retry policy: put "
                              f"them in RetryPolicy(max_attempts=..., deadline_s=...)")
        if retry.classify is not default_classify and retry.classify is not classify:
            raise ConfigError("classify= and retry=RetryPolicy(classify=...) disagree: "
                              "give the classifier in one place")
    else:
        retry = RetryPolicy(max_attempts=max_retries + 1, deadline_s=deadline_s,
                            classify=classify)
    if breakers is None:
        built: Breakers | None = Breakers(classify=classify, providers=providers)
    elif breakers is False or breakers is True:
        built = None if breakers is False else Breakers(classify=classify, providers=providers)
    else:
        built = breakers
    return classify, built, retry
