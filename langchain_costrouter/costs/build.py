"""One LLM run, from its start event to its priced :class:`~.record.CallRecord`.

:class:`Run` is what the handler keeps between a run's start and end events;
:func:`build_record` turns it and the end event into a record: the router's bill when it gave
one (``cost_usd``, or the bill a ``StreamCutError`` carries), else the provider's usage at the
resolver's prices, else tiktoken counts (``estimated``). A stream that broke or that the caller
stopped after text went out is paid for: the prompt plus the counted tokens of what went out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage, get_buffer_string
from langchain_core.outputs import LLMResult

from langchain_costrouter.costs.observe import Observed, cut_stream_bill, estimate
from langchain_costrouter.costs.pricer import Pricer
from langchain_costrouter.costs.record import CallRecord
from langchain_costrouter.costs.summary import UNKNOWN_MODEL
from langchain_costrouter.pricing.prices import TokenUsage, cost_of, warn_unpriced
from langchain_costrouter.pricing.tokens import EncodingName
from langchain_costrouter.redact import scrub_text


@dataclass(slots=True)
class Run:
    """An LLM run between its start and end events."""

    run_id: UUID
    seq: int
    parent: UUID | None
    start: float
    timestamp: float
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    requested: str | None
    provider: str | None
    messages: list[BaseMessage] | None = None
    prompts: list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    ttft: float | None = None
    streamed: bool = False
    outer: UUID | None = None
    inner: list[tuple[Run, LLMResult, float]] = field(default_factory=list)


def stopped(error: BaseException) -> bool:
    """The caller stopped a stream (closed it, or cancelled its task): what went out is paid."""
    return isinstance(error, (GeneratorExit, asyncio.CancelledError))


def build_record(
    pricer: Pricer, run: Run, response: LLMResult | None, end: float,
    error: BaseException | None, *, store_prompts: bool = False,
) -> tuple[CallRecord, str | None]:
    """The run's record, and the id of its message (``None`` for a failed run)."""
    ob = Observed.of(response, run.requested, run.provider)
    match = pricer.match(ob.model, ob.provider, tier=ob.tier, requested=run.requested)
    usage, estimated = ob.usage, ob.estimated
    cost, source = ob.router_cost, ob.router_source
    model, provider, tier = ob.model, ob.provider, ob.tier or match.tier
    if error is None and usage is None and run.inner:
        inner = _inner_usage(pricer, run)
        if inner is not None:
            usage, cost, source, inner_rec = inner
            model = ob.model if ob.router else inner_rec.model
            provider = ob.provider if ob.router else inner_rec.provider
            tier = ob.tier if ob.router else inner_rec.tier
            match = None
    route = ob.route
    cut = cut_stream_bill(error) if usage is None else None
    if cut is not None:  # a routed stream cut after text went out: the router's bill
        usage, cost, estimated, route = cut.usage, cut.cost, True, cut.route or route
        if cut.route is not None:
            source = cut.route.price_source or "costrouter"
            model, provider, tier = cut.route.model_name, cut.route.provider, cut.route.tier
            match = pricer.match(model, provider, tier=tier, requested=run.requested)
    if usage is None and (error is None or (stopped(error) and ob.text)):
        # no report; or the caller stopped a stream after text went out: counted tokens
        enc: EncodingName = match.tokenizer if match else "o200k_base"
        usage = estimate(ob, enc, run.messages, run.prompts, run.tools)
        estimated = True
    if cost is None and usage is not None and match is not None and not ob.summed:
        cost, source = cost_of(match.prices, usage), match.source
        if cost is None:
            warn_unpriced(model or run.requested or UNKNOWN_MODEL)
    usage = usage or TokenUsage()
    prompt = None
    if store_prompts:
        text = get_buffer_string(run.messages) if run.messages is not None else (
            "\n".join(run.prompts or []))
        prompt = scrub_text(text)
    rec = CallRecord(
        run_id=run.run_id, parent_run_id=run.parent, timestamp=run.timestamp,
        status="ok" if error is None else "error",
        error=None if error is None else scrub_text(f"{type(error).__name__}: {error}")[:300],
        level=route.level if route else None, tier=tier, provider=provider, model=model,
        scored_level=route.scored_level if route else None,
        served_level=route.served_level if route else None,
        reason=route.reason if route else None, score=route.score if route else None,
        input_tokens=usage.input_tokens, cached_input_tokens=usage.cached_tokens,
        cache_write_tokens=usage.cache_write_tokens, output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens, cost=cost,
        price_source=source if cost is not None else None, estimated=estimated,
        streamed=run.streamed, latency_s=max(end - run.start, 0.0), ttft_s=run.ttft,
        tags=run.tags, metadata=run.metadata, prompt=prompt,
    )
    return rec, ob.message_id if error is None else None


def _inner_usage(
    pricer: Pricer, run: Run
) -> tuple[TokenUsage, Decimal | None, str | None, CallRecord] | None:
    """Usage of the counted run's inner LLM runs, each distinct message once."""
    recs: dict[str, CallRecord] = {}
    for i, (inner, resp, end) in enumerate(run.inner):
        rec, mid = build_record(pricer, inner, resp, end, None)
        if not rec.estimated:
            recs[mid or str(i)] = rec
    if not recs:
        return None
    rs = list(recs.values())
    usage = TokenUsage(
        input_tokens=sum(r.input_tokens for r in rs),
        output_tokens=sum(r.output_tokens for r in rs),
        cached_tokens=sum(r.cached_input_tokens for r in rs),
        cache_write_tokens=sum(r.cache_write_tokens for r in rs),
        reasoning_tokens=sum(r.reasoning_tokens for r in rs),
    )
    costs = [r.cost for r in rs]
    cost = None if any(c is None for c in costs) else sum(costs, Decimal(0))  # type: ignore[arg-type]
    sources = sorted({r.price_source for r in rs if r.price_source})
    return usage, cost, ", ".join(sources) or None, rs[-1]
