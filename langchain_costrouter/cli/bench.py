"""``costrouter bench``: the mixed workload at 2,048-token contexts, strategy against strategy.

Every strategy sends the same prompts (same seed) with a 512-token output cap through the same
chain shape (``prompt | model | StrOutputParser()``): always-premium (the EXPERT level's first
choice, the strongest model the router itself uses) and always-cheapest are a bare ``ChatOpenAI``
of that model, ChatCostRouter routes, and LiteLLM Router (when installed) routes over the same
candidates with its ``simple-shuffle`` and ``cost-based-routing`` strategies. Costs are the real
usage at catalog prices (Decimal); beside each saving stands the share of calls served at or above
their labelled level, and the under-routed share.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable
from rich.console import Console
from rich.markup import escape

from langchain_costrouter.cli import report as out
from langchain_costrouter.cli.args import int_at_least
from langchain_costrouter.cli.bench_lanes import headline, lane_mix_arg, lane_mix_report
from langchain_costrouter.cli.endpoints import Endpoint, add_endpoint_args, open_endpoint
from langchain_costrouter.cli.runner import Outcome, Progressor, RunResult, run_chain, sigint_sets
from langchain_costrouter.cli.summary import Group, by_model, cheapest_model, group, premium_model
from langchain_costrouter.cli.tco import BENCH_INPUT_TOKENS, BENCH_OUTPUT_TOKENS, candidate_names
from langchain_costrouter.models.catalog import Catalog, ModelSpec
from langchain_costrouter.workload import load_workload, mixed_workload

STRATEGIES = ("premium", "cheapest", "router", "litellm")
LITELLM_STRATEGIES = {"simple-shuffle": "shuffle", "cost-based-routing": "cost-based"}
"""LiteLLM Router's routing strategies the bench runs, and their short labels."""


def strategy_list(text: str) -> list[str]:
    """``--strategies``: a comma-separated subset of :data:`STRATEGIES`, checked at parse time."""
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    bad = sorted(set(wanted) - set(STRATEGIES))
    if bad or not wanted:
        raise argparse.ArgumentTypeError(
            f"unknown {bad or 'empty list'}; choose from {', '.join(STRATEGIES)}"
        )
    return list(dict.fromkeys(wanted))


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "bench",
        help="compare always-premium, always-cheapest, ChatCostRouter (and LiteLLM) on N calls",
        description="Benchmark routing strategies on the mixed workload.",
    )
    p.add_argument("--calls", type=int_at_least(1), default=10_000,
                   help="calls per strategy (default 10000)")
    p.add_argument("--concurrency", type=int_at_least(1), default=32)
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument("--context-tokens", type=int_at_least(0), default=BENCH_INPUT_TOKENS,
                   help=f"pad each prompt to about this many tokens (default {BENCH_INPUT_TOKENS};"
                        " 0: no padding)")
    p.add_argument("--max-tokens", type=int_at_least(1), default=BENCH_OUTPUT_TOKENS)
    p.add_argument("--strategies", type=strategy_list, default=list(STRATEGIES),
                   help="comma-separated subset of " + ",".join(STRATEGIES))
    p.add_argument("--workload", metavar="FILE", help="JSONL prompts instead of the packaged ones")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--csv", metavar="PATH")
    p.add_argument("--plot", metavar="PATH", help="PNG: cost per 1K requests and p95 latency")
    p.add_argument("--lane-mix", metavar="MIX", type=lane_mix_arg,  # cli/bench_lanes.py
                   help="price this share of the router's calls at each model's lane prices, "
                        "e.g. batch=0.3,flex=0.1")
    add_endpoint_args(p, latency_scale=0.01)
    p.set_defaults(func=run)


_PROMPT = ChatPromptTemplate.from_messages([("human", "{prompt}")])


def bare_model(spec: ModelSpec, max_tokens: int) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=spec.model, base_url=spec.base_url, api_key=spec.api_key() or "not-needed",
        max_retries=0, timeout=spec.timeout_s, max_tokens=max_tokens, stream_usage=True,
    )


