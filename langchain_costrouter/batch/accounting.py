"""What a batch item costs and how it is reported: the answer as an ``AIMessage``, its price
at the lane's prices, and one :class:`~langchain_costrouter.costs.CallRecord` per item for the
cost handler and ledgers (``handler.record(rec)`` or any sink's ``write(rec)``).

The record's ``run_id`` is derived from the job id and the item's index, so a ledger that
keys on it can never count an item twice; the job store bills each item once anyway.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from langchain_core.messages import AIMessage

from langchain_costrouter.pricing.prices import Prices, TokenUsage, cost_of

log = logging.getLogger(__name__)
_NS = uuid.UUID("6d1f0a52-3f4e-4c55-9a41-6f2b7f7e0c11")


def item_run_id(job_id: str, idx: int) -> uuid.UUID:
    return uuid.uuid5(_NS, f"{job_id}/{idx}")


def prices_json(prices: Prices | None) -> str | None:
    return None if prices is None else prices.model_dump_json()


def prices_from(raw: str | None) -> Prices | None:
    return None if raw is None else Prices.model_validate_json(raw)


def usage_of(chat: dict[str, Any]) -> TokenUsage:
    u = chat["usage"]
    return TokenUsage(input_tokens=u["input"], output_tokens=u["output"],
                      cached_tokens=u.get("cached", 0), cache_write_tokens=u.get("cache_write", 0))


def price(chat: dict[str, Any], prices: Prices | None) -> Decimal | None:
    return cost_of(prices, usage_of(chat))


def to_message(chat: dict[str, Any], *, tier: str, lane: str, cost: Decimal | None,
               job_id: str, remote_id: str | None) -> dict[str, Any]:
    """The stored form of an answer (plain JSON; :func:`load_message` rebuilds it)."""
    u = chat["usage"]
    return {
        "content": chat["content"], "id": chat.get("id"),
        "usage_metadata": {
            "input_tokens": u["input"], "output_tokens": u["output"],
            "total_tokens": u["input"] + u["output"],
            "input_token_details": {"cache_read": u.get("cached", 0),
                                    "cache_creation": u.get("cache_write", 0)},
        },
        "response_metadata": {
            "model_name": chat.get("model"), "finish_reason": chat.get("finish_reason"),
            "service_tier": chat.get("service_tier"), "costrouter_tier": tier,
            "costrouter_lane": lane, "cost_usd": None if cost is None else str(cost),
            "batch_job_id": job_id, "batch_id": remote_id,
        },
    }


def load_message(raw: str) -> AIMessage:
    d = json.loads(raw)
    return AIMessage(content=d["content"], id=d.get("id"), usage_metadata=d["usage_metadata"],
                     response_metadata=d["response_metadata"])


def record_of(job_id: str, row: Any, *, provider: str, level: str | None = None) -> Any:
    """The CallRecord of one billed item (``row`` is a store ``ItemRow``)."""
    from langchain_costrouter.costs.record import CallRecord

    msg = json.loads(row.message)
    um, meta = msg["usage_metadata"], msg["response_metadata"]
    return CallRecord(
        run_id=item_run_id(job_id, row.idx), timestamp=time.time(), status="ok", level=level,
        tier=row.tier, provider=provider, model=meta.get("model_name"),
        input_tokens=um["input_tokens"], output_tokens=um["output_tokens"],
        cached_input_tokens=um["input_token_details"].get("cache_read", 0),
        cache_write_tokens=um["input_token_details"].get("cache_creation", 0),
        cost=Decimal(row.cost) if row.cost is not None else None,
        price_source=f"costrouter ({meta.get('costrouter_lane')} lane)",
        metadata={"costrouter_lane": meta.get("costrouter_lane"), "batch_job_id": job_id,
                  "batch_item": row.idx},
    )


def emit(records: Sequence[Any], sinks: Sequence[Any]) -> None:
    """Give each record to each sink: ``record()`` (a CostHandler) or ``write()`` (a ledger).
    A failing sink is logged, never raised: the items are already billed in the job store."""
    for sink in sinks:
        put = getattr(sink, "record", None) or sink.write
        for rec in records:
            try:
                put(rec)
            except Exception as e:  # a broken sink must not lose the job's other work
                log.warning("batch record sink %r failed: %s", sink, e)
