"""Overhead of ChatCostRouter against bare ChatOpenAI, same model, same zero-latency server.

    .venv/bin/python benchmarks/overhead.py [--calls 300] [--async-calls 1000]

1. Per-call time: median of N sequential invokes, router and bare interleaved in one process.
2. Throughput: async, concurrency 50, clients alternated, median of 5 rounds each.
   LiteLLM Router (two deployments, a fallback) joins both when ``litellm`` is installed.
3. Routing decision alone (score + count + select, no I/O) for a 200- and an 8k-token prompt,
   cold (caches cleared) and warm (the same prompt again, as in an agent loop).
4. The router's own cost with no I/O at all (a function-backed model), sync and async.
The server runs in its own process. Targets: router's own cost <= 40 us per call, plan() <= 50 us
for a new 200-token prompt and <= 1 ms at 8k, per call <= 1.02x bare, throughput >= 0.97x bare.
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
from langchain_costrouter.pricing.tokens import count_text
from langchain_costrouter.routing.scorers import _cached_score, score_request

MODEL = "gpt-4.1-mini"
PROMPT = "Classify the sentiment of this review as positive or negative: the battery lasts ages."


def two_model_catalog(base_url: str) -> Catalog:
    """Every level may use gpt-4.1-mini or gpt-4.1: the router does all its routing work and
    picks the cheaper, the same model as the bare client. (Both are added as entries, priced by
    genai-prices: the default catalog has newer models.)"""
    return Catalog.default().with_overrides({
        "models": {m: {"provider": "openai", "model": m, "base_url": base_url}
                   for m in ("gpt-4.1", MODEL)},
        "levels": {lv: ["gpt-4.1", MODEL] for lv in ("trivial", "standard", "complex", "expert")},
    }).served_by(base_url)


def build(base_url: str) -> tuple[ChatOpenAI, ChatCostRouter]:
    # configured exactly like the router's catalog-built model (timeout = the spec's timeout_s)
    bare = ChatOpenAI(model=MODEL, base_url=base_url, api_key="test", max_retries=0,
                      stream_usage=True, max_tokens=16, timeout=60.0)
    router = ChatCostRouter(catalog=two_model_catalog(base_url), max_tokens=16)
    assert router.invoke(PROMPT).response_metadata["model_name"].startswith(MODEL)
    return bare, router


class LiteLLMClient:
    """LiteLLM Router with two deployments and a fallback, the same model first (optional)."""

    def __init__(self, base_url: str) -> None:
        import os

        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no DNS at import
        import litellm

        litellm.telemetry = False
        params = {"api_base": base_url, "api_key": "test"}
        self.router = litellm.Router(
            model_list=[
                {"model_name": "mini", "litellm_params": {"model": f"openai/{MODEL}", **params}},
                {"model_name": "big", "litellm_params": {"model": "openai/gpt-4.1", **params}},
            ],
            fallbacks=[{"mini": ["big"]}],
            num_retries=0,
        )
        self.messages = [{"role": "user", "content": PROMPT}]

    def invoke(self, _prompt: str) -> Any:
        return self.router.completion(model="mini", messages=self.messages, max_tokens=16)

    async def ainvoke(self, _prompt: str) -> Any:
        return await self.router.acompletion(model="mini", messages=self.messages, max_tokens=16)


def litellm_client(base_url: str) -> LiteLLMClient | None:
    try:
        return LiteLLMClient(base_url)
    except ImportError:
        return None


def per_call(clients: dict[str, Any], n: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(20):  # warm all
        for c in clients.values():
            c.invoke(PROMPT)
    names = list(clients)
    for i in range(n):
        for name in names[i % len(names):] + names[: i % len(names)]:  # rotate the order
            t0 = time.perf_counter()
            clients[name].invoke(PROMPT)
            times[name].append(time.perf_counter() - t0)
    base = median(times["bare"])
    out = {f"{name}_ms": median(t) * 1e3 for name, t in times.items()}
    out.update({f"{name}_ratio": median(t) / base for name, t in times.items() if name != "bare"})
    return out


async def _throughput(client: Any, calls: int, concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            await client.ainvoke(PROMPT)

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return calls / (time.perf_counter() - t0)


async def throughput(clients: dict[str, Any], calls: int, concurrency: int) -> dict[str, float]:
    rates: dict[str, list[float]] = {name: [] for name in clients}
    for c in clients.values():
        await _throughput(c, 100, concurrency)
    for _ in range(5):  # alternate rounds; the median resists a noisy neighbour
        for name, c in clients.items():
            rates[name].append(await _throughput(c, calls, concurrency))
    base = median(rates["bare"])
    out = {f"{name}_rps": median(r) for name, r in rates.items()}
    out.update({f"{name}_ratio": median(r) / base for name, r in rates.items() if name != "bare"})
    return out


def pure_overhead(rounds: int = 7, calls: int = 300) -> dict[str, float]:
    """Router vs the model it wraps with no I/O at all (a function-backed model): what the
    router itself costs per call, sync and async, free of network and server noise."""
    from decimal import Decimal

    from langchain_costrouter import Prices
    from langchain_costrouter.testing.function_model import FunctionChatModel

    model = FunctionChatModel(model_name=MODEL)
    catalog = Catalog.build({
        "models": [{"name": "m", "provider": "openai", "model": MODEL, "chat_model": model,
                    "prices": Prices(input=Decimal("0.4"), output=Decimal("1.6"))}],
        "levels": {lv: ["m"] for lv in ("trivial", "standard", "complex", "expert")},
    })
    router = ChatCostRouter(catalog=catalog)

    # CPU time of this process, not wall time: on a shared machine other jobs' time slices
    # would otherwise land in whichever block they interrupt (no I/O here, so CPU = cost).
    def sync_block(client: Any) -> float:
        t0 = time.process_time()
        for _ in range(calls):
            client.invoke(PROMPT)
        return (time.process_time() - t0) / calls

    async def async_block(client: Any) -> float:
        t0 = time.process_time()
        for _ in range(calls):
            await client.ainvoke(PROMPT)
        return (time.process_time() - t0) / calls

    out: dict[str, float] = {}
    for mode in ("sync", "async"):
        bare_t: list[float] = []
        router_t: list[float] = []
        for _ in range(rounds):
            for client, sink in ((model, bare_t), (router, router_t)):
                t = sync_block(client) if mode == "sync" else asyncio.run(async_block(client))
                sink.append(t)
        out[f"{mode}_bare_us"] = median(bare_t) * 1e6
        out[f"{mode}_router_us"] = median(router_t) * 1e6
        out[f"{mode}_overhead_us"] = (median(router_t) - median(bare_t)) * 1e6
    model.calls.clear()
    return out


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
        scorer: list[float] = []
        for i in range(30):
            msgs = [HumanMessage(text + f" ({i})")]  # a new prompt each time: no cache hit
            t0 = time.perf_counter()
            router.plan(msgs)
            cold.append(time.perf_counter() - t0)
            other = [HumanMessage(text + f" [{i}]")]  # the scorer's share, on its own prompt
            t0 = time.perf_counter()
            score_request(router._scorer, other, tools=None, response_format=None)
            scorer.append(time.perf_counter() - t0)
        warm: list[float] = []
        for _ in range(200):
            t0 = time.perf_counter()
            router.plan(msgs)
            warm.append(time.perf_counter() - t0)
        out[f"{label}_cold_us"] = median(cold) * 1e6
        out[f"{label}_cold_scorer_us"] = median(scorer) * 1e6
        out[f"{label}_warm_us"] = median(warm) * 1e6
    count_text.cache_clear()
    _cached_score.cache_clear()
    return out


def build_local() -> ChatCostRouter:
    """The benchmark's routing setup (two models on every level) with no endpoint needed."""
    return ChatCostRouter(catalog=two_model_catalog("http://127.0.0.1:9/v1"), max_tokens=16)


