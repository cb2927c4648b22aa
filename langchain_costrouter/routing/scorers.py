"""How hard is a request? A continuous score, and thresholds that turn it into a level.

A scorer is any callable ``(messages) -> float`` where higher means it needs a stronger model.
:class:`HeuristicScorer` is the default: keywords plus length, a few microseconds per prompt.
It is a heuristic and is wrong on hard prompts that look simple; swap in a better scorer where
quality matters (``ChatCostRouter(scorer=my_callable)``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from langchain_core.messages import BaseMessage, HumanMessage

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.routing.levels import LEVELS, Level

Scorer = Callable[[Sequence[BaseMessage]], float]
"""``score(messages) -> float``; higher = harder. Plain functions qualify."""


class _Signal:
    """Words (matched as whole words or, ending in ``*``, as prefixes) and phrases."""

    def __init__(self, weight: float, *terms: str) -> None:
        self.weight = weight
        self.words = frozenset(t for t in terms if " " not in t and not t.endswith("*"))
        self.stems = frozenset(t[:-1] for t in terms if t.endswith("*"))
        self.stem_lengths = sorted({len(s) for s in self.stems})
        self.phrases = tuple(t for t in terms if " " in t)

    def hit(self, words: set[str], text: str) -> bool:
        if not self.words.isdisjoint(words):
            return True
        if self.stems and any(w[:k] in self.stems for w in words for k in self.stem_lengths):
            return True
        return any(p in text for p in self.phrases)


# Each group adds its weight once, however many of its terms appear.
# fmt: off
_SIGNALS: tuple[_Signal, ...] = (
    _Signal(  # expert: proofs, science, medicine, law, multi-step reasoning
        0.40, "prove", "proof", "theorem", "lemma", "rigorous*", "derive", "derivation",
        "formally", "invariant", "asymptotic*", "np-hard", "eigen*", "differential equation",
        "integral", "diagnos*", "contraindicat*", "liabilit*", "jurisdiction*", "statute*",
        "case law", "pathophysiolog*", "stoichiometr*", "thermodynamic*", "quantum",
        "step by step", "step-by-step", "multi-step", "show your reasoning", "reason about",
        "reason through", "expected value", "probability", "puzzle",
    ),
    _Signal(  # design and systems
        0.25, "trade-off", "tradeoff*", "trade-offs", "architect*", "design a", "optimi*",
        "concurren*", "distributed", "race condition", "deadlock*", "scalab*", "threat model",
        "root cause", "plan a", "strategy", "strategies",
    ),
    _Signal(  # code
        0.30, "implement*", "write a function", "write code", "function", "class", "refactor*",
        "debug*", "bug", "bugs", "traceback", "stack trace", "exception", "sql", "regex",
        "python", "javascript", "typescript", "rust", "golang", "java", "algorithm*",
        "unit test", "unit tests", "pytest", "api", "endpoint", "```",
    ),
    _Signal(  # explanation
        0.10, "explain*", "why", "compare", "comparison", "analyze", "analyse", "evaluate",
        "summarize", "summarise", "how does", "how do", "differences", "pros and cons",
    ),
)
_TRIVIAL = _Signal(
    0.0, "classify", "sentiment", "label", "categor*", "yes or no", "true or false",
    "one word", "translate", "extract", "spell", "capital of", "respond with only",
    "answer with only", "positive or negative", "which of the following",
)
# fmt: on
_PUNCT = re.compile(r"[^\w\s`*-]+")


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
        words = set(_PUNCT.sub(" ", text).split())
        s = 0.05
        for signal in _SIGNALS:
            if signal.hit(words, text):
                s += signal.weight
        if "\n3." in text or "\n3)" in text:  # a numbered list of three or more steps
            s += 0.10
        s += self.length_weight * min(1.0, math.log1p(n) / math.log1p(self.long_chars))
        if _TRIVIAL.hit(words, text) and s < 0.6:
            s *= 0.45
        return max(0.0, min(1.0, s))

    def score_batch(self, prompts: Sequence[Sequence[BaseMessage] | str]) -> list[float]:
        return [self.score(p) for p in prompts]


@lru_cache(maxsize=4096)
def _cached_score(scorer: HeuristicScorer, text: str) -> float:
    return scorer._score_text(text)


@dataclass(frozen=True)
class Thresholds:
    """Cut points on the score: ``score < cuts[0]`` is the first level, and so on.

    With 3 cuts there are 4 levels (TRIVIAL..EXPERT); fewer cuts use the lowest levels
    plus EXPERT at the top, so 1 cut means TRIVIAL/EXPERT.
    """

    cuts: tuple[float, ...] = (0.25, 0.45, 0.65)

    def __post_init__(self) -> None:
        if not 1 <= len(self.cuts) <= 3:
            raise ConfigError(f"thresholds need 1 to 3 cut points, got {list(self.cuts)}")
        if any(b <= a for a, b in zip(self.cuts, self.cuts[1:], strict=False)):
            raise ConfigError(f"threshold cut points must increase, got {list(self.cuts)}")

    def level(self, score: float) -> Level:
        levels = [*LEVELS[: len(self.cuts)], Level.EXPERT]
        for cut, level in zip(self.cuts, levels, strict=False):
            if score < cut:
                return level
        return levels[-1]


def score_request(
    scorer: Scorer,
    messages: Sequence[BaseMessage],
    *,
    tools: Sequence[dict[str, object]] | None = None,
    response_format: object | None = None,
) -> float:
    """The score of one request: what the router calls on every unpinned call.

    ``tools`` are the bound tools (OpenAI format) and ``response_format`` the structured-output
    request, if any. A score that is not a finite number is a :class:`ConfigError` naming the
    scorer, never a silent route to one level.
    """
    value = scorer(messages)
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"scorer {_name(scorer)} returned {value!r}, not a number"
        ) from None
    if not math.isfinite(score):
        raise ConfigError(f"scorer {_name(scorer)} returned {score}, not a finite number")
    return score


def resolve_scorer(
    scorer: Scorer | None, thresholds: Thresholds | Sequence[float] | None
) -> tuple[Scorer, Thresholds]:
    """The router's scorer and the cuts it uses: the user's cuts when given, else the
    scorer's own (``scorer.thresholds``), else the default cuts."""
    chosen = scorer if scorer is not None else HeuristicScorer()
    if thresholds is None:
        own = getattr(chosen, "thresholds", None)
        cuts = own if isinstance(own, Thresholds) else Thresholds()
    elif isinstance(thresholds, Thresholds):
        cuts = thresholds
    else:
        cuts = Thresholds(tuple(float(c) for c in thresholds))
    return chosen, cuts


def _name(scorer: object) -> str:
    return getattr(scorer, "__name__", None) or type(scorer).__name__
