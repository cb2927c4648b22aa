"""Rebuild the shipped default scorer from the shared routing data and print its figures.

    python -m scripts.build_default_scorer [--data ../shared/data/routing]
        [--out langchain_costrouter/data/default_scorer.gz] [--json figures.json]
        [--per-dataset N]   # N rows per dataset only: a quick smoke run, not the shipped model
        [--text-share X]    # blend in an n-gram fit with weight X: a trial, not the default

Needs numpy (``pip install -e '.[learn]'``). Takes about a minute on 2 cores. Prints markdown
tables: in domain (random half of all files pooled) and leave-one-dataset-out, every scorer on
the same rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from langchain_costrouter.quality.build import Recipe, build, ood_mean, write_json
from langchain_costrouter.quality.protocol import markdown
from langchain_costrouter.quality.workload_fit import workload_levels
from langchain_costrouter.routing.scorers import load_scorer

DEFAULT_OUT = os.path.join("langchain_costrouter", "data", "default_scorer.gz")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join("..", "shared", "data", "routing"))
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--json", help="also write every figure as JSON")
    ap.add_argument("--per-dataset", type=int, help="only N rows per dataset (smoke run)")
    ap.add_argument("--text-share", type=float, default=Recipe.text_share,
                    help="weight of an n-gram fit blended in (a trial; the default reads none)")
    args = ap.parse_args(argv)
    started = time.monotonic()
    if not os.path.isdir(args.data):
        print(f"build_default_scorer: no routing data at {args.data}", file=sys.stderr)
        return 2
    res = build(args.data, args.out, recipe=Recipe(text_share=args.text_share),
                per_dataset=args.per_dataset,
                log=lambda m: print(m, file=sys.stderr, flush=True))
    print("## In domain: a random half of all files' prompts trains, the other half evaluates\n")
    print(markdown(res.in_domain, cpt=False))
    print("\n## Out of domain: leave one dataset (family) out\n")
    print(markdown([*res.out_of_domain, ood_mean(res.out_of_domain, "**mean**")]))
    worse = [s for s in res.out_of_domain if s.problem is None
             and s.scores["default"].apgr < s.scores["length"].apgr]
    gaps = ", ".join(f"{s.name} ({s.scores['default'].apgr - s.scores['length'].apgr:+.3f})"
                     for s in worse)
    measured = sum(s.problem is None for s in res.out_of_domain)
    print(f"\ndefault below prompt length on {len(worse)} of {measured} held-out datasets"
          + (f": {gaps}" if worse else ""))
    beyond = [s.name for s in res.out_of_domain if s.vs_length is not None and s.vs_length.below]
    above = [s.name for s in res.out_of_domain if s.vs_length is not None and s.vs_length.low > 0]
    print(f"below it beyond the noise (the whole 95% paired-bootstrap interval under zero) on "
          f"{len(beyond)} of {measured}" + (f": {', '.join(beyond)}" if beyond else "")
          + f"; above it beyond the noise on {len(above)}"
          + (f": {', '.join(above)}" if above else ""))
    print("\n## Reference workload (300 labelled prompts; the cuts are calibrated on it)\n")
    print(workload_levels(load_scorer(res.artifact)))
    if res.workload:
        w = res.workload
        print("\nHeld out (the second stage and the cuts fitted on a random half of the workload,"
              " judged on the other; both ways, 5 times): exact level "
              f"{w['exact'] * 100:.0f}%, at or above the label {w['above'] * 100:.0f}%; the "
              f"benchmark model alone {w['first_exact'] * 100:.0f}% and "
              f"{w['first_above'] * 100:.0f}%.")
    size = os.path.getsize(res.artifact)
    print(f"\nwrote {res.artifact} ({size / 1024:.1f} KB) in {time.monotonic() - started:.0f} s")
    if args.json:
        write_json(res, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
