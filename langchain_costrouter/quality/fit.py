"""Train the default scorer's linear model (numpy; the ``learn`` extra).

Logistic regression on soft targets in [0, 1] (cross-entropy with a fractional label), over the
hashed n-grams and the standardised hand-made features of :mod:`~..routing.features`. Full-batch
Adam, separate L2 penalties for the n-gram weights (strong: text features are what fails to
transfer across benchmarks) and the hand-made ones. A warm start begins from a saved model's
weights instead of zeros. A few dozen lines of numpy rather than scikit-learn: it needs soft
labels, hashed slots shared with a pure-Python inference path, and no second heavy dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.routing.features import DENSE_NAMES, FeatureConfig, extract


@dataclass(frozen=True)
class FitSettings:
    epochs: int = 150
    """Full-batch gradient steps."""
    learning_rate: float = 0.05
    l2_text: float = 3e-4
    """L2 penalty on the n-gram weights (per example)."""
    l2_dense: float = 1e-4

    def as_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "learning_rate": self.learning_rate,
                "l2_text": self.l2_text, "l2_dense": self.l2_dense}


@dataclass
class Fitted:
    weights: np.ndarray
    dense_weights: np.ndarray
    dense_mean: np.ndarray
    dense_std: np.ndarray
    bias: float


@dataclass
class Design:
    """Feature matrix of many texts, in sparse triplet form."""

    rows: np.ndarray
    slots: np.ndarray
    values: np.ndarray
    dense: np.ndarray
    n: int


def design(texts: Sequence[str], config: FeatureConfig) -> Design:
    rows, slots, values, dense = [], [], [], []
    for i, t in enumerate(texts):
        sparse, d = extract(t, config)
        rows += [i] * len(sparse)
        slots += [s for s, _ in sparse]
        values += [v for _, v in sparse]
        dense.append(d)
    return Design(np.asarray(rows, np.int64), np.asarray(slots, np.int64),
                  np.asarray(values, np.float64),
                  np.asarray(dense, np.float64).reshape(len(texts), len(DENSE_NAMES)),
                  len(texts))


def smoothed(values: Sequence[float], groups: Sequence[str], keep: float) -> list[float]:
    """Each value moved towards its group's mean: ``keep`` x itself + the rest x the mean."""
    sums: dict[str, list[float]] = {}
    for v, g in zip(values, groups, strict=True):
        acc = sums.setdefault(g, [0.0, 0])
        acc[0] += v
        acc[1] += 1
    return [keep * v + (1 - keep) * sums[g][0] / sums[g][1]
            for v, g in zip(values, groups, strict=True)]


def fit(
    x: Design,
    targets: Sequence[float],
    config: FeatureConfig,
    settings: FitSettings | None = None,
    *,
    sample_weights: Sequence[float] | None = None,
    warm: Fitted | None = None,
) -> Fitted:
    """Minimise the weighted cross-entropy to ``targets`` (each in [0, 1])."""
    settings = settings or FitSettings()
    y = np.asarray(targets, dtype=np.float64)
    n = x.n
    if n == 0 or len(y) != n:
        raise ConfigError(f"training needs one target per prompt; got {len(y)} for {n}")
    if y.min() == y.max():
        raise ConfigError(f"every training target is {y.min():g}: there is nothing to learn "
                          "(no prompt where the strong model does better than the weak one)")
    if warm is not None:
        mean, std = warm.dense_mean, warm.dense_std
    else:
        mean, std = x.dense.mean(axis=0), x.dense.std(axis=0)
        std = np.where(std == 0, 1.0, std)
    d = (x.dense - mean) / std
    sw = np.ones(n) if sample_weights is None else np.asarray(sample_weights, np.float64)
    sw = sw / sw.sum()
    if warm is not None:
        params = [warm.weights.astype(np.float64).copy(), warm.dense_weights.copy(),
                  np.array([warm.bias])]
    else:
        prior = float(np.clip(np.average(y, weights=sw), 1e-3, 1 - 1e-3))
        params = [np.zeros(config.size), np.zeros(d.shape[1]),
                  np.array([np.log(prior / (1 - prior))])]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for step in range(1, settings.epochs + 1):
        w, wd, b = params
        z = np.bincount(x.rows, weights=w[x.slots] * x.values, minlength=n) + d @ wd + b[0]
        g = (1.0 / (1.0 + np.exp(-z)) - y) * sw
        grads = [
            np.bincount(x.slots, weights=g[x.rows] * x.values, minlength=config.size)
            + settings.l2_text * w,
            d.T @ g + settings.l2_dense * wd,
            np.array([g.sum()]),
        ]
        for i, gr in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * gr
            v[i] = b2 * v[i] + (1 - b2) * gr * gr
            mhat = m[i] / (1 - b1**step)
            vhat = v[i] / (1 - b2**step)
            params[i] = params[i] - settings.learning_rate * mhat / (np.sqrt(vhat) + eps)
    return Fitted(params[0], params[1], mean, std, float(params[2][0]))


