"""From one call's input and overrides to its route plan: the checks and choices the router
makes before :func:`~langchain_costrouter.routing.plan.make_plan` prices the candidates.

Everything here is pure (no network I/O): the arguments are checked, the prompt is scored, the
pinned model or level and the lane asked for are resolved, and the plan is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.pricing.images import has_images
from langchain_costrouter.routing.config import parse_ceiling
from langchain_costrouter.routing.lanes import LaneAsk
from langchain_costrouter.routing.levels import Level
from langchain_costrouter.routing.metadata import REASONS
from langchain_costrouter.routing.plan import Needs, RoutePlan, make_plan
from langchain_costrouter.routing.scorers import score_request
from langchain_costrouter.routing.validate import check_call_args
from langchain_costrouter.text_check import check_messages

if TYPE_CHECKING:
    from langchain_costrouter.router import ChatCostRouter


def plan_request(router: ChatCostRouter, input: Any, stop: list[str] | None,
                 kwargs: Mapping[str, Any]) -> RoutePlan:
    """The plan of ``router`` for ``input`` with the call's ``kwargs`` (see ``router.plan``)."""
    if isinstance(input, list) and all(isinstance(m, BaseMessage) for m in input):
        messages = input
    else:
        messages = router._convert_input(input).to_messages()
    if not messages:
        raise ConfigError("the message list is empty: a call needs at least one message")
    check_call_args(stop if stop is not None else router.stop, kwargs)
    check_messages(messages)  # a lone surrogate cannot be sent: refused before any request
    ceiling = parse_ceiling(kwargs.get("max_cost", router.max_cost))
    mode = kwargs.get("ceiling") or router.ceiling
    if mode not in ("hard", "soft"):
        raise ConfigError(f"ceiling must be 'hard' or 'soft', got {mode!r}")
    why = kwargs.get("route_reason")
    if why is not None and why not in REASONS:
        raise ConfigError(f"route_reason must be one of {', '.join(REASONS)}, got {why!r}")
    ask = LaneAsk.of(kwargs, router.lane)
    rt = router._r
    tools = kwargs.get("tools")
    score = score_request(
        rt.scorer, messages, tools=tools, response_format=kwargs.get("response_format")
    )
    scored = rt.thresholds.level(score)
    pinned = kwargs.get("model")
    if pinned == router.model:
        pinned = None
    names = [rt.catalog[pinned].name] if pinned is not None else None
    if kwargs.get("level") is not None:
        level = Level.parse(kwargs["level"])
    elif names is not None:  # a pin-only model (in no level) is planned at the scored one
        level = _level_of(router, names[0]) or scored
    else:
        level = scored
    return make_plan(
        rt.catalog,
        messages,
        level=level,
        score=score,
        names=names,
        needs=_needs(bool(tools), _wants_json_schema(kwargs), has_images(messages)),
        max_tokens=kwargs.get("max_tokens", router.max_tokens),
        default_output_tokens=None,
        ceiling=ceiling,
        policy=router.selection,
        tools=tools,
        has_key=rt.engine.pool.has_key,
        escalate=router.escalate,
        ceiling_mode=mode,
        scored_level=scored,
        pinned=names is not None or kwargs.get("level") is not None,
        route_reason=why,
        lanes=ask.pick if ask.asked else None,
    )


_NO_NEEDS = Needs()


def _needs(tools: bool, json_schema: bool, vision: bool) -> Needs:
    """What the call needs of a model; most calls need nothing special (one shared object)."""
    if not (tools or json_schema or vision):
        return _NO_NEEDS
    return Needs(tools=tools, json_schema=json_schema, vision=vision)


def _level_of(router: ChatCostRouter, name: str) -> Level | None:
    for lv, names in router._r.catalog.levels.items():
        if name in names:
            return lv
    return None


def _wants_json_schema(kwargs: Mapping[str, Any]) -> bool:
    rf = kwargs.get("response_format")
    return isinstance(rf, dict) and rf.get("type") == "json_schema"
