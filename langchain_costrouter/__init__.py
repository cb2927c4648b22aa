"""langchain-costrouter: send each LangChain chat call to the cheapest capable model."""

from langchain_costrouter.budget import (
    Budget,
    BudgetGuard,
    InMemoryLedger,
    SQLiteLedger,
    with_budget,
)
from langchain_costrouter.catalog import Capabilities, Catalog, ModelSpec, aggregator
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
from langchain_costrouter.levels import Level
from langchain_costrouter.pricing import Prices, TokenUsage, UnpricedModelWarning, cost_of
from langchain_costrouter.resilience import (
    BreakerConfig,
    Breakers,
    ConcurrencyLimiter,
    RetryPolicy,
    SQLiteBreakerStore,
)
from langchain_costrouter.router import BREAKER_EVENT, METADATA_KEY, ChatCostRouter
from langchain_costrouter.scoring import HeuristicScorer, Thresholds
from langchain_costrouter.selection import RoutePlan, cheapest_within_ceiling, in_listed_order

__all__ = [
    "BREAKER_EVENT",
    "METADATA_KEY",
    "AllModelsFailedError",
    "BreakerConfig",
    "Breakers",
    "Budget",
    "BudgetExceededError",
    "BudgetGuard",
    "Capabilities",
    "Catalog",
    "ChatCostRouter",
    "CircuitOpenError",
    "ConcurrencyLimiter",
    "ConfigError",
    "ContextWindowExceededError",
    "CostRouterError",
    "CostTrackingCallbackHandler",
    "HeuristicScorer",
    "InMemoryLedger",
    "LedgerUnavailableError",
    "Level",
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
    "StreamInterruptedError",
    "Thresholds",
    "TokenUsage",
    "UnknownModelError",
    "UnpricedModelWarning",
    "aggregator",
    "cheapest_within_ceiling",
    "cost_of",
    "in_listed_order",
    "track_costs",
    "with_budget",
]
