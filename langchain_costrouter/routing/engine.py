"""What every call of one router shares: its policies, settled once when the router is built.

The router builds one :class:`Engine` in its constructor and never changes it; each call gets
its own :class:`~langchain_costrouter.routing.run.CallRun` from :meth:`Engine.start`. The policies
are settled before (:func:`~langchain_costrouter.routing.config.settle` refuses conflicting
arguments), so the engine never has to choose between two of them at run time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel

from langchain_costrouter.batch.flex import FlexPolicy
from langchain_costrouter.cascade import Check
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.pool import ModelPool
from langchain_costrouter.resilience.breaker import Breakers
from langchain_costrouter.resilience.concurrency import ConcurrencyLimiter
from langchain_costrouter.resilience.failures import Classify
from langchain_costrouter.resilience.retry import RetryPolicy
from langchain_costrouter.routing.overrides import ROUTING_KWARGS

if TYPE_CHECKING:
    from langchain_costrouter.models.catalog import Catalog
    from langchain_costrouter.routing.plan import RoutePlan
    from langchain_costrouter.routing.run import CallRun
    from langchain_costrouter.routing.scorers import Scorer, Thresholds

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
    flex_policy: FlexPolicy = field(default_factory=FlexPolicy)
    """What a flex refusal does (``routing.lanes``)."""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] = time.sleep
    asleep: Callable[[float], Awaitable[object]] = asyncio.sleep

    def start(self, plan: RoutePlan, kwargs: Mapping[str, Any], stop: list[str] | None,
              check: Callable[[Any], str | None] | None = None) -> CallRun:
        """A run for one call; ``check`` is the cascade's check of an answer (invoke only)."""
        from langchain_costrouter.routing.run import CallRun

        return CallRun(self, plan, kwargs, stop, check)

    def priority_of(self, kwargs: Mapping[str, Any]) -> int:
        value = kwargs.get("priority")
        if value is None:
            return 0
        if type(value) is int:
            return value
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


class Runtime:
    """What a router builds once: its catalog, scorer, thresholds and call engine."""

    __slots__ = ("catalog", "catalog_params", "engine", "scorer", "thresholds")

    def __init__(self, catalog: Catalog, scorer: Scorer, thresholds: Thresholds, engine: Engine,
                 catalog_params: dict[str, Any]) -> None:
        self.catalog = catalog
        self.scorer = scorer
        self.thresholds = thresholds
        self.engine = engine
        self.catalog_params = catalog_params
