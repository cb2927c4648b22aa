"""The public names are pinned: removing or renaming one is a visible, deliberate change."""

import langchain_costrouter

EXPECTED = [
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


def test_all_is_pinned() -> None:
    assert sorted(langchain_costrouter.__all__) == sorted(EXPECTED)


def test_every_public_name_resolves() -> None:
    for name in langchain_costrouter.__all__:
        assert getattr(langchain_costrouter, name) is not None, name
