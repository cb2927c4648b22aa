"""The default router sends hard requests to strong levels and cheap ones to cheap levels,
reading the whole request (system prompt, conversation, tools, schema), with the shipped
default scorer and its own cuts. Levels are asserted, never model names."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_costrouter import Catalog, ChatCostRouter, ConfigError, Level
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.quality.baselines import LengthScorer
from langchain_costrouter.routing.scorers import (
    HeuristicScorer,
    Thresholds,
    default_scorer,
    resolve_scorer,
)
from langchain_costrouter.testing.function_model import FunctionChatModel, echo

LEVEL_NAMES = ("trivial", "standard", "complex", "expert")
PRICES = {"t": "0.1", "s": "0.5", "c": "2", "e": "5"}


def catalog() -> Catalog:
    models = [{"name": n, "provider": "fake", "model": f"{n}-model",
               "chat_model": FunctionChatModel(model_name=f"{n}-model", fn=echo),
               "prices": Prices(input=Decimal(p), output=Decimal(p) * 4)}
              for n, p in PRICES.items()]
    levels = {lv: [n] for lv, n in zip(LEVEL_NAMES, PRICES, strict=True)}
    return Catalog.build({"models": models, "levels": levels})


@pytest.fixture(scope="module")
def router() -> ChatCostRouter:
    return ChatCostRouter(catalog=catalog())


def level(router: ChatCostRouter, messages: Any, **kw: Any) -> Level:
    return router.plan(messages, **kw).level


HARD = [
    "You have 12 coins; one is counterfeit and is either heavier or lighter than the others. "
    "Using a balance scale only three times, find the counterfeit coin and say whether it is "
    "heavier or lighter.",
    "Compute the determinant of the 4x4 matrix [[2, -1, 0, 3], [1, 4, -2, 0], [0, 5, 1, -1], "
    "[3, 0, 2, 1]].",
    "Find all integer solutions of x^2 - y^2 = 2024.",
    "Show that there are infinitely many primes of the form 4k+3.",
    "A patient on warfarin has just been prescribed clarithromycin. What interaction should "
    "we expect, and how should the anticoagulation be managed?",
]


@pytest.mark.parametrize("prompt", HARD, ids=["12-coins", "determinant", "x2-y2", "primes",
                                              "warfarin"])
def test_hard_prompts_are_not_sent_to_the_trivial_level(router: ChatCostRouter,
                                                       prompt: str) -> None:
    assert level(router, prompt) is not Level.TRIVIAL


def test_fair_coin_is_not_complex(router: ChatCostRouter) -> None:
    lv = level(router, "What is the probability of heads on a fair coin?")
    assert lv.rank < Level.COMPLEX.rank


def test_a_rigorous_proof_system_prompt_raises_the_claim(router: ChatCostRouter) -> None:
    claim = HumanMessage("There are infinitely many primes of the form 4k+3.")
    system = SystemMessage("You are a mathematician. Give a complete, rigorous proof of the "
                           "user's claim, stating every lemma you use.")
    bare = router.plan([claim])
    proof = router.plan([system, claim])
    assert proof.score > bare.score  # type: ignore[operator]  # the demand for rigor counts
    assert proof.level.rank >= Level.COMPLEX.rank
    persona = router.plan([SystemMessage("You are a friendly assistant."),
                           HumanMessage("n^2 + n is always even.")])
    demanded = router.plan([system, HumanMessage("n^2 + n is always even.")])
    assert demanded.score >= persona.score  # type: ignore[operator]


TICKET = ("Subject: intermittent 502s after the upgrade\n\n" + (
    "Since we moved the API gateway to v2.3, about one request in fifty fails with a 502 "
    "from the upstream. The logs show connection resets from the load balancer; our retry "
    "middleware catches most of them, but the batch export job keeps failing at random "
    "points and has to be restarted by hand. We tried raising the keep-alive timeout and "
    "pinning the TLS version without success. ") * 6)


def test_ticket_triage_over_a_long_ticket_stays_cheap(router: ChatCostRouter) -> None:
    system = SystemMessage("Classify the ticket as billing, tech or other. Answer with only "
                           "the label.")
    plan = router.plan([system, HumanMessage(TICKET)])
    assert plan.level.rank <= Level.STANDARD.rank
    # the same ticket asked as an open question is not capped
    open_question = router.plan([HumanMessage(TICKET + "\nWhat is the root cause, and how do "
                                              "we fix it?")])
    assert open_question.score > plan.score  # type: ignore[operator]


def test_a_follow_up_in_a_proof_conversation_stays_hard(router: ChatCostRouter) -> None:
    convo = [
        HumanMessage("Show that there are infinitely many primes of the form 4k+3."),
        AIMessage("Step 1: suppose there are finitely many, p1..pn. Step 2: let N = 4 p1...pn "
                  "- 1. Step 3: N is 3 mod 4, so it has a prime factor of the form 4k+3, "
                  "which is none of the pi."),
        HumanMessage("I don't get step 3, redo it"),
    ]
    alone = router.plan([convo[-1]])
    assert level(router, convo).rank >= Level.COMPLEX.rank
    assert router.plan(convo).score > alone.score  # type: ignore[operator]
    # the same follow-up after an easy exchange stays where it is
    easy = [HumanMessage("Give me three names for a cat."), AIMessage("Tom, Luna, Milo."),
            HumanMessage("I don't get step 3, redo it")]
    assert router.plan(easy).score == alone.score


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


def test_agent_tool_call_step_and_the_step_after_the_tool_result_differ(
        router: ChatCostRouter) -> None:
    ask = HumanMessage("What's the weather in Lisbon right now?")
    call = AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Lisbon"},
                                      "id": "c1"}])
    result = ToolMessage('{"temp_c": 21, "sky": "clear"}', tool_call_id="c1")
    choose = router.plan([ask], tools=[WEATHER_TOOL])
    answer = router.plan([ask, call, result], tools=[WEATHER_TOOL])
    assert choose.score > answer.score  # type: ignore[operator]
    failed = router.plan([ask, call, ToolMessage("Error: upstream timeout", tool_call_id="c1")],
                         tools=[WEATHER_TOOL])
    assert failed.score > answer.score  # type: ignore[operator]
    assert answer.level.rank <= Level.STANDARD.rank


def test_a_structured_output_schema_counts(router: ChatCostRouter) -> None:
    prompt = [HumanMessage("Summarise this meeting: we agreed to ship on Friday.")]
    schema = {"type": "json_schema", "json_schema": {"name": "minutes", "schema": {
        "type": "object", "properties": {k: {"type": "string"} for k in
                                         ("decision", "owner", "date", "risks", "next")}}}}
    plain = default_scorer().score_request(prompt)
    structured = default_scorer().score_request(prompt, response_format=schema)
    assert structured > plain


def test_length_scorer_routes_on_its_own_scale() -> None:
    r = ChatCostRouter(catalog=catalog(), scorer=LengthScorer())
    assert level(r, "hi") is Level.TRIVIAL
    assert level(r, TICKET) is Level.EXPERT


def test_default_router_does_not_send_hi_to_expert(router: ChatCostRouter) -> None:
    assert level(router, "hi") is not Level.EXPERT


def chars(messages: Any) -> float:
    return float(len(messages if isinstance(messages, str) else messages[-1].text))


def test_a_callable_without_cuts_must_be_calibrated() -> None:
    with pytest.raises(ConfigError, match=r"costrouter calibrate.*Thresholds\.calibrate"):
        ChatCostRouter(catalog=catalog(), scorer=chars)
    cuts = Thresholds.calibrate(chars, ["a", "bb b", "ccc cc c", "dddd dddd dddd"],
                                mix=(0.5, 0.5))
    r = ChatCostRouter(catalog=catalog(), scorer=chars, thresholds=cuts)
    assert level(r, "a") is Level.TRIVIAL and level(r, "a" * 40) is Level.EXPERT


def test_cuts_of_another_scale_are_refused() -> None:
    heuristic_cuts = HeuristicScorer().thresholds
    with pytest.raises(ConfigError, match="calibrated for scale 'heuristic'"):
        resolve_scorer(LengthScorer(), heuristic_cuts)
    scorer, cuts = resolve_scorer(None, None)
    assert cuts == default_scorer().thresholds and cuts.scale == scorer.scale  # type: ignore[attr-defined]


def test_user_cuts_override_the_scorer_own() -> None:
    r = ChatCostRouter(catalog=catalog(), thresholds=(0.0, 0.0001, 0.0002))
    assert level(r, "hi") is Level.EXPERT  # every score is above the user's cuts
