"""What the tracked calls cost, as plain frozen dataclasses.

Money is honest: ``total_cost`` sums the calls that could be priced; when ``unpriced_requests``
is not zero the true total is higher, and ``cost_is_lower_bound`` says so. Failed calls that
reported no usage are not billed by providers as far as we can know, so they add no cost and
are not "unpriced"; they do count as requests (and lower the success rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from langchain_costrouter.costs.groups import GroupKey, GroupTotals, as_key
from langchain_costrouter.costs.record import CallRecord
from langchain_costrouter.costs.stats import Totals

UNKNOWN_MODEL = "(unknown)"
UNROUTED = "(unrouted)"
"""``by_level`` key of calls not made through ``ChatCostRouter``."""
AS_SCORED = "(as scored)"
"""``by_reason`` key of router calls served by their scored level's first choice."""


def reason_key(r: CallRecord) -> str:
    """A record's ``by_reason`` key: its reason, ``AS_SCORED`` or ``UNROUTED``."""
    if r.reason:
        return r.reason
    return AS_SCORED if (r.level or r.served_level) else UNROUTED


@dataclass(frozen=True, kw_only=True)
class UsageSummary:
    """Totals of a set of calls: all of them, or one model's, or one level's."""

    requests: int
    succeeded: int
    failed: int
    success_rate: float | None
    """``succeeded / requests``; ``None`` with no requests."""
    input_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    total_tokens: int
    total_cost: Decimal
    """USD over the priced calls; a lower bound when ``unpriced_requests > 0``."""
    unpriced_requests: int
    """Calls that used tokens of a model with no known price."""
    estimated_requests: int
    """Calls whose tokens were counted with tiktoken (no usage from the provider)."""
    cost_is_lower_bound: bool
    avg_cost_per_request: Decimal | None
    """``total_cost / requests`` (a lower bound too when some calls are unpriced)."""
    cost_per_success: Decimal | None
    """``total_cost / succeeded``: what one useful answer cost, failures included."""
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_p99_s: float | None
    ttft_p50_s: float | None
    """Time to first token over streamed calls."""

    @classmethod
    def of(cls, t: Totals) -> UsageSummary:
        return cls(**_fields_of(t))

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe: Decimals as strings."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Decimal):
                v = str(v)
            elif isinstance(v, dict):
                v = {"/".join(k) if isinstance(k, tuple) else k: g.as_dict()
                     for k, g in v.items()}
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out


@dataclass(frozen=True, kw_only=True)
class CostSummary(UsageSummary):
    """All tracked calls, with breakdowns and how many runs were deliberately not counted."""

    by_model: dict[str, UsageSummary] = field(default_factory=dict)
    by_level: dict[str, UsageSummary] = field(default_factory=dict)
    """Per level the call was planned at (the scored level, or the pinned one)."""
    by_served_level: dict[str, UsageSummary] = field(default_factory=dict)
    """Per level of the model that answered (a budget downgrade or fallback moves calls)."""
    by_reason: dict[str, UsageSummary] = field(default_factory=dict)
    """Per reason the served model differs from the scored level's first choice
    (``budget_downgrade``, ``ceiling``, ``missing_capability``, ``fallback``,
    ``cascade_escalation``, ``pinned``); ``"(as scored)"`` when it does not."""
    nested_runs_skipped: int = 0
    """LLM runs inside a counted LLM run (a wrapper's inner model): counted once, via the outer."""
    duplicate_runs_skipped: int = 0
    """Wrapper runs that returned a message already counted (same message id)."""
    sink_errors: int = 0
    group_by: tuple[str, ...] = ()
    """The metadata keys of ``by_group`` (empty: no grouping asked for)."""
    by_group: dict[GroupKey, UsageSummary] = field(default_factory=dict)
    """Totals per group: keyed by the value for one key, by a tuple of values for several;
    ``"(none)"`` for calls without the key."""
    groups_exact: bool = True
    """``by_group`` covers every call. ``False`` when the grouping was not declared on the
    handler (``group_by=``) and older calls have left its record buffer."""


def _fields_of(t: Totals) -> dict[str, Any]:
    failed = t.requests - t.succeeded
    return {
        "requests": t.requests,
        "succeeded": t.succeeded,
        "failed": failed,
        "success_rate": t.succeeded / t.requests if t.requests else None,
        "input_tokens": t.input_tokens,
        "cached_input_tokens": t.cached_input_tokens,
        "cache_write_tokens": t.cache_write_tokens,
        "output_tokens": t.output_tokens,
        "reasoning_tokens": t.reasoning_tokens,
        "total_tokens": t.input_tokens + t.output_tokens,
        "total_cost": t.cost,
        "unpriced_requests": t.unpriced,
        "estimated_requests": t.estimated,
        "cost_is_lower_bound": t.unpriced > 0,
        "avg_cost_per_request": t.cost / t.requests if t.requests else None,
        "cost_per_success": t.cost / t.succeeded if t.succeeded else None,
        "latency_p50_s": t.latency.quantile(0.50),
        "latency_p95_s": t.latency.quantile(0.95),
        "latency_p99_s": t.latency.quantile(0.99),
        "ttft_p50_s": t.ttft.quantile(0.50),
    }


def build_summary(
    total: Totals,
    by_model: dict[str, Totals],
    by_level: dict[str, Totals],
    *,
    nested_runs_skipped: int = 0,
    duplicate_runs_skipped: int = 0,
    sink_errors: int = 0,
    groups: GroupTotals | None = None,
    groups_exact: bool = True,
    by_served_level: dict[str, Totals] | None = None,
    by_reason: dict[str, Totals] | None = None,
) -> CostSummary:
    by_group: dict[GroupKey, UsageSummary] = {}
    if groups is not None:
        by_group = {as_key(k): UsageSummary.of(v) for k, v in sorted(groups.groups.items())}
    return CostSummary(
        **_fields_of(total),
        by_model={k: UsageSummary.of(v) for k, v in sorted(by_model.items())},
        by_level={k: UsageSummary.of(v) for k, v in sorted(by_level.items())},
        by_served_level={k: UsageSummary.of(v)
                         for k, v in sorted((by_served_level or {}).items())},
        by_reason={k: UsageSummary.of(v) for k, v in sorted((by_reason or {}).items())},
        nested_runs_skipped=nested_runs_skipped,
        duplicate_runs_skipped=duplicate_runs_skipped,
        sink_errors=sink_errors,
        group_by=groups.keys if groups is not None else (),
        by_group=by_group,
        groups_exact=groups_exact,
    )
