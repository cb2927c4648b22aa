"""Does the default scorer's whole-request reading keep its difficulty ranking in conversations?

    python -m scripts.conversation_figures [--data ../shared/data/routing] [--per-dataset N]

Builds conversation shapes from the shared routing data's single prompts, each keeping its row's
strong/weak labels (:mod:`langchain_costrouter.quality.conversations`), and prints markdown
tables: APGR per file and the mean for the shipped default scorer on every shape, prompt length
of the last human message and random; then sweeps of the hand-set ``history_decay`` and
``short_plain`` context weights. Pure Python; reruns against whatever artifact is shipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence

from langchain_costrouter.quality.conversations import (
    FOLLOW_UP,
    MIXED,
    PLACEHOLDER,
    PLACEHOLDER_ANSWER,
    REAL,
    SHAPES,
    SYSTEM_PROMPT,
    ShapeSplit,
    SweepPoint,
    conversations,
    evaluate_shapes,
    sample,
    sweep,
    weak_answers,
)
from langchain_costrouter.quality.corpus import read_corpus
from langchain_costrouter.routing.scorers import default_scorer

DECAYS = (0.0, 0.1, 0.25, 0.5, 1.0)
SHORT_PLAIN = (0.0, -1.25, -2.5)


def table(splits: Sequence[ShapeSplit], labels: Sequence[str] | None = None) -> str:
    labels = list(labels or next((s.apgr for s in splits if s.apgr), []))
    lines = ["| file | rows | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 2)]
    for s in splits:
        name = f"**{s.name}**" if s.name == "mean" else s.name
        cells = [f"{s.apgr[k]:.3f}" if k in s.apgr else "n/a" for k in labels]
        lines.append(f"| {name} | {s.rows} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sweep_table(result: dict[float, SweepPoint], weight: str, shipped: float) -> str:
    """One row per (shape, file), one column per value of ``weight``; then the follow-ups'
    levels against the plain prompts' (all rows)."""
    values = list(result)
    first = result[values[0]].splits
    shapes = list(first[-1].apgr)
    head = [f"{weight} = {v:g}" + (" (shipped)" if v == shipped else "") for v in values]
    lines = ["| shape | file | " + " | ".join(head) + " |", "|" + "---|" * (len(values) + 2)]
    for shape in shapes:
        for i, split in enumerate(first):
            name = f"**{split.name}**" if split.name == "mean" else split.name
            cells = [f"{result[v].splits[i].apgr[shape]:.3f}"
                     if shape in result[v].splits[i].apgr else "n/a" for v in values]
            lines.append(f"| {shape} APGR | {name} | " + " | ".join(cells) + " |")
    for j, what in enumerate(("same", "lower", "higher")):
        cells = [f"{result[v].levels[j] * 100:.1f}%" for v in values]
        lines.append(f"| follow-up level vs plain | {what} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join("..", "shared", "data", "routing"))
    ap.add_argument("--per-dataset", type=int, default=300,
                    help="at most N rows per dataset, chosen by a hash of the prompt (300)")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.data):
        print(f"conversation_figures: no routing data at {args.data}", file=sys.stderr)
        return 2
    if args.per_dataset < 1:
        print(f"conversation_figures: --per-dataset must be at least 1, got {args.per_dataset}",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows, _ = read_corpus(args.data)
    rows = sample(rows, args.per_dataset)
    convs = conversations(rows, weak_answers(os.path.join(args.data, "responses.csv")))
    scorer = default_scorer()
    src = Counter(c.answer_source for c in convs)
    print(f"# Conversation shapes: {len(convs)} rows (at most {args.per_dataset} per dataset), "
          f"scorer {scorer.scale}\n")
    print(f"- system prompt: {SYSTEM_PROMPT!r}; follow-up: {FOLLOW_UP!r}")
    print(f"- the follow-up's assistant turn: the weak model's real answer ({REAL}) on "
          f"{src[REAL]} rows, the fixed placeholder {PLACEHOLDER_ANSWER!r} on "
          f"{src[PLACEHOLDER]}")
    real = [c for c in convs if c.answer_source == REAL]
    if real:
        swapped = sum(
            scorer.score_request(c.shapes["follow-up"]) == scorer.score_request(
                [c.shapes["follow-up"][0], type(c.shapes["follow-up"][1])(PLACEHOLDER_ANSWER),
                 c.shapes["follow-up"][2]]) for c in real)
        print(f"- the score is the same with the placeholder instead of the real answer on "
              f"{swapped} of {len(real)} rows (the scorer does not read assistant turns)")
    print("- IN-SAMPLE: the shipped default was trained on these rows, so the absolute APGRs "
          "are optimistic; the point is the DIFFERENCE between shapes on the same rows.\n")
    print("## APGR per file (every column on the same rows)\n")
    print(table(evaluate_shapes(convs, scorer),
                [f"default: {s}" for s in SHAPES] + ["length: plain", "length: follow-up",
                                                      "random"]))
    print("\n`length: follow-up` is the length of the last human message, the follow-up itself"
          "; random is the mean of 5 seeds, per row (the same for every shape).\n")
    ctx = scorer.context
    print(f"`{MIXED}`: each row as its plain or its follow-up shape (half each, by a hash of "
          "the prompt) ranked in one list, as mixed traffic is; levels use the scorer's own "
          "cuts.\n")
    print("## Sweep of history_decay (other weights as shipped)\n")
    print(sweep_table(sweep(convs, scorer, "history_decay", DECAYS), "history_decay",
                      ctx.history_decay))
    print("\n## Sweep of short_plain (other weights as shipped)\n")
    print(sweep_table(sweep(convs, scorer, "short_plain", SHORT_PLAIN,
                            shapes=("follow-up", "plain", MIXED)), "short_plain",
                      ctx.short_plain))
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
