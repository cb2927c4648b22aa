"""Scorers to compare a router against, and a name -> scorer registry.

Every scorer is a plain :data:`~langchain_costrouter.routing.scorers.Scorer` (``messages -> float``,
higher = harder) that also accepts a bare prompt string.

* ``random``: a seeded pseudo-random score per prompt text (the same text always gets the
  same score for one seed); its APGR is 0.5 in expectation.
* ``length``: ``log1p`` of the prompt's tokens (tiktoken o200k_base, ``tokens.count_text``),
  so that thresholds stay readable.
* ``heuristic``: the package's keyword heuristic, ``scoring.HeuristicScorer``.
* ``default``: the learned scorer shipped in the package.

``random`` and ``length`` carry thresholds calibrated on the package's reference workload for
``DEFAULT_MIX`` (computed on first use), so ``ChatCostRouter(scorer=LengthScorer())`` routes on
length's own scale, never on cuts meant for another scorer.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from langchain_core.messages import BaseMessage

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.pricing.tokens import count_text
from langchain_costrouter.routing.scorers import (
    DEFAULT_MIX,
    HeuristicScorer,
    Scorer,
    Thresholds,
    default_scorer,
    load_scorer,
    prompt_text,
)

Prompt = Sequence[BaseMessage] | str


@dataclass(frozen=True)
class RandomScorer:
    """Uniform in [0, 1), from a hash of ``seed`` and the prompt text."""

    seed: int = 0

    @property
    def scale(self) -> str:
        return f"random:{self.seed}"

    @property
    def thresholds(self) -> Thresholds:
        return _reference_cuts(self)

    def __call__(self, messages: Prompt) -> float:
        digest = hashlib.blake2b(
            prompt_text(messages).encode(), digest_size=8, key=str(self.seed).encode()
        ).digest()
        return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class LengthScorer:
    """``log1p`` of the prompt's token count: longer = harder."""

    scale = "log1p-tokens"

    @property
    def thresholds(self) -> Thresholds:
        return _reference_cuts(self)

    def __call__(self, messages: Prompt) -> float:
        return math.log1p(count_text(prompt_text(messages)))


def reference_prompts() -> list[str]:
    """The package's 300-prompt reference workload (``data/workload.jsonl``)."""
    text = resources.files("langchain_costrouter").joinpath("data/workload.jsonl").read_text()
    return [json.loads(line)["prompt"] for line in text.splitlines() if line.strip()]


@lru_cache(maxsize=16)
def _reference_cuts(scorer: Scorer) -> Thresholds:
    return Thresholds.calibrate(scorer, reference_prompts(), mix=DEFAULT_MIX)


BASELINES: dict[str, Callable[[], Scorer]] = {
    "random": RandomScorer,
    "length": LengthScorer,
    "heuristic": HeuristicScorer,
    "default": default_scorer,
}
"""Built-in scorer names, for the CLI's ``--scorer``."""


def resolve_scorer(spec: str) -> tuple[str, Scorer]:
    """A scorer from a built-in name (``random``, ``random:7``, ``length``, ``heuristic``,
    ``default``) or the path of a learned-scorer artifact; returns ``(display name, scorer)``."""
    name, _, arg = spec.partition(":")
    if name == "random":
        try:
            seed = int(arg) if arg else 0
        except ValueError:
            raise ConfigError(f"scorer {spec!r}: the seed after 'random:' must be an integer"
                              ) from None
        return spec, RandomScorer(seed)
    if name in BASELINES and not arg:
        return name, BASELINES[name]()
    if os.path.exists(spec):
        return f"learned ({os.path.basename(spec)})", load_scorer(spec)
    raise ConfigError(
        f"unknown scorer {spec!r}; use one of {', '.join(BASELINES)}, random:SEED, "
        "or the path of a learned scorer artifact (train-scorer --out)"
    )


def score_all(scorer: Scorer, prompts: Sequence[str]) -> list[float]:
    """Scores of many prompts, through ``score_batch`` when the scorer has one."""
    batch = getattr(scorer, "score_batch", None)
    if callable(batch):
        return [float(s) for s in batch(list(prompts))]
    return [float(scorer(p)) for p in prompts]  # type: ignore[arg-type]
