"""Attribute and metric names: the OpenTelemetry GenAI conventions, plus this package's own.

The GenAI conventions (open-telemetry/semantic-conventions-genai, "development" stability) are
used as written. Cost has no convention yet: ``gen_ai.usage.cost.*`` is the name proposed in
semantic-conventions-genai PR #443. It is PROVISIONAL and lives only in this module (the
``COST_*`` names below), so following a rename is a one-line change here.
"""

from __future__ import annotations

# -- GenAI span attributes -------------------------------------------------------------------
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
"""Includes cached tokens (as LangChain's ``usage_metadata`` does)."""
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
INPUT_MESSAGES = "gen_ai.input.messages"
"""Prompt text: only with ``capture_content=True``."""
OUTPUT_MESSAGES = "gen_ai.output.messages"
"""Answer text: only with ``capture_content=True``."""
ERROR_TYPE = "error.type"

OPERATION_CHAT = "chat"

# -- cost: PROVISIONAL (semantic-conventions-genai PR #443) -----------------------------------
COST_AMOUNT = "gen_ai.usage.cost.amount"
COST_CURRENCY = "gen_ai.usage.cost.currency"
COST_SOURCE = "gen_ai.usage.cost.source"
"""``local``: the router priced the call itself (the PR's ``provider | local`` enum)."""
COST_SOURCE_LOCAL = "local"
METRIC_COST = "costrouter.cost"
"""Counter of USD spent. Under this package's namespace until the conventions name a cost
instrument (PR #443 proposes one); attributes: response model, level, tenant."""

# -- GenAI metrics -----------------------------------------------------------------------------
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_DURATION = "gen_ai.client.operation.duration"
METRIC_TTFC = "gen_ai.client.operation.time_to_first_chunk"
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864)
"""The conventions' advised bucket boundaries for ``gen_ai.client.token.usage``."""
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                    40.96, 81.92)
"""The conventions' advised bucket boundaries for the duration metrics, in seconds."""

# -- the router's decision: this package's namespace -------------------------------------------
LEVEL = "costrouter.level"
SCORE = "costrouter.score"
TIER = "costrouter.tier"
LANE = "costrouter.lane"
ATTEMPTS = "costrouter.attempts"
"""How many attempts the call made (skipped, failed, rejected and the answer)."""
FALLBACK_REASON = "costrouter.fallback.reason"
"""Why earlier attempts did not answer: ``tier: error`` of each, in order."""
ROUTE_REASON = "costrouter.route.reason"
"""Why the served model is not the scored level's first choice (a budget downgrade, the cost
ceiling, a missing capability, a fallback, a cascade escalation, a pin)."""
SCORED_LEVEL = "costrouter.level.scored"
SERVED_LEVEL = "costrouter.level.served"
USAGE_ESTIMATED = "costrouter.usage.estimated"
CASCADE_EXHAUSTED = "costrouter.cascade.exhausted"
BREAKER_EVENTS = "costrouter.breaker.events"
COST_USD_EXACT = "costrouter.cost_usd"
"""The exact ``Decimal`` cost as text (``gen_ai.usage.cost.amount`` is a double)."""
UNPRICED = "costrouter.cost.unpriced"
TENANT = "costrouter.tenant"
ATTEMPT_INDEX = "costrouter.attempt.index"
ATTEMPT_STATUS = "costrouter.attempt.status"
ATTEMPT_ERROR = "costrouter.attempt.error"
ATTEMPT_TIMING = "costrouter.attempt.timing"
"""``live``: timed by the engine's attempt events; ``reconstructed``: laid after the previous
attempts' durations (backoff waits between attempts are not in the router's metadata)."""
