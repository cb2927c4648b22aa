"""RouteLLM's protocol on hand-computed tables, and on oracle / random / inverted scorers."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.baselines import RandomScorer
from langchain_costrouter.quality.metrics import curve, evaluate
from langchain_costrouter.quality.table import RoutingTable

# p0: strong 1, weak 0 (strong wins)   score .9
# p1: strong 1, weak 1                 score .7
# p2: strong 0, weak 0                 score .5
# p3: strong 1, weak 0 (strong wins)   score .6
# Q_weak = 1/4, Q_strong = 3/4, gap = 1/2. Order by score: p0, p1, p3, p2.
# share 0: Q .25 (PGR 0); .25 (+p0): Q .5 (PGR .5); .5 (+p1): .5 (.5); .75 (+p3): .75 (1);
# 1 (+p2): .75 (1).
TABLE = RoutingTable(
    prompts=("p0", "p1", "p2", "p3"),
    strong=(1, 1, 0, 1),
    weak=(0, 1, 0, 0),
    cost_strong=(Decimal("0.01"),) * 4,
    cost_weak=(Decimal("0.001"),) * 4,
)
SCORES = [0.9, 0.7, 0.5, 0.6]


def test_hand_computed_curve_and_apgr() -> None:
    c = curve(SCORES, TABLE)
    assert c.shares == (0, 0.25, 0.5, 0.75, 1)
    assert c.pgr() == [0, 0.5, 0.5, 1, 1]
    # trapezoids: .25*(0+.5)/2 + .25*(.5+.5)/2 + .25*(.5+1)/2 + .25*(1+1)/2
    #           = .0625 + .125 + .1875 + .25 = .625
    assert c.apgr() == pytest.approx(0.625)


def test_hand_computed_cpt_and_cost_at_95() -> None:
    r = evaluate("hand", SCORES, TABLE)
    assert r.cpt50 == pytest.approx(0.25)  # PGR first reaches .5 at share .25
    # PGR .5 -> 1 between shares .5 and .75: .5 + (.8 - .5) / .5 * .25 = .65
    assert r.cpt80 == pytest.approx(0.65)
    # target .95 * .75 = .7125; Q .5 -> .75 between .5 and .75: t = .85, share .7125
    assert r.share_at_target == pytest.approx(0.7125)
    # costs: all weak .004; share .5 (p0, p1 strong) .02 + .002 = .022; share .75: .031;
    # at t = .85: .022 + .85 * .009 = .02965
    assert r.cost_at_target == Decimal("0.02965")
    assert (r.cost_all_weak, r.cost_all_strong) == (Decimal("0.004"), Decimal("0.04"))


def test_tied_scores_are_routed_together() -> None:
    # p0 and p3 tie at .9: one step from share 0 to .5 (Q .25 -> .75), then p1, p2.
    c = curve([0.9, 0.1, 0.1, 0.9], TABLE)
    assert c.shares == (0, 0.5, 1)
    # .5 * (0 + 1) / 2 + .5 * (1 + 1) / 2 = .75
    assert c.apgr() == pytest.approx(0.75)
    assert c.cpt(50) == pytest.approx(0.25)  # halfway through the tied group


def test_weak_already_good_enough_needs_no_strong_calls() -> None:
    t = RoutingTable(prompts=("a", "b"), strong=(1.0, 1.0), weak=(1.0, 0.96))
    assert evaluate("x", [0.0, 1.0], t).share_at_target == 0


def test_graded_scores_not_just_zero_one() -> None:
    # scores 8 vs 6 and 5 vs 7: Q_weak 6.5, Q_strong 6.5 -> no gap.
    t = RoutingTable(prompts=("a", "b"), strong=(8.0, 5.0), weak=(6.0, 7.0))
    with pytest.raises(ConfigError, match="same mean quality"):
        evaluate("x", [1, 0], t)
    # strong 8, 9 vs weak 6, 9: gap (17 - 15) / 2 = 1; routing "a" first recovers all of it
    t2 = RoutingTable(prompts=("a", "b"), strong=(8.0, 9.0), weak=(6.0, 9.0))
    c = curve([1, 0], t2)
    assert c.pgr() == [0, 1, 1]
    assert c.apgr() == pytest.approx(0.75)  # .5 * (0 + 1) / 2 + .5 * 1


def test_score_count_must_match() -> None:
    with pytest.raises(ConfigError, match="3 scores for 4 rows"):
        curve([1, 2, 3], TABLE)


def _table(n: int, seed: int) -> RoutingTable:
    rng = random.Random(seed)
    strong, weak = [], []
    for _ in range(n):
        s = 1.0 if rng.random() < 0.85 else 0.0
        w = s if rng.random() < 0.8 else 0.0
        strong.append(s)
        weak.append(w)
    return RoutingTable(prompts=tuple(f"prompt {i}" for i in range(n)), strong=tuple(strong),
                        weak=tuple(weak))


def test_oracle_scorer_is_near_one() -> None:
    t = _table(400, 1)
    oracle = [s - w for s, w in zip(t.strong, t.weak, strict=True)]
    r = evaluate("oracle", oracle, t)
    # every gain comes from the ~17% strong wins, routed first: APGR = 1 - f/2
    f = sum(t.strong_wins()) / len(t)
    assert r.apgr == pytest.approx(1 - f / 2)
    assert r.apgr > 0.9
    assert r.cpt80 <= f


def test_random_scorer_averages_one_half_and_inverted_is_below() -> None:
    t = _table(400, 2)
    apgrs = [evaluate("r", [RandomScorer(seed)(p) for p in t.prompts], t).apgr
             for seed in range(30)]
    assert sum(apgrs) / len(apgrs) == pytest.approx(0.5, abs=0.03)
    inverted = [w - s for s, w in zip(t.strong, t.weak, strict=True)]
    assert evaluate("inv", inverted, t).apgr < 0.2
