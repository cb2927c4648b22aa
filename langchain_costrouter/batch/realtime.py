"""Items of a job served synchronously: those on the flex or realtime lane (a fallback from
batch), and batch items retried on realtime after they expired or were cancelled.

Under a budget guard, a realtime item goes through the guard's normal path (``guard.wrap``:
bounded, reserved, settled with its actual usage, at realtime prices); a flex item reserves its
planned estimate (id ``"<job>-item<idx>"``) and settles with its actual cost. An item the
budget refuses fails with the budget's error as its reason; the job goes on."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import convert_to_messages

from langchain_costrouter.batch.flex import flex_invoke
from langchain_costrouter.batch.store import ItemRow
from langchain_costrouter.redact import scrub_text


def _flex(router: Any, job_id: str, it: ItemRow, messages: Any, kw: dict[str, Any],
          guard: Any, metadata: Mapping[str, Any] | None) -> Any:
    if guard is None:
        return flex_invoke(router, messages, tier=it.tier, **kw)
    res = guard.reserve_amount(f"{job_id}-item{it.idx}", usd=it.estimated_cost,
                               tokens=int(it.estimated_tokens or 0), metadata=metadata,
                               model=it.tier)
    try:
        msg = flex_invoke(router, messages, tier=it.tier, **kw)
    except BaseException:
        guard.release_amount(res)
        raise
    um = msg.usage_metadata or {}
    guard.settle_amount(res, usd=msg.response_metadata.get("cost_usd"),
                        tokens=int(um.get("input_tokens", 0)) + int(um.get("output_tokens", 0))
                        if um else None)
    return msg


def run_item(router: Any, job_id: str, it: ItemRow, *, guard: Any = None,
             metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Answer one item now; the store update for it (succeeded, or failed with the reason)."""
    body = it.body()
    messages = convert_to_messages(body["messages"])
    kw = {k: body[k] for k in ("max_tokens", "temperature") if k in body}
    try:
        if it.lane == "flex":
            msg = _flex(router, job_id, it, messages, kw, guard, metadata)
            lane = str(msg.response_metadata.get("costrouter_lane", "flex"))
            cost = msg.response_metadata.get("cost_usd")
        else:
            target = router if guard is None else guard.wrap(router)
            msg = target.invoke(messages, {"metadata": dict(metadata or {})}, model=it.tier, **kw)
            lane = "realtime"
            cost = (msg.response_metadata.get("costrouter") or {}).get("cost_usd")
    except Exception as e:  # the item fails, the job goes on
        return {"idx": it.idx, "state": "failed", "error_kind": "failed",
                "error": scrub_text(f"{it.lane} call failed: {type(e).__name__}: {e}")[:500]}
    um = dict(msg.usage_metadata or {})
    um.setdefault("input_token_details", {})
    stored = {
        "content": msg.content if isinstance(msg.content, str) else str(msg.content),
        "id": msg.id, "usage_metadata": um,
        "response_metadata": {
            "model_name": msg.response_metadata.get("model_name"),
            "finish_reason": msg.response_metadata.get("finish_reason"),
            "service_tier": msg.response_metadata.get("service_tier"),
            "costrouter_tier": it.tier, "costrouter_lane": lane, "cost_usd": cost,
            "batch_job_id": job_id, "batch_id": None,
            **({"retried_after": it.error_kind} if it.error_kind else {}),
        },
    }
    return {"idx": it.idx, "state": "succeeded", "message": json.dumps(stored), "cost": cost}
