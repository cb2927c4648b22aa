"""``costrouter train-scorer``: train the learned difficulty scorer from any routing CSV."""

from __future__ import annotations

import argparse

from langchain_costrouter.cli import report as out
from langchain_costrouter.cli.eval_router import add_table_args, render
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.table import read_table

# Defaults of quality.learned.FitSettings, repeated here so that building the CLI parser does
# not import numpy (an optional extra); tests/unit_tests/test_cli_no_numpy.py checks they agree.
EPOCHS, LEARNING_RATE, L2 = 200, 0.05, 1e-4


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "train-scorer",
        help="train a learned difficulty scorer on 'strong model wins' labels from a CSV",
        description="Label each prompt 1 where the strong model's quality beats the weak "
        "model's, train a hashed n-gram logistic regression, report held-out APGR/CPT, save "
        "a .npz artifact recording where its training rows came from.",
    )
    add_table_args(p, costs=False)
    p.add_argument("--holdout-col", metavar="COL",
                   help="column naming each row's group (e.g. dataset); whole groups are held out")
    p.add_argument("--holdout", metavar="G1,G2",
                   help="groups to hold out (default: leave each group out in turn)")
    p.add_argument("--out", default="scorer.npz", help="artifact path (.npz)")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    p.add_argument("--l2", type=float, default=L2)
    p.add_argument("--json", metavar="PATH", help="write the held-out figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:  # the learned scorer needs numpy: pip install 'langchain-costrouter[learn]'
        from langchain_costrouter.quality.learned import FitSettings
        from langchain_costrouter.quality.train import train_scorer
    except ImportError as e:
        raise ConfigError(
            f"train-scorer needs numpy ({e}): pip install 'langchain-costrouter[learn]'"
        ) from None
    table = read_table(args.data, strong=args.strong, weak=args.weak,
                       prompt_col=args.prompt_col, group_col=args.holdout_col)
    holdout = [g.strip() for g in args.holdout.split(",") if g.strip()] if args.holdout else None
    settings = FitSettings(epochs=args.epochs, learning_rate=args.learning_rate, l2=args.l2)
    columns = {"prompt": args.prompt_col, "strong": args.strong, "weak": args.weak,
               "holdout": args.holdout_col}
    res = train_scorer(table, args.out, columns=columns, holdout=holdout, settings=settings)
    con = out.console()
    for h in res.held_out:
        title = f"Held out: {', '.join(h.groups)} ({h.rows} rows)"
        if h.problem:
            con.print(f"[yellow]{title}: no figures ({h.problem})[/]")
        else:
            render(h.reports, title)
    if res.protocol == "none":
        con.print("[yellow]no held-out evaluation: give --holdout-col to hold out whole "
                  "groups[/]")
    src = res.scorer.metadata["source"]
    con.print(f"wrote {res.artifact} (trained on {src['rows_trained_on']} of "
              f"{src['rows_in_file']} rows, protocol {res.protocol})")
    if args.json:
        data = {"artifact": res.artifact, "protocol": res.protocol,
                "held_out": [h.as_dict() for h in res.held_out]}
        con.print(f"wrote {out.write_json(args.json, data)}")
    return 0
