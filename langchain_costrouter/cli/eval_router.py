"""``costrouter eval-router``: RouteLLM's APGR / CPT / cost-at-95% for several scorers."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from langchain_costrouter.cli import eval_cascade
from langchain_costrouter.cli import report as out
from langchain_costrouter.quality.baselines import resolve_scorer, score_all
from langchain_costrouter.quality.metrics import Curve, RouterReport, curve, evaluate
from langchain_costrouter.quality.protocol import Split
from langchain_costrouter.quality.table import RoutingTable, read_table

DEFAULT_SCORERS = ("random", "length", "heuristic", "default")


def add_table_args(p: argparse.ArgumentParser, *, costs: bool = True) -> None:
    p.add_argument("--data", metavar="CSV", required=True,
                   help="CSV with one prompt per row and each model's quality on it")
    p.add_argument("--prompt-col", default="prompt", help="column holding the prompt")
    p.add_argument("--strong", metavar="COL", required=True, help="strong model quality column")
    p.add_argument("--weak", metavar="COL", required=True, help="weak model quality column")
    if costs:
        p.add_argument("--cost-strong", metavar="COL", help="USD of the strong call per row")
        p.add_argument("--cost-weak", metavar="COL", help="USD of the weak call per row")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "eval-router",
        help="APGR, CPT and cost at 95%% quality of difficulty scorers on labelled prompts",
        description="Evaluate scorers with RouteLLM's protocol on a CSV of prompts with the "
        "quality of a strong and a weak model (and optionally each call's cost).",
    )
    add_table_args(p)
    p.add_argument("--scorer", action="append", metavar="NAME|PATH",
                   help="random[:SEED], length, heuristic, default (the shipped learned "
                   "scorer), or a train-scorer artifact; repeatable "
                   f"(default: {', '.join(DEFAULT_SCORERS)})")
    p.add_argument("--quality-target", type=float, default=0.95,
                   help="fraction of the strong model's quality for the cost column (0.95)")
    p.add_argument("--plot", metavar="PNG", help="draw quality vs strong share (and cost)")
    p.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    p.set_defaults(func=run)
    eval_cascade.add_args(p)  # --cascade CHECK,...: score cascade checks (cli/eval_cascade.py)


def load(args: argparse.Namespace) -> RoutingTable:
    return read_table(args.data, strong=args.strong, weak=args.weak, prompt_col=args.prompt_col,
                      cost_strong=getattr(args, "cost_strong", None),
                      cost_weak=getattr(args, "cost_weak", None))


def render(reports: Sequence[RouterReport], title: str) -> None:
    r0 = reports[0]
    target = f"{r0.quality_target * 100:g}%"
    cols = ["scorer", "APGR", "CPT(50%)", "CPT(80%)", f"strong share at {target} quality"]
    if r0.cost_all_strong is not None:
        cols.append(f"cost at {target} quality")
    rows = []
    for r in reports:
        row = [r.name, f"{r.apgr:.3f}", f"{r.cpt50 * 100:.1f}%", f"{r.cpt80 * 100:.1f}%",
               f"{r.share_at_target * 100:.1f}%"]
        if r.cost_all_strong is not None:
            row.append(out.money(r.cost_at_target))
        rows.append(row)
    con = out.console()
    con.print(out.table(title, cols, rows))
    line = (f"{r0.rows} prompts; mean quality weak {r0.weak_quality:.4g}, "
            f"strong {r0.strong_quality:.4g}")
    if r0.cost_all_strong is not None:
        line += (f"; all-weak {out.money(r0.cost_all_weak)}, "
                 f"all-strong {out.money(r0.cost_all_strong)}")
    con.print(line + ". APGR: random = 0.5 in expectation, perfect ranking near 1.")


def render_splits(splits: Sequence[Split], title: str) -> None:
    """Held-out splits of :mod:`~..quality.protocol`: APGR and CPT(50%) per scorer."""
    con = out.console()
    for sp in splits:
        head = f"{title}: {sp.name} ({sp.rows} rows)"
        if sp.problem:
            con.print(f"[yellow]{head}: no figures ({sp.problem})[/]")
            continue
        rows = []
        for name, sc in sp.scores.items():
            apgr = f"{sc.apgr:.3f}"
            if sc.spread:
                apgr += f" (seeds {sc.spread[0]:.3f}-{sc.spread[1]:.3f})"
            rows.append([name, apgr, f"{sc.cpt50 * 100:.1f}%"])
        con.print(out.table(head, ["scorer", "APGR", "CPT(50%)"], rows))


def plot(path: str, curves: dict[str, Curve]) -> Path:
    p = out._writable(path)
    plt = out._pyplot()
    with_cost = all(c.costs is not None for c in curves.values())
    fig, axes = plt.subplots(1, 2 if with_cost else 1, figsize=(12 if with_cost else 7, 5),
                             squeeze=False)
    ax = axes[0, 0]
    for name, c in curves.items():
        ax.plot([s * 100 for s in c.shares], c.quality, label=name)
    any_c = next(iter(curves.values()))
    ax.axhline(any_c.strong_quality, color="grey", ls=":", lw=1)
    ax.axhline(any_c.weak_quality, color="grey", ls=":", lw=1)
    ax.set_xlabel("calls sent to the strong model (%)")
    ax.set_ylabel("mean quality")
    ax.set_title("Quality vs strong-call share")
    ax.legend()
    if with_cost:
        ax2 = axes[0, 1]
        for name, c in curves.items():
            ax2.plot([float(x) for x in c.costs or ()], c.quality, label=name)
        ax2.set_xlabel("total cost (USD)")
        ax2.set_ylabel("mean quality")
        ax2.set_title("Quality vs cost")
        ax2.legend()
    fig.tight_layout()
    fig.savefig(p, format="png", dpi=100)
    plt.close(fig)
    return p


def run(args: argparse.Namespace) -> int:
    table = load(args)
    named = [resolve_scorer(s) for s in (args.scorer or DEFAULT_SCORERS)]
    reports, curves = [], {}
    for name, scorer in named:
        scores = score_all(scorer, table.prompts)
        reports.append(evaluate(name, scores, table, args.quality_target))
        curves[name] = curve(scores, table)
    render(reports, f"Routing quality on {args.data}")
    con = out.console()
    if args.json:
        data = {"data": args.data, "rows": len(table), "reports": [r.as_dict() for r in reports]}
        con.print(f"wrote {out.write_json(args.json, data)}")
    if args.plot:
        con.print(f"wrote {plot(args.plot, curves)}")
    return 0
