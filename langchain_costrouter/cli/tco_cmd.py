"""``costrouter tco``: print, save and plot a TCO report."""

from __future__ import annotations

import argparse
from typing import Any

from langchain_costrouter.cli import report as out
from langchain_costrouter.cli.args import from_config, share
from langchain_costrouter.cli.tco import (
    BENCH_INPUT_TOKENS,
    BENCH_OUTPUT_TOKENS,
    MonthlyWorkload,
    TcoReport,
    parse_mix,
    parse_tokens,
    tco,
)
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.catalog import Catalog


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "tco",
        help="monthly cost of a workload per model and per routing strategy (no network)",
        description="Price a monthly workload on every catalog model and routing strategy.",
    )
    p.add_argument("--workload", metavar="FILE", help="YAML/JSON file with the keys below")
    p.add_argument("--input-tokens", type=_tokens("--input-tokens"),
                   help="input tokens per month, e.g. 50M (default 50M)")
    p.add_argument("--output-tokens", type=_tokens("--output-tokens"),
                   help="output tokens per month, e.g. 20M (default 20M)")
    p.add_argument(
        "--mix", type=from_config(parse_mix),
        help="share per level, e.g. trivial=0.4,standard=0.3,complex=0.2,expert=0.1",
    )
    p.add_argument("--cache-hit-rate", type=share,
                   help="share of input tokens read from cache (0..1)")
    p.add_argument(
        "--input-per-request", type=_tokens("--input-per-request", positive=True),
        help=f"input tokens of one request (default {BENCH_INPUT_TOKENS})",
    )
    p.add_argument("--baseline", metavar="MODEL",
                   help="catalog model to compare against (default: always-premium, the "
                        "expert level's first choice)")
    p.add_argument("--catalog", metavar="FILE", help="YAML/JSON catalog overrides")
    p.add_argument("--json", metavar="PATH", help="write the report as JSON")
    p.add_argument("--plot", metavar="PATH", help="write a PNG bar chart")
    p.add_argument("--lane-mix", metavar="MIX",  # cli/tco_lanes.py
                   help="share of traffic that can wait, e.g. batch=0.3,flex=0.1")
    p.set_defaults(func=run)


def _tokens(flag: str, positive: bool = False) -> Any:
    def parse(text: str) -> int:
        n = parse_tokens(text, "token count")
        if positive and n <= 0:
            raise ConfigError(f"{flag}: must be > 0, got {text!r}")
        return n

    return from_config(parse)


def workload_from_args(args: argparse.Namespace) -> MonthlyWorkload:
    data: dict[str, object] = {"input_tokens": "50M", "output_tokens": "20M"}
    if args.workload:
        base = MonthlyWorkload.from_file(args.workload)
        data = {
            "input_tokens": base.input_tokens,
            "output_tokens": base.output_tokens,
            "mix": {k.value: v for k, v in base.mix.items()},
            "cache_hit_rate": base.cache_hit_rate,
            "input_tokens_per_request": base.input_tokens_per_request,
        }
    if args.input_tokens is not None:
        data["input_tokens"] = args.input_tokens
    if args.output_tokens is not None:
        data["output_tokens"] = args.output_tokens
    if args.mix is not None:
        data["mix"] = {k.value: v for k, v in args.mix.items()}
    if args.cache_hit_rate is not None:
        data["cache_hit_rate"] = args.cache_hit_rate
    if args.input_per_request is not None:
        data["input_tokens_per_request"] = args.input_per_request
    return MonthlyWorkload.from_mapping(data, source="arguments")


def render(rep: TcoReport) -> None:
    con = out.console()
    w = rep.workload
    mix = ", ".join(f"{k.value} {v * 100:.0f}%" for k, v in w.mix.items())
    con.print(
        f"[bold]Monthly workload[/]: {w.input_tokens:,} input + {w.output_tokens:,} output tokens"
        f" ({w.requests:,.0f} requests of {w.input_tokens_per_request:,} input tokens), "
        f"cache hit rate {w.cache_hit_rate * 100:.0f}%, mix: {mix}"
    )
    shape = f"cost / 1K req ({BENCH_INPUT_TOKENS:,} in, {BENCH_OUTPUT_TOKENS} out)"
    cols = ["model", "provider/model, price", "monthly cost", shape, f"saving vs {rep.baseline}"]
    con.print(
        out.table(
            "Every model serving the whole workload",
            cols,
            (
                [ln.name, ln.detail, out.money(ln.monthly_cost), out.money(ln.per_1k_requests),
                 f"{out.money(ln.saving)} ({out.pct(ln.saving_pct)})"]
                for ln in sorted(rep.models, key=_sort_key)
            ),
            right_from=2,
        )
    )
    con.print(
        out.table(
            "Routing strategies",
            ["strategy", "models", "monthly cost", shape, f"saving vs {rep.baseline}"],
            (
                [ln.name, ln.detail, out.money(ln.monthly_cost), out.money(ln.per_1k_requests),
                 f"{out.money(ln.saving)} ({out.pct(ln.saving_pct)})"]
                for ln in rep.strategies
            ),
            right_from=2,
        )
    )
    con.print("always-premium: the strongest model the router itself uses (the expert level's "
              "first choice); always-cheapest: the cheapest model any level lists")
    if rep.unpriced:
        con.print(f"[yellow]unpriced (no known price): {', '.join(rep.unpriced)}[/]")


def _sort_key(ln: object) -> tuple[int, float]:
    c = getattr(ln, "monthly_cost", None)
    return (1, 0.0) if c is None else (0, -float(c))


def run(args: argparse.Namespace) -> int:
    workload = workload_from_args(args)
    catalog = Catalog.from_file(args.catalog) if args.catalog else Catalog.default()
    rep = tco(catalog, workload, baseline=args.baseline)
    if args.lane_mix:  # lanes: cli/tco_lanes.py
        from langchain_costrouter.cli.tco_lanes import lane_mix_line, parse_lane_mix
        from langchain_costrouter.models.lanes import with_lanes

        rep.strategies.append(lane_mix_line(with_lanes(catalog), workload,
                                            parse_lane_mix(args.lane_mix), rep.baseline_cost))
    render(rep)
    con = out.console()
    if args.json:
        con.print(f"wrote {out.write_json(args.json, rep.as_dict())}")
    if args.plot:
        series = {
            "Monthly cost per model (USD)": [
                (ln.name, None if ln.monthly_cost is None else float(ln.monthly_cost))
                for ln in sorted(rep.models, key=_sort_key)
            ],
            "Monthly cost per strategy (USD)": [
                (ln.name, None if ln.monthly_cost is None else float(ln.monthly_cost))
                for ln in rep.strategies
            ],
        }
        con.print(f"wrote {out.bar_chart(args.plot, 'costrouter tco', series, 'USD / month')}")
    return 0
