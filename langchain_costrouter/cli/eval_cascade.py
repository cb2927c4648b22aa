"""``costrouter eval-router --cascade CHECK[,CHECK...]``: score cascade checks like routers.

Each check reads the weak model's recorded answer (``--weak-response-col``); a rejection sends
the prompt to the strong model. Figures per group (dataset x weak model by default): the strong
share, PGR there, random at the same share (expected value and seeded draws), the false
escalation rate and the cost, where the cascade pays the weak call on every prompt
(:mod:`langchain_costrouter.quality.cascade_eval`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from langchain_costrouter.cli import report as out
from langchain_costrouter.exceptions import ConfigError

if TYPE_CHECKING:
    from langchain_costrouter.cascade.base import Verifier
    from langchain_costrouter.quality.cascade_eval import CascadeReport

DEFAULT_GROUPS = ("dataset", "weak_model")


def add_args(p: argparse.ArgumentParser) -> None:
    """Add the cascade flags to ``eval-router``; ``--strong``/``--weak`` then default to the
    columns ``strong``/``weak`` with ``--cascade`` and stay required without it."""
    g = p.add_argument_group("cascade checks (with --cascade)")
    g.add_argument("--cascade", metavar="CHECK[,CHECK...]",
                   help="score cascade checks on recorded weak answers instead of scorers: "
                   "empty_answer, refusal, final_answer, arithmetic, python_syntax, "
                   "python_required, json_answer, schema:PATH.json; 'a+b' escalates when "
                   "either rejects")
    g.add_argument("--weak-response-col", default="weak_response",
                   help="column holding the weak model's answer (weak_response)")
    g.add_argument("--strong-response-col", default="strong_response",
                   help="column holding the strong model's answer, to estimate costs")
    g.add_argument("--group-by", metavar="COL[,COL...]",
                   help=f"group rows by these columns (default: {','.join(DEFAULT_GROUPS)}, "
                   "those present)")
    g.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    for action in p._actions:
        if action.dest in ("strong", "weak"):
            action.required = False
            action.help = f"{action.help} (default with --cascade: {action.dest})"
    p.set_defaults(func=dispatch)


def dispatch(args: argparse.Namespace) -> int:
    if args.cascade:
        return run(args)
    if args.strong is None or args.weak is None:
        raise ConfigError("--strong and --weak are required (the quality columns), "
                          "unless --cascade scores checks")
    from langchain_costrouter.cli import eval_router

    return eval_router.run(args)


def _checks(spec: str) -> list[Verifier]:
    from langchain_costrouter.cascade.registry import resolve_check

    names = [s.strip() for s in spec.split(",")]
    if not all(names):
        raise ConfigError(f"--cascade {spec!r}: an empty check name")
    return [resolve_check(n) for n in names]


def run(args: argparse.Namespace) -> int:
    from langchain_costrouter.quality.cascade_eval import Columns, evaluate_checks, read_groups

    if args.scorer:
        raise ConfigError("--scorer and --cascade are separate evaluations; give one")
    if args.plot:
        raise ConfigError("--plot draws scorer curves; it does not apply to --cascade")
    checks = _checks(args.cascade)  # unknown names fail before the file is read
    given = args.group_by is not None
    groups = tuple(g.strip() for g in (args.group_by or ",".join(DEFAULT_GROUPS)).split(",")
                   if g.strip())
    cols = Columns(
        prompt=args.prompt_col, strong=args.strong or "strong", weak=args.weak or "weak",
        weak_response=args.weak_response_col, strong_response=args.strong_response_col,
        group_by=groups, cost_strong=args.cost_strong, cost_weak=args.cost_weak,
    )
    data = read_groups(args.data, cols, group_by_given=given)
    reports = evaluate_checks(checks, data)
    render(reports, args.data, markdown=args.markdown)
    if args.json:
        payload = {"data": args.data, "groups": list(data),
                   "reports": [r.as_dict() for r in reports]}
        out.console().print(f"wrote {out.write_json(args.json, payload)}")
    return 0


def _f(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _cost(cascade: Decimal | None, strong: Decimal | None) -> str:
    if cascade is None or strong is None or strong == 0:
        return "unpriced" if cascade is None else out.money(cascade)
    return f"{cascade / strong * 100:.1f}%"


def rows_of(reports: Sequence[CascadeReport]) -> list[list[str]]:
    rows = []
    for r in reports:
        seeds = (f"{min(r.random_seeds):.2f}..{max(r.random_seeds):.2f}"
                 if r.random_seeds else "-")
        rows.append([
            r.check, r.group, str(r.rows), f"{r.share * 100:.1f}%", _f(r.pgr),
            f"{r.random_pgr:.2f}", seeds, _f(r.vs_random, "{:.1f}x"),
            _f(r.false_escalation, "{:.1%}"), _f(r.caught, "{:.1%}"),
            _cost(r.cost_cascade, r.cost_all_strong), _cost(r.cost_router, r.cost_all_strong),
        ])
    return rows


COLUMNS = ["check", "group", "rows", "strong share", "PGR", "random PGR", "random (5 seeds)",
           "vs random", "false escalation", "caught", "cascade cost", "router cost"]


def render(reports: Sequence[CascadeReport], source: str, *, markdown: bool = False) -> None:
    rows = rows_of(reports)
    con = out.console()
    note = ("PGR: gap recovered at the check's strong share; random's expected PGR equals the "
            "share. false escalation: correct weak answers rejected; caught: wrong ones "
            "rejected. Costs as % of all-strong: the cascade pays the weak call on every prompt, "
            "a router at the same share does not.")
    if markdown:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "---|" * len(COLUMNS))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        print()
        print(note)
        return
    con.print(out.table(f"Cascade checks on {source}", COLUMNS, rows))
    con.print(note)
