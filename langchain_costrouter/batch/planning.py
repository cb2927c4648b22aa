"""From inputs to a stored job: route each input with the router's public ``plan()``, choose
its lane, group the batch-lane items per provider and model, and split each group at its
provider's limits. No network I/O; a bad item fails here, naming it, before anything is sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, convert_to_openai_messages

from langchain_costrouter.batch.accounting import prices_json
from langchain_costrouter.batch.limits import PROVIDER_LIMITS, BatchLimits, request_bytes, split
from langchain_costrouter.batch.store import ChunkRow, ItemRow, JobRow
from langchain_costrouter.exceptions import (
    BatchLaneUnavailableError,
    ConfigError,
    NoCapableModelError,
)
from langchain_costrouter.models.lanes import (
    BATCH_TRANSPORTS,
    Lane,
    lane_prices,
    offered_lanes,
    parse_lane,
)
from langchain_costrouter.pricing.prices import TokenUsage, cost_of

DEFAULT_RETRY_KINDS = ("expired", "cancelled", "missing")
"""Items retried on realtime when ``retry=True``: those the provider never answered.
Failed and malformed ones were processed (and may be billed), so they are returned as errors."""


@dataclass(frozen=True)
class Planned:
    job: JobRow
    chunks: list[ChunkRow]
    items: list[ItemRow]


def messages_of(router: Any, value: Any) -> list[BaseMessage]:
    if isinstance(value, list) and all(isinstance(m, BaseMessage) for m in value):
        return value
    return list(router._convert_input(value).to_messages())


def choose_lane(spec: Any, wanted: Lane, fallback: Sequence[Lane], item: int) -> Lane:
    """``wanted`` when the model offers it (batch also needs a provider batch API), else the
    first allowed fallback it offers; else ``BatchLaneUnavailableError`` naming the item."""
    offered = offered_lanes(spec)
    usable = [lane for lane in offered
              if lane != "batch" or spec.provider in BATCH_TRANSPORTS]
    for lane in (wanted, *fallback):
        if lane in usable:
            return lane
    raise BatchLaneUnavailableError(spec.name, spec.provider, wanted, usable, item=item)


def _route(router: Any, messages: Any, kw: dict[str, Any], wanted: Lane,
           fallback: Sequence[Lane]) -> Any:
    """The item's route. With no fallback lane allowed it is chosen at ``wanted``'s prices among
    the models that offer it; when none does, the realtime route is kept so that
    ``choose_lane`` raises the typed error naming the item and the model."""
    if fallback:
        return router.plan(messages, **kw)
    try:
        return router.plan(messages, **{**kw, "lane": wanted})
    except NoCapableModelError:
        return router.plan(messages, **kw)


def plan_job(
    router: Any,
    inputs: Sequence[Any],
    *,
    lane: str = "batch",
    fallback_lanes: Sequence[str] = (),
    limits: BatchLimits | Mapping[str, BatchLimits] | None = None,
    retry: bool | Sequence[str] = False,
    job_id: str | None = None,
    call_kwargs: Mapping[str, Any] | None = None,
) -> Planned:
    if not inputs:
        raise ConfigError("a batch needs at least one input")
    wanted = parse_lane(lane)
    fallback = [parse_lane(x) for x in fallback_lanes]
    kw = dict(call_kwargs or {})
    job_id = job_id or "cbj_" + uuid.uuid4().hex[:20]
    items: list[ItemRow] = []
    groups: dict[str, list[int]] = {}
    specs: dict[str, Any] = {}
    for i, value in enumerate(inputs):
        try:
            messages = messages_of(router, value)
            plan = _route(router, messages, kw, wanted, fallback)
        except (ConfigError, ValueError, TypeError) as e:
            e.add_note(f"batch item {i}")
            raise
        spec = plan.spec
        chosen = choose_lane(spec, wanted, fallback, i)
        body: dict[str, Any] = {"model": spec.model,
                                "messages": convert_to_openai_messages(messages)}
        max_tokens = kw.get("max_tokens", router.max_tokens)
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        elif chosen == "batch" and BATCH_TRANSPORTS.get(spec.provider) == "anthropic":
            body["max_tokens"] = plan.output_tokens  # Messages requires it
        temperature = kw.get("temperature", router.temperature)
        if temperature is not None:
            body["temperature"] = temperature
        est = cost_of(lane_prices(spec, chosen),
                      TokenUsage(input_tokens=plan.input_tokens, output_tokens=plan.output_tokens))
        items.append(ItemRow(job_id=job_id, idx=i, custom_id=f"item-{i}", chunk_no=None,
                             tier=spec.name, lane=chosen, request=json.dumps(body),
                             estimated_cost=None if est is None else str(est),
                             estimated_tokens=plan.input_tokens + plan.output_tokens))
        if chosen == "batch":
            groups.setdefault(spec.name, []).append(i)
            specs[spec.name] = spec
    chunks: list[ChunkRow] = []
    for tier, idxs in groups.items():
        spec = specs[tier]
        kind = BATCH_TRANSPORTS[spec.provider]
        lim = _limits_for(kind, limits)
        sizes = [request_bytes(kind, items[i].custom_id, json.loads(items[i].request))
                 for i in idxs]
        for start, stop in split(sizes, lim):
            no = len(chunks)
            for i in idxs[start:stop]:
                items[i] = _with_chunk(items[i], no)
            chunks.append(ChunkRow(
                job_id=job_id, chunk_no=no, tier=tier, provider=spec.provider,
                model=spec.model, kind=kind, base_url=str(spec.base_url or ""),
                api_key_env=spec.api_key_env, prices=prices_json(lane_prices(spec, "batch")),
                n_items=stop - start, state="planned"))
    kinds = list(DEFAULT_RETRY_KINDS) if retry is True else list(retry or [])
    options = {"retry": kinds, "call_kwargs": _jsonable(kw), "lane": wanted,
               "fallback_lanes": fallback}
    job = JobRow(id=job_id, created_at=time.time(), lane=wanted, n_items=len(items),
                 options=json.dumps(options))
    return Planned(job, chunks, items)


def _with_chunk(row: ItemRow, no: int) -> ItemRow:
    return ItemRow(**{**row.__dict__, "chunk_no": no})


def _limits_for(kind: str, limits: BatchLimits | Mapping[str, BatchLimits] | None) -> BatchLimits:
    if isinstance(limits, BatchLimits):
        return limits
    if limits and kind in limits:
        return limits[kind]
    return PROVIDER_LIMITS[kind]


def _jsonable(kw: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in kw.items():
        try:
            json.dumps(v)
        except TypeError:
            raise ConfigError(f"batch call option {k}={v!r} cannot be stored in the job") from None
        out[k] = v
    return out
