"""``response_metadata["costrouter"]``: the router writes it here, and reads it here.

:func:`build_entry` builds it from a finished call; :class:`RouteInfo` is the one parser,
used by the cost handler (``costs/observe``) and the budget guard (``budget/estimate``), so
both read the router's report by the same rules. The entry always says which level the scorer gave
(``scored_level``), which level served (``served_level``), why they differ (``reason``, one of
:data:`REASONS`) and the score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from langchain_costrouter.routing.events import event_dict
from langchain_costrouter.routing.lanes import prices_on

if TYPE_CHECKING:
    from langchain_costrouter.routing.plan import Candidate
    from langchain_costrouter.routing.run import CallRun

METADATA_KEY = "costrouter"
"""Key of the router's entry in ``response_metadata``."""

REASONS = (
    "budget_downgrade",
    "ceiling",
    "missing_capability",
    "fallback",
    "cascade_escalation",
    "pinned",
)
"""Why the served model is not the first one the scored level offers."""


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """The router's report on one call, parsed."""

    level: str | None
    """Level the call was planned at (the scored level, or the pinned one)."""
    scored_level: str | None
    served_level: str | None
    reason: str | None
    score: float | None
    tier: str | None
    model_name: str | None
    provider: str | None
    cost: Decimal | None
    """What the router billed; ``None`` when it could not price the call."""
    price_source: str | None
    usage_estimated: bool
    summed: bool
    """The message sums several paid answers (a cascade rejected some): its usage cannot be
    priced at one model's prices, only the router's ``cost_usd`` holds."""
    over_ceiling: bool

    @classmethod
    def parse(cls, response_metadata: Mapping[str, Any] | None) -> RouteInfo | None:
        """The router's entry of a message's ``response_metadata``, or ``None`` if it has none."""
        raw = (response_metadata or {}).get(METADATA_KEY)
        if not isinstance(raw, Mapping):
            return None
        attempts = raw.get("attempts") if isinstance(raw.get("attempts"), list) else []
        score = raw.get("score")
        return cls(
            level=_str(raw.get("level")),
            scored_level=_str(raw.get("scored_level")),
            served_level=_str(raw.get("served_level")),
            reason=_str(raw.get("reason")),
            score=float(score) if isinstance(score, (int, float))
            and not isinstance(score, bool) else None,
            tier=_str(raw.get("tier")),
            model_name=_str(raw.get("model_name")),
            provider=_str(raw.get("provider")),
            cost=_decimal(raw.get("cost_usd")),
            price_source=_str(raw.get("price_source")),
            usage_estimated=bool(raw.get("usage_estimated")),
            summed=any(isinstance(a, Mapping) and a.get("status") == "rejected"
                       for a in attempts),
            over_ceiling=bool(raw.get("over_ceiling")),
        )


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (Mapping, list, tuple, set)):  # garbage, not a name
        return None
    return str(getattr(value, "value", value))


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:  # not a number: the caller prices the call itself
        return None
    return d if d.is_finite() and d >= 0 else None


def build_entry(run: CallRun, cand: Candidate) -> dict[str, Any]:
    """The router's entry for an answer of ``cand`` at the end of ``run``."""
    plan, spec, billed = run.plan, cand.spec, run.billed
    attempts = [a.as_dict() for a in run.attempts]
    cost: Decimal | None = Decimal(0)
    estimated = False
    for i, b in billed:  # one loop: the total, each attempt's cost, whether any was counted
        attempts[i]["cost_usd"] = None if b.cost is None else str(b.cost)
        cost = None if cost is None or b.cost is None else cost + b.cost
        estimated = estimated or b.estimated
    lane = billed[-1][1].lane if billed else cand.lane
    prices = prices_on(spec, lane)
    ceiling, estimate = plan.ceiling, cand.estimated_cost
    scored = plan.scored_level
    out = {
        "level": plan.level.value,
        "scored_level": scored.value if scored else None,
        "served_level": cand.level.value,
        "reason": _reason(run, cand),
        "tier": cand.name,
        "model_name": spec.model,
        "provider": spec.provider,
        "score": plan.score,
        "estimated_cost_usd": None if estimate is None else str(estimate),
        "cost_usd": None if cost is None else str(cost),
        "currency": "USD",
        "lane": lane,
        "price_source": prices.source if prices else None,
        "usage_estimated": estimated,
        "attempts": attempts,
        "breaker_events": [event_dict(e) for e in run.transitions],
    }
    over = ceiling is not None and (estimate is None or estimate > ceiling)
    if over:
        out["over_ceiling"] = True
    return out

def _reason(run: CallRun, cand: Candidate) -> str | None:
    """Why ``cand`` serves rather than the scored level's first choice (or ``None``)."""
    plan = run.plan
    if plan.route_reason is not None:  # the caller said (the budget guard's downgrade)
        return plan.route_reason
    if any(a.status == "rejected" for a in run.attempts):
        return "cascade_escalation"
    if cand.name != plan.tier:
        return "fallback"
    if plan.reason is not None:  # ceiling or missing capability, decided at planning
        return plan.reason
    return "pinned" if plan.pinned else None
