"""Pick score thresholds from the user's own prompts, RouteLLM-style.

For a target strong-call share ``s``, the cut is the ``(1 - s)`` quantile of the scores of the
user's prompts: the share of those prompts scoring at or above it is ``s`` (up to ties). Cuts
are placed midway between neighbouring sorted scores, so the share is exact on the prompts
given. Three ways to choose the share:

* directly (``strong_share``), or a whole level mix (``mix=[0.4, 0.3, 0.2, 0.1]`` -> 3 cuts);
* from labelled data (``share_for_quality``): the strong share the scorer needs on that data to
  reach a fraction of the strong model's quality (its curve, :mod:`.metrics`);
* from a budget (``share_for_budget``): the most prompts, hardest first, that can go to the
  strong model while the whole prompt set stays within a USD amount.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.metrics import curve
from langchain_costrouter.quality.table import RoutingTable
from langchain_costrouter.routing.levels import LEVELS, Level
from langchain_costrouter.routing.scorers import Thresholds


def cut_for_share(scores: Sequence[float], share: float) -> float:
    """A threshold sending ``share`` of ``scores`` (the highest) to ``score >= cut``."""
    if not 0 <= share <= 1:
        raise ConfigError(f"strong-call share must be in [0, 1], got {share}")
    if not scores:
        raise ConfigError("calibration needs at least one prompt")
    s = sorted(scores)
    n = len(s)
    k = round(share * n)  # prompts routed at or above the cut
    if k == 0:
        return math.nextafter(s[-1], math.inf)
    if k == n:
        return s[0]
    lo, hi = s[n - k - 1], s[n - k]
    return lo + (hi - lo) / 2 if hi > lo else hi


def parse_mix(text: str) -> list[float]:
    """``"0.4,0.3,0.2,0.1"`` -> shares per level, lowest level first (2 to 4 values, sum 1)."""
    try:
        mix = [float(x) for x in text.split(",")]
    except ValueError:
        raise ConfigError(f"--mix must be comma-separated numbers, got {text!r}") from None
    if not 2 <= len(mix) <= 4 or any(not 0 <= m <= 1 for m in mix):
        raise ConfigError(f"--mix needs 2 to 4 shares in [0, 1], got {text!r}")
    if abs(sum(mix) - 1) > 1e-6:
        raise ConfigError(f"--mix shares must add up to 1, got {sum(mix):g} for {text!r}")
    return mix


@dataclass(frozen=True)
class Calibration:
    thresholds: Thresholds
    levels: tuple[Level, ...]
    """The level each band of scores maps to, lowest first."""
    shares: tuple[float, ...]
    """Share of the calibration prompts that falls in each level (measured, not requested)."""
    prompts: int

    def snippet(self) -> str:
        cuts = ", ".join(f"{c:.6g}" for c in self.thresholds.cuts)
        return f"ChatCostRouter(thresholds=Thresholds(({cuts},)))"


def calibrate(scores: Sequence[float], mix: Sequence[float]) -> Calibration:
    """Cuts at the cumulative quantiles of ``mix`` (shares per level, lowest level first)."""
    if not 2 <= len(mix) <= 4:
        raise ConfigError(f"a level mix needs 2 to 4 shares, got {list(mix)}")
    cuts, above = [], 1.0
    for m in mix[:-1]:
        above -= m
        cuts.append(cut_for_share(scores, max(0.0, above)))
    for a, b in itertools.pairwise(cuts):
        if b <= a:
            raise ConfigError(
                f"mix {list(mix)} gives equal cut points ({a:.6g}): the prompts' scores tie "
                "there; use fewer levels or more varied prompts"
            )
    th = Thresholds(tuple(cuts))
    levels = (*LEVELS[: len(cuts)], Level.EXPERT)
    counts = {lv: 0 for lv in levels}
    for s in scores:
        counts[th.level(s)] += 1
    shares = tuple(counts[lv] / len(scores) for lv in levels)
    return Calibration(th, levels, shares, len(scores))


def share_for_quality(scores: Sequence[float], table: RoutingTable, fraction: float) -> float:
    """Strong share the scorer needs on labelled ``table`` to reach ``fraction`` x strong
    quality."""
    return curve(scores, table).at_quality(fraction).share


def share_for_budget(
    scores: Sequence[float],
    cost_strong: Sequence[Decimal],
    cost_weak: Sequence[Decimal],
    budget: Decimal,
) -> float:
    """Largest share of the prompts (hardest first) on the strong model within ``budget`` USD."""
    n = len(scores)
    total = sum(cost_weak, Decimal(0))
    if total > budget:
        raise ConfigError(
            f"budget ${budget} is below the cost of sending every prompt to the weak model "
            f"(${total:.6f})"
        )
    k = 0
    for i in sorted(range(n), key=lambda i: -scores[i]):
        extra = cost_strong[i] - cost_weak[i]
        if total + extra > budget:
            break
        total += extra
        k += 1
    return k / n
