"""What telemetry reads of the router's ``response_metadata["costrouter"]`` entry.

Everything the spans and metrics say about a routed call comes from :func:`route_of` (for an
answer) and :func:`attempts_of_error` (for a call that failed). The routing fields (levels,
reason, score, tier, model, cost) come from
:class:`~langchain_costrouter.routing.metadata.RouteInfo`, the one parser the cost handler and
the budget guard use too; only what it does not carry
(the attempts, the breaker events, the lane, the currency, a cascade's exhaustion) is read here
from the raw entry. The entry travels through provider-shaped metadata: every field is read
defensively (a wrong type is dropped, never raised).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from langchain_costrouter.routing.metadata import METADATA_KEY
from langchain_costrouter.routing.metadata import RouteInfo as _Parsed


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    tier: str
    status: str
    """``ok``, ``error``, ``skipped`` (breaker open) or ``rejected`` (cascade check)."""
    error: str | None = None
    duration_s: float = 0.0
    cost_usd: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """What the router decided for one call and how it went, as telemetry reports it."""

    level: str | None = None
    tier: str | None = None
    model_name: str | None = None
    provider: str | None = None
    score: float | None = None
    cost_usd: Decimal | None = None
    currency: str = "USD"
    usage_estimated: bool = False
    cascade_exhausted: bool | None = None
    lane: str | None = None
    reason: str | None = None
    """Why the served model is not the scored level's first choice (the engine's
    ``budget_downgrade``, ``ceiling``, ``fallback`` ...)."""
    scored_level: str | None = None
    served_level: str | None = None
    attempts: tuple[AttemptInfo, ...] = ()
    breaker_events: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fallback_reason(self) -> str | None:
        """``tier: error`` of every attempt that did not answer, in order."""
        parts = [f"{a.tier}: {a.error or a.status}" for a in self.attempts if a.status != "ok"]
        return "; ".join(parts) or None


def _str(v: Any) -> str | None:
    if v is None or isinstance(v, (dict, list)):
        return None
    return str(getattr(v, "value", v))


def _decimal(v: Any) -> Decimal | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        d = Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _float(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _attempt(a: Any) -> AttemptInfo | None:
    if isinstance(a, Mapping):
        get = a.get
    elif hasattr(a, "tier") and hasattr(a, "status"):  # exceptions.Attempt

        def get(k: str, default: Any = None) -> Any:
            return getattr(a, k, default)
    else:
        return None
    dur = _float(get("duration_s")) or 0.0
    return AttemptInfo(
        tier=_str(get("tier")) or "?",
        status=_str(get("status")) or "?",
        error=_str(get("error")),
        duration_s=max(dur, 0.0),
        cost_usd=_decimal(get("cost_usd")),
    )


def _attempts(raw: Any) -> tuple[AttemptInfo, ...]:
    if not isinstance(raw, (list, tuple)):
        return ()
    return tuple(a for a in (_attempt(x) for x in raw) if a is not None)


def route_of(response_metadata: Mapping[str, Any] | None) -> RouteInfo | None:
    """The router's entry of one answer, or ``None`` when the call was not routed."""
    parsed = _Parsed.parse(response_metadata)
    if parsed is None:
        return None
    entry: Mapping[str, Any] = (response_metadata or {})[METADATA_KEY]
    events = entry.get("breaker_events")
    exhausted = entry.get("cascade_exhausted")
    known = {"level", "tier", "model_name", "provider", "score", "cost_usd", "currency",
             "usage_estimated", "cascade_exhausted", "lane", "reason", "scored_level",
             "served_level", "attempts", "breaker_events"}
    return RouteInfo(
        level=parsed.level,
        tier=parsed.tier,
        model_name=parsed.model_name,
        provider=parsed.provider,
        score=parsed.score,
        cost_usd=parsed.cost,
        currency=_str(entry.get("currency")) or "USD",
        usage_estimated=parsed.usage_estimated,
        cascade_exhausted=exhausted if isinstance(exhausted, bool) else None,
        lane=_str(entry.get("lane")) or _str((response_metadata or {}).get("costrouter_lane")),
        reason=parsed.reason,
        scored_level=parsed.scored_level,
        served_level=parsed.served_level,
        attempts=_attempts(entry.get("attempts")),
        breaker_events=len(events) if isinstance(events, list) else 0,
        extra={k: v for k, v in entry.items()
               if k not in known and isinstance(v, (str, int, float, bool))},
    )


def route_of_error(error: BaseException) -> RouteInfo | None:
    """The route an error carries (a stream cut after its first chunk has one), else ``None``."""
    route = getattr(error, "route", None)
    return route_of({METADATA_KEY: route}) if isinstance(route, Mapping) else None


def attempts_of_error(error: BaseException) -> tuple[AttemptInfo, ...]:
    """The attempts of a failed routed call (``AllModelsFailedError.attempts``, or the route
    of an error that carries one), else ``()``."""
    found = _attempts(getattr(error, "attempts", None))
    if not found:
        route = route_of_error(error)
        found = route.attempts if route is not None else ()
    return found
