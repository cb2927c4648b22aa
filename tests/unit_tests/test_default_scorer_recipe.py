"""The default scorer's recipe: a model of the hand-made features (it reads no n-grams, and
skips hashing them), its second stage weighed on the reference workload composed into one
linear model, targets smoothed within groups, and the paired bootstrap against prompt length."""

from __future__ import annotations

import math
import random
from array import array

import pytest

pytest.importorskip("numpy")

import numpy as np

from langchain_costrouter.quality.bootstrap import apgr, paired_interval
from langchain_costrouter.quality.fit import smoothed
from langchain_costrouter.quality.metrics import curve
from langchain_costrouter.quality.table import RoutingTable
from langchain_costrouter.quality.train import GROUP_KEEP, targets
from langchain_costrouter.quality.workload_fit import labelled
from langchain_costrouter.quality.workload_stage import KEYWORDS, Stage, compose, fit_stage
from langchain_costrouter.routing.features import DENSE_NAMES, FeatureConfig, dense, extract
from langchain_costrouter.routing.learned import LearnedScorer
from langchain_costrouter.routing.request import read_request
from langchain_costrouter.routing.scorers import default_scorer

TEXTS = ["hi", "Prove that sqrt(2) is irrational.", "Write a function to merge two sorted lists.",
         "Design a rate limiter for a distributed API; discuss the trade-offs.\n1. a\n2. b\n3. c",
         "Classify the sentiment: I loved it!", "x" * 5000]


def scorer(weights: array, seed: int = 0) -> LearnedScorer:
    rng = random.Random(seed)
    n = len(DENSE_NAMES)
    return LearnedScorer(weights=weights, weight_scale=1e-4,
                         dense_weights=tuple(rng.uniform(-1, 1) for _ in range(n)),
                         dense_mean=tuple(rng.uniform(0, 1) for _ in range(n)),
                         dense_std=tuple(rng.uniform(0.5, 2) for _ in range(n)), bias=0.1,
                         config=FeatureConfig(n_bits=10))


def by_definition(s: LearnedScorer, text: str) -> float:
    sparse, feats = extract(text, s.config)
    z = s.bias + sum(s.weights[slot] * s.weight_scale * v for slot, v in sparse)
    return z + sum(w * (x - m) / sd for x, w, m, sd in
                   zip(feats, s.dense_weights, s.dense_mean, s.dense_std, strict=True))


def test_a_model_without_ngram_weights_scores_as_its_definition() -> None:
    s = scorer(array("h", [0] * 1024))
    assert not s._reads_ngrams  # the fast path: no hashing
    for t in TEXTS:
        assert s._text_logit(t) == pytest.approx(by_definition(s, t), abs=1e-9)


def test_a_model_with_ngram_weights_reads_them() -> None:
    w = array("h", (random.Random(1).randint(-3000, 3000) for _ in range(1024)))
    s, flat = scorer(w), scorer(array("h", [0] * 1024))
    for t in TEXTS[:5]:
        assert s._text_logit(t) == pytest.approx(by_definition(s, t), abs=1e-9)
    assert any(abs(s._text_logit(t) - flat._text_logit(t)) > 1e-6 for t in TEXTS[:5])


def test_the_shipped_default_reads_no_ngrams_and_records_its_recipe() -> None:
    s = default_scorer()
    assert not any(s.weights)
    meta = s.metadata
    assert meta["recipe"]["text_share"] == 0.0 and meta["recipe"]["second_stage"] is True
    assert meta["second_stage"]["features"] == list(KEYWORDS)
    held = meta["held_out"]
    assert held["out_of_domain_mean"]["scores"]["default"]["apgr"] > \
        held["out_of_domain_mean"]["scores"]["length"]["apgr"]


def test_the_second_stage_composes_into_the_same_linear_model() -> None:
    first = default_scorer()  # any calibrated learned scorer will do as a first stage
    stage = Stage(scale=0.7, keywords=(0.5, -0.25, 0.125, 1.0, -1.0, 0.3), bias=0.2)
    both = compose(first, stage)
    cols = [DENSE_NAMES.index(k) for k in KEYWORDS]
    for text, _ in labelled()[::25]:
        a = first.request_logit(read_request(text)) / first.context_unit
        feats = dense(text, first.config)
        want = stage.scale * a + sum(c * feats[j] for c, j in zip(stage.keywords, cols,
                                                                  strict=True)) + stage.bias
        assert both.request_logit(read_request(text)) == pytest.approx(want, abs=1e-6)
    assert both.cuts is None  # it must be calibrated before use
    assert both.metadata["second_stage"]["first_stage"] == 0.7


