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
    CostCeilingError,
    MissingAPIKeyError,
    NoCapableModelError,
)
from langchain_costrouter.models.catalog import Catalog, ModelSpec
from langchain_costrouter.models.lanes import LANES
from langchain_costrouter.pricing.resolver import estimate_cost
from langchain_costrouter.pricing.tokens import count_messages
from langchain_costrouter.redact import scrub_text
from langchain_costrouter.routing.lanes import LanePick, prices_on
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
    """At the prices of its lane."""
    lane: str = "realtime"
    """The lane it is served on (``realtime`` or ``flex``; ``batch`` in a batch job's plan)."""


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


_INF = Decimal("Infinity")
CeilingMode = Literal["hard", "soft"]
Escalate = bool | Literal["up", "down", "any"]


def cost_key(c: Candidate) -> Decimal:
    """Sort key by estimated cost; an unpriced model sorts last (we cannot claim it is cheap)."""
    return c.estimated_cost if c.estimated_cost is not None else _INF


_cost_key = cost_key


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
    scored_level: Level | None = None
    """The scorer's level (``None`` if the scorer was not asked)."""
    reason: str | None = None
    """Why the first candidate is not of the planned level: ``ceiling`` or
    ``missing_capability`` (see :data:`~langchain_costrouter.routing.metadata.REASONS`)."""
    pinned: bool = False
    """A model or level was pinned by the caller."""
    route_reason: str | None = None
    """A reason given by the caller (``budget_downgrade`` from the budget guard)."""

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
    default_output_tokens: int | None,
    ceiling: Decimal | None,
    policy: SelectionPolicy,
    tools: Sequence[dict[str, Any]] | None = None,
    has_key: Callable[[ModelSpec], bool] = lambda spec: True,
    escalate: Escalate = True,
    ceiling_mode: CeilingMode = "hard",
    scored_level: Level | None = None,
    pinned: bool = False,
    route_reason: str | None = None,
    lanes: LanePick | None = None,
) -> RoutePlan:
    """Price and filter the candidates of ``level`` (or the pinned ``names``) and order them.

    Fallbacks after the level's own candidates are those of other levels, each group ordered
    by the same policy, so an outage of every model of a level still gets an answer:
    ``"up"`` (or ``True``, the default) tries only the higher levels, so a call never falls
    to a cheaper class unless asked (a ``ceiling`` asks: then the lower levels follow, so a
    model that fits it can serve, with reason ``ceiling``); ``"any"`` the higher levels, then
    the lower ones;
    ``"down"`` the lower first (cheaper, for cost-bound workloads), then the higher;
    ``False`` keeps only the level's own.

    A ``"hard"`` ceiling drops every candidate whose estimate is over it (or unknown) and raises
    :class:`CostCeilingError` naming the cheapest estimate when none is left; a ``"soft"`` one
    serves the cheapest model overall when nothing fits (the metadata says ``over_ceiling``).

    ``lanes(spec)`` names each candidate's lane (``routing.lanes.LaneAsk.pick``); it is priced
    at that lane's prices, so the order, the ceiling and a budget's estimate all use them. A
    model without the lane asked for is skipped, with the reason.
    """
    if ceiling is not None and escalate in (True, "up"):
        escalate = "any"  # a ceiling asks for cheaper: a lower level may meet it ("ceiling")
    groups = _groups(catalog, level, tuple(names) if names is not None else None, escalate)
    token_cache: dict[str, int] = {}
    skipped: dict[str, str] = {}
    windows: dict[str, int] = {}
    ordered: list[Candidate] = []
    every: list[Candidate] = []
    prompt_tokens = 0
    out_tokens = 0
    for lv, group in groups:
        usable: list[Candidate] = []
        for name, spec in group:
            if spec.tokenizer not in token_cache:
                token_cache[spec.tokenizer] = count_messages(messages, spec.tokenizer, tools)
            prompt_tokens = token_cache[spec.tokenizer]
            out_tokens = _output_cap(spec, prompt_tokens, max_tokens, default_output_tokens)
            reason = _unfit(spec, needs, max_tokens, prompt_tokens + max(out_tokens, 1))
            if reason == "context":
                windows[name] = spec.context_window
                skipped[name] = (
                    f"context window {spec.context_window} < {prompt_tokens} prompt "
                    f"+ {out_tokens} output tokens"
                )
                continue
            if reason is None and not has_key(spec):
                reason = scrub_text(f"missing API key {spec.api_key_env}")
                _warn_no_key(spec)
            lane = "realtime" if lanes is None or reason is not None else lanes(spec)
            if lane not in LANES:
                reason = lane
            if reason is not None:
                skipped[name] = reason
                continue
            cost = estimate_cost(prices_on(spec, lane), prompt_tokens, out_tokens)
            usable.append(Candidate(name, spec, lv, prompt_tokens, out_tokens, cost, lane))
        every.extend(usable)
        ordered.extend(policy(usable, ceiling))
    reason = None
    if ceiling is not None and ordered:
        if ceiling_mode == "hard":
            fits = [c for c in ordered if _within(c, ceiling)]
            if not fits:
                cheapest = min(every, key=_cost_key)
                raise CostCeilingError(ceiling=ceiling, cheapest=cheapest.estimated_cost,
                                       model=cheapest.name, level=level.value)
            if fits[0] is not ordered[0]:
                reason = "ceiling"
            ordered = fits
        elif not _within(ordered[0], ceiling):
            # Nothing of the level fits the soft ceiling: the cheapest model overall serves.
            ordered = sorted(every, key=_cost_key)
            reason = "ceiling"
    if reason is None and ordered and names is None and ordered[0].level is not level:
        reason = "missing_capability"  # the level's own models cannot take this call
    if not ordered:
        if windows and len(windows) == len(skipped):
            raise ContextWindowExceededError(prompt_tokens, out_tokens, windows)
        keys = [s for s in skipped.values() if s.startswith("missing API key")]
        if keys and len(keys) == len(skipped):
            env = sorted({catalog[n].api_key_env or "" for n in skipped})
            raise MissingAPIKeyError(list(skipped), env)
        raise NoCapableModelError(level.value, skipped)
    return RoutePlan(level, score, tuple(ordered), skipped, ceiling, scored_level, reason,
                     pinned, route_reason)


