"""``costrouter report``: spend per tenant (any key) and model over time, from a ledger or a
JSON lines file of cost records; a table, a CSV and a stacked bar chart."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import defaultdict
from decimal import Decimal

from langchain_costrouter.cli import report as out
from langchain_costrouter.costs.spend import (
    PERIODS,
    Cell,
    GroupCells,
    aggregate,
    jsonl_rows,
    ledger_rows,
)
from langchain_costrouter.exceptions import ConfigError

MAX_STACKS = 12
"""Bars stack at most this many (tenant, model) series; the rest is drawn as "other"."""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "report",
        help="spend per tenant and model over time, from a ledger or a JSONL cost file",
        description="Sum recorded calls per period, group (e.g. user) and model. Rows are "
        "streamed: the file may be larger than memory.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ledger", metavar="DB", help="SQLite budget ledger used as a cost sink")
    src.add_argument("--records", metavar="FILE", help="JSON lines file of cost records "
                     "(JsonLinesSink)")
    p.add_argument("--by", default="user", metavar="KEYS",
                   help="metadata key(s) to group by, comma-separated (default: user)")
    p.add_argument("--period", default="day", choices=PERIODS, help="UTC period (default day)")
    p.add_argument("--csv", metavar="PATH", help="write one row per period, group and model")
    p.add_argument("--plot", metavar="PATH", help="write a PNG stacked bar chart")
    p.set_defaults(func=run)


def parse_keys(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise ConfigError(f"--by needs at least one metadata key, got {text!r}")
    return keys


def run(args: argparse.Namespace) -> int:
    keys = parse_keys(args.by)
    rows = ledger_rows(args.ledger, keys) if args.ledger else jsonl_rows(args.records, keys)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        cells = aggregate(rows, keys, args.period)
    for w in caught:  # one plain line each, not a Python warning with a source line
        print(f"costrouter report: warning: {w.message}", file=sys.stderr)
    source = args.ledger or args.records
    console = out.console()
    if not cells:
        console.print(f"no calls recorded in {source}")
        return 0
    console.print(_table(cells, keys, args.period, source))
    if args.csv:
        out.write_csv(args.csv, csv_rows(cells, keys))
        console.print(f"wrote {args.csv}")
    if args.plot:
        plot(args.plot, cells, keys, args.period)
        console.print(f"wrote {args.plot}")
    return 0


def _label(group: tuple[str, ...]) -> str:
    return "/".join(group)


def _table(cells: GroupCells, keys: list[str], period: str, source: str) -> object:
    per_group: dict[tuple[str, tuple[str, ...]], Cell] = defaultdict(Cell)
    for (p, g, _model), c in cells.items():
        t = per_group[(p, g)]
        t.requests += c.requests
        t.input_tokens += c.input_tokens
        t.output_tokens += c.output_tokens
        t.cost += c.cost
        t.unpriced += c.unpriced
    rows = []
    for (p, g), c in sorted(per_group.items()):
        cost = out.money(c.cost, 4)
        if c.unpriced:
            cost += f" + {c.unpriced} unpriced"
        rows.append((p, _label(g), c.requests, f"{c.input_tokens:,}", f"{c.output_tokens:,}",
                     cost))
    return out.table(f"Spend per {period} and {'/'.join(keys)} ({source})",
                     [period, "/".join(keys), "requests", "input tokens", "output tokens",
                      "cost"], rows, right_from=2)


def csv_rows(cells: GroupCells, keys: list[str]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for (p, g, model), c in sorted(cells.items()):
        row: dict[str, object] = {"period": p}
        row.update(dict(zip(keys, g, strict=True)))
        row.update({"model": model, "requests": c.requests, "input_tokens": c.input_tokens,
                    "output_tokens": c.output_tokens, "cost_usd": str(c.cost),
                    "unpriced_requests": c.unpriced})
        rows.append(row)
    return rows


def plot(path: str, cells: GroupCells, keys: list[str], period: str) -> None:
    """A stacked bar per period: one segment per (tenant, model), biggest spenders first."""
    plt = out._pyplot()
    periods = sorted({p for p, _, _ in cells})
    series: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for (p, g, model), c in cells.items():
        series[f"{_label(g)} · {model}"][p] += c.cost
    ranked = sorted(series, key=lambda s: -sum(series[s].values()))
    if len(ranked) > MAX_STACKS:
        other: dict[str, Decimal] = defaultdict(Decimal)
        for s in ranked[MAX_STACKS - 1:]:
            for p, v in series[s].items():
                other[p] += v
        ranked = [*ranked[: MAX_STACKS - 1], "other"]
        series["other"] = other
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(periods) + 3), 5))
    bottom = [0.0] * len(periods)
    for s in ranked:
        heights = [float(series[s].get(p, 0)) for p in periods]
        ax.bar(periods, heights, bottom=bottom, label=s)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("USD")
    ax.set_xlabel(period + " (UTC)")
    ax.set_title(f"Spend per {'/'.join(keys)} and model")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out._writable(path), format="png", dpi=100)
    plt.close(fig)
