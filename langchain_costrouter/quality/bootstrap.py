"""A paired bootstrap interval for the APGR difference of two scorers on the same rows.

On the held-out benchmarks, every scorer's APGR sits near 0.5 and a dataset of a few hundred
prompts moves it by several hundredths from one resample to the next, so "below prompt length
on this dataset" needs an interval before it means anything. The rows are resampled with
replacement, both scorers are evaluated on the same resample, and the 2.5th and 97.5th
percentiles of the difference are reported. Numpy (the ``learn`` extra): the build evaluates
tens of thousands of curves, which the pure-Python :func:`.metrics.curve` would take minutes on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from langchain_costrouter.exceptions import ConfigError

RESAMPLES = 1000


@dataclass(frozen=True)
class Interval:
    difference: float
    """APGR(a) - APGR(b) on the rows themselves."""
    low: float
    high: float
    draws: tuple[float, ...] = ()
    """The difference on each resample (NaN where a resample had no quality gap)."""

    @property
    def dropped(self) -> int:
        """Resamples with no quality gap between the two models, left out of the interval."""
        return sum(math.isnan(d) for d in self.draws)

    @property
    def below(self) -> bool:
        """``a`` is below ``b`` beyond the noise: the whole interval is under zero."""
        return self.high < 0

    def as_dict(self) -> dict[str, float]:
        return {"difference": self.difference, "low": self.low, "high": self.high,
                "resamples": len(self.draws), "dropped": self.dropped}


def apgr(scores: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> float:
    """The same APGR as :func:`.metrics.curve` (tied scores routed together); NaN without a
    quality gap."""
    n = len(scores)
    gap = strong.mean() - weak.mean()
    if n == 0 or gap == 0:
        return math.nan
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    cum = np.cumsum((strong - weak)[order])
    ends = np.nonzero(np.r_[s[1:] != s[:-1], True])[0]
    shares = np.r_[0.0, (ends + 1) / n]
    pgr = np.r_[0.0, cum[ends] / n] / gap
    return float(np.sum(np.diff(shares) * (pgr[1:] + pgr[:-1]) / 2))


def paired_interval(
    a: Sequence[float], b: Sequence[float], strong: Sequence[float], weak: Sequence[float],
    *, resamples: int = RESAMPLES, seed: int = 0,
) -> Interval:
    """95% interval of APGR(a) - APGR(b) over ``resamples`` paired resamples of the rows."""
    sa, sb = np.asarray(a, float), np.asarray(b, float)
    st, wk = np.asarray(strong, float), np.asarray(weak, float)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        i = rng.integers(0, len(st), len(st))
        draws.append(apgr(sa[i], st[i], wk[i]) - apgr(sb[i], st[i], wk[i]))
    point = apgr(sa, st, wk) - apgr(sb, st, wk)
    return _interval(point, draws)


def _interval(point: float, draws: Sequence[float]) -> Interval:
    kept = [d for d in draws if not math.isnan(d)]
    if not kept:
        return Interval(point, math.nan, math.nan, tuple(draws))
    lo, hi = np.percentile(kept, [2.5, 97.5])
    return Interval(point, float(lo), float(hi), tuple(draws))


def mean_interval(intervals: Sequence[Interval]) -> Interval:
    """The interval of the mean difference over several datasets, each resampled on its own:
    the mean of their ``k``-th draws is one draw of the mean."""
    if not intervals:
        raise ConfigError("no intervals to average")
    n = len(intervals[0].draws)
    if any(len(v.draws) != n for v in intervals):
        raise ConfigError("the intervals were drawn with different numbers of resamples")
    draws = [float(np.nanmean([v.draws[k] for v in intervals])) for k in range(n)]
    return _interval(float(np.mean([v.difference for v in intervals])), draws)
