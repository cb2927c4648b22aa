"""Cost of OpenTelemetry telemetry: the router with telemetry on against the same router off.

    .venv/bin/python -m benchmarks.telemetry_overhead [--calls 300] [--blocks 7]

"On" is ``instrument(router)`` with the SDK's in-memory span exporter (SimpleSpanProcessor)
and in-memory metric reader: every span and metric point is built and stored, as with a real
exporter minus its I/O. "Off" is the same router without a provider: ``instrument`` installs
nothing, so it is the plain router.

1. Per call over HTTP: median of N sequential invokes and N streams, off and on interleaved, to
   the zero-latency local server in its own process.
2. No I/O (a function-backed model, same process): what telemetry adds per call, in us.
3. The handler alone, fed one routed call's callbacks: with the API's no-op providers (this
   package's own work) and with the SDK (what the OpenTelemetry SDK adds on top).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from decimal import Decimal
from typing import Any

from benchmarks.common import median, server_process
from langchain_costrouter import Catalog, ChatCostRouter, Prices
from langchain_costrouter.telemetry import instrument

MODEL = "gpt-4.1-mini"
PROMPT = "Classify the sentiment of this review as positive or negative: the battery lasts ages."
LEVELS = ("trivial", "standard", "complex", "expert")


def telemetry() -> tuple[Any, Any, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    return tp, MeterProvider(metric_readers=[reader]), spans


def pair(catalog: Catalog) -> tuple[ChatCostRouter, ChatCostRouter, Any]:
    off = ChatCostRouter(catalog=catalog, max_tokens=16)
    on = ChatCostRouter(catalog=catalog, max_tokens=16)
    assert instrument(off) is None  # no provider: nothing installed
    tp, mp, spans = telemetry()
    assert instrument(on, tracer_provider=tp, meter_provider=mp) is not None
    return off, on, spans


def interleaved(clients: dict[str, Any], n: int, call: Any) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in clients}
    for _ in range(20):
        for c in clients.values():
            call(c)
    names = list(clients)
    for i in range(n):
        for name in names[i % 2:] + names[: i % 2]:
            t0 = time.perf_counter()
            call(clients[name])
            times[name].append(time.perf_counter() - t0)
    return {k: median(v) for k, v in times.items()}


def http(base_url: str, n: int) -> dict[str, float]:
    catalog = Catalog.default().served_by(base_url).with_overrides(
        {"levels": {lv: ["gpt-4.1", MODEL] for lv in LEVELS}})
    off, on, spans = pair(catalog)
    out: dict[str, float] = {}
    for mode, call in (("invoke", lambda c: c.invoke(PROMPT)),
                       ("stream", lambda c: list(c.stream(PROMPT)))):
        t = interleaved({"off": off, "on": on}, n, call)
        out[f"{mode}_off_ms"] = t["off"] * 1e3
        out[f"{mode}_on_ms"] = t["on"] * 1e3
        out[f"{mode}_ratio"] = t["on"] / t["off"]
    out["spans_exported"] = len(spans.get_finished_spans())
    return out


def no_io(blocks: int, calls: int) -> dict[str, float]:
    from langchain_costrouter.testing.function_model import FunctionChatModel

    model = FunctionChatModel(model_name=MODEL)
    catalog = Catalog.build({
        "models": [{"name": "m", "provider": "openai", "model": MODEL, "chat_model": model,
                    "prices": Prices(input=Decimal("0.4"), output=Decimal("1.6"))}],
        "levels": {lv: ["m"] for lv in LEVELS},
    })
    off, on, _ = pair(catalog)

    def block(client: Any) -> float:
        t0 = time.perf_counter()
        for _ in range(calls):
            client.invoke(PROMPT)
        return (time.perf_counter() - t0) / calls

    async def ablock(client: Any) -> float:
        t0 = time.perf_counter()
        for _ in range(calls):
            await client.ainvoke(PROMPT)
        return (time.perf_counter() - t0) / calls

    out: dict[str, float] = {}
    for mode in ("sync", "async"):
        t: dict[str, list[float]] = {"off": [], "on": []}
        for _ in range(blocks):
            for name, client in (("off", off), ("on", on)):
                t[name].append(block(client) if mode == "sync" else asyncio.run(ablock(client)))
        out[f"{mode}_off_us"] = median(t["off"]) * 1e6
        out[f"{mode}_on_us"] = median(t["on"]) * 1e6
        out[f"{mode}_added_us"] = out[f"{mode}_on_us"] - out[f"{mode}_off_us"]
        out[f"{mode}_ratio"] = median(t["on"]) / median(t["off"])
    return out


def handler_alone(calls: int = 2000, rounds: int = 5) -> dict[str, float]:
    from uuid import uuid4

    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.outputs import ChatGeneration, LLMResult
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    from langchain_costrouter.telemetry import OTelCallbackHandler

    entry = {"level": "trivial", "tier": "m", "model_name": MODEL, "provider": "openai",
             "score": 0.1, "cost_usd": "0.0000064", "currency": "USD", "breaker_events": [],
             "attempts": [{"tier": "m", "status": "ok", "duration_s": 0.001,
                           "cost_usd": "0.0000064"}]}
    msg = AIMessage("positive", response_metadata={"model_name": MODEL, "costrouter": entry,
                                                   "finish_reason": "stop"},
                    usage_metadata={"input_tokens": 20, "output_tokens": 1, "total_tokens": 21})
    result = LLMResult(generations=[[ChatGeneration(message=msg)]])
    prompt = [[HumanMessage(PROMPT)]]
    meta = {"ls_model_name": MODEL, "ls_provider": "openai", "user": "alice"}
    ids = [uuid4() for _ in range(calls)]

    def per_call(h: Any) -> float:
        t0 = time.perf_counter()
        for run_id in ids:
            h.on_chat_model_start({}, prompt, run_id=run_id, metadata=meta)
            h.on_llm_end(result, run_id=run_id)
        return (time.perf_counter() - t0) / calls

    tp, mp, _ = telemetry()
    noop = OTelCallbackHandler(tracer_provider=NoOpTracerProvider(),
                               meter_provider=NoOpMeterProvider())
    sdk = OTelCallbackHandler(tracer_provider=tp, meter_provider=mp)
    t: dict[str, list[float]] = {"noop": [], "sdk": []}
    for _ in range(rounds):
        t["noop"].append(per_call(noop))
        t["sdk"].append(per_call(sdk))
    return {"noop_us": median(t["noop"]) * 1e6, "sdk_us": median(t["sdk"]) * 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--blocks", type=int, default=7)
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    with server_process(latency_scale=0) as base_url:
        results = {"http": http(base_url, args.calls), "no_io": no_io(args.blocks, 300),
                   "handler": handler_alone()}
    h, p = results["http"], results["no_io"]
    print(f"over HTTP, median of {args.calls} interleaved calls (telemetry on / off):")
    for mode in ("invoke", "stream"):
        print(f"  {mode:6}  off {h[mode + '_off_ms']:.2f} ms   on {h[mode + '_on_ms']:.2f} ms"
              f"   ratio {h[mode + '_ratio']:.3f}")
    print(f"no I/O, median of {args.blocks} blocks of 300 calls:")
    for mode in ("sync", "async"):
        print(f"  {mode:6}  off {p[mode + '_off_us']:.0f} us   on {p[mode + '_on_us']:.0f} us"
              f"   +{p[mode + '_added_us']:.0f} us   ratio {p[mode + '_ratio']:.3f}")
    ha = results["handler"]
    print(f"the handler alone, per call: {ha['noop_us']:.0f} us with no-op providers (this "
          f"package), {ha['sdk_us']:.0f} us with the SDK and in-memory exporter/reader")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
