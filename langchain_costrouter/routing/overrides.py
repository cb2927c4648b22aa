"""Per-call routing overrides: the one map of their kwarg and ``configurable`` spellings.

The router reads them, and the budget guard reads the same ones to estimate a call as the router
will plan it. None of them reaches the serving model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CONFIGURABLE: dict[str, str] = {
    "costrouter_model": "model",
    "costrouter_level": "level",
    "costrouter_max_cost": "max_cost",
    "costrouter_priority": "priority",
    "costrouter_ceiling": "ceiling",
    "costrouter_reason": "route_reason",
    "costrouter_lane": "lane",
    "costrouter_lane_deadline_s": "lane_deadline_s",
    "costrouter_urgency": "urgency",
}
"""``config["configurable"]`` key -> call kwarg."""

ROUTING_KWARGS: frozenset[str] = frozenset(
    {*CONFIGURABLE.values(), "costrouter_route"}
)
"""Kwargs the router consumes (``costrouter_route`` names the planned model for tracing)."""


def merged(configurable: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` plus the overrides given through ``configurable`` (kwargs win)."""
    out = dict(kwargs)
    if not configurable:
        return out
    for key, kw in CONFIGURABLE.items():
        value = (configurable or {}).get(key)
        if value is not None and out.get(kw) is None:
            out[kw] = value
    return out
