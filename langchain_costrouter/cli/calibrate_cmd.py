"""``costrouter calibrate``: thresholds from your own prompts for a target strong-call share."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

from langchain_core.messages import HumanMessage

from langchain_costrouter.cli import report as out
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.pricing.tokens import count_messages
from langchain_costrouter.quality.baselines import resolve_scorer, score_all
from langchain_costrouter.quality.calibrate import (
    calibrate,
    parse_mix,
    share_for_budget,
    share_for_quality,
)
from langchain_costrouter.quality.table import read_prompts, read_table
from langchain_costrouter.routing.scorers import scale_of


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "calibrate",
        help="score thresholds for a target strong-call share, quality or budget",
        description="Score your prompts and place the cut(s) at quantiles of the scores "
        "(RouteLLM-style), for a strong-call share, a level mix, a quality target on "
        "labelled data, or a USD budget for the prompt set.",
    )
    p.add_argument("--prompts", metavar="FILE", required=True,
                   help="your prompts: .jsonl (key --prompt-col), .csv (column), .txt (one a line)",
                   )
    p.add_argument("--prompt-col", default="prompt")
    p.add_argument("--scorer", default="default",
                   help="default (the shipped learned scorer), random[:SEED], length, "
                   "heuristic, or a train-scorer artifact")
    p.add_argument("--write", metavar="OUT",
                   help="save a copy of the (learned) scorer carrying these cuts, so that "
                   "ChatCostRouter(scorer=load_scorer(OUT)) routes with them")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--strong-share", type=float, metavar="S",
                     help="share of calls for the strong (EXPERT) level, e.g. 0.3: one cut")
    how.add_argument("--mix", metavar="T,S,C,E",
                     help="share per level, lowest first, e.g. 0.4,0.3,0.2,0.1: one cut per gap")
    how.add_argument("--target-quality", type=float, metavar="Q",
                     help="fraction of the strong model's quality to reach on --data, e.g. 0.95")
    how.add_argument("--budget", metavar="USD", help="USD for the whole prompt set")
    p.add_argument("--data", metavar="CSV", help="labelled prompts for --target-quality")
    p.add_argument("--strong", metavar="COL", help="strong quality column of --data")
    p.add_argument("--weak", metavar="COL", help="weak quality column of --data")
    p.add_argument("--catalog", metavar="FILE", help="catalog overrides for --budget")
    p.add_argument("--strong-model", metavar="NAME", help="catalog model for strong calls")
    p.add_argument("--weak-model", metavar="NAME", help="catalog model for weak calls")
    p.add_argument("--output-tokens", type=int, default=256,
                   help="expected output tokens per call, for --budget (256)")
    p.set_defaults(func=run)


def _need(args: argparse.Namespace, mode: str, *names: str) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) in (None, "")]
    if missing:
        raise ConfigError(f"{mode} needs {', '.join(missing)}")


def _budget_share(args: argparse.Namespace, prompts: list[str], scores: list[float]) -> float:
    _need(args, "--budget", "strong_model", "weak_model")
    try:
        budget = Decimal(args.budget)
    except InvalidOperation:
        raise ConfigError(f"--budget must be a USD amount, got {args.budget!r}") from None
    if not budget.is_finite() or budget < 0:
        raise ConfigError(f"--budget must be a finite USD amount >= 0, got {args.budget!r}")
    if args.output_tokens < 0:
        raise ConfigError(f"--output-tokens must be >= 0, got {args.output_tokens}")
    catalog = Catalog.from_file(args.catalog) if args.catalog else Catalog.default()
    costs = {}
    for side in ("strong_model", "weak_model"):
        spec = catalog[getattr(args, side)]
        if spec.prices is None:
            raise ConfigError(f"model {spec.name!r} has no known price; give it prices in "
                              "--catalog to calibrate on a budget")
        costs[side] = [
            cost_of(spec.prices, TokenUsage(
                input_tokens=count_messages([HumanMessage(t)], spec.tokenizer),
                output_tokens=args.output_tokens))
            for t in prompts
        ]
    return share_for_budget(scores, costs["strong_model"], costs["weak_model"], budget)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    prompts = read_prompts(args.prompts, args.prompt_col)
    name, scorer = resolve_scorer(args.scorer)
    scores = score_all(scorer, prompts)
    con = out.console()
    if args.mix:
        mix = parse_mix(args.mix)
    else:
        if args.strong_share is not None:
            share = args.strong_share
        elif args.target_quality is not None:
            _need(args, "--target-quality", "data", "strong", "weak")
            table = read_table(args.data, strong=args.strong, weak=args.weak,
                               prompt_col=args.prompt_col)
            share = share_for_quality(score_all(scorer, table.prompts), table,
                                      args.target_quality)
            con.print(f"{name} reaches {args.target_quality * 100:g}% of the strong model's "
                      f"quality on {args.data} with {share * 100:.1f}% strong calls")
        else:
            share = _budget_share(args, prompts, scores)
            con.print(f"the budget allows {share * 100:.1f}% of the prompts on "
                      f"{args.strong_model}")
        if not 0 <= share <= 1:
            raise ConfigError(f"--strong-share must be in [0, 1], got {share}")
        mix = [1 - share, share]
    cal = calibrate(scores, mix)
    con.print(out.table(
        f"Thresholds for {cal.prompts} prompts of {args.prompts} (scorer {name})",
        ["level", "scores", "share of your prompts"],
        [[lv.value, _band(cal.thresholds.cuts, i), f"{s * 100:.1f}%"]
         for i, (lv, s) in enumerate(zip(cal.levels, cal.shares, strict=True))],
    ))
    if args.write:
        if not hasattr(scorer, "with_cuts"):
            raise ConfigError(f"--write needs a learned scorer (default or an artifact); "
                              f"{name} has no artifact to carry cuts")
        written = scorer.with_cuts(cal.thresholds.cuts, mix=list(mix),
                                   reference=f"{cal.prompts} prompts of {args.prompts}"
                                   ).save(args.write)
        con.print(f"wrote {written}: route with ChatCostRouter(scorer=load_scorer({written!r}))"
                  " (load_scorer from langchain_costrouter.routing.scorers)")
        return 0
    cuts = ", ".join(f"{c:.6g}" for c in cal.thresholds.cuts)
    expr = _scorer_expr(args.scorer)
    con.print(f"Use them with: ChatCostRouter(scorer={expr}, thresholds=Thresholds(({cuts},), "
              f"scale={scale_of(scorer)!r}))  (from langchain_costrouter.routing.scorers import"
              " Thresholds, load_scorer; from langchain_costrouter.quality import baselines)")
    return 0


def _scorer_expr(spec: str) -> str:
    """Python expression building the scorer named on the command line."""
    if spec == "default":
        return "None"
    if spec == "heuristic":
        return "HeuristicScorer()"
    if spec == "length":
        return "baselines.LengthScorer()"
    if spec.startswith("random"):
        return f"baselines.RandomScorer({spec.partition(':')[2] or 0})"
    return f"load_scorer({spec!r})"


def _band(cuts: tuple[float, ...], i: int) -> str:
    lo = f"{cuts[i - 1]:.6g} <= " if i > 0 else ""
    hi = f" < {cuts[i]:.6g}" if i < len(cuts) else ""
    return f"{lo}score{hi}"
