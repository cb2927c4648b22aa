"""Which model serves a call: the route plan, and the selection policy that orders candidates.

:func:`make_plan` does the pure, I/O-free part of routing: it takes the scored level, counts the
prompt's tokens, prices each candidate and drops those that cannot serve the call (context window,
capabilities, missing key). A *selection policy* then orders what is left; the router tries them
in that order. Policies are plain callables ``(candidates, ceiling) -> ordered candidates``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from langchain_core.messages import BaseMessage

from langchain_costrouter.exceptions import (
    ContextWindowExceededError,
    MissingAPIKeyError,
    NoCapableModelError,
)
from langchain_costrouter.models.catalog import Catalog, ModelSpec
from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.pricing.tokens import count_messages
from langchain_costrouter.routing.levels import LEVELS, Level


@dataclass(frozen=True, slots=True)
class Candidate:
    """A model that can serve the call, with its estimated cost."""

    name: str
    spec: ModelSpec
    level: Level
    """The level whose list it came from (differs from the plan's level after escalation)."""
    input_tokens: int
    output_tokens: int
    estimated_cost: Decimal | None


@dataclass(frozen=True, slots=True)
class Needs:
    """What the call requires of a model."""

    tools: bool = False
    json_schema: bool = False
    streaming: bool = False
    vision: bool = False
    """The messages carry image blocks (``pricing.images.has_images``): text-only models
    answer those with a 400, so only models with ``Capabilities.vision`` may serve the call."""


SelectionPolicy = Callable[[Sequence[Candidate], "Decimal | None"], list[Candidate]]


def _cost_key(c: Candidate) -> Decimal:
    # An unpriced model sorts last: we cannot claim it is cheap.
    return c.estimated_cost if c.estimated_cost is not None else Decimal("Infinity")


def cheapest_within_ceiling(
    candidates: Sequence[Candidate], ceiling: Decimal | None
) -> list[Candidate]:
    """The default policy: cheapest first among those within the ceiling; list order breaks ties.

    When none fits the ceiling, everything is ordered cheapest first, so the cheapest model
    overall serves the call. Unpriced models count as over any ceiling.
    """
    ranked = sorted(candidates, key=_cost_key)  # sorted() is stable: list order breaks ties
    if ceiling is None:
        return ranked
    fits = [c for c in ranked if c.estimated_cost is not None and c.estimated_cost <= ceiling]
    return fits or ranked


def in_listed_order(candidates: Sequence[Candidate], ceiling: Decimal | None) -> list[Candidate]:
    """Preference order as listed in the level, skipping those over the ceiling (if any fit)."""
    if ceiling is None:
        return list(candidates)
    fits = [c for c in candidates if c.estimated_cost is not None and c.estimated_cost <= ceiling]
    return fits or sorted(candidates, key=_cost_key)


@dataclass(frozen=True)
class RoutePlan:
    """The outcome of routing, before any network call."""

    level: Level
    score: float | None
    candidates: tuple[Candidate, ...]
    """Ordered: the first serves the call, the rest are fallbacks."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Models left out, with the reason."""
    ceiling: Decimal | None = None

    @property
    def first(self) -> Candidate:
        return self.candidates[0]

    @property
    def tier(self) -> str:
        return self.first.name

    @property
    def spec(self) -> ModelSpec:
        return self.first.spec

    @property
    def input_tokens(self) -> int:
        return self.first.input_tokens

    @property
    def output_tokens(self) -> int:
        return self.first.output_tokens

    @property
    def estimated_cost(self) -> Decimal | None:
        return self.first.estimated_cost


def make_plan(
    catalog: Catalog,
    messages: Sequence[BaseMessage],
    *,
    level: Level,
    score: float | None,
    names: Sequence[str] | None,
    needs: Needs,
    max_tokens: int | None,
    default_output_tokens: int,
    ceiling: Decimal | None,
    policy: SelectionPolicy,
    tools: Sequence[dict[str, Any]] | None = None,
    has_key: Callable[[ModelSpec], bool] = lambda spec: True,
    escalate: bool | Literal["up", "down"] = True,
) -> RoutePlan:
    """Price and filter the candidates of ``level`` (or the pinned ``names``) and order them.

    Fallbacks after the level's own candidates are those of the other levels, each group
    ordered by the same policy, so an outage of every model of a level still gets an answer:
    ``"up"`` (or ``True``) tries the higher levels first, then the lower ones; ``"down"`` the
    lower first (cheaper, for cost-bound workloads); ``False`` keeps only the level's own.
    """
    if names is not None:
        groups = [(level, list(names))]
    else:
        groups = [(level, list(catalog.levels[level]))]
        if escalate:
            above = [lv for lv in LEVELS if lv.rank > level.rank]
            below = [lv for lv in reversed(LEVELS) if lv.rank < level.rank]
            order = below + above if escalate == "down" else above + below
            groups += [(lv, list(catalog.levels[lv])) for lv in order]

    token_cache: dict[str, int] = {}
    seen: set[str] = set()
    skipped: dict[str, str] = {}
    windows: dict[str, int] = {}
    ordered: list[Candidate] = []
    every: list[Candidate] = []
    prompt_tokens = 0
    out_tokens = 0
    for lv, group in groups:
        usable: list[Candidate] = []
        for name in group:
            if name in seen:
                continue
            seen.add(name)
            spec = catalog[name]
            if spec.tokenizer not in token_cache:
                token_cache[spec.tokenizer] = count_messages(messages, spec.tokenizer, tools)
            prompt_tokens = token_cache[spec.tokenizer]
            out_tokens = min(max_tokens or default_output_tokens, spec.max_output_tokens)
            reason = _unfit(spec, needs, max_tokens, prompt_tokens + out_tokens)
            if reason == "context":
                windows[name] = spec.context_window
                skipped[name] = (
                    f"context window {spec.context_window} < {prompt_tokens} prompt "
                    f"+ {out_tokens} output tokens"
                )
                continue
            if reason is None and not has_key(spec):
                reason = f"missing API key {spec.api_key_env}"
                _warn_no_key(spec)
            if reason is not None:
                skipped[name] = reason
                continue
            usage = TokenUsage(input_tokens=prompt_tokens, output_tokens=out_tokens)
            usable.append(
                Candidate(name, spec, lv, prompt_tokens, out_tokens, cost_of(spec.prices, usage))
            )
        every.extend(usable)
        ordered.extend(policy(usable, ceiling))
    if ceiling is not None and ordered and not _within(ordered[0], ceiling):
        # Nothing of the level fits the ceiling: the cheapest model overall serves the call.
        ordered = sorted(every, key=_cost_key)
    if not ordered:
        if windows and len(windows) == len(skipped):
            raise ContextWindowExceededError(prompt_tokens, out_tokens, windows)
        keys = [s for s in skipped.values() if s.startswith("missing API key")]
        if keys and len(keys) == len(skipped):
            env = sorted({catalog[n].api_key_env or "" for n in skipped})
            raise MissingAPIKeyError(list(skipped), env)
        raise NoCapableModelError(level.value, skipped)
    return RoutePlan(level, score, tuple(ordered), skipped, ceiling)


_warned_keys: set[str] = set()


def _warn_no_key(spec: ModelSpec) -> None:
    if spec.name not in _warned_keys:
        _warned_keys.add(spec.name)
        warnings.warn(
            f"model {spec.name!r} is skipped: its API key variable {spec.api_key_env} is not set",
            MissingKeyWarning,
            stacklevel=4,
        )


class MissingKeyWarning(UserWarning):
    """A candidate model was skipped because its API key is not set."""


def _within(c: Candidate, ceiling: Decimal) -> bool:
    return c.estimated_cost is not None and c.estimated_cost <= ceiling


def _unfit(spec: ModelSpec, needs: Needs, max_tokens: int | None, total: int) -> str | None:
    if total > spec.context_window:
        return "context"
    if max_tokens is not None and max_tokens > spec.max_output_tokens:
        return f"max_tokens {max_tokens} > its max output {spec.max_output_tokens}"
    caps = spec.capabilities
    if needs.tools and not caps.tools:
        return "no tool calling"
    if needs.json_schema and not caps.structured_output:
        return "no structured output"
    if needs.vision and not caps.vision:
        return "no vision (the request has images)"
    return None
