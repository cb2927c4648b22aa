"""Telemetry and the cost handler read the router's metadata entry by the same rules.

Both go through ``routing.metadata.RouteInfo``: for the same entry (well-formed, or with
provider-shaped garbage in it) the telemetry view, the parser and a cost record agree on every
routing field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from langchain_costrouter.costs import CostTrackingCallbackHandler
from langchain_costrouter.routing.metadata import RouteInfo
from langchain_costrouter.telemetry.route import route_of

GOOD = {"level": "expert", "scored_level": "expert", "served_level": "standard",
        "reason": "ceiling", "score": 0.81, "tier": "small", "model_name": "small-1",
        "provider": "p-small", "cost_usd": "0.00042", "usage_estimated": False,
        "attempts": [{"tier": "small", "status": "ok", "duration_s": 0.1}],
        "breaker_events": [{"name": "x"}], "lane": "batch"}
GARBAGE = {"level": ["x"], "scored_level": {"a": 1}, "served_level": ("t",), "reason": None,
           "score": True, "tier": "small", "cost_usd": "-1", "attempts": "nope"}


def cost_record(entry: dict[str, Any]) -> Any:
    h = CostTrackingCallbackHandler()
    run_id = uuid4()
    h.on_chat_model_start({}, [[HumanMessage("hi")]], run_id=run_id,
                          invocation_params={"model": "small-1"})
    msg = AIMessage("ok", response_metadata={"costrouter": entry},
                    usage_metadata={"input_tokens": 7, "output_tokens": 2, "total_tokens": 9})
    h.on_llm_end(LLMResult(generations=[[ChatGeneration(message=msg)]]), run_id=run_id)
    (rec,) = h.records
    return rec


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("entry", [GOOD, GARBAGE], ids=["good", "garbage"])
def test_telemetry_and_cost_records_agree_with_the_one_parser(entry: dict[str, Any]) -> None:
    meta = {"costrouter": entry}
    parsed, view, rec = RouteInfo.parse(meta), route_of(meta), cost_record(entry)
    assert parsed is not None and view is not None
    names = ("level", "scored_level", "served_level", "reason", "score", "tier")
    assert tuple(getattr(view, n) for n in names) == tuple(getattr(parsed, n) for n in names)
    assert tuple(getattr(rec, n) for n in names) == tuple(getattr(parsed, n) for n in names)
    assert view.cost_usd == parsed.cost
    if entry is GOOD:
        assert (view.reason, view.served_level, view.score) == ("ceiling", "standard", 0.81)
        assert view.cost_usd == rec.cost == Decimal("0.00042")
        assert (view.lane, view.breaker_events, len(view.attempts)) == ("batch", 1, 1)
    else:  # a wrong type is dropped, never a name like "['x']", a score of 1.0 or a refund
        assert (parsed.level, parsed.scored_level, parsed.served_level) == (None, None, None)
        assert parsed.score is None and parsed.cost is None and view.attempts == ()
