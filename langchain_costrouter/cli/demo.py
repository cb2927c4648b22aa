"""``costrouter demo``: route the mixed workload through ChatCostRouter inside a LangChain chain.

Without API keys it starts the local test server; with keys it uses the real providers and
says so. Prints the routing mix, the cost against always-premium (the same calls' real usage
priced at the EXPERT level's first choice) next to the share of calls served at or above their
labelled level, latency percentiles, breaker events and budget status.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from rich.console import Console
from rich.markup import escape

from langchain_costrouter.cli import report as out
from langchain_costrouter.cli.args import int_at_least, usd
from langchain_costrouter.cli.endpoints import Endpoint, add_endpoint_args, open_endpoint
from langchain_costrouter.cli.runner import Progressor, RunResult, run_chain, sigint_sets
from langchain_costrouter.cli.summary import (
    Quality,
    by_label,
    by_model,
    group,
    premium_model,
    routing_mix,
)
from langchain_costrouter.workload import load_workload, mixed_workload

DEFAULT_CALLS = 200
DEFAULT_CALLS_REAL = 20


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo",
        help="route the mixed workload through ChatCostRouter and report cost, mix, latency",
        description="Route a mixed workload of real prompts through ChatCostRouter.",
    )
    p.add_argument("--calls", type=int_at_least(1), default=None,
                   help=f"number of calls (default {DEFAULT_CALLS}; {DEFAULT_CALLS_REAL} "
                        "with real providers)")
    p.add_argument("--concurrency", type=int_at_least(1), default=8)
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument("--budget", type=usd, default=Decimal(5), metavar="USD",
                   help="daily USD budget of the demo's budget guard (default 5)")
    p.add_argument("--max-tokens", type=int_at_least(1), default=512, help="output cap per call")
    p.add_argument("--workload", metavar="FILE", help="JSONL prompts instead of the packaged ones")
    p.add_argument("--json", metavar="PATH", help="write the report as JSON")
    add_endpoint_args(p, latency_scale=0.05)
    p.set_defaults(func=run)


def quality_text(q: Quality) -> str:
    """``82.0% served at or above their labelled level, 18.0% under-routed``."""
    if q.at_or_above_share is None or q.under_share is None:
        return "quality unknown (no answered call has a known level)"
    return (f"{q.at_or_above_share:.1%} served at or above their labelled level, "
            f"{q.under_share:.1%} under-routed")


def build_chain(ep: Endpoint, args: argparse.Namespace) -> tuple[Any, Any, Any, list[str]]:
    """``prompt | router.with_budget(...) | StrOutputParser()``, the router, guard, notes."""
    from langchain_costrouter.router import ChatCostRouter

    notes: list[str] = []
    router = ChatCostRouter(catalog=ep.catalog, max_tokens=args.max_tokens)
    guard = None
    model: Any = router
    try:
        from langchain_costrouter.budget import Budget, BudgetGuard, with_budget

        guard = BudgetGuard(budgets=[Budget.usd(args.budget, per="day", name="demo-daily")])
        model = with_budget(router, guard=guard)
    except ImportError as e:  # budget guards not installed in this tree
        notes.append(f"budget guard unavailable ({e}); running without one")
    prompt = ChatPromptTemplate.from_messages([("human", "{prompt}")])
    return prompt | model | StrOutputParser(), router, guard, notes


def _cost_handler(catalog: Any, notes: list[str]) -> Any:
    try:
        from langchain_costrouter.costs import CostTrackingCallbackHandler
    except ImportError as e:
        notes.append(f"cost handler unavailable ({e})")
        return None
    return CostTrackingCallbackHandler(catalog=catalog)


async def _run(chain: Any, items: list[Any], args: argparse.Namespace, con: Console,
               callbacks: list[Any]) -> RunResult:
    stop = asyncio.Event()
    with sigint_sets(stop), Progressor(con) as prog:
        return await run_chain(
            chain, items, strategy="ChatCostRouter", concurrency=args.concurrency,
            callbacks=callbacks, on_progress=prog.track("ChatCostRouter", len(items)), stop=stop,
        )


def run(args: argparse.Namespace) -> int:
    con = out.console()
    pool = load_workload(args.workload) if args.workload else None
    with open_endpoint(args) as ep:
        con.print(ep.banner)
        n = args.calls if args.calls is not None else (
            DEFAULT_CALLS_REAL if ep.mode == "providers" else DEFAULT_CALLS
        )
        items = mixed_workload(n, seed=args.seed, items=pool)
        chain, router, guard, notes = build_chain(ep, args)
        handler = _cost_handler(ep.catalog, notes)
        res = asyncio.run(_run(chain, items, args, con, [handler] if handler else []))
        report = render(con, ep, res, router, guard, handler, notes)
    if args.json:
        con.print(f"wrote {out.write_json(args.json, report)}")
    if res.interrupted:
        return 130
    return _all_failed_exit(res, con)


def _all_failed_exit(res: RunResult, con: Console) -> int:
    """Exit 1, naming the first error, when not a single call succeeded (savings of $0 from
    zero answers are not a result); 0 otherwise."""
    outs = res.outcomes
    if outs and not any(o.ok for o in outs):
        first = next((o.error for o in outs if o.error), "unknown error")
        con.print(f"[red]Every call failed ({len(outs)} of {len(outs)}); "
                  f"the first: {escape(first)}[/]")
        return 1
    return 0


def render(con: Console, ep: Endpoint, res: RunResult, router: Any, guard: Any, handler: Any,
           notes: list[str]) -> dict[str, Any]:
    cat = ep.catalog
    premium = premium_model(cat)
    outs = res.outcomes
    if res.interrupted:
        con.print(f"[yellow]Interrupted: partial report of {len(outs)} finished calls[/]")
    mix = routing_mix(cat, outs)
    total = len(outs) or 1
    con.print(out.table(
        "Routing mix (labelled level of the prompt -> level of the model that served it)",
        ["labelled level", "served level", "model", "calls", "share"],
        ([e, lv, m, c, f"{c / total:.1%}"] for (e, lv, m), c in sorted(mix.items())),
        right_from=3,
    ))
    labels = by_label(cat, outs)
    con.print(out.table(
        "Quality proxy: answered calls served at or above their labelled level",
        ["labelled level", "calls", "at or above", "under-routed"],
        ([lv, n, out.share(q.at_or_above_share), out.share(q.under_share)] for lv, n, q in labels),
    ))
    overall = group("ChatCostRouter", outs, cat, premium, res.wall_s)
    models = by_model(outs, cat, premium)
    con.print(out.table(
        f"Cost of the real usage vs always-{premium} (same tokens at {premium}'s prices)",
        ["model", "calls", "cost", f"at {premium} prices", "saving", "saving %",
         "at or above label", "under-routed"],
        ([g.name, g.calls, out.money(g.cost), out.money(g.premium_cost), out.money(g.saving),
          out.pct(g.saving_pct), out.share(g.quality.at_or_above_share),
          out.share(g.quality.under_share)] for g in [*models, overall]),
    ))
    con.print(out.table(
        "Latency (ms, successful calls)",
        ["model", "calls", "errors", "p50", "p95", "p99"],
        ([g.name, g.calls, g.errors, out.ms(g.p50), out.ms(g.p95), out.ms(g.p99)]
         for g in [*models, overall]),
    ))
    breakers = breaker_rows(router)
    if breakers:
        con.print(out.table("Circuit breakers", ["model", "state", "failures in window", "trips"],
                            breakers))
    else:
        con.print("Circuit breakers: the router exposes no health() (none configured)")
    budget = budget_rows(guard)
    if budget:
        con.print(out.table("Budget", ["budget", "window", "limit", "used", "remaining", "util %"],
                            budget))
    if handler is not None:
        con.print(f"Cost handler total: {out.money(handler.total_cost)} over "
                  f"{len(handler.records)} recorded calls")
    errors = Counter(o.error.split(":")[0] for o in outs if o.error)
    if errors:
        con.print("Errors: " + escape(", ".join(f"{k} x{v}" for k, v in errors.most_common())))
    for n in notes:
        con.print(f"[yellow]note:[/] {escape(n)}")
    con.print(
        f"[bold]{len(outs)} calls in {res.wall_s:.1f} s; cost {out.money(overall.cost)} vs "
        f"{out.money(overall.premium_cost)} always-{premium}: saving "
        f"{out.money(overall.saving)} ({out.pct(overall.saving_pct)}), with "
        f"{quality_text(overall.quality)} on the labelled workload[/]"
    )
    return {
        "mode": ep.mode, "interrupted": res.interrupted, "premium": premium,
        "calls": len(outs), "wall_s": round(res.wall_s, 3),
        "overall": overall.as_dict(), "models": [g.as_dict() for g in models],
        "routing_mix": [
            {"expected_level": e, "served_level": lv, "model": m, "calls": c}
            for (e, lv, m), c in sorted(mix.items())
        ],
        "quality_by_label": [
            {"expected_level": lv, "calls": n, "served_at_or_above_label_share":
             q.at_or_above_share, "under_routed_share": q.under_share}
            for lv, n, q in labels
        ],
        "breakers": [dict(zip(["model", "state", "failures", "trips"], r, strict=True))
                     for r in breakers],
        "budget": [dict(zip(["budget", "window", "limit", "used", "remaining", "utilization"], r,
                            strict=True)) for r in budget],
    }



def breaker_rows(router: Any) -> list[list[str]]:
    health = getattr(router, "health", None)
    if health is None and getattr(router, "breakers", None) is not None:
        health = getattr(router.breakers, "health", None)
    if not callable(health):
        return []
    try:
        h = health()
    except Exception as e:
        return [["(health() failed)", type(e).__name__, "", ""]]
    return [
        [str(k), str(getattr(v, "state", v)), str(getattr(v, "failures", "")),
         str(getattr(v, "trips", ""))]
        for k, v in (h or {}).items()
    ]


def budget_rows(guard: Any) -> list[list[str]]:
    if guard is None:
        return []
    st = guard.status()
    rows = []
    for w in st.windows:
        money = w.unit == "usd"
        def fmt(v: Any, money: bool = money) -> str:
            return out.money(Decimal(v)) if money else f"{v:,}"
        rows.append([w.budget, w.window, fmt(w.limit), fmt(w.used), fmt(w.remaining),
                     f"{w.utilization:.2f}"])
    return rows
