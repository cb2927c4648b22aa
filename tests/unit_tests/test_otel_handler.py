"""The OpenTelemetry handler's own rules, driven through its callbacks (no network)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

pytest.importorskip("opentelemetry.sdk")

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from langchain_costrouter.redact import REDACTED, register_secret
from langchain_costrouter.telemetry import OTelCallbackHandler
from langchain_costrouter.telemetry import semconv as sc
from langchain_costrouter.telemetry.handler import ATTEMPT_EVENT


def setup(**kw: Any) -> tuple[OTelCallbackHandler, InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    return OTelCallbackHandler(tracer_provider=tp, **kw), spans


def answer(entry: Any, text: str = "ok") -> LLMResult:
    msg = AIMessage(text, response_metadata={"model_name": "m-1", "costrouter": entry},
                    usage_metadata={"input_tokens": 7, "output_tokens": 2, "total_tokens": 9})
    return LLMResult(generations=[[ChatGeneration(message=msg)]])


def start(h: OTelCallbackHandler, prompt: str = "hi", parent: UUID | None = None,
          **metadata: Any) -> UUID:
    run_id = uuid4()
    h.on_chat_model_start({}, [[HumanMessage(prompt)]], run_id=run_id, parent_run_id=parent,
                          metadata={"ls_model_name": "m-1", **metadata})
    return run_id


ENTRY = {"level": "trivial", "tier": "b", "provider": "p", "cost_usd": "0.001",
         "attempts": [{"tier": "a", "status": "error", "error": "E 500", "duration_s": 0.5},
                      {"tier": "b", "status": "ok", "duration_s": 0.25}]}


def test_engine_attempt_events_give_live_attempt_timings() -> None:
    h, spans = setup()
    run_id = start(h)
    for i in (0, 1):
        h.on_custom_event(ATTEMPT_EVENT, {"phase": "start", "index": i}, run_id=run_id)
        h.on_custom_event(ATTEMPT_EVENT, {"phase": "end", "index": i}, run_id=run_id)
    h.on_llm_end(answer(ENTRY), run_id=run_id)
    kids = sorted((s for s in spans.get_finished_spans() if s.parent is not None),
                  key=lambda s: s.attributes[sc.ATTEMPT_INDEX])
    assert [k.attributes[sc.ATTEMPT_TIMING] for k in kids] == ["live", "live"]
    # the live times, not the recorded 0.5 s and 0.25 s durations laid end to end
    assert all(k.end_time - k.start_time < 250_000_000 for k in kids)
    assert kids[0].end_time <= kids[1].start_time


def test_without_events_attempts_are_rebuilt_from_their_durations() -> None:
    h, spans = setup()
    h.on_llm_end(answer(ENTRY), run_id=start(h))
    kids = sorted((s for s in spans.get_finished_spans() if s.parent is not None),
                  key=lambda s: s.attributes[sc.ATTEMPT_INDEX])
    assert [k.attributes[sc.ATTEMPT_TIMING] for k in kids] == ["reconstructed"] * 2
    assert kids[0].end_time == kids[1].start_time


def test_provider_shaped_garbage_in_the_entry_never_breaks_the_span() -> None:
    h, spans = setup()
    bad = {"level": ["x"], "score": "high", "cost_usd": "abc", "attempts": "nope",
           "breaker_events": 3}
    h.on_llm_end(answer(bad), run_id=start(h))
    (span,) = spans.get_finished_spans()
    assert sc.SCORE not in span.attributes and sc.LEVEL not in span.attributes
    assert span.attributes[sc.UNPRICED] is True and span.attributes[sc.ATTEMPTS] == 0
    assert span.attributes[sc.INPUT_TOKENS] == 7


def test_captured_content_and_tenants_are_scrubbed_of_keys() -> None:
    secret = "zz-secret-value-0123456789"
    register_secret(secret)
    h, spans = setup(capture_content=True, tenant_keys=("api_key",))
    run_id = start(h, prompt=f"my key is {secret}", api_key="sk-live-abcdefghijklmnop")
    h.on_llm_end(answer(ENTRY, text=f"echo {secret}"), run_id=run_id)
    call = next(s for s in spans.get_finished_spans() if s.parent is None)
    everything = " ".join(str(v) for s in spans.get_finished_spans()
                          for v in s.attributes.values())
    assert secret not in everything and "sk-live" not in everything
    assert REDACTED in call.attributes[sc.INPUT_MESSAGES]
    assert call.attributes[sc.TENANT].startswith("sha256:")


def test_an_inner_llm_run_of_a_traced_run_is_not_traced_twice() -> None:
    h, spans = setup()
    outer = start(h)
    inner = start(h, parent=outer)
    h.on_llm_end(answer(ENTRY), run_id=inner)
    h.on_llm_end(answer(ENTRY), run_id=outer)
    assert len([s for s in spans.get_finished_spans() if s.parent is None]) == 1


class CutStream(Exception):
    """Like the engine's stream-cut error: it carries the route of what was billed."""

    def __init__(self, route: dict[str, Any]) -> None:
        super().__init__("stream cut after the first chunk")
        self.route = route


def test_an_error_that_carries_its_route_keeps_tier_cost_and_attempts() -> None:
    h, spans = setup()
    route = {"level": "standard", "tier": "b", "provider": "p", "cost_usd": "0.0004",
             "scored_level": "trivial", "served_level": "standard", "reason": "fallback",
             "attempts": [{"tier": "b", "status": "error", "error": "cut", "duration_s": 0.1}]}
    h.on_llm_error(CutStream(route), run_id=start(h))
    call = next(s for s in spans.get_finished_spans() if s.parent is None)
    assert call.status.status_code.name == "ERROR"
    a = call.attributes
    assert (a[sc.TIER], a[sc.COST_USD_EXACT], a[sc.ROUTE_REASON]) == ("b", "0.0004", "fallback")
    assert (a[sc.SCORED_LEVEL], a[sc.SERVED_LEVEL]) == ("trivial", "standard")
    assert len([s for s in spans.get_finished_spans() if s.parent is not None]) == 1


def test_the_lane_of_a_call_is_read_where_the_batch_lane_writes_it() -> None:
    h, spans = setup()
    result = answer(ENTRY)
    msg = result.generations[0][0].message
    msg.response_metadata = {**msg.response_metadata, "costrouter_lane": "flex"}
    h.on_llm_end(result, run_id=start(h))
    call = next(s for s in spans.get_finished_spans() if s.parent is None)
    assert call.attributes[sc.LANE] == "flex"
