"""How hard is a request? A continuous score, and thresholds that turn it into a level.

A scorer is any callable ``(messages) -> float`` where higher means it needs a stronger model.
A scorer may also have ``score_request(messages, *, tools, response_format)`` (it then reads
the whole request) and ``thresholds`` (its own calibrated cuts).

* The default (``scorer=None``) is the learned scorer shipped in the package
  (:func:`default_scorer`): a linear model over hashed n-grams and robust hand-made features,
  trained on the public routing data, calibrated on the package's workload for
  :data:`DEFAULT_MIX`. It reads the system prompt, the conversation, tools and schemas.
* :class:`HeuristicScorer` is the old keyword + length heuristic, kept as a baseline.

Thresholds travel with their scorer: :func:`resolve_scorer` uses the scorer's own cuts unless
the user gives cuts, and refuses a scorer that has none (calibrate it first) or cuts calibrated
on another scorer's scale.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.routing.keywords import _PUNCT, CLOSED_FORM, SIGNALS
from langchain_costrouter.routing.levels import LEVELS, Level

Scorer = Callable[[Sequence[BaseMessage]], float]
"""``score(messages) -> float``; higher = harder. Plain functions qualify."""

DEFAULT_ARTIFACT = "data/default_scorer.gz"
"""The shipped default scorer, inside the package."""
DEFAULT_MIX: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)
"""The default scorer's cuts send these shares of the package's 300-prompt reference workload
(``data/workload.jsonl``) to TRIVIAL, STANDARD, COMPLEX and EXPERT: the workload's own
labelled mix (120/90/60/30 prompts)."""
_SIGNALS = SIGNALS
_TRIVIAL = CLOSED_FORM


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content if b)
    return str(content)


def prompt_text(messages: Sequence[BaseMessage] | str) -> str:
    """The text a scorer judges: the last human message (the task at hand)."""
    if isinstance(messages, str):
        return messages
    for m in reversed(messages):
        if isinstance(m, HumanMessage) or m.type == "human":
            return _text(m.content)
    return _text(messages[-1].content) if messages else ""


@dataclass(frozen=True)
class HeuristicScorer:
    """Keyword + length heuristic. ``score`` is in [0, 1]."""

    length_weight: float = 0.25
    """Weight of the length term, which reaches it at ``long_chars`` characters."""
    long_chars: int = 6000
    max_scan_chars: int = 1_200
    """Only the first and last halves of this many characters are scanned for keywords:
    instructions sit at the start or the end of a prompt, and scanning 8k-token documents
    would cost more than the call's routing budget."""

    scale = "heuristic"
    thresholds_cuts: tuple[float, ...] = (0.25, 0.45, 0.65)
    """Its hand-set cuts."""

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.thresholds_cuts, scale=self.scale)

    def __call__(self, messages: Sequence[BaseMessage] | str) -> float:
        return self.score(messages)

    def score(self, messages: Sequence[BaseMessage] | str) -> float:
        return _cached_score(self, prompt_text(messages))

    def _score_text(self, text: str) -> float:
        n = len(text)
        if n > self.max_scan_chars:
            half = self.max_scan_chars // 2
            text = text[:half] + "\n" + text[-half:]
        text = text.lower()
        spaced = _PUNCT.sub(" ", text)
        words = set(spaced.split())
        s = 0.05
        for signal in _SIGNALS:
            if signal.hit(words, text, spaced):
                s += signal.weight
        if "\n3." in text or "\n3)" in text:  # a numbered list of three or more steps
            s += 0.10
        s += self.length_weight * min(1.0, math.log1p(n) / math.log1p(self.long_chars))
        if _TRIVIAL.hit(words, text, spaced) and s < 0.6:
            s *= 0.45
        return max(0.0, min(1.0, s))

    def score_batch(self, prompts: Sequence[Sequence[BaseMessage] | str]) -> list[float]:
        return [self.score(p) for p in prompts]


@lru_cache(maxsize=4096)
def _cached_score(scorer: HeuristicScorer, text: str) -> float:
    return scorer._score_text(text)


_LEVELS_OF = {n: (*LEVELS[:n], Level.EXPERT) for n in (1, 2, 3)}
"""The levels ``n`` cuts separate (the lowest ``n`` plus EXPERT), built once."""


