"""A small learned difficulty scorer: hashed n-grams + length features, logistic regression.

``LearnedScorer(messages)`` returns P(the strong model's answer beats the weak model's), in
[0, 1]: higher = send to the strong model, like RouteLLM's routers. Trained with
:func:`fit` (full-batch Adam on the L2-regularised log loss, numpy only), saved as one
compressed ``.npz`` (about 1 MB with the default 2**18 slots) holding the weights and a JSON
metadata string (feature settings, training source, held-out figures). Loading needs no
network and no pickle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.features import DENSE_NAMES, FeatureConfig, dense, hashed
from langchain_costrouter.routing.scorers import prompt_text

FORMAT = "costrouter-learned-scorer/1"


@dataclass(eq=False)
class LearnedScorer:
    """Logistic regression over :mod:`~langchain_costrouter.quality.features`."""

    weights: np.ndarray
    """One weight per hashed slot (float32)."""
    dense_weights: np.ndarray
    dense_mean: np.ndarray
    dense_std: np.ndarray
    bias: float
    config: FeatureConfig = field(default_factory=FeatureConfig)
    metadata: dict[str, Any] = field(default_factory=dict)
    """Where the training rows came from, training settings, held-out figures."""

    def __repr__(self) -> str:
        src = self.metadata.get("source", {}).get("path", "?")
        return f"LearnedScorer(slots={self.config.size}, trained_on={src!r})"

    def __call__(self, messages: Any) -> float:
        return self.score(messages)

    def score(self, messages: Any) -> float:
        text = prompt_text(messages)
        slots, vals = hashed(text, self.config)
        d = (np.asarray(dense(text)) - self.dense_mean) / self.dense_std
        z = self.bias + float(self.weights[slots] @ vals) + float(d @ self.dense_weights)
        return float(1.0 / (1.0 + np.exp(-z)))

    def score_batch(self, prompts: Sequence[Any]) -> list[float]:
        return [self.score(p) for p in prompts]

    # persistence ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write a compressed ``.npz``; returns the path written."""
        p = os.fspath(path)
        if not p.endswith(".npz"):
            raise ConfigError(f"learned scorer artifacts are .npz files, got {p!r}")
        meta = {"format": FORMAT, "features": self.config.as_dict(),
                "dense_features": list(DENSE_NAMES), **self.metadata}
        np.savez_compressed(
            p, weights=self.weights.astype(np.float32), dense_weights=self.dense_weights,
            dense_mean=self.dense_mean, dense_std=self.dense_std,
            bias=np.array([self.bias]), meta=np.array(json.dumps(meta, default=str)),
        )
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LearnedScorer:
        p = os.fspath(path)
        try:
            with np.load(p, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in ("weights", "dense_weights", "dense_mean",
                                            "dense_std", "bias")}
        except (OSError, ValueError, KeyError) as e:
            raise ConfigError(f"{p!r} is not a learned scorer artifact ({e})") from None
        if meta.get("format") != FORMAT:
            raise ConfigError(f"{p!r} has format {meta.get('format')!r}; expected {FORMAT!r}")
        cfg = FeatureConfig(**meta["features"])
        if arrays["weights"].shape != (cfg.size,):
            raise ConfigError(f"{p!r}: {arrays['weights'].shape} weights for {cfg.size} slots")
        extra = {k: v for k, v in meta.items()
                 if k not in ("format", "features", "dense_features")}
        return cls(weights=arrays["weights"], dense_weights=arrays["dense_weights"],
                   dense_mean=arrays["dense_mean"], dense_std=arrays["dense_std"],
                   bias=float(arrays["bias"][0]), config=cfg, metadata=extra)


@dataclass(frozen=True)
class FitSettings:
    epochs: int = 200
    """Full-batch gradient steps (each one pass over the data)."""
    learning_rate: float = 0.05
    l2: float = 1e-4
    """L2 penalty on every weight (not the bias), per example."""
    balance: bool = True
    """Weight the two classes equally (strong wins are usually the minority)."""

    def as_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "learning_rate": self.learning_rate, "l2": self.l2,
                "balance": self.balance}


def fit(
    texts: Sequence[str],
    labels: Sequence[int],
    settings: FitSettings | None = None,
    config: FeatureConfig | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> LearnedScorer:
    """Train on ``labels`` (1 = the strong model wins on that prompt)."""
    settings = settings or FitSettings()
    config = config or FeatureConfig()
    n = len(texts)
    if n != len(labels):
        raise ConfigError(f"{n} texts for {len(labels)} labels")
    y = np.asarray(labels, dtype=np.float64)
    if n == 0 or y.min() == y.max():
        raise ConfigError(
            "training needs prompts where the strong model wins and prompts where it does not; "
            f"got {int(y.sum())} wins in {n} rows"
        )
    pairs = [hashed(t, config) for t in texts]
    slots = np.concatenate([s for s, _ in pairs])
    vals = np.concatenate([v for _, v in pairs])
    row = np.repeat(np.arange(n), [len(s) for s, _ in pairs])
    d = np.asarray([dense(t) for t in texts], dtype=np.float64)
    mean, std = d.mean(axis=0), d.std(axis=0)
    std[std == 0] = 1.0
    d = (d - mean) / std
    if settings.balance:
        pos = y.sum()
        sw = np.where(y == 1, n / (2 * pos), n / (2 * (n - pos)))
    else:
        sw = np.ones(n)
    sw /= sw.sum()

    params = [np.zeros(config.size), np.zeros(d.shape[1]), np.zeros(1)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for step in range(1, settings.epochs + 1):
        w, wd, b = params
        z = np.bincount(row, weights=w[slots] * vals, minlength=n) + d @ wd + b[0]
        g = (1.0 / (1.0 + np.exp(-z)) - y) * sw
        grads = [
            np.bincount(slots, weights=g[row] * vals, minlength=config.size) + settings.l2 * w,
            d.T @ g + settings.l2 * wd,
            np.array([g.sum()]),
        ]
        for i, gr in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * gr
            v[i] = b2 * v[i] + (1 - b2) * gr * gr
            mhat = m[i] / (1 - b1**step)
            vhat = v[i] / (1 - b2**step)
            params[i] = params[i] - settings.learning_rate * mhat / (np.sqrt(vhat) + eps)
    meta = {"fit": settings.as_dict(), "train_rows": n, "train_strong_wins": int(y.sum()),
            **(metadata or {})}
    return LearnedScorer(weights=params[0].astype(np.float32), dense_weights=params[1],
                         dense_mean=mean, dense_std=std, bias=float(params[2][0]),
                         config=config, metadata=meta)