def test_the_second_stage_fits_the_workload_at_least_as_well_as_the_first_alone() -> None:
    first = default_scorer()
    stage = fit_stage(first)
    assert stage.scale > 0
    rows = labelled()
    model = compose(first, stage)
    got = [model.request_logit(read_request(p)) for p, _ in rows]
    ranks = [lv.rank for _, lv in rows]
    # least squares: the fitted ranks correlate with the labels at least as well as the
    # first stage alone does
    alone = [first.request_logit(read_request(p)) for p, _ in rows]
    assert np.corrcoef(got, ranks)[0, 1] >= np.corrcoef(alone, ranks)[0, 1]


def test_targets_move_towards_their_groups_mean() -> None:
    assert smoothed([1.0, 0.0, 0.5], ["a", "a", "b"], 0.25) == [0.625, 0.375, 0.5]
    t = RoutingTable(prompts=("p", "q", "r"), strong=(1.0, 0.0, 1.0), weak=(0.0, 0.0, 1.0),
                     groups=("g", "g", "h"), source="x")
    own = [1.0, 0.5, 0.5]
    mean_g = 0.75
    assert targets(t, [0, 1, 2]) == pytest.approx(
        [GROUP_KEEP * own[0] + (1 - GROUP_KEEP) * mean_g,
         GROUP_KEEP * own[1] + (1 - GROUP_KEEP) * mean_g, 0.5])
    plain = RoutingTable(prompts=t.prompts, strong=t.strong, weak=t.weak, source="x")
    assert targets(plain, [0, 1, 2]) == own


def test_the_bootstrap_apgr_is_the_curves_apgr_ties_included() -> None:
    rng = random.Random(3)
    for n in (7, 50, 300):
        s = [float(rng.random() < 0.7) for _ in range(n)]
        w = [float(rng.random() < 0.5) for _ in range(n)]
        w[0] = 1 - s[0] if s == w else w[0]
        sc = [round(rng.random(), 1) for _ in range(n)]  # many ties
        table = RoutingTable(prompts=tuple(map(str, range(n))), strong=tuple(s),
                             weak=tuple(w), source="t")
        if sum(s) == sum(w):
            continue
        assert apgr(np.array(sc), np.array(s), np.array(w)) == pytest.approx(
            curve(sc, table).apgr(), abs=1e-12)
    assert math.isnan(apgr(np.zeros(3), np.ones(3), np.ones(3)))


def test_the_paired_interval_tells_a_worse_scorer_from_noise() -> None:
    rng = random.Random(5)
    n = 400
    hard = [rng.random() for _ in range(n)]
    strong = [1.0] * n
    weak = [float(h < 0.5) for h in hard]  # the weak model fails the hard half
    good = [h + rng.gauss(0, 0.1) for h in hard]
    bad = [-g for g in good]
    same = paired_interval(good, good, strong, weak)
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0) and not same.below
    worse = paired_interval(bad, good, strong, weak)
    assert worse.below and worse.high < -0.3
    noisy = paired_interval(good, [g + rng.gauss(0, 0.01) for g in good], strong, weak)
    assert noisy.low <= 0 <= noisy.high and not noisy.below


def test_the_mean_interval_averages_draw_by_draw() -> None:
    from langchain_costrouter.exceptions import ConfigError
    from langchain_costrouter.quality.bootstrap import Interval, mean_interval

    a = Interval(0.1, 0.0, 0.2, (0.0, 0.1, 0.2, math.nan))
    b = Interval(-0.1, -0.2, 0.0, (-0.2, -0.1, 0.0, 0.0))
    m = mean_interval([a, b])
    assert m.difference == pytest.approx(0.0)
    assert m.draws == pytest.approx((-0.1, 0.0, 0.1, 0.0))  # a NaN draw is left out of its mean
    assert m.low <= 0.0 <= m.high and not m.below
    with pytest.raises(ConfigError, match="different numbers of resamples"):
        mean_interval([a, Interval(0.0, 0.0, 0.0, (0.0,))])