@dataclass(frozen=True)
class Thresholds:
    """Cut points on the score: ``score < cuts[0]`` is the first level, and so on.

    With 3 cuts there are 4 levels (TRIVIAL..EXPERT); fewer cuts use the lowest levels
    plus EXPERT at the top, so 1 cut means TRIVIAL/EXPERT.
    """

    cuts: tuple[float, ...] = (0.25, 0.45, 0.65)
    scale: str | None = None
    """The scale the cuts were calibrated on (the scorer's ``scale``); ``None``: unchecked."""

    def __post_init__(self) -> None:
        if any(not math.isfinite(c) for c in self.cuts):
            raise ConfigError(f"threshold cut points must be finite numbers, got {list(self.cuts)}")
        if not 1 <= len(self.cuts) <= 3:
            raise ConfigError(f"thresholds need 1 to 3 cut points, got {list(self.cuts)}")
        if any(b <= a for a, b in zip(self.cuts, self.cuts[1:], strict=False)):
            raise ConfigError(f"threshold cut points must increase, got {list(self.cuts)}")

    def level(self, score: float) -> Level:
        levels = _LEVELS_OF[len(self.cuts)]
        for cut, level in zip(self.cuts, levels, strict=False):
            if score < cut:
                return level
        return levels[-1]

    @classmethod
    def calibrate(
        cls,
        scorer: Scorer,
        sample_prompts: Sequence[Sequence[BaseMessage] | str],
        *,
        mix: Sequence[float] = DEFAULT_MIX,
    ) -> Thresholds:
        """Cuts sending ``mix`` (shares per level, lowest first, 2 to 4 of them) of
        ``sample_prompts`` to each level, on ``scorer``'s own scale."""
        from langchain_costrouter.quality.calibrate import calibrate

        scores = [score_request(scorer, p) for p in sample_prompts]
        cuts = calibrate(scores, mix).thresholds.cuts
        return cls(cuts, scale=scale_of(scorer))


def score_request(
    scorer: Scorer,
    messages: Sequence[BaseMessage] | str,
    *,
    tools: Sequence[dict[str, object]] | None = None,
    response_format: object | None = None,
) -> float:
    """The score of one request: what the router calls on every unpinned call.

    ``tools`` are the bound tools (OpenAI format) and ``response_format`` the structured-output
    request, if any. A scorer with a ``score_request`` method gets them all (the default scorer
    reads the system prompt, the conversation, tool results, tools and schema); a plain callable
    gets the messages. A score that is not a finite number is a :class:`ConfigError` naming the
    scorer, never a silent route to one level.
    """
    whole = getattr(scorer, "score_request", None)
    if callable(whole):
        value = whole(messages, tools=tools, response_format=response_format)
    else:
        value = scorer(messages)  # type: ignore[arg-type]
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"scorer {_name(scorer)} returned {value!r}, not a number"
        ) from None
    if not math.isfinite(score):
        raise ConfigError(f"scorer {_name(scorer)} returned {score}, not a finite number")
    return score


def scale_of(scorer: object) -> str | None:
    """The name of a scorer's scale (``scorer.scale``), ``None`` when it declares none."""
    scale = getattr(scorer, "scale", None)
    return scale if isinstance(scale, str) else None


@lru_cache(maxsize=1)
def default_scorer() -> Any:
    """The learned scorer shipped in the package, with its calibrated cuts (loaded once)."""
    from langchain_costrouter.routing.learned import LearnedScorer

    ref = resources.files("langchain_costrouter").joinpath(DEFAULT_ARTIFACT)
    with resources.as_file(ref) as path:
        return LearnedScorer.load(path)


def load_scorer(path: str | os.PathLike[str]) -> Any:
    """A learned scorer artifact (``costrouter train-scorer --out``), with its cuts if any."""
    from langchain_costrouter.routing.learned import LearnedScorer

    return LearnedScorer.load(path)


_HOW = ("calibrate it on your own prompts first: `costrouter calibrate --prompts FILE --scorer "
        "...` or `Thresholds.calibrate(scorer, sample_prompts, mix=(0.4, 0.3, 0.2, 0.1))`, "
        "then pass thresholds=")


def resolve_scorer(
    scorer: Scorer | str | os.PathLike[str] | None,
    thresholds: Thresholds | Sequence[float] | None,
) -> tuple[Scorer, Thresholds]:
    """The router's scorer and the cuts it uses.

    ``scorer``: ``None`` (the shipped default), a scorer object or plain callable, or the path
    of a learned-scorer artifact. Cuts: the user's when given, else the scorer's own
    (``scorer.thresholds``); a scorer with neither is a :class:`ConfigError` telling how to
    calibrate. ``Thresholds`` calibrated on another scorer's scale are refused.
    """
    if scorer is None:
        chosen: Any = default_scorer()
    elif isinstance(scorer, (str, os.PathLike)):
        chosen = load_scorer(scorer)
    elif callable(scorer):
        chosen = scorer
    else:
        raise ConfigError(f"scorer must be a callable, a scorer artifact path or None, "
                          f"got {type(scorer).__name__}")
    if thresholds is None:
        own = getattr(chosen, "thresholds", None)
        if not isinstance(own, Thresholds):
            raise ConfigError(f"scorer {_name(chosen)} has no thresholds of its own, and its "
                              f"scores have no known scale; {_HOW}")
        return chosen, own
    cuts = thresholds if isinstance(thresholds, Thresholds) else Thresholds(
        tuple(float(c) for c in thresholds))
    mine = scale_of(chosen)
    if cuts.scale is not None and mine is not None and cuts.scale != mine:
        raise ConfigError(f"thresholds {list(cuts.cuts)} were calibrated for scale "
                          f"{cuts.scale!r}, but scorer {_name(chosen)} scores on {mine!r}; "
                          f"{_HOW}")
    return chosen, cuts


def _name(scorer: object) -> str:
    return getattr(scorer, "__name__", None) or type(scorer).__name__
