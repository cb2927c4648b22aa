"""How a scorer's levels match the labels of the package's reference workload.

``data/workload.jsonl`` holds 300 prompts, each labelled with the level it needs (120 trivial,
90 standard, 60 complex, 30 expert). For a scorer with its cuts: the share routed exactly at
the labelled level, at or above it (no under-routing), and the cost of the routed levels as a
share of sending everything to EXPERT, with per-level relative prices (default 1/4/15/40, the
rough ratio of the default catalog's list prices). The default scorer's cuts are calibrated on
these same prompts, so its figures here are in-sample.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources

from langchain_costrouter.routing.levels import Level
from langchain_costrouter.routing.scorers import (
    DEFAULT_MIX,
    HeuristicScorer,
    Scorer,
    Thresholds,
    score_request,
)

PRICE = {Level.TRIVIAL: 1.0, Level.STANDARD: 4.0, Level.COMPLEX: 15.0, Level.EXPERT: 40.0}


def labelled() -> list[tuple[str, Level]]:
    text = resources.files("langchain_costrouter").joinpath("data/workload.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [(r["prompt"], Level.parse(r["expected_level"])) for r in rows]


def level_fit(scorer: Scorer, cuts: Thresholds) -> tuple[float, float, float]:
    """(exact share, at-or-above share, cost share of always-EXPERT)."""
    rows = labelled()
    got = [cuts.level(score_request(scorer, p)) for p, _ in rows]
    exact = sum(g is want for g, (_, want) in zip(got, rows, strict=True)) / len(rows)
    above = sum(g.rank >= want.rank for g, (_, want) in zip(got, rows, strict=True)) / len(rows)
    cost = sum(PRICE[g] for g in got) / (PRICE[Level.EXPERT] * len(rows))
    return exact, above, cost


def workload_levels(default: Scorer, extra: Sequence[tuple[str, Scorer, Thresholds]] = ()
                    ) -> str:
    h = HeuristicScorer()
    same = Thresholds.calibrate(h, [p for p, _ in labelled()], mix=DEFAULT_MIX)
    cands = [("heuristic, its cuts (0.25, 0.45, 0.65)", h, h.thresholds),
             ("heuristic, cuts calibrated like the default's", h, same),
             ("default, its calibrated cuts", default, default.thresholds),  # type: ignore[attr-defined]
             *extra]
    lines = ["| scorer | exact level | at or above the label | cost vs always-EXPERT |",
             "|---|---|---|---|"]
    for name, s, cuts in cands:
        exact, above, cost = level_fit(s, cuts)
        lines.append(f"| {name} | {exact * 100:.0f}% | {above * 100:.0f}% | {cost * 100:.1f}% |")
    return "\n".join(lines)