def _print_local(pu: dict[str, float], dc: dict[str, float]) -> None:
    print("router's own cost, no I/O (function-backed model, CPU time, median of 7 blocks of "
          "300): "
          f"sync {pu['sync_bare_us']:.0f} -> {pu['sync_router_us']:.0f} us "
          f"(+{pu['sync_overhead_us']:.0f} us), async {pu['async_bare_us']:.0f} -> "
          f"{pu['async_router_us']:.0f} us (+{pu['async_overhead_us']:.0f} us)")
    print("plan() (score + count + price + order), median: "
          + ", ".join(f"{k} {v:.0f} us" for k, v in dc.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--async-calls", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--no-server", action="store_true",
                    help="only the no-I/O figures: the router's own cost and plan()")
    args = ap.parse_args()
    if args.no_server:
        _print_local(pure_overhead(), decision(build_local()))
        return
    with server_process(latency_scale=0) as base_url:
        bare, router = build(base_url)
        clients: dict[str, Any] = {"bare": bare, "router": router}
        lite = litellm_client(base_url)
        if lite is not None:
            clients["litellm"] = lite
        else:
            print("litellm is not installed: LiteLLM Router is left out (pip install litellm)")
        results = {
            "per_call": per_call(clients, args.calls),
            "throughput": asyncio.run(throughput(clients, args.async_calls, args.concurrency)),
            "decision": decision(router),
            "pure": pure_overhead(),
        }
    pc, tp, dc = results["per_call"], results["throughput"], results["decision"]
    labels = {"bare": "bare ChatOpenAI", "router": "ChatCostRouter", "litellm": "LiteLLM Router"}
    print(f"per call, median of {args.calls} interleaved:")
    for name in clients:
        ratio = "1.000" if name == "bare" else f"{pc[name + '_ratio']:.3f}"
        print(f"  {labels[name]:16} {pc[name + '_ms']:7.2f} ms   ratio {ratio}")
    print(f"async throughput, c={args.concurrency}, {args.async_calls} calls, median of 5 rounds:")
    for name in clients:
        ratio = "1.000" if name == "bare" else f"{tp[name + '_ratio']:.3f}"
        print(f"  {labels[name]:16} {tp[name + '_rps']:7.0f} req/s  ratio {ratio}")
    _print_local(results["pure"], dc)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