def predict(model: Fitted, x: Design) -> np.ndarray:
    """The logit of every row (the same number the pure-Python scorer computes, before its
    weights are quantised)."""
    d = (x.dense - model.dense_mean) / model.dense_std
    return (np.bincount(x.rows, weights=model.weights[x.slots] * x.values, minlength=x.n)
            + d @ model.dense_weights + model.bias)


def take(x: Design, idx: Sequence[int]) -> Design:
    """The rows ``idx`` of ``x``, renumbered in that order."""
    ix = np.asarray(idx, np.int64)
    pos = np.full(x.n, -1, np.int64)
    pos[ix] = np.arange(len(ix))
    keep = pos[x.rows] >= 0
    return Design(pos[x.rows[keep]], x.slots[keep], x.values[keep], x.dense[ix], len(ix))


def dense_only(x: Design) -> Design:
    """``x`` without its n-grams: the hand-made features alone."""
    empty = np.zeros(0, np.int64)
    return Design(empty, empty, np.zeros(0), x.dense, x.n)


def blend(robust: Fitted, text: Fitted, beta: float) -> Fitted:
    """``(1 - beta) x robust + beta x text`` as ONE linear model (the logits blend linearly);
    both must share the standardisation (fitted on the same rows)."""
    return Fitted(beta * text.weights + (1 - beta) * robust.weights,
                  beta * text.dense_weights + (1 - beta) * robust.dense_weights,
                  text.dense_mean, text.dense_std,
                  beta * text.bias + (1 - beta) * robust.bias)


def to_scorer(model: Fitted, config: FeatureConfig, metadata: dict[str, Any] | None = None,
              context: Any = None) -> Any:
    """The pure-Python :class:`~..routing.learned.LearnedScorer` of a fitted model (weights
    quantised to int16), with ``context`` weights (default: :class:`ContextWeights`)."""
    from langchain_costrouter.routing.learned import ContextWeights, LearnedScorer, quantise

    weights, scale = quantise(model.weights.tolist())
    return LearnedScorer(weights=weights, weight_scale=scale,
                         dense_weights=tuple(model.dense_weights.tolist()),
                         dense_mean=tuple(model.dense_mean.tolist()),
                         dense_std=tuple(model.dense_std.tolist()), bias=model.bias,
                         config=config, context=context or ContextWeights(),
                         metadata=dict(metadata or {}))


def from_scorer(scorer: Any) -> Fitted:
    """The fitted model inside a :class:`LearnedScorer` (a warm start)."""
    return Fitted(np.asarray(scorer.weights, np.float64) * scorer.weight_scale,
                  np.asarray(scorer.dense_weights), np.asarray(scorer.dense_mean),
                  np.asarray(scorer.dense_std), scorer.bias)
