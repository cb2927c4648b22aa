"""The default catalog routes as it reads: four distinct, increasingly capable first choices,
fallbacks of the same or a higher class and never cheaper, and every model placed or pin-only."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from langchain_openai.data._profiles import _PROFILES as OPENAI_PROFILES

from langchain_costrouter import Catalog, ChatCostRouter, Level
from langchain_costrouter.models.defaults import DEFAULT_LEVELS, PIN_ONLY
from langchain_costrouter.pricing.prices import TokenUsage, cost_of

CAT = Catalog.default()
SHAPES = [(50, 10), (2048, 512), (100_000, 100), (500, 16_000)]  # input, output tokens


def test_it_reads_as_a_ladder() -> None:
    assert CAT.ladder_problems() == []
    firsts = [CAT.first_choice(lv) for lv in Level]
    assert firsts == ["gpt-5.4-nano", "gpt-5.4-mini", "claude-sonnet-5.5", "claude-opus-5.5"]
    assert len(set(firsts)) == 4
    # each first choice is of its own level's class, so the classes rise with the levels
    assert [CAT.class_of(n) for n in firsts] == list(Level)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}in-{s[1]}out")
def test_first_choice_holds_for_any_request_shape(shape: tuple[int, int]) -> None:
    usage = TokenUsage(input_tokens=shape[0], output_tokens=shape[1])
    costs = []
    for lv in Level:
        first = CAT.first_choice(lv, *shape)
        assert first == CAT.first_choice(lv), lv  # the same model whatever the shape
        first_cost = cost_of(CAT[first].prices, usage)
        assert first_cost is not None
        for fallback in CAT.candidates(lv):
            assert cost_of(CAT[fallback].prices, usage) >= first_cost  # type: ignore[operator]
        costs.append(first_cost)
    assert costs == sorted(costs) and len(set(costs)) == 4  # each level dearer than the last


def test_fallbacks_are_the_same_class_from_another_provider() -> None:
    for lv in Level:
        first, *rest = sorted(CAT.candidates(lv), key=lambda n: n != CAT.first_choice(lv))
        assert rest, f"{lv.value} has no fallback"
        for n in rest:
            assert CAT.class_of(n) == lv
            assert CAT[n].provider != CAT[first].provider
            p, q = CAT[n].prices, CAT[first].prices
            assert p is not None and q is not None
            assert p.input >= q.input and p.output >= q.output


def test_every_model_sits_in_a_level_or_is_documented_pin_only() -> None:
    listed = {n for names in DEFAULT_LEVELS.values() for n in names}
    assert set(CAT.models) == listed | set(PIN_ONLY)
    assert CAT.pin_only() == tuple(PIN_ONLY) == ("gpt-5.5-pro",)
    # pin-only really means pinned: no scored call reaches it, a pinned one does
    router = ChatCostRouter(catalog=CAT.served_by("http://127.0.0.1:9/v1"))
    hard = [HumanMessage("Prove that there are infinitely many primes, step by step.")]
    for lv in Level:
        assert "gpt-5.5-pro" not in [c.name for c in router.plan(hard, level=lv.value).candidates]
    assert router.plan(hard, model="gpt-5.5-pro").tier == "gpt-5.5-pro"


def test_openai_capabilities_match_langchains_model_profiles() -> None:
    """The declared capabilities are the vendors' (models.dev data in langchain-openai)."""
    for spec in CAT.models.values():
        if spec.provider != "openai":
            continue
        prof = OPENAI_PROFILES[spec.model]
        assert spec.capabilities.vision is prof["image_inputs"], spec.name
        assert spec.capabilities.tools is prof["tool_calling"], spec.name
        assert spec.capabilities.structured_output is prof["structured_output"], spec.name
        assert spec.max_output_tokens == prof["max_output_tokens"], spec.name


def test_ladder_problems_name_what_breaks_the_ladder() -> None:
    same_first = CAT.with_overrides({"levels": {"standard": ["gpt-5.4-nano", "gpt-5.4-mini"]}})
    assert "trivial and standard both start with 'gpt-5.4-nano'" in same_first.ladder_problems()
    weaker = CAT.with_overrides({"levels": {"expert": ["claude-opus-5.5", "gpt-5.4-nano"]}})
    problems = weaker.ladder_problems()
    assert any("expert" in p and "'gpt-5.4-nano'" in p for p in problems), problems
    # an undeclared model takes the class of the highest level that lists it
    mine = CAT.with_overrides({
        "models": {"mine": {"provider": "acme", "model": "m", "base_url": "http://x",
                            "prices": {"input": 2.5, "output": 9}}},  # cheaper output
        "levels": {"complex": ["claude-sonnet-5.5", "gpt-5.4", "mine"]},
    })
    assert mine.class_of("mine") == Level.COMPLEX
    assert any("'mine', cheaper than 'claude-sonnet-5.5'" in p for p in mine.ladder_problems())
