"""Overhead of ChatCostRouter against bare ChatOpenAI, same model, same zero-latency server.

    .venv/bin/python benchmarks/overhead.py [--calls 300] [--async-calls 1000]

1. Per-call time: median of N sequential invokes, router and bare interleaved in one process.
2. Throughput: async, concurrency 50, router and bare alternated, best of 3 rounds each.
3. Routing decision alone (score + count + select, no I/O) for a 200- and an 8k-token prompt,
   cold (caches cleared) and warm (the same prompt again, as in an agent loop).
The server runs in its own process. Targets (issue #2): ratio <= 1.05, throughput >= 0.95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from benchmarks.common import median, server_process
from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.scoring import _cached_score
from langchain_costrouter.tokens import count_text

MODEL = "gpt-4.1-mini"
PROMPT = "Classify the sentiment of this review as positive or negative: the battery lasts ages."


def build(base_url: str) -> tuple[ChatOpenAI, ChatCostRouter]:
    bare = ChatOpenAI(model=MODEL, base_url=base_url, api_key="test", max_retries=0,
                      stream_usage=True, max_tokens=16)
    # Every level may use gpt-4.1-mini or gpt-4.1: the router does all its routing work and
    # picks the cheaper, the same model as the bare client.
    catalog = Catalog.default().served_by(base_url).with_overrides(
        {"levels": {lv: ["gpt-4.1", MODEL] for lv in ("trivial", "standard", "complex",
                                                      "expert")}})
    router = ChatCostRouter(catalog=catalog, max_tokens=16)
    assert router.invoke(PROMPT).response_metadata["model_name"].startswith(MODEL)
    return bare, router


def per_call(bare: Any, router: Any, n: int) -> dict[str, float]:
    tb: list[float] = []
    tr: list[float] = []
    for _ in range(20):  # warm both
        bare.invoke(PROMPT)
        router.invoke(PROMPT)
    for i in range(n):
        order = (bare, router) if i % 2 == 0 else (router, bare)
        for client in order:
            t0 = time.perf_counter()
            client.invoke(PROMPT)
            (tb if client is bare else tr).append(time.perf_counter() - t0)
    return {"bare_ms": median(tb) * 1e3, "router_ms": median(tr) * 1e3,
            "ratio": median(tr) / median(tb)}


async def _throughput(client: Any, calls: int, concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            await client.ainvoke(PROMPT)

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return calls / (time.perf_counter() - t0)


async def throughput(bare: Any, router: Any, calls: int, concurrency: int) -> dict[str, float]:
    rb: list[float] = []
    rr: list[float] = []
    await _throughput(bare, 100, concurrency)
    await _throughput(router, 100, concurrency)
    for _ in range(3):
        rb.append(await _throughput(bare, calls, concurrency))
        rr.append(await _throughput(router, calls, concurrency))
    return {"bare_rps": max(rb), "router_rps": max(rr), "ratio": max(rr) / max(rb)}


def decision(router: ChatCostRouter) -> dict[str, float]:
    base = ("The quarterly report describes revenue, churn and hiring across regions. " * 400)
    out: dict[str, float] = {}
    for label, target in (("200_tokens", 200), ("8k_tokens", 8000)):
        text = base
        while count_text(text) < target:
            text += base
        words = text.split()
        lo, hi = 0, len(words)
        while lo < hi:  # trim to the target token count
            mid = (lo + hi) // 2
            if count_text(" ".join(words[:mid])) < target:
                lo = mid + 1
            else:
                hi = mid
        text = " ".join(words[:lo]) + " Summarise the key risks."
        msgs = [HumanMessage(text)]
        cold: list[float] = []
        for i in range(30):
            msgs = [HumanMessage(text + f" ({i})")]  # a new prompt each time: no cache hit
            t0 = time.perf_counter()
            router.plan(msgs)
            cold.append(time.perf_counter() - t0)
        warm: list[float] = []
        for _ in range(200):
            t0 = time.perf_counter()
            router.plan(msgs)
            warm.append(time.perf_counter() - t0)
        out[f"{label}_cold_us"] = median(cold) * 1e6
        out[f"{label}_warm_us"] = median(warm) * 1e6
    count_text.cache_clear()
    _cached_score.cache_clear()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--async-calls", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    with server_process(latency_scale=0) as base_url:
        bare, router = build(base_url)
        results = {
            "per_call": per_call(bare, router, args.calls),
            "throughput": asyncio.run(throughput(bare, router, args.async_calls,
                                                 args.concurrency)),
            "decision": decision(router),
        }
    pc, tp, dc = results["per_call"], results["throughput"], results["decision"]
    print(f"per call (median of {args.calls}): bare ChatOpenAI {pc['bare_ms']:.2f} ms, "
          f"ChatCostRouter {pc['router_ms']:.2f} ms, ratio {pc['ratio']:.3f}")
    print(f"async throughput (c={args.concurrency}, {args.async_calls} calls, best of 3): "
          f"bare {tp['bare_rps']:.0f} req/s, router {tp['router_rps']:.0f} req/s, "
          f"ratio {tp['ratio']:.3f}")
    print("routing decision (score + count + select), median: "
          + ", ".join(f"{k} {v:.0f} us" for k, v in dc.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
