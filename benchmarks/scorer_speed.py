"""Per-prompt time of the shipped default scorer vs the keyword heuristic, in one process.

Prompts: the 300 workload prompts padded (with their own text) to about 200 tokens and to about
8,000 tokens (tiktoken o200k_base). Both scorers cache by text; the UNCACHED paths are timed
(a cache hit says nothing about a new prompt). The budget: about 100 us at 200 tokens and at
most 1 ms at 8k tokens.

    python -m benchmarks.scorer_speed [--artifact scorer.gz] [--rounds 9]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

from langchain_costrouter.pricing.tokens import count_text
from langchain_costrouter.quality.baselines import reference_prompts
from langchain_costrouter.routing.request import read_request
from langchain_costrouter.routing.scorers import HeuristicScorer, default_scorer, load_scorer


def padded(prompts: Sequence[str], tokens: int) -> list[str]:
    out = []
    for p in prompts:
        t = p
        while count_text(t) < tokens:
            t = t + "\n" + p
        out.append(t)
    return out


def per_prompt_us(fn: Callable[[str], float], texts: Sequence[str]) -> float:
    t0 = time.perf_counter()
    for t in texts:
        fn(t)
    return (time.perf_counter() - t0) / len(texts) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifact", help="a train-scorer artifact (default: the shipped one)")
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    learned = load_scorer(args.artifact) if args.artifact else default_scorer()
    h = HeuristicScorer()
    variants: dict[str, Callable[[str], float]] = {
        "heuristic (uncached)": h._score_text,
        "default (uncached)": lambda t: learned._text_logit(read_request(t).task),
    }
    base = reference_prompts()
    for tokens in (200, 8000):
        texts = padded(base if tokens < 1000 else base[:100], tokens)
        for fn in variants.values():  # warm-up
            per_prompt_us(fn, texts[:20])
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.rounds):
            for k, fn in variants.items():
                times[k].append(per_prompt_us(fn, texts))
        ref = min(times["heuristic (uncached)"])
        mean_tokens = statistics.mean(count_text(t) for t in texts)
        print(f"\n~{tokens} tokens ({len(texts)} prompts, mean {mean_tokens:,.0f} tokens), "
              f"best of {args.rounds} rounds (the least disturbed by other processes)")
        for k, ts in times.items():
            med = min(ts)
            print(f"  {k:22s} {med:9.1f} us/prompt   x{med / ref:.2f} vs the heuristic")


if __name__ == "__main__":
    main()
