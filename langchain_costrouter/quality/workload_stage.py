"""The default scorer's second stage: the heuristic's keyword groups, weighed on the package's
labelled reference workload.

The public benchmarks cannot weigh what everyday traffic hinges on. Their prompts are exam
questions, where "explain", "design" or "trade-offs" say nothing of the strong model's gain,
while in a product's traffic they separate a lookup from a design review. Fitted on the
benchmarks alone, the model gives those groups weights near zero and under-routes much of the
reference workload (``data/workload.jsonl``: 300 prompts labelled with the level they need; the
build prints the held-out levels with and without this stage).

So the first stage (the benchmark model, with its hand-set context priors) is followed by a
least-squares fit, on the workload, of the labelled level rank (0-3) on the first stage's
request logit and the keyword features of :data:`KEYWORDS`: eight numbers. The result is the
same kind of linear model (:func:`compose`). The workload is then in-sample for these weights,
so :func:`cross_validated` reports the levels on held-out halves of it as well. The benchmark
figures of the build include the second stage, fitted on the workload only, so they stay
out of domain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.workload_fit import labelled
from langchain_costrouter.routing.features import DENSE_NAMES, dense
from langchain_costrouter.routing.learned import LearnedScorer
from langchain_costrouter.routing.request import read_request

KEYWORDS: tuple[str, ...] = ("kw_expert", "kw_design", "kw_code", "kw_explain", "kw_math",
                             "closed_form")
"""The heuristic's keyword groups (and its closed-form instruction test), as hand-made
features of :mod:`~..routing.features`."""


RIDGE = 0.0
"""No ridge by default: in trials on held-out halves of the workload, every penalty tried
lowered the share served at or above the labelled level (chosen on those same halves)."""
WORKLOAD = "data/workload.jsonl"


@dataclass(frozen=True)
class Stage:
    scale: float
    """Weight of the first stage's request logit, in units of its context unit."""
    keywords: tuple[float, ...]
    bias: float

    def as_dict(self) -> dict[str, Any]:
        blob = resources.files("langchain_costrouter").joinpath(WORKLOAD).read_bytes()
        return {"features": list(KEYWORDS), "first_stage": self.scale,
                "keywords": list(self.keywords), "bias": self.bias,
                "fitted_on": {"file": f"langchain_costrouter/{WORKLOAD}",
                              "sha256": hashlib.sha256(blob).hexdigest(),
                              "rows": len(labelled()),
                              "source": "written and labelled for this package"}}


def _design(first: LearnedScorer, prompts: Sequence[str]) -> np.ndarray:
    cols = [DENSE_NAMES.index(k) for k in KEYWORDS]
    rows = []
    for p in prompts:
        a = first.request_logit(read_request(p)) / first.context_unit
        feats = dense(p, first.config)
        rows.append([a, *(feats[j] for j in cols), 1.0])
    return np.asarray(rows, dtype=np.float64)


def fit_stage(first: LearnedScorer, rows: Sequence[int] | None = None, ridge: float = RIDGE
              ) -> Stage:
    """Ridge least squares of the workload's level ranks on the first stage and the keywords
    (the keyword weights penalised, the first stage's and the bias not)."""
    data = labelled()
    idx = list(range(len(data))) if rows is None else list(rows)
    x = _design(first, [data[i][0] for i in idx])
    y = np.asarray([data[i][1].rank for i in idx], dtype=np.float64)
    penalty = np.diag([0.0, *([ridge * len(idx)] * len(KEYWORDS)), 0.0])
    coef = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    if coef[0] <= 0:  # the benchmark model must keep its say; never seen, but checked
        raise ConfigError(f"the second stage would reverse the first stage's order (weight "
                          f"{coef[0]:.3f}): the workload's labels disagree with the benchmarks")
    return Stage(float(coef[0]), tuple(map(float, coef[1:-1])), float(coef[-1]))


def compose(first: LearnedScorer, stage: Stage, metadata: dict[str, Any] | None = None
            ) -> LearnedScorer:
    """One linear model: ``stage.scale x first's request logit / its unit + keywords + bias``
    for a request of one text. The text weights scale by ``scale / unit``; the context priors
    keep their weight because the new context unit is ``scale``. In a conversation the keyword
    terms belong to each scored text (the task, the turn alone, earlier turns) before the
    ``max`` over them, so a hard earlier turn's keywords carry over. Uncalibrated (no cuts)."""
    k = stage.scale / first.context_unit
    dense_w = [k * w for w in first.dense_weights]
    bias = k * first.bias + stage.bias
    for name, c in zip(KEYWORDS, stage.keywords, strict=True):
        j = DENSE_NAMES.index(name)
        dense_w[j] += c * first.dense_std[j]
        bias += c * first.dense_mean[j]
    meta = dict(first.metadata if metadata is None else metadata)
    meta["second_stage"] = stage.as_dict()
    return LearnedScorer(weights=first.weights, weight_scale=first.weight_scale * k,
                         dense_weights=tuple(dense_w),
                         dense_mean=first.dense_mean, dense_std=first.dense_std, bias=bias,
                         config=first.config, context=first.context, cuts=None,
                         context_unit=stage.scale, metadata=meta)


def cross_validated(first: LearnedScorer, mix: Sequence[float], repeats: int = 5,
                    seed: int = 0, ridge: float = RIDGE) -> dict[str, float]:
    """Exact and at-or-above shares of the workload's levels on held-out halves: the second
    stage and the cuts fitted on one random half, judged on the other (both ways, ``repeats``
    times); and the same for the first stage alone (its cuts fitted on the half)."""
    from langchain_costrouter.routing.scorers import Thresholds, score_request

    data = labelled()
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {"exact": [], "above": [], "first_exact": [],
                                   "first_above": []}
    for _ in range(repeats):
        perm = rng.permutation(len(data))
        halves = (perm[: len(data) // 2], perm[len(data) // 2:])
        for a, b in (halves, halves[::-1]):
            for key, model in (("", compose(first, fit_stage(first, a.tolist(), ridge))),
                               ("first_", first)):
                cuts = Thresholds.calibrate(model, [data[i][0] for i in a], mix=mix)
                got = [cuts.level(score_request(model, data[i][0])) for i in b]
                want = [data[i][1] for i in b]
                out[key + "exact"].append(
                    float(np.mean([g is w for g, w in zip(got, want, strict=True)])))
                out[key + "above"].append(
                    float(np.mean([g.rank >= w.rank for g, w in zip(got, want, strict=True)])))
    return {k: float(np.mean(v)) for k, v in out.items()}
