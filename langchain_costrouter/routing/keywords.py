"""Keyword groups shared by the heuristic scorer and the default scorer's hand-made features.

A group matches whole words, word prefixes (terms ending in ``*``) and phrases (terms with a
space). The heuristic adds each group's weight once; the default scorer uses each group as one
0/1 feature and learns its weight.
"""

from __future__ import annotations

import re

_PUNCT = re.compile(r"[^\w\s`*-]+")


class Signal:
    """Words (matched as whole words or, ending in ``*``, as prefixes) and phrases."""

    def __init__(self, name: str, weight: float, *terms: str) -> None:
        self.name = name
        self.weight = weight
        self.words = frozenset(t for t in terms if " " not in t and not t.endswith("*"))
        self.stems = frozenset(t[:-1] for t in terms if t.endswith("*"))
        self.phrases = tuple(t for t in terms if " " in t)
        # a word starting with a stem: one regex search in C rather than a Python loop over
        # every word and stem length (the same matches: words are split on whitespace)
        alts = "|".join(sorted((re.escape(s) for s in self.stems), key=len, reverse=True))
        self._stems = re.compile(rf"(?:^|\s)(?:{alts})") if self.stems else None

    def hit(self, words: set[str], text: str, spaced: str | None = None,
            stems: set[str] | None = None) -> bool:
        """``words``: :func:`words_of` the lower-cased ``text``; ``spaced``: that text with
        punctuation replaced by spaces (computed when not given); ``stems``: the
        :func:`stem_hits` of ``words``, when already known."""
        if not self.words.isdisjoint(words):
            return True
        if stems is not None:
            if self.name in stems:
                return True
        elif self._stems is not None:
            if spaced is None:
                spaced = _PUNCT.sub(" ", text)
            if self._stems.search(spaced):
                return True
        # substring tests in C: several times faster than one regex alternation, same result
        return any(p in text for p in self.phrases)


def words_of(lower: str) -> set[str]:
    """The distinct words of a lower-cased text, punctuation dropped."""
    return set(_PUNCT.sub(" ", lower).split())


def stem_index(signals: tuple[Signal, ...]) -> dict[str, tuple[tuple[str, str], ...]]:
    """First two letters of every stem -> ``(stem, signal name)``: :func:`stem_hits` then
    checks each word against a handful of stems instead of every stem of every signal."""
    index: dict[str, list[tuple[str, str]]] = {}
    for sig in signals:
        for stem in sig.stems:
            index.setdefault(stem[:2], []).append((stem, sig.name))
    return {k: tuple(v) for k, v in index.items()}


def stem_hits(words: set[str], index: dict[str, tuple[tuple[str, str], ...]]) -> set[str]:
    """Names of the signals one of whose stems starts one of ``words``."""
    found = set()
    for w in words:
        for stem, name in index.get(w[:2], ()):
            if w.startswith(stem):
                found.add(name)
    return found


def spaced_words(lower: str) -> tuple[str, set[str]]:
    """``(text with punctuation as spaces, its distinct words)`` for :meth:`Signal.hit`."""
    spaced = _PUNCT.sub(" ", lower)
    return spaced, set(spaced.split())


# fmt: off
SIGNALS: tuple[Signal, ...] = (
    # not "probability": it opens one-line questions ("the probability of heads on a fair
    # coin?") as often as hard problems, and blocked the short prior for them
    Signal(  # proofs, science, medicine, law, multi-step reasoning
        "expert", 0.40, "prove", "proof", "theorem", "lemma", "rigorous*", "derive",
        "derivation", "formally", "invariant", "asymptotic*", "np-hard", "eigen*",
        "differential equation", "integral", "diagnos*", "contraindicat*", "liabilit*",
        "jurisdiction*", "statute*", "case law", "pathophysiolog*", "stoichiometr*",
        "thermodynamic*", "quantum", "step by step", "step-by-step", "multi-step",
        "show your reasoning", "reason about", "reason through", "expected value", "puzzle",
    ),
    Signal(  # design and systems
        "design", 0.25, "trade-off", "tradeoff*", "trade-offs", "architect*", "design a",
        "optimi*", "concurren*", "distributed", "race condition", "deadlock*", "scalab*",
        "threat model", "root cause", "plan a", "strategy", "strategies",
    ),
    Signal(  # code
        "code", 0.30, "implement*", "write a function", "write code", "function", "class",
        "refactor*", "debug*", "bug", "bugs", "traceback", "stack trace", "exception", "sql",
        "regex", "python", "javascript", "typescript", "rust", "golang", "java", "algorithm*",
        "unit test", "unit tests", "pytest", "api", "endpoint", "```",
    ),
    Signal(  # explanation
        "explain", 0.10, "explain*", "why", "compare", "comparison", "analyze", "analyse",
        "evaluate", "summarize", "summarise", "how does", "how do", "differences",
        "pros and cons",
    ),
)
MATH = Signal(  # a feature only (not in the heuristic): the vocabulary of math problems
    "math", 0.0, "solve", "equation*", "integer*", "prime*", "matrix", "matrices",
    "determinant", "polynomial*", "modulo", "divisible", "remainder", "sqrt", "frac",
    "triangle*", "circle", "radius", "sum of", "how many ways", "real numbers",
    "digits", "lcm", "gcd",
)
PROOF = Signal(  # an explicit demand for a proof or a derivation (a hand-set prior)
    "proof", 0.0, "prove", "proof", "proofs", "rigorous*", "derive", "derivation", "formally",
    "show that", "demonstrate that",
)
CLOSED_FORM = Signal(  # a short, closed-form answer: a label, a yes/no, an extracted field
    "closed_form", 0.0, "classify", "sentiment", "label", "categor*", "yes or no",
    "true or false", "one word", "translate", "extract", "spell", "capital of",
    "respond with only", "answer with only", "positive or negative",
    "which of the following",
)
DOMAIN = Signal(  # a specialist's vocabulary: medicine, law, finance (blocks the short prior)
    "domain", 0.0, "patient*", "dose", "doses", "dosage*", "drug*", "medicat*", "symptom*",
    "prescri*", "interact*", "clinical*", "disease*", "syndrome*", "therap*", "surger*",
    "legal*", "lawsuit*", "contract*", "liable", "court*", "tax", "taxes", "taxation",
    "invest*", "mortgage*", "loan*", "interest rate*", "portfolio*", "ira", "401k",
)
OPEN_ENDED = Signal(  # writing, advice, comparison: open-ended work (blocks the short prior)
    "open_ended", 0.0, "write", "draft", "compose", "create", "generate", "describe", "essay",
    "story", "poem", "how should", "how can", "how to", "how would", "what if", "recommend*",
    "advice", "advise", "tips", "suggest*", "difference", "best way", "plan", "list",
    # explaining a concept or a process rather than stating one fact
    "what are", "what does", "what should", "what causes", "causes",
    "how often", "how does", "used for", "purpose", "benefits", "ways", "worth", "work",
    "works", "technique", "effect", "rules", "in two or three sentences", "example",
)
# fmt: on
