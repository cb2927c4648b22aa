"""Short, simple requests (greetings, thanks, chit-chat, one-fact lookups, simple arithmetic,
a yes/no about a short text) go to the cheapest level with the shipped default scorer and its
own cuts, while short hard ones carrying a reasoning, math, code or domain marker do not get
the short prior. Levels are asserted through ``ChatCostRouter(...).plan``, never model names."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from test_routing_hard_requests import HARD, catalog

from langchain_costrouter import ChatCostRouter, Level, load_scorer
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.workload_fit import labelled
from langchain_costrouter.routing.features import DENSE_NAMES, FeatureConfig, dense
from langchain_costrouter.routing.keywords import PROOF, spaced_words
from langchain_costrouter.routing.request import (
    _BLOCKERS,
    _NOTATION,
    _PROOF_HINTS,
    PLAIN_FULL_CHARS,
    PLAIN_MAX_CHARS,
    _plainness,
    plainness,
)
from langchain_costrouter.routing.scorers import default_scorer

EASY = [
    "hi", "Hello!", "thanks", "Thank you so much!", "Thanks, that helped!", "ok",
    "Good morning!", "What is the capital of France?", "Who wrote Hamlet?",
    "What year did World War II end?", "What is 2+2?", "What is 7 times 8?",
    "Is this sentence positive? 'I love it'",
    "Does this text mention a date? 'We met on Friday.'",
]


@pytest.fixture(scope="module")
def router() -> ChatCostRouter:
    return ChatCostRouter(catalog=catalog())


@pytest.mark.parametrize("prompt", EASY)
def test_short_simple_requests_go_to_the_trivial_level(router: ChatCostRouter,
                                                        prompt: str) -> None:
    assert router.plan(prompt).level is Level.TRIVIAL
    assert router.plan([HumanMessage(prompt)]).level is Level.TRIVIAL


def test_the_short_prior_lowers_the_score_of_plain_texts_only() -> None:
    s = default_scorer()
    for p in EASY:
        assert plainness(p) > 0, p
        assert s.prior_logit(p) < s.text_logit(p), p
    for p in HARD:  # reasoning, math notation, proof, domain terms or length: no prior
        assert plainness(p) == 0.0, p
        assert s.prior_logit(p) == s.text_logit(p), p


@pytest.mark.parametrize("prompt", [
    "Is 91 prime?", "Solve x + 3 = 5.", "What is 4x4?", "Fix this: `print(x`",
    "Why is the sky blue?", "Write a poem about rain.", "Warfarin and clarithromycin?",
    "What dose of ibuprofen is safe?", "Prove it.",
])
def test_markers_of_real_work_block_the_short_prior(prompt: str) -> None:
    assert plainness(prompt) == 0.0


def test_the_prior_fades_with_length() -> None:
    base = "Tell me the name of the river that flows through the city of Paris"
    assert plainness(base[:50]) == 1.0
    assert 0.0 < plainness(base) < 1.0
    assert plainness(base + " today, please, and keep it brief, thank you very much indeed") == 0


def test_a_hard_conversation_keeps_a_short_follow_up_high(router: ChatCostRouter) -> None:
    convo = [HumanMessage(HARD[3]), AIMessage("Suppose there are finitely many ..."),
             HumanMessage("thanks, and the next step?")]
    assert router.plan(convo).level.rank > router.plan([convo[-1]]).level.rank


def test_a_long_system_prompt_is_not_a_short_request(router: ChatCostRouter) -> None:
    system = SystemMessage("You are a research mathematician. For every claim the user sends, "
                           "give a complete and rigorous proof, stating each lemma you use.")
    assert router.plan([system, HumanMessage("hi")]).level is not Level.TRIVIAL


def _plainness_by_groups(text: str) -> float:
    """The short prior's definition, one keyword group at a time."""
    t = text.strip()
    n = len(t)
    if n > PLAIN_MAX_CHARS or t.count("\n") > 2:
        return 0.0
    lower = t.lower()
    if _NOTATION.search(lower) or sum(c.isdigit() for c in t) > 6 or t.count("?") > 1:
        return 0.0
    spaced, words = spaced_words(lower)
    if any(s.hit(words, lower, spaced) for s in _BLOCKERS):
        return 0.0
    return 1.0 if n <= PLAIN_FULL_CHARS else (PLAIN_MAX_CHARS - n) / (
        PLAIN_MAX_CHARS - PLAIN_FULL_CHARS)


def test_the_merged_blockers_match_the_groups_one_by_one() -> None:
    texts = [p for p, _ in labelled()] + [*EASY, *HARD, "Explain recursion", "an optimisation",
                                          "What's the dose?", "Is it a distributed lock?"]
    texts += [t[:k] for t in texts for k in (20, 60, 100)]
    for t in texts:
        assert plainness(t) == _plainness_by_groups(t), t
    _plainness.cache_clear()
    assert [plainness(t) for t in texts] == [_plainness_by_groups(t) for t in texts]


def test_every_proof_term_contains_a_fast_path_hint() -> None:
    terms = [*PROOF.words, *PROOF.stems, *PROOF.phrases]
    assert all(any(h in t for h in _PROOF_HINTS) for t in terms), terms


# the hand-made features count markers without regex alternations; these are the alternations
# they replaced, so the counts (and the shipped weights trained on them) stay the same
_MATH = re.compile(r"[=^+\-*/<>]|\\[a-z]+|\$")
_CODE = re.compile(r"[{};]|\bdef |\breturn\b|\bimport |=>|\(\)|::")


@pytest.mark.parametrize("text", [
    "", "x^2 - y^2 = 2024", r"\frac{a}{b} + \alpha\beta $x$ \\ \(y\)", "a <= b => c",
    "def f():\n    return {1: 2};\nimport os\nx::y ::: ()()", "undef  returned reimport x",
    "Compute the determinant of [[2, -1], [1, 4]] * 3 / 7",
])
def test_marker_counts_match_the_regex_definitions(text: str) -> None:
    feats = dict(zip(DENSE_NAMES, dense(text, FeatureConfig()), strict=True))
    assert feats["log_math"] == math.log1p(len(_MATH.findall(text)))
    assert feats["log_code"] == math.log1p(len(_CODE.findall(text)))


def test_router_takes_an_artifact_path(tmp_path: Path) -> None:
    path = default_scorer().save(tmp_path / "mine.gz")
    for given in (path, Path(path)):
        r = ChatCostRouter(catalog=catalog(), scorer=given)
        assert r.plan("hi").level is Level.TRIVIAL
        assert r.plan(HARD[2]).level is not Level.TRIVIAL
        assert r.plan(HARD[2]).score == ChatCostRouter(catalog=catalog()).plan(HARD[2]).score
    assert load_scorer(os.fspath(path)).cuts == default_scorer().cuts


def test_a_missing_artifact_path_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gz"
    with pytest.raises(ConfigError, match=r"nope\.gz: no such file"):
        ChatCostRouter(catalog=catalog(), scorer=missing).plan("hi")
