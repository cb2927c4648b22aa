"""OpenTelemetry GenAI spans and metrics of routed calls, over real HTTP to the local server.

The SDK's in-memory span exporter and metric reader receive what a collector would.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.exceptions import AllModelsFailedError, TelemetryUnavailableError
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.telemetry import instrument
from langchain_costrouter.telemetry import semconv as sc
from langchain_costrouter.testing import FaultPlan, LocalServer, ServerConfig

LEVELS = ("trivial", "standard", "complex", "expert")
PROMPT = "Name one colour of the sky zqlmno"


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def calls(self) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.parent is None]

    def children(self, call: ReadableSpan) -> list[ReadableSpan]:
        kids = [s for s in self.finished()
                if s.parent is not None and s.parent.span_id == call.context.span_id]
        return sorted(kids, key=lambda s: s.attributes[sc.ATTEMPT_INDEX])

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out = []
        for rm in data.resource_metrics if data else []:
            for scope in rm.scope_metrics:
                for m in scope.metrics:
                    if m.name == name:
                        out.extend(m.data.data_points)
        return out


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ServerConfig(latency_scale=0)) as srv:
        yield srv


def make_router(server: LocalServer) -> ChatCostRouter:
    models = [
        {"name": n, "provider": f"prov-{n}", "model": f"{n}-model", "base_url": server.base_url,
         "api_key_env": None, "prices": Prices(input=Decimal(i + 1), output=Decimal(i + 2))}
        for i, n in enumerate(("cheap", "backup"))
    ]
    catalog = Catalog.build({"models": models, "levels": {lv: ["cheap", "backup"]
                                                          for lv in LEVELS}})
    return ChatCostRouter(catalog=catalog, breakers=False, max_tokens=30)


@pytest.fixture
def tel() -> Telemetry:
    return Telemetry()


@pytest.fixture
def router(server: LocalServer, tel: Telemetry) -> Iterator[ChatCostRouter]:
    r = make_router(server)
    handler = instrument(r, tracer_provider=tel.tracer_provider,
                         meter_provider=tel.meter_provider)
    assert handler is not None
    yield r
    for model in ("cheap-model", "backup-model"):
        server.set_faults(model, None)


def test_a_routed_call_is_one_genai_span_with_usage_routing_and_cost(
    router: ChatCostRouter, tel: Telemetry
) -> None:
    msg = router.invoke(PROMPT, config={"metadata": {"user": "alice"}})
    entry = msg.response_metadata["costrouter"]
    (call,) = tel.calls()
    a = call.attributes
    assert call.name == "chat cheap-model"
    assert a[sc.OPERATION_NAME] == "chat"
    assert a[sc.PROVIDER_NAME] == "prov-cheap"
    assert a[sc.REQUEST_MODEL] == "cheap-model"
    assert a[sc.RESPONSE_MODEL] == msg.response_metadata["model_name"]
    um = msg.usage_metadata
    assert um is not None and um["input_tokens"] > 0
    assert a[sc.INPUT_TOKENS] == um["input_tokens"]
    assert a[sc.OUTPUT_TOKENS] == um["output_tokens"]
    assert a[sc.CACHE_READ_TOKENS] == um["input_token_details"].get("cache_read", 0)
    assert a[sc.LEVEL] == entry["level"] and a[sc.TIER] == "cheap"
    assert a[sc.SCORE] == pytest.approx(entry["score"])
    assert a[sc.ATTEMPTS] == 1
    assert Decimal(a[sc.COST_USD_EXACT]) == Decimal(entry["cost_usd"]) > 0
    assert a[sc.COST_AMOUNT] == pytest.approx(float(entry["cost_usd"]))
    assert a[sc.COST_CURRENCY] == "USD"
    assert a[sc.TENANT] == "alice"
    assert call.status.status_code is StatusCode.UNSET
    (attempt,) = tel.children(call)
    assert attempt.attributes[sc.ATTEMPT_STATUS] == "ok"
    assert attempt.attributes[sc.REQUEST_MODEL] == "cheap-model"
    assert call.start_time <= attempt.start_time <= attempt.end_time <= call.end_time


def test_a_fallback_is_one_child_span_per_attempt_and_says_why(
    router: ChatCostRouter, tel: Telemetry, server: LocalServer
) -> None:
    server.set_faults("cheap-model", FaultPlan(error_500=1.0))
    msg = router.invoke(PROMPT)
    assert [a["status"] for a in msg.response_metadata["costrouter"]["attempts"]] == [
        "error", "ok"]
    (call,) = tel.calls()
    failed, answered = tel.children(call)
    assert failed.attributes[sc.TIER] == "cheap"
    assert failed.status.status_code is StatusCode.ERROR
    assert "500" in failed.attributes[sc.ATTEMPT_ERROR]
    assert answered.attributes[sc.TIER] == "backup"
    assert answered.attributes[sc.PROVIDER_NAME] == "prov-backup"
    assert failed.end_time <= answered.start_time
    assert call.attributes[sc.ATTEMPTS] == 2
    assert call.attributes[sc.TIER] == "backup"
    assert call.attributes[sc.PROVIDER_NAME] == "prov-backup"
    assert call.attributes[sc.FALLBACK_REASON].startswith("cheap: ")
    assert call.status.status_code is StatusCode.UNSET  # the call itself answered


def test_every_model_failing_sets_the_error_status_and_keeps_the_attempts(
    router: ChatCostRouter, tel: Telemetry, server: LocalServer
) -> None:
    for model in ("cheap-model", "backup-model"):
        server.set_faults(model, FaultPlan(error_500=1.0))
    with pytest.raises(AllModelsFailedError):
        router.invoke(PROMPT)
    (call,) = tel.calls()
    assert call.status.status_code is StatusCode.ERROR
    assert "AllModelsFailedError" in (call.status.description or "")
    assert call.attributes[sc.ERROR_TYPE] == "AllModelsFailedError"
    kids = tel.children(call)
    assert [k.attributes[sc.TIER] for k in kids] == ["cheap", "backup"]
    assert all(k.status.status_code is StatusCode.ERROR for k in kids)
    (point,) = tel.points(sc.METRIC_DURATION)
    assert point.attributes[sc.ERROR_TYPE] == "AllModelsFailedError"
    assert not tel.points(sc.METRIC_COST)  # nothing answered, nothing billed


def test_streams_record_time_to_first_chunk_tokens_and_cost_by_tenant(
    router: ChatCostRouter, tel: Telemetry
) -> None:
    msg = router.invoke(PROMPT, config={"metadata": {"user": "bob"}})
    chunks = list(router.stream(PROMPT + " again", config={"metadata": {"user": "bob"}}))
    assert len(chunks) > 1
    streamed = chunks[0]
    for c in chunks[1:]:
        streamed += c
    (ttfc,) = tel.points(sc.METRIC_TTFC)
    assert ttfc.count == 1  # the stream only, not the invoke
    (duration,) = tel.points(sc.METRIC_DURATION)
    assert duration.count == 2
    tokens = {p.attributes[sc.TOKEN_TYPE]: p for p in tel.points(sc.METRIC_TOKEN_USAGE)}
    assert tokens["input"].sum == (msg.usage_metadata["input_tokens"]
                                   + streamed.usage_metadata["input_tokens"])
    assert tokens["output"].count == 2
    (cost,) = tel.points(sc.METRIC_COST)
    assert cost.attributes[sc.TENANT] == "bob"
    assert cost.attributes[sc.RESPONSE_MODEL] == "cheap-model"
    assert sc.LEVEL in cost.attributes
    total = Decimal(msg.response_metadata["costrouter"]["cost_usd"]) + Decimal(
        streamed.response_metadata["costrouter"]["cost_usd"])
    assert cost.value == pytest.approx(float(total))
    spans = tel.calls()
    assert len(spans) == 2 and all(len(tel.children(s)) == 1 for s in spans)


async def test_async_calls_and_streams_are_traced_too(
    router: ChatCostRouter, tel: Telemetry, server: LocalServer
) -> None:
    server.set_faults("cheap-model", FaultPlan(script=("error_500",)))
    msg = await router.ainvoke(PROMPT)
    assert [a["tier"] for a in msg.response_metadata["costrouter"]["attempts"]] == [
        "cheap", "backup"]
    async for _ in router.astream(PROMPT):
        pass
    first, second = sorted(tel.calls(), key=lambda s: s.start_time)
    assert len(tel.children(first)) == 2 and len(tel.children(second)) == 1
    assert second.attributes[sc.OUTPUT_TOKENS] > 0
    assert len(tel.points(sc.METRIC_TTFC)) == 1


def test_prompt_and_answer_text_stay_out_unless_opted_in(
    server: LocalServer, tel: Telemetry
) -> None:
    quiet = make_router(server)
    instrument(quiet, tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider)
    answer = quiet.invoke(PROMPT).text
    (span,) = tel.calls()
    values = " ".join(str(v) for s in tel.finished() for v in s.attributes.values())
    assert "zqlmno" not in values and answer not in values
    assert sc.INPUT_MESSAGES not in span.attributes

    loud_tel = Telemetry()
    loud = make_router(server)
    instrument(loud, tracer_provider=loud_tel.tracer_provider,
               meter_provider=loud_tel.meter_provider, capture_content=True)
    answer = loud.invoke(PROMPT).text
    (span,) = loud_tel.calls()
    assert "zqlmno" in span.attributes[sc.INPUT_MESSAGES]
    assert answer in span.attributes[sc.OUTPUT_MESSAGES]


def test_without_a_provider_nothing_is_installed(server: LocalServer) -> None:
    r = make_router(server)
    before = r.callbacks
    assert instrument(r) is None  # no global tracer or meter provider in the test process
    assert r.callbacks is before


def test_instrumenting_twice_installs_one_handler(server: LocalServer, tel: Telemetry) -> None:
    r = make_router(server)
    h1 = instrument(r, tracer_provider=tel.tracer_provider)
    h2 = instrument(r, tracer_provider=tel.tracer_provider)
    assert h1 is h2 and len(r.callbacks) == 1
    r.invoke(PROMPT)
    assert len(tel.calls()) == 1


def test_asking_for_telemetry_without_opentelemetry_names_the_extra(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
    with pytest.raises(TelemetryUnavailableError, match=r"langchain-costrouter\[otel\]"):
        instrument(make_router(server))