class _LiteLLMChat(BaseChatModel):
    """LiteLLM Router as a chat model, so the bench reads its usage like any other strategy's."""

    router: Any
    by_id: dict[str, str]
    max_tokens: int

    @property
    def _llm_type(self) -> str:
        return "litellm-router"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        raise NotImplementedError("the bench calls LiteLLM Router asynchronously")

    async def _agenerate(self, messages: list[BaseMessage], stop: Any = None,
                         run_manager: Any = None, **kwargs: Any) -> ChatResult:
        msgs = [{"role": "user" if m.type == "human" else m.type, "content": m.content}
                for m in messages]
        r = await self.router.acompletion(model="mix", messages=msgs, max_tokens=self.max_tokens)
        model_id = str(r.model).removeprefix("openai/")
        message = AIMessage(
            content=r.choices[0].message.content or "",
            usage_metadata={"input_tokens": r.usage.prompt_tokens,
                            "output_tokens": r.usage.completion_tokens,
                            "total_tokens": r.usage.total_tokens},
            response_metadata={"costrouter": {"tier": self.by_id.get(model_id, model_id)}},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def litellm_runnable(
    catalog: Catalog, max_tokens: int, strategy: str = "simple-shuffle"
) -> Runnable[Any, Any] | None:
    """LiteLLM Router over the same candidates with one of its routing ``strategy``s, or None
    when litellm is not installed. Each deployment carries the catalog's list prices, so
    ``cost-based-routing`` ranks the models on the same prices as ChatCostRouter."""
    # Without this, importing litellm tries to download its price map (a DNS lookup and
    # retries that take ~10 s offline); the bundled copy is what we want.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        from litellm import Router
    except ImportError:
        return None
    names = candidate_names(catalog)

    def params(spec: ModelSpec) -> dict[str, Any]:
        p: dict[str, Any] = {"model": f"openai/{spec.model}", "api_base": spec.base_url,
                             "api_key": spec.api_key() or "not-needed"}
        if spec.prices is not None:
            p["input_cost_per_token"] = float(spec.prices.input) / 1e6
            p["output_cost_per_token"] = float(spec.prices.output) / 1e6
        return p

    router = Router(
        model_list=[{"model_name": "mix", "litellm_params": params(catalog[n])} for n in names],
        routing_strategy=strategy, num_retries=0,
    )
    return _LiteLLMChat(router=router, by_id={catalog[n].model: n for n in names},
                        max_tokens=max_tokens)


def strategies(ep: Endpoint, args: argparse.Namespace) -> tuple[list[tuple[str, Any, str | None]],
                                                                list[str]]:
    """``(name, chain, fixed model)`` per strategy to run, and notes."""
    from langchain_costrouter.router import ChatCostRouter

    cat = ep.catalog
    notes: list[str] = []
    runs: list[tuple[str, Any, str | None]] = []
    parser = StrOutputParser()
    for s in args.strategies:
        if s in ("premium", "cheapest"):
            name = premium_model(cat) if s == "premium" else cheapest_model(cat)
            runs.append((f"always-{s} ({name})",
                         _PROMPT | bare_model(cat[name], args.max_tokens) | parser, name))
        elif s == "router":
            router = ChatCostRouter(catalog=cat, max_tokens=args.max_tokens)
            runs.append(("ChatCostRouter", _PROMPT | router | parser, None))
        else:
            for strategy, label in LITELLM_STRATEGIES.items():
                lite = litellm_runnable(cat, args.max_tokens, strategy)
                if lite is None:
                    notes.append("LiteLLM Router skipped: litellm is not installed "
                                 "(pip install 'langchain-costrouter[litellm]')")
                    break
                runs.append((f"LiteLLM Router ({label})", _PROMPT | lite, None))
    return runs, notes


async def _run_all(runs: list[tuple[str, Any, str | None]], items: list[Any],
                   args: argparse.Namespace, con: Console) -> list[tuple[str, RunResult]]:
    stop = asyncio.Event()
    results: list[tuple[str, RunResult]] = []
    with sigint_sets(stop), Progressor(con) as prog:
        tracks = {name: prog.track(name, len(items)) for name, _, _ in runs}
        for name, chain, fixed in runs:
            if stop.is_set():
                break
            res = await run_chain(chain, items, strategy=name, concurrency=args.concurrency,
                                  fixed_model=fixed, on_progress=tracks[name], stop=stop)
            results.append((name, res))
    return results


def run(args: argparse.Namespace) -> int:
    con = out.console()
    pool = load_workload(args.workload) if args.workload else None
    items = mixed_workload(args.calls, seed=args.seed, context_tokens=args.context_tokens,
                           items=pool)
    with open_endpoint(args) as ep:
        con.print(ep.banner)
        con.print(f"{args.calls:,} calls per strategy, ~{args.context_tokens:,}-token contexts, "
                  f"{args.max_tokens}-token output cap, concurrency {args.concurrency}")
        runs, notes = strategies(ep, args)
        results = asyncio.run(_run_all(runs, items, args, con))
        data = render(con, ep.catalog, results, notes)
        if args.lane_mix:
            routed = [(n, r) for n, r in results if n == "ChatCostRouter"]
            if routed:
                name, res = routed[0]
                data["lane_mix"] = lane_mix_report(ep.catalog, name, res.outcomes, args.lane_mix)
                con.print(headline(data["lane_mix"]))
            else:
                con.print("[yellow]note:[/] --lane-mix prices the router strategy; not run")
    if args.json:
        con.print(f"wrote {out.write_json(args.json, data)}")
    if args.csv:
        con.print(f"wrote {out.write_csv(args.csv, data['rows'])}")
    if args.plot:
        series = {
            "Cost per 1K requests (USD)": [
                (r["strategy"], _f(r["cost_per_1k_requests_usd"]))
                for r in data["rows"] if r["model"] == "(all)"
            ],
            "p95 latency (ms)": [
                (r["strategy"], r["p95_ms"]) for r in data["rows"] if r["model"] == "(all)"
            ],
        }
        con.print(f"wrote {out.bar_chart(args.plot, 'costrouter bench', series, '')}")
    interrupted = any(r.interrupted for _, r in results) or len(results) < len(runs)
    return 130 if interrupted else 0


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def render(con: Console, cat: Catalog, results: list[tuple[str, RunResult]],
           notes: list[str]) -> dict[str, Any]:
    premium = premium_model(cat)
    interrupted = any(r.interrupted for _, r in results)
    if interrupted:
        done = sum(len(r.outcomes) for _, r in results)
        con.print(f"[yellow]Interrupted: partial report of {done} finished calls[/]")
    rows: list[dict[str, Any]] = []
    speed: list[list[Any]] = []
    money: list[list[Any]] = []
    for name, res in results:
        overall = group(name, res.outcomes, cat, premium, res.wall_s)
        groups: list[tuple[str, Group]] = [("(all)", overall)]
        groups += [(g.name, g) for g in by_model(res.outcomes, cat, premium)]
        for model, g in groups:
            rows.append({"strategy": name, "model": model, **g.as_dict()})
            rows[-1].pop("name")
            label = name if model == "(all)" else f"  {model}"
            speed.append([label, g.calls, f"{g.error_rate:.1%}", out.ms(g.p50), out.ms(g.p95),
                          out.ms(g.p99), "-" if g.throughput is None else f"{g.throughput:,.1f}"])
            money.append([label, out.money(g.per_1k, 4), out.money(g.cost, 4),
                          out.money(g.premium_cost, 4), out.pct(g.saving_pct),
                          out.share(g.quality.at_or_above_share), out.share(g.quality.under_share)])
    con.print(out.table("Latency and throughput per strategy and model",
                        ["strategy / model", "calls", "errors", "p50 ms", "p95 ms", "p99 ms",
                         "req/s"], speed))
    con.print(out.table(f"Cost of the real usage at catalog prices (vs the same tokens at "
                        f"{premium}), and calls served at or above their labelled level",
                        ["strategy / model", "$/1K req", "cost", f"at {premium}", "saving",
                         "at or above label", "under-routed"],
                        money))
    for n in notes:
        con.print(f"[yellow]note:[/] {escape(n)}")
    return {"premium": premium, "interrupted": interrupted, "rows": rows, "notes": notes,
            "outcome_fields": list(Outcome.__dataclass_fields__)}
