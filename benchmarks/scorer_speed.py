"""Per-prompt time of the learned scorer vs the keyword heuristic, in one process.

The learned scorer's speed does not depend on its weight values, so without ``--artifact`` an
UNTRAINED model of the default size (2**18 random weights) is timed: this measures speed only,
never routing quality. Prompts: the 300 workload prompts, and the same prompts padded to about
8,000 characters (both scorers only scan the two ends of long prompts). The heuristic caches its
scores by text; both its cached and its uncached path are timed.

    python -m benchmarks.scorer_speed [--artifact scorer.npz] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np

from langchain_costrouter.quality.features import DENSE_NAMES, FeatureConfig
from langchain_costrouter.quality.learned import LearnedScorer
from langchain_costrouter.routing.scorers import HeuristicScorer


def prompts() -> list[str]:
    text = resources.files("langchain_costrouter").joinpath("data/workload.jsonl").read_text()
    return [json.loads(line)["prompt"] for line in text.splitlines() if line.strip()]


def untrained() -> LearnedScorer:
    cfg = FeatureConfig()
    rng = np.random.default_rng(0)
    k = len(DENSE_NAMES)
    return LearnedScorer(weights=rng.normal(0, 0.1, cfg.size).astype(np.float32),
                         dense_weights=rng.normal(0, 0.1, k), dense_mean=np.zeros(k),
                         dense_std=np.ones(k), bias=0.0, config=cfg)


def per_prompt_us(fn: Callable[[str], float], texts: Sequence[str]) -> float:
    t0 = time.perf_counter()
    for t in texts:
        fn(t)
    return (time.perf_counter() - t0) / len(texts) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifact", help="a trained .npz (default: an untrained model, speed only)")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    learned = LearnedScorer.load(args.artifact) if args.artifact else untrained()
    h = HeuristicScorer()
    short = prompts()
    long = [(p + "\n") * (8000 // (len(p) + 1) + 1) for p in short]
    variants: dict[str, Callable[[str], float]] = {
        "heuristic (cached)": h.score,
        "heuristic (uncached)": h._score_text,
        "learned": learned.score,
    }
    for name, texts in (("workload prompts", short), ("~8,000-character prompts", long)):
        for fn in variants.values():  # warm-up
            per_prompt_us(fn, texts[:20])
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.rounds):
            for k, fn in variants.items():
                times[k].append(per_prompt_us(fn, texts))
        base = statistics.median(times["heuristic (uncached)"])
        avg = sum(map(len, texts)) / len(texts)
        print(f"\n{name} ({len(texts)}, mean {avg:,.0f} chars), median of {args.rounds} rounds")
        for k, ts in times.items():
            med = statistics.median(ts)
            print(f"  {k:22s} {med:9.1f} us/prompt   x{med / base:.2f} vs uncached heuristic")
    print(f"\nlearned scorer: {'trained ' + args.artifact if args.artifact else 'UNTRAINED'}"
          f" ({learned.config.size} slots); budget 1,000 us/prompt")


if __name__ == "__main__":
    main()
