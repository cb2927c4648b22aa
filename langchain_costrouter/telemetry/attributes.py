"""Span attributes from what a run's end event carries: usage, the router's route, messages.

Provider-shaped data is untrusted: a count that is not a non-negative int is dropped, text
is scrubbed of keys and cut to a bounded length.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.outputs import LLMResult

from langchain_costrouter.redact import scrub_text
from langchain_costrouter.telemetry import semconv as sc
from langchain_costrouter.telemetry.route import RouteInfo


def route_attributes(route: RouteInfo) -> dict[str, Any]:
    a: dict[str, Any] = {
        sc.ATTEMPTS: len(route.attempts), sc.USAGE_ESTIMATED: route.usage_estimated,
    }
    for key, value in ((sc.LEVEL, route.level), (sc.TIER, route.tier), (sc.LANE, route.lane),
                       (sc.ROUTE_REASON, route.reason), (sc.SCORED_LEVEL, route.scored_level),
                       (sc.SERVED_LEVEL, route.served_level)):
        if value:
            a[key] = scrub_text(value)[:1000]
    if route.score is not None:
        a[sc.SCORE] = route.score
    reason = route.fallback_reason
    if reason:
        a[sc.FALLBACK_REASON] = scrub_text(reason)[:1000]
    if route.cascade_exhausted is not None:
        a[sc.CASCADE_EXHAUSTED] = route.cascade_exhausted
    if route.breaker_events:
        a[sc.BREAKER_EVENTS] = route.breaker_events
    if route.cost_usd is not None:
        a[sc.COST_AMOUNT] = float(route.cost_usd)
        a[sc.COST_CURRENCY] = route.currency
        a[sc.COST_SOURCE] = sc.COST_SOURCE_LOCAL
        a[sc.COST_USD_EXACT] = str(route.cost_usd)
    else:
        a[sc.UNPRICED] = True
    return a


def token_count(v: Any) -> int | None:
    """A token count from provider-shaped data: a non-negative int, else nothing."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        return None
    return v


def usage_attributes(um: Any) -> dict[str, int]:
    if not isinstance(um, Mapping):
        return {}
    a: dict[str, int] = {}
    for key, value in ((sc.INPUT_TOKENS, um.get("input_tokens")),
                       (sc.OUTPUT_TOKENS, um.get("output_tokens"))):
        n = token_count(value)
        if n is not None:
            a[key] = n
    inp = um.get("input_token_details") or {}
    out = um.get("output_token_details") or {}
    for key, value in ((sc.CACHE_READ_TOKENS, inp.get("cache_read") if isinstance(inp, Mapping)
                        else None),
                       (sc.CACHE_CREATION_TOKENS, inp.get("cache_creation")
                        if isinstance(inp, Mapping) else None),
                       (sc.REASONING_TOKENS, out.get("reasoning") if isinstance(out, Mapping)
                        else None)):
        n = token_count(value)
        if n is not None:
            a[key] = n
    return a


def message_of(response: LLMResult | None) -> Any:
    if response is None or not response.generations or not response.generations[0]:
        return None
    gen = response.generations[0][0]
    return getattr(gen, "message", None)


def message_part(m: Any) -> dict[str, str]:
    role = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}.get(
        getattr(m, "type", ""), str(getattr(m, "type", "user")))
    text = getattr(m, "text", None)
    return {"role": role, "content": scrub_text(str(text if text is not None else m.content))}


def opt_str(v: Any) -> str | None:
    return str(v) if isinstance(v, str) and v else None