Groups = tuple[tuple[Level, tuple[tuple[str, ModelSpec], ...]], ...]
_GROUPS: dict[tuple[int, Level, tuple[str, ...] | None, object], tuple[Catalog, Groups]] = {}


def _groups(catalog: Catalog, level: Level, names: tuple[str, ...] | None,
            escalate: bool | str) -> Groups:
    """The candidate groups in order, each model once (the catalog never changes: cached)."""
    key = (id(catalog), level, names, escalate)
    hit = _GROUPS.get(key)
    if hit is not None and hit[0] is catalog:
        return hit[1]
    if names is not None:
        raw = [(level, names)]
    else:
        raw = [(level, catalog.levels[level])]
        if escalate:
            above = [lv for lv in LEVELS if lv.rank > level.rank]
            below = [lv for lv in reversed(LEVELS) if lv.rank < level.rank]
            order = {"down": below + above, "any": above + below}.get(str(escalate), above)
            raw += [(lv, catalog.levels[lv]) for lv in order]
    seen: set[str] = set()
    groups = []
    for lv, group in raw:
        fresh = tuple((n, catalog[n]) for n in group if not (n in seen or seen.add(n)))
        if fresh:
            groups.append((lv, fresh))
    if len(_GROUPS) > 1024:
        _GROUPS.clear()
    _GROUPS[key] = (catalog, tuple(groups))
    return tuple(groups)


_warned_keys: set[str] = set()


def _warn_no_key(spec: ModelSpec) -> None:
    if spec.name not in _warned_keys:
        _warned_keys.add(spec.name)
        warnings.warn(
            scrub_text(f"model {spec.name!r} is skipped: its API key variable "
                       f"{spec.api_key_env} is not set"),
            MissingKeyWarning,
            stacklevel=5,  # _warn_no_key, make_plan, plan_request, plan, the caller
        )


class MissingKeyWarning(UserWarning):
    """A candidate model was skipped because its API key is not set."""


def _output_cap(spec: ModelSpec, prompt_tokens: int, max_tokens: int | None,
                default: int | None) -> int:
    """The most output the call can produce on ``spec``: ``max_tokens``, else the model's own
    output cap (or the router's ``default_output_tokens``), within what the window leaves."""
    cap = max_tokens or default or spec.max_output_tokens
    if max_tokens is None:
        cap = min(cap, max(spec.context_window - prompt_tokens, 0))
    return min(cap, spec.max_output_tokens)


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
