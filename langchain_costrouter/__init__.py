"""langchain-costrouter: send each LangChain chat call to the cheapest capable model.

Names load on first use, so a process that needs one piece (a breaker store in a worker, say)
does not pay for importing LangChain's chat-model machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "BREAKER_EVENT": "langchain_costrouter.routing.events",
    "METADATA_KEY": "langchain_costrouter.router",
    "AllModelsFailedError": "langchain_costrouter.exceptions",
    "BreakerConfig": "langchain_costrouter.resilience",
    "Breakers": "langchain_costrouter.resilience",
    "Budget": "langchain_costrouter.budget",
    "BudgetExceededError": "langchain_costrouter.exceptions",
    "BudgetGuard": "langchain_costrouter.budget",
    "Capabilities": "langchain_costrouter.models.catalog",
    "Catalog": "langchain_costrouter.models.catalog",
    "ChatCostRouter": "langchain_costrouter.router",
    "CircuitOpenError": "langchain_costrouter.exceptions",
    "ConcurrencyLimiter": "langchain_costrouter.resilience",
    "ConfigError": "langchain_costrouter.exceptions",
    "ContextWindowExceededError": "langchain_costrouter.exceptions",
    "CostRouterError": "langchain_costrouter.exceptions",
    "CostTrackingCallbackHandler": "langchain_costrouter.costs",
    "HeuristicScorer": "langchain_costrouter.routing.scorers",
    "InMemoryLedger": "langchain_costrouter.budget",
    "LedgerUnavailableError": "langchain_costrouter.exceptions",
    "Level": "langchain_costrouter.routing.levels",
    "MissingAPIKeyError": "langchain_costrouter.exceptions",
    "ModelSpec": "langchain_costrouter.models.catalog",
    "NoCapableModelError": "langchain_costrouter.exceptions",
    "Prices": "langchain_costrouter.pricing.prices",
    "ProviderResponseError": "langchain_costrouter.exceptions",
    "QueueFullError": "langchain_costrouter.exceptions",
    "RetryPolicy": "langchain_costrouter.resilience",
    "RoutePlan": "langchain_costrouter.routing.plan",
    "SQLiteBreakerStore": "langchain_costrouter.resilience",
    "SQLiteLedger": "langchain_costrouter.budget",
    "ShutdownError": "langchain_costrouter.exceptions",
    "StreamInterruptedError": "langchain_costrouter.exceptions",
    "Thresholds": "langchain_costrouter.routing.scorers",
    "TokenUsage": "langchain_costrouter.pricing.prices",
    "UnknownModelError": "langchain_costrouter.exceptions",
    "UnpricedModelWarning": "langchain_costrouter.pricing.prices",
    "aggregator": "langchain_costrouter.models.catalog",
    "cheapest_within_ceiling": "langchain_costrouter.routing.plan",
    "cost_of": "langchain_costrouter.pricing.prices",
    "in_listed_order": "langchain_costrouter.routing.plan",
    "load_scorer": "langchain_costrouter.routing.scorers",
    "track_costs": "langchain_costrouter.costs",
    "with_budget": "langchain_costrouter.budget",
    "BatchError": "langchain_costrouter.exceptions",
    "BatchItemError": "langchain_costrouter.exceptions",
    "BatchLaneUnavailableError": "langchain_costrouter.exceptions",
    "BatchTransportError": "langchain_costrouter.exceptions",
    "BudgetBusyError": "langchain_costrouter.exceptions",
    "BudgetUnpricedError": "langchain_costrouter.exceptions",
    "CascadeCheckError": "langchain_costrouter.exceptions",
    "CostCeilingError": "langchain_costrouter.exceptions",
    "FlexCapacityError": "langchain_costrouter.exceptions",
    "InvalidTextError": "langchain_costrouter.exceptions",
    "InvalidUsageError": "langchain_costrouter.exceptions",
    "MalformedBatchResultError": "langchain_costrouter.exceptions",
    "StreamCutError": "langchain_costrouter.exceptions",
    "UnknownBatchError": "langchain_costrouter.exceptions",
}

__all__ = [
    "BREAKER_EVENT",
    "METADATA_KEY",
    "AllModelsFailedError",
    "BatchError",
    "BatchItemError",
    "BatchLaneUnavailableError",
    "BatchTransportError",
    "BreakerConfig",
    "Breakers",
    "Budget",
    "BudgetBusyError",
    "BudgetExceededError",
    "BudgetGuard",
    "BudgetUnpricedError",
    "Capabilities",
    "CascadeCheckError",
    "Catalog",
    "ChatCostRouter",
    "CircuitOpenError",
    "ConcurrencyLimiter",
    "ConfigError",
    "ContextWindowExceededError",
    "CostCeilingError",
    "CostRouterError",
    "CostTrackingCallbackHandler",
    "FlexCapacityError",
    "HeuristicScorer",
    "InMemoryLedger",
    "InvalidTextError",
    "InvalidUsageError",
    "LedgerUnavailableError",
    "Level",
    "MalformedBatchResultError",
    "MissingAPIKeyError",
    "ModelSpec",
    "NoCapableModelError",
    "Prices",
    "ProviderResponseError",
    "QueueFullError",
    "RetryPolicy",
    "RoutePlan",
    "SQLiteBreakerStore",
    "SQLiteLedger",
    "ShutdownError",
    "StreamCutError",
    "StreamInterruptedError",
    "Thresholds",
    "TokenUsage",
    "UnknownBatchError",
    "UnknownModelError",
    "UnpricedModelWarning",
    "aggregator",
    "cheapest_within_ceiling",
    "cost_of",
    "in_listed_order",
    "load_scorer",
    "track_costs",
    "with_budget",
]

if TYPE_CHECKING:
    from langchain_costrouter.budget import (
        Budget,
        BudgetGuard,
        InMemoryLedger,
        SQLiteLedger,
        with_budget,
    )
    from langchain_costrouter.costs import CostTrackingCallbackHandler, track_costs
    from langchain_costrouter.exceptions import (
        AllModelsFailedError,
        BudgetExceededError,
        CircuitOpenError,
        ConfigError,
        ContextWindowExceededError,
        CostRouterError,
        LedgerUnavailableError,
        MissingAPIKeyError,
        NoCapableModelError,
        ProviderResponseError,
        QueueFullError,
        ShutdownError,
        StreamInterruptedError,
        UnknownModelError,
    )
    from langchain_costrouter.models.catalog import Capabilities, Catalog, ModelSpec, aggregator
    from langchain_costrouter.pricing.prices import (
        Prices,
        TokenUsage,
        UnpricedModelWarning,
        cost_of,
    )
    from langchain_costrouter.resilience import (
        BreakerConfig,
        Breakers,
        ConcurrencyLimiter,
        RetryPolicy,
        SQLiteBreakerStore,
    )
    from langchain_costrouter.router import METADATA_KEY, ChatCostRouter
    from langchain_costrouter.routing.events import BREAKER_EVENT
    from langchain_costrouter.routing.levels import Level
    from langchain_costrouter.routing.plan import (
        RoutePlan,
        cheapest_within_ceiling,
        in_listed_order,
    )
    from langchain_costrouter.routing.scorers import HeuristicScorer, Thresholds


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
