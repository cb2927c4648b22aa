"""What a call will cost before it runs, and what it cost after.

Before: for a ``ChatCostRouter`` (anything with ``plan(messages, **overrides)``) the router's own
plan gives tokens and price of the model it would choose. For another chat model, the prompt
is counted with :func:`~langchain_costrouter.pricing.tokens.count_messages`, the output is its
``max_tokens`` (or a default), and the price comes from genai-prices by model name.

After: tokens from ``usage_metadata``; dollars from ``response_metadata["costrouter"]
["cost_usd"]`` when the router priced the call, else the usage priced at the model's prices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, convert_to_messages
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableBinding
from langchain_core.utils.function_calling import convert_to_openai_tool

from langchain_costrouter.pricing.prices import Prices, TokenUsage, cost_of
from langchain_costrouter.pricing.resolver import default_pricer, reported_usage
from langchain_costrouter.pricing.tokens import count_messages
from langchain_costrouter.routing.metadata import RouteInfo
from langchain_costrouter.routing.overrides import CONFIGURABLE

ROUTER_OVERRIDES = CONFIGURABLE
"""The router's own map of ``configurable`` keys to call kwargs (one map, shared)."""


@dataclass(frozen=True)
class Estimate:
    """Expected size and price of one call on one model."""

    model: str | None
    """Catalog name (router) or model id; ``None`` when unknown."""
    input_tokens: int
    output_tokens: int
    cost: Decimal | None
    """``None``: the model is unpriced."""
    prices: Prices | None = None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def to_messages(value: Any) -> list[BaseMessage]:
    """Chat messages of a model input: a string, a prompt value, messages, or ``{"messages"}``."""
    if isinstance(value, PromptValue):
        return value.to_messages()
    if isinstance(value, str):
        return [HumanMessage(value)]
    if isinstance(value, BaseMessage):
        return [value]
    if isinstance(value, Mapping) and "messages" in value:
        return convert_to_messages(value["messages"])
    if isinstance(value, Sequence):
        return convert_to_messages(value)
    raise TypeError(f"cannot read chat messages from a {type(value).__name__} input")


def unbind(model: Runnable[Any, Any]) -> tuple[Runnable[Any, Any], dict[str, Any]]:
    """The model under ``bind``/``bind_tools`` layers, and the bound call kwargs."""
    kwargs: dict[str, Any] = {}
    while isinstance(model, RunnableBinding):
        kwargs = {**model.kwargs, **kwargs}
        model = model.bound
    return model, kwargs


def is_router(model: Any) -> bool:
    return callable(getattr(model, "plan", None))


def model_name(model: Any) -> str | None:
    for attr in ("model_name", "model", "model_id"):
        v = getattr(model, attr, None)
        if isinstance(v, str) and v:
            return v
    return None


def router_overrides(
    configurable: Mapping[str, Any] | None, kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Per-call router overrides from call kwargs and ``configurable`` (kwargs win)."""
    out = {v: configurable[k] for k, v in ROUTER_OVERRIDES.items() if (configurable or {}).get(k)}
    keys = (*ROUTER_OVERRIDES.values(), "max_tokens")
    out.update({k: kwargs[k] for k in keys if kwargs.get(k)})
    return out


def plan_estimate(router: Any, messages: list[BaseMessage], **overrides: Any) -> Estimate:
    """The router's own plan for this call, as an :class:`Estimate`."""
    plan = router.plan(messages, **overrides)
    spec = getattr(plan, "spec", None)
    cost = plan.estimated_cost
    return Estimate(
        model=getattr(plan, "tier", None) or getattr(spec, "name", None),
        input_tokens=int(plan.input_tokens),
        output_tokens=int(plan.output_tokens),
        cost=None if cost is None else Decimal(str(cost)),
        prices=getattr(spec, "prices", None),
    )


def router_names(router: Any) -> list[str]:
    """Catalog names a router can be pinned to."""
    catalog = getattr(router, "_catalog", None) or getattr(router, "catalog", None)
    models = getattr(catalog, "models", None) or getattr(router, "models", None) or {}
    return list(models)


def model_estimate(
    model: Any,
    messages: list[BaseMessage],
    *,
    kwargs: Mapping[str, Any] | None = None,
    default_max_tokens: int = 1024,
    prices: Mapping[str, Prices | None] | None = None,
    tools: Sequence[Any] | None = None,
) -> Estimate:
    """Estimate for any chat model (not a router): tiktoken count + genai-prices price."""
    kwargs = kwargs or {}
    name = model_name(model)
    tool_list = tools if tools is not None else kwargs.get("tools")
    tool_dicts = [convert_to_openai_tool(t) for t in tool_list] if tool_list else None
    encoding = "cl100k_base" if name and name.startswith(("gpt-3.5", "gpt-4-")) else "o200k_base"
    n_in = count_messages(messages, encoding, tools=tool_dicts)
    n_out = (
        kwargs.get("max_tokens")
        or kwargs.get("max_completion_tokens")
        or getattr(model, "max_tokens", None)
        or default_max_tokens
    )
    if prices is not None and name in prices:
        p = prices[name]
    else:  # the one resolver: catalog first, then genai-prices (as the cost handler prices it)
        p = default_pricer().match(name, None).prices if name else None
    cost = cost_of(p, TokenUsage(input_tokens=n_in, output_tokens=int(n_out)))
    return Estimate(name, n_in, int(n_out), cost, p)


def actual_usage(message: Any, estimate: Estimate) -> tuple[int | None, Decimal | None]:
    """Tokens and dollars a finished call used; ``None`` where the response does not say."""
    if message is None:
        return None, None
    um = getattr(message, "usage_metadata", None)
    tokens: int | None = None
    usage = reported_usage(um, estimate.model or "unknown")  # a bad report is no report
    if usage is not None:
        tokens = usage.input_tokens + usage.output_tokens
    route = RouteInfo.parse(getattr(message, "response_metadata", None))
    if route is not None and route.cost is not None:
        return tokens, route.cost
    if route is not None:  # the router priced the call and could not (an unpriced model
        return tokens, None  # served or was paid for in a cascade): the plan's prices are wrong
    if usage is not None and estimate.prices is not None:
        return tokens, cost_of(estimate.prices, usage)
    return tokens, None
