"""The heuristic scorer and the thresholds that turn scores into levels."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_costrouter import ConfigError, HeuristicScorer, Level, Thresholds


def test_harder_prompts_score_higher() -> None:
    s = HeuristicScorer()
    easy = s("Classify the sentiment of this review as positive or negative: great phone!")
    qa = s("Explain how a hash map handles collisions.")
    code = s("Write a Python function that parses ISO 8601 dates, with unit tests.")
    proof = s("Prove rigorously that there are infinitely many primes of the form 4k+3.")
    assert easy < qa < code < proof
    assert easy >= 0.0 and proof <= 1.0


def test_scores_the_last_human_message_and_accepts_strings() -> None:
    s = HeuristicScorer()
    msgs = [SystemMessage("Prove theorems rigorously."), HumanMessage("hi"), AIMessage("hello")]
    assert s(msgs) == s("hi")


def test_long_documents_are_scanned_at_both_ends_only() -> None:
    s = HeuristicScorer()
    filler = "The committee met on Tuesday and reviewed the minutes. " * 2000
    tail = s(filler + "Prove the invariant holds.")
    middle = s(filler[: len(filler) // 2] + " Prove the invariant. " + filler[len(filler) // 2:])
    assert tail > middle  # the keyword in the middle of 100 KB is not scanned


@pytest.mark.parametrize(("score", "level"), [(0.0, Level.TRIVIAL), (0.3, Level.STANDARD),
                                              (0.5, Level.COMPLEX), (0.9, Level.EXPERT)])
def test_thresholds(score: float, level: Level) -> None:
    assert Thresholds().level(score) is level


def test_two_levels_with_one_cut() -> None:
    t = Thresholds((0.5,))
    assert (t.level(0.1), t.level(0.7)) == (Level.TRIVIAL, Level.EXPERT)


@pytest.mark.parametrize("cuts", [(), (0.5, 0.4), (0.1, 0.2, 0.3, 0.4)])
def test_bad_thresholds(cuts: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="cut points"):
        Thresholds(cuts)
