"""The flex lane: the chosen model called with ``service_tier="flex"``.

Flex answers synchronously but slowly, and may refuse with HTTP 429 ``resource_unavailable``
when it has no capacity. That refusal says nothing about the model's health, so it never
reaches the router's breakers: this wrapper calls the model directly and, by policy, falls back
to realtime through the router (``on_unavailable="realtime"``), waits and retries
(``"wait"``, up to ``max_waits`` times, with doubling waits on an injected ``sleep``), or
raises :class:`FlexCapacityError` (``"raise"``). The cost comes from the tier the response
reports: ``flex`` at flex prices, anything else at realtime prices.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, BaseMessageChunk

from langchain_costrouter.exceptions import FlexCapacityError
from langchain_costrouter.models.lanes import lane_for, lane_prices
from langchain_costrouter.pricing.prices import TokenUsage, cost_of

OnUnavailable = Literal["realtime", "wait", "raise"]


@dataclass(frozen=True)
class FlexPolicy:
    """What to do when flex capacity is refused."""

    on_unavailable: OnUnavailable = "realtime"
    max_waits: int = 3
    first_wait_s: float = 30.0
    timeout_s: float = 900.0
    """Per-request timeout; OpenAI advises 15 minutes for flex."""


def is_flex_refusal(exc: BaseException) -> bool:
    """OpenAI's 429 ``resource_unavailable`` (not an ordinary rate limit)."""
    status = getattr(exc, "status_code", None) or getattr(
        getattr(exc, "response", None), "status_code", None)
    if status != 429:
        return False
    body = getattr(exc, "body", None)
    code = (body.get("error") or body).get("code") if isinstance(body, dict) else None
    return code == "resource_unavailable" or "resource_unavailable" in str(exc)


def flex_model(router: Any, tier: str, timeout_s: float) -> Any:
    """A ChatOpenAI for catalog entry ``tier`` on the flex tier (no retries of its own)."""
    from langchain_openai import ChatOpenAI

    spec = router.route_catalog[tier]
    secret = getattr(router, "api_key", None)
    key = secret.get_secret_value() if secret is not None else spec.api_key()
    return ChatOpenAI(model=spec.model, base_url=spec.base_url, api_key=key or "unset",
                      service_tier="flex", max_retries=0, timeout=timeout_s)


def flex_invoke(
    router: Any, messages: Sequence[BaseMessage], *, tier: str,
    policy: FlexPolicy = FlexPolicy(), sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> AIMessage:
    """Answer ``messages`` with model ``tier`` on flex; see the module for the policy.

    The answer's ``response_metadata`` carries ``costrouter_lane`` (the lane that served it),
    ``service_tier`` (as the provider reported it), ``cost_usd`` and ``flex_refusals``.
    """
    spec = router.route_catalog[tier]
    lane_for(spec, lane="flex")  # BatchLaneUnavailableError when the model has no flex lane
    chat = flex_model(router, tier, policy.timeout_s)
    refusals, wait = 0, policy.first_wait_s
    while True:
        try:
            msg = chat.invoke(list(messages), **kwargs)
            break
        except Exception as e:
            if not is_flex_refusal(e):
                raise
            refusals += 1
            if policy.on_unavailable == "realtime":
                out = router.invoke(list(messages), model=tier, **kwargs)
                out.response_metadata.update(costrouter_lane="realtime", flex_refusals=refusals)
                return out  # type: ignore[no-any-return]
            if policy.on_unavailable == "raise" or refusals > policy.max_waits:
                raise FlexCapacityError(tier, refusals) from e
            sleep(wait)
            wait *= 2
    served = msg.response_metadata.get("service_tier")
    lane = "flex" if served == "flex" else "realtime"
    um = msg.usage_metadata or {}
    usage = TokenUsage.from_usage_metadata(dict(um)) or TokenUsage()
    cost: Decimal | None = cost_of(lane_prices(spec, lane), usage)
    msg.response_metadata.update(costrouter_lane=lane, costrouter_tier=tier,
                                 cost_usd=None if cost is None else str(cost),
                                 flex_refusals=refusals)
    return msg  # type: ignore[no-any-return]


def flex_stream(
    router: Any, messages: Sequence[BaseMessage], *, tier: str,
    policy: FlexPolicy = FlexPolicy(), sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> Iterator[BaseMessageChunk]:
    """Stream ``messages`` from model ``tier`` on flex. A refusal comes before the first chunk,
    so the fallback (realtime stream, or wait and retry) loses nothing already streamed."""
    spec = router.route_catalog[tier]
    lane_for(spec, lane="flex")
    chat = flex_model(router, tier, policy.timeout_s)
    refusals, wait = 0, policy.first_wait_s
    while True:
        try:
            stream = chat.stream(list(messages), stream_usage=True, **kwargs)
            first = next(stream)
            break
        except StopIteration:
            return
        except Exception as e:
            if not is_flex_refusal(e):
                raise
            refusals += 1
            if policy.on_unavailable == "realtime":
                yield from router.stream(list(messages), model=tier, **kwargs)
                return
            if policy.on_unavailable == "raise" or refusals > policy.max_waits:
                raise FlexCapacityError(tier, refusals) from e
            sleep(wait)
            wait *= 2
    yield first
    yield from stream
