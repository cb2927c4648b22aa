"""The evaluation protocol of the shared routing data's README, for any set of scorers.

Every scorer is scored on the SAME rows: random over several seeds (reported as the mean, with
the range over seeds), prompt length in characters, the keyword heuristic, and the learned
scorers. APGR and CPT(50%) come from :mod:`.metrics` (RouteLLM's definitions). A split whose
strong and weak models have the same mean quality has no gap to recover: it is reported with
the reason instead of figures.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.baselines import RandomScorer
from langchain_costrouter.quality.metrics import curve
from langchain_costrouter.quality.table import RoutingTable
from langchain_costrouter.routing.scorers import HeuristicScorer

RANDOM_SEEDS = (0, 1, 2, 3, 4)
TextScorer = Callable[[str], float]


@dataclass(frozen=True)
class Score:
    apgr: float
    cpt50: float
    spread: tuple[float, float] | None = None
    """min and max APGR over the random seeds (random only)."""


@dataclass
class Split:
    """One evaluated split: a name, its rows, each scorer's figures (or why there are none)."""

    name: str
    rows: int
    scores: dict[str, Score] = field(default_factory=dict)
    problem: str | None = None
    vs_length: Any = None
    """A :class:`~.bootstrap.Interval` of the default's APGR minus prompt length's, when
    computed."""

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "rows": self.rows, "problem": self.problem,
                "scores": {k: {"apgr": v.apgr, "cpt50": v.cpt50, "spread": v.spread}
                           for k, v in self.scores.items()},
                "vs_length": self.vs_length.as_dict() if self.vs_length else None}


def _one(scores: Sequence[float], table: RoutingTable) -> Score:
    c = curve(scores, table)
    return Score(c.apgr(), c.cpt(50))


def char_length(prompt: str) -> float:
    return float(len(prompt))


def evaluate_split(
    name: str,
    prompts: Sequence[str],
    strong: Sequence[float],
    weak: Sequence[float],
    learned: dict[str, TextScorer],
) -> Split:
    """Random (seeds :data:`RANDOM_SEEDS`), prompt length, heuristic, then ``learned``."""
    table = RoutingTable(prompts=tuple(prompts), strong=tuple(strong), weak=tuple(weak),
                         source=name)
    split = Split(name, len(table))
    try:
        rand = [_one([RandomScorer(s)(p) for p in prompts], table) for s in RANDOM_SEEDS]
    except ConfigError as e:
        split.problem = str(e)
        return split
    apgrs = [r.apgr for r in rand]
    split.scores["random"] = Score(statistics.mean(apgrs),
                                   statistics.mean(r.cpt50 for r in rand),
                                   (min(apgrs), max(apgrs)))
    split.scores["length"] = _one([char_length(p) for p in prompts], table)
    heuristic = HeuristicScorer()
    split.scores["heuristic"] = _one([heuristic._score_text(p) for p in prompts], table)
    for label, fn in learned.items():
        split.scores[label] = _one([fn(p) for p in prompts], table)
    return split


def mean_row(splits: Sequence[Split], name: str = "mean") -> Split:
    """The mean of every scorer's figures over the splits that have figures."""
    ok = [s for s in splits if s.problem is None]
    out = Split(name, sum(s.rows for s in ok))
    if not ok:
        out.problem = "no split has figures"
        return out
    for label in ok[0].scores:
        out.scores[label] = Score(statistics.mean(s.scores[label].apgr for s in ok),
                                  statistics.mean(s.scores[label].cpt50 for s in ok))
    return out


def markdown(splits: Sequence[Split], *, cpt: bool = True) -> str:
    """A table: one row per split, APGR (and CPT(50%)) per scorer."""
    if not splits:
        return ""
    labels = next((list(s.scores) for s in splits if s.scores), [])
    cols = ["split", "rows"]
    for lb in labels:
        cols.append(f"{lb} APGR")
        if cpt:
            cols.append(f"{lb} CPT(50%)")
    intervals = any(s.vs_length is not None for s in splits)
    if intervals:
        cols.append("default - length (95% interval)")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for s in splits:
        if s.problem:
            lines.append(f"| {s.name} | {s.rows} | " + " | ".join(
                ["n/a"] * (len(cols) - 2)) + " |")
            continue
        cells = [s.name, str(s.rows)]
        for lb in labels:
            sc = s.scores[lb]
            a = f"{sc.apgr:.3f}"
            if sc.spread:
                a += f" ({sc.spread[0]:.2f}-{sc.spread[1]:.2f})"
            cells.append(a)
            if cpt:
                cells.append(f"{sc.cpt50 * 100:.0f}%")
        if intervals:
            v = s.vs_length
            cells.append("" if v is None else
                         f"{v.difference:+.3f} ({v.low:+.3f} to {v.high:+.3f})"
                         + (" **below**" if v.below else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
