"""``costrouter train-scorer``: train a difficulty scorer on your own labelled prompts.

Two sources: a routing CSV (one quality column per model, the strong and the weak one named by
``--strong``/``--weak``), or your logs: a FeedbackLog of thumbs/evaluator scores joined on run
id with the cost handler's call records (``--feedback`` + ``--records``).
"""

from __future__ import annotations

import argparse
import os

from langchain_costrouter.cli import report as out
from langchain_costrouter.exceptions import ConfigError, RoutingDataError
from langchain_costrouter.quality.table import RoutingTable, read_table

# Defaults of quality.fit.FitSettings, repeated here so that building the CLI parser does not
# import numpy (an optional extra); tests/unit_tests/test_cli_no_numpy.py checks they agree.
EPOCHS, LEARNING_RATE, L2_TEXT = 150, 0.05, 3e-4


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "train-scorer",
        help="train a difficulty scorer on your labelled prompts (CSV or feedback log)",
        description="Train hashed n-grams + hand-made features on 'how much better is the "
        "strong model here' targets, report a held-out split next to random, prompt length, "
        "the heuristic and the shipped default, calibrate cuts on the training prompts, and "
        "save an artifact recording its rows. Needs the [learn] extra (numpy).",
    )
    src = p.add_argument_group("a routing CSV")
    src.add_argument("--data", metavar="CSV", help="one prompt per row, a quality column per model")
    src.add_argument("--prompt-col", default="prompt")
    src.add_argument("--strong", metavar="COL", help="the strong model's quality column")
    src.add_argument("--weak", metavar="COL", help="the weak model's quality column")
    src.add_argument("--holdout-col", metavar="COL",
                     help="column naming each row's group (e.g. dataset): targets move towards "
                     "their group's mean, and --holdout holds out whole groups")
    src.add_argument("--holdout", metavar="G1,G2",
                     help="groups to hold out (default: a random half of the prompts)")
    logs = p.add_argument_group("your logs")
    logs.add_argument("--feedback", metavar="JSONL", help="a FeedbackLog file")
    logs.add_argument("--records", metavar="JSONL",
                      help="call records (JsonLinesSink) the feedback's run ids refer to")
    logs.add_argument("--strong-model", metavar="A,B", help="tiers/models counted as strong")
    logs.add_argument("--weak-model", metavar="C,D", help="tiers/models counted as weak")
    logs.add_argument("--assume-strong", type=float, metavar="Q",
                      help="also use weak-only prompts, assuming the strong model scores Q")
    p.add_argument("--init", default="scratch", metavar="scratch|default|PATH",
                   help="start from zeros (scratch), the shipped default's weights, or an artifact")
    p.add_argument("--mix", default="0.4,0.3,0.2,0.1", metavar="T,S,C,E",
                   help="level mix the saved cuts give on the training prompts")
    p.add_argument("--out", default="scorer.gz", help="artifact path")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    p.add_argument("--l2", type=float, default=L2_TEXT, help="L2 penalty on n-gram weights")
    p.add_argument("--json", metavar="PATH", help="write the held-out figures as JSON")
    p.set_defaults(func=run)


def _need(args: argparse.Namespace, mode: str, *names: str) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if not getattr(args, n)]
    if missing:
        raise ConfigError(f"{mode} needs {', '.join(missing)}")


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def load_table(args: argparse.Namespace) -> tuple[RoutingTable, dict[str, str | None]]:
    if bool(args.data) == bool(args.feedback):
        raise ConfigError("give either --data CSV (with --strong, --weak) or --feedback "
                          "(with --records, --strong-model, --weak-model)")
    if args.data:
        _need(args, "--data", "strong", "weak")
        table = read_table(args.data, strong=args.strong, weak=args.weak,
                           prompt_col=args.prompt_col, group_col=args.holdout_col)
        return table, {"prompt": args.prompt_col, "strong": args.strong, "weak": args.weak,
                       "holdout": args.holdout_col}
    _need(args, "--feedback", "records", "strong_model", "weak_model")
    from langchain_costrouter.costs.export import read_json_lines
    from langchain_costrouter.quality.feedback import FeedbackLog, join, training_rows

    pairs = join(read_json_lines(args.records), FeedbackLog(args.feedback).read())
    rows = training_rows(pairs, _names(args.strong_model), _names(args.weak_model),
                         assume_strong=args.assume_strong)
    if not rows:
        raise RoutingDataError(args.feedback, "no prompt has labels on both a strong and a weak "
                               "model (give --assume-strong to use weak-only labels)")
    table = RoutingTable(prompts=tuple(r["prompt"] for r in rows),
                         strong=tuple(float(r["strong"]) for r in rows),
                         weak=tuple(float(r["weak"]) for r in rows), source=args.feedback)
    return table, {"feedback": args.feedback, "records": args.records,
                   "strong": args.strong_model, "weak": args.weak_model}


def run(args: argparse.Namespace) -> int:
    from langchain_costrouter.cli.eval_router import render_splits
    from langchain_costrouter.quality.calibrate import parse_mix

    try:  # training needs numpy: pip install 'langchain-costrouter[learn]'
        from langchain_costrouter.quality.fit import FitSettings
        from langchain_costrouter.quality.train import train_scorer
    except ImportError as e:
        raise ConfigError(
            f"train-scorer needs numpy ({e}): pip install 'langchain-costrouter[learn]'"
        ) from None
    from langchain_costrouter.routing.scorers import default_scorer, load_scorer

    mix = parse_mix(args.mix)
    table, columns = load_table(args)
    init = None
    if args.init == "default":
        init = default_scorer()
    elif args.init != "scratch":
        if not os.path.exists(args.init):
            raise ConfigError(f"--init must be scratch, default or an artifact path; "
                              f"{args.init!r} does not exist")
        init = load_scorer(args.init)
    holdout = _names(args.holdout) if args.holdout else None
    settings = FitSettings(epochs=args.epochs, learning_rate=args.learning_rate,
                           l2_text=args.l2)
    res = train_scorer(table, args.out, columns=columns, holdout=holdout, settings=settings,
                       init=init, mix=mix)
    render_splits(res.held_out, f"Held out ({res.protocol})")
    con = out.console()
    meta = res.scorer.metadata["trained_on"]
    cuts = ", ".join(f"{c:.4g}" for c in res.scorer.cuts)
    con.print(f"wrote {res.artifact} (trained on {meta['rows_trained_on']} of "
              f"{meta['rows_in_file']} rows; cuts {cuts} give mix {args.mix} on them)")
    con.print(f"route with: ChatCostRouter(scorer=load_scorer({res.artifact!r}))")
    if args.json:
        data = {"artifact": res.artifact, "protocol": res.protocol,
                "held_out": [h.as_dict() for h in res.held_out]}
        con.print(f"wrote {out.write_json(args.json, data)}")
    return 0
