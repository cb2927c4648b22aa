"""Scorers to compare a router against, and a name -> scorer registry.

Every scorer is a plain :data:`~langchain_costrouter.routing.scorers.Scorer` (``messages -> float``,
higher = harder) that also accepts a bare prompt string.

* ``random``: a seeded pseudo-random score per prompt text (the same text always gets the
  same score for one seed); its APGR is 0.5 in expectation.
* ``length``: ``log1p`` of the prompt's tokens (tiktoken o200k_base, ``tokens.count_text``),
  so that thresholds stay readable.
* ``heuristic``: the package's keyword heuristic, ``scoring.HeuristicScorer``.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from langchain_core.messages import BaseMessage

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.pricing.tokens import count_text
from langchain_costrouter.routing.scorers import HeuristicScorer, Scorer, prompt_text

Prompt = Sequence[BaseMessage] | str


@dataclass(frozen=True)
class RandomScorer:
    """Uniform in [0, 1), from a hash of ``seed`` and the prompt text."""

    seed: int = 0

    def __call__(self, messages: Prompt) -> float:
        digest = hashlib.blake2b(
            prompt_text(messages).encode(), digest_size=8, key=str(self.seed).encode()
        ).digest()
        return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class LengthScorer:
    """``log1p`` of the prompt's token count: longer = harder."""

    def __call__(self, messages: Prompt) -> float:
        return math.log1p(count_text(prompt_text(messages)))


BASELINES: dict[str, Callable[[], Scorer]] = {
    "random": RandomScorer,
    "length": LengthScorer,
    "heuristic": HeuristicScorer,
}
"""Built-in scorer names, for the CLI's ``--scorer``."""


def resolve_scorer(spec: str) -> tuple[str, Scorer]:
    """A scorer from a built-in name (``random``, ``random:7``, ``length``, ``heuristic``) or the
    path of a learned-scorer artifact (``.npz``); returns ``(display name, scorer)``."""
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
    if spec.endswith(".npz"):
        if not os.path.exists(spec):
            raise ConfigError(f"scorer artifact {spec!r} does not exist")
        from langchain_costrouter.quality.learned import LearnedScorer

        return f"learned ({os.path.basename(spec)})", LearnedScorer.load(spec)
    raise ConfigError(
        f"unknown scorer {spec!r}; use one of {', '.join(BASELINES)}, random:SEED, "
        "or the path of a learned scorer artifact (.npz)"
    )


def score_all(scorer: Scorer, prompts: Sequence[str]) -> list[float]:
    """Scores of many prompts, through ``score_batch`` when the scorer has one."""
    batch = getattr(scorer, "score_batch", None)
    if callable(batch):
        return [float(s) for s in batch(list(prompts))]
    return [float(scorer(p)) for p in prompts]  # type: ignore[arg-type]
