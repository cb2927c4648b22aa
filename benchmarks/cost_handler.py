"""Overhead and memory of CostTrackingCallbackHandler.

(a) Overhead per call: a ``GenericFakeChatModel`` (zero latency, usage on every message) invoked
    and streamed without a handler, with langchain-core's ``UsageMetadataCallbackHandler`` and
    with ours, in interleaved blocks in one process; medians of per-block µs/call and the ratio
    to the bare model.
(b) Memory: 1,000,000 calls pushed through ``handler.record()`` directly (the path every
    finished LLM run ends in: ring buffer, totals, per-model and per-level breakdowns, latency
    histograms) with realistic, distinct records; RSS growth measured with psutil. Calling
    ``record()`` directly skips LangChain's callback machinery (~10x slower per call) so that a
    million calls take seconds; a shorter run through the full callback path checks that no
    per-run state is left behind.

    python -m benchmarks.cost_handler [--calls 1000000] [--rounds 15] [--block 200]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import statistics
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from uuid import uuid4

import psutil
from langchain_core.callbacks import BaseCallbackHandler, UsageMetadataCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from langchain_costrouter.costs import CallRecord, CostTrackingCallbackHandler

USAGE = {"input_tokens": 812, "output_tokens": 96, "total_tokens": 908,
         "input_token_details": {"cache_read": 512}}


def replies() -> Iterator[AIMessage]:
    for _ in itertools.count():
        yield AIMessage("The capital of France is Paris. " * 3, usage_metadata=dict(USAGE),
                        response_metadata={"model_name": "gpt-4.1-mini"})


def model() -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=replies())


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def overhead(rounds: int, block: int) -> None:
    m = model()
    ours = CostTrackingCallbackHandler()
    variants: dict[str, list[BaseCallbackHandler]] = {
        "bare": [], "core UsageMetadataCallbackHandler": [UsageMetadataCallbackHandler()],
        "CostTrackingCallbackHandler": [ours],
    }
    for mode in ("invoke", "stream"):
        times: dict[str, list[float]] = {k: [] for k in variants}
        for cbs in variants.values():  # warm-up (first pricing lookup, tiktoken, imports)
            call = _caller(m, mode, cbs)
            per_call_us(call, 20)
        for _ in range(rounds):
            for name, cbs in variants.items():
                times[name].append(per_call_us(_caller(m, mode, cbs), block))
        base = statistics.median(times["bare"])
        print(f"\n{mode}: median of {rounds} interleaved blocks of {block} calls")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"  {name:36s} {med:8.1f} us/call   x{med / base:.3f}   (+{med - base:.1f} us)")
    s = ours.summary()
    print(f"  (handler counted {s.requests} calls, total ${s.total_cost:.6f}, "
          f"open runs left: {len(ours._runs)}, run-tree entries left: {len(ours._parents)})")


def _caller(m: GenericFakeChatModel, mode: str, cbs: list[BaseCallbackHandler]
            ) -> Callable[[], Any]:
    # GenericFakeChatModel names no model; its stream chunks carry no usage (ours estimates).
    cfg = {"callbacks": cbs,
           "metadata": {"user": "u1", "team": "search", "ls_model_name": "gpt-4.1-mini"}}
    if mode == "invoke":
        return lambda: m.invoke("What is the capital of France?", config=cfg)
    return lambda: list(m.stream("What is the capital of France?", config=cfg))


def memory(calls: int) -> None:
    rng = random.Random(0)
    models = [("gpt-4.1-mini", "openai"), ("gpt-4.1", "openai"), ("deepseek-chat", "deepseek"),
              ("gemini-2.5-flash", "google"), ("claude-sonnet-4-5", "anthropic")]
    levels = ["trivial", "standard", "complex", "expert"]
    proc = psutil.Process()
    gc.collect()
    h = CostTrackingCallbackHandler()  # max_records=10_000 (default)
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    for i in range(calls):
        mdl, prov = models[i % 5]
        inp = rng.randint(50, 4000)
        out = rng.randint(10, 800)
        h.record(CallRecord(
            run_id=uuid4(), parent_run_id=uuid4(), timestamp=1.7e9 + i, level=levels[i % 4],
            tier=mdl, provider=prov, model=mdl, input_tokens=inp,
            cached_input_tokens=inp // 3, output_tokens=out,
            cost=(Decimal(inp) * Decimal("0.4") + Decimal(out) * Decimal("1.6")) / 1_000_000,
            price_source="genai-prices 0.2.3", latency_s=rng.lognormvariate(-0.5, 0.6),
            ttft_s=rng.lognormvariate(-1.5, 0.5), streamed=True, tags=("seq:step:2",),
            metadata={"user": f"user-{i % 1000}", "team": "search", "project": "p1"},
        ))
    dt = time.perf_counter() - t0
    gc.collect()
    rss1 = proc.memory_info().rss
    s = h.summary()
    print(f"\nmemory: {calls:,} calls through record(): RSS +{(rss1 - rss0) / 2**20:.1f} MB "
          f"(target < 100 MB), {dt / calls * 1e6:.1f} us/record, "
          f"{len(h.records):,} records kept, {s.requests:,} counted, "
          f"p50 latency {s.latency_p50_s:.3f}s p99 {s.latency_p99_s:.3f}s, "
          f"histogram buckets {h._total.latency.buckets}")

    # the full callback path leaves no per-run state behind
    m = model()
    full = CostTrackingCallbackHandler(max_records=100)
    n = max(calls // 100, 1000)
    rss2 = proc.memory_info().rss
    for _ in range(n):
        m.invoke("hi", config={"callbacks": [full]})
    gc.collect()
    rss3 = proc.memory_info().rss
    print(f"full callback path: {n:,} invokes, RSS +{(rss3 - rss2) / 2**20:.1f} MB, "
          f"open runs {len(full._runs)}, run-tree entries {len(full._parents)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--block", type=int, default=200)
    args = ap.parse_args()
    overhead(args.rounds, args.block)
    memory(args.calls)


if __name__ == "__main__":
    main()
