"""Configuration that cannot silently disagree: each policy is set one way, every model given
is routable, unknown arguments are refused, and planning never falls back silently."""

from __future__ import annotations

import warnings
from decimal import Decimal
from typing import Any

import pytest
from _router_fakes import Boom, cheap_and_backup
from langchain_core.messages import BaseMessage

from langchain_costrouter import Catalog, ChatCostRouter, ConfigError
from langchain_costrouter.pricing.prices import Prices, UnpricedModelWarning
from langchain_costrouter.resilience import Breakers, RetryPolicy
from langchain_costrouter.resilience.failures import Action, Verdict
from langchain_costrouter.testing.function_model import FunctionChatModel, echo


def failing(messages: list[BaseMessage], info: dict[str, Any]) -> str:
    raise Boom(503)


def test_classify_is_honoured_when_breakers_are_given() -> None:
    seen: list[BaseException] = []

    def fail_fast(exc: BaseException) -> Verdict:
        seen.append(exc)
        return Verdict(Action.FAIL_FAST, "mine")

    router = ChatCostRouter(catalog=cheap_and_backup(failing), classify=fail_fast,
                            breakers=Breakers())
    with pytest.raises(Boom):
        router.invoke("hi")
    assert len(seen) == 1  # the router's classifier decided: no fallback


def test_two_different_classifiers_are_a_config_error_naming_both() -> None:
    def mine(exc: BaseException) -> Verdict:
        return Verdict(Action.TRIP, "x")

    def theirs(exc: BaseException) -> Verdict:
        return Verdict(Action.TRIP, "y")

    with pytest.raises(ConfigError, match=r"classify=.*breakers=Breakers\(classify"):
        ChatCostRouter(catalog=cheap_and_backup(echo), classify=mine,
                       breakers=Breakers(classify=theirs))


@pytest.mark.parametrize("extra", [{"max_retries": 5}, {"deadline_s": 1},
                                   {"max_retries": 5, "deadline_s": 1}])
def test_retry_with_max_retries_or_deadline_is_a_config_error_naming_both(
    extra: dict[str, Any],
) -> None:
    with pytest.raises(ConfigError) as ei:
        ChatCostRouter(catalog=cheap_and_backup(echo), retry=RetryPolicy(), **extra)
    assert "retry=" in str(ei.value)
    for name in extra:
        assert f"{name}=" in str(ei.value)


def test_max_retries_and_deadline_without_retry_are_used_as_given() -> None:
    router = ChatCostRouter(catalog=cheap_and_backup(echo), max_retries=5, deadline_s=1)
    assert router._engine.retry is not None
    assert (router._engine.retry.max_attempts, router._engine.deadline_s) == (6, 1)


def test_retry_policy_deadline_is_the_calls_deadline() -> None:
    router = ChatCostRouter(catalog=cheap_and_backup(echo), retry=RetryPolicy(deadline_s=7))
    assert router._engine.deadline_s == 7


def _priced(name: str, input: str, output: str) -> FunctionChatModel:
    return FunctionChatModel(model_name=name, fn=echo)


def test_a_model_added_to_a_catalog_in_no_level_is_refused_by_name() -> None:
    cat = cheap_and_backup(echo)
    with pytest.raises(ConfigError, match=r"'mine'.*no level.*levels="):
        ChatCostRouter(catalog=cat, models={"mine": FunctionChatModel(model_name="x", fn=echo)})
    ok = ChatCostRouter(catalog=cat, models={"mine": FunctionChatModel(model_name="x", fn=echo)},
                        levels={"trivial": ["mine", "cheap"]})
    assert ok.invoke("hi", level="trivial").response_metadata["costrouter"]["tier"] in (
        "mine", "cheap")


def test_an_unpriced_model_never_becomes_a_level_by_itself() -> None:
    models = {
        "small": FunctionChatModel(model_name="gpt-4.1-nano", fn=echo),
        "large": FunctionChatModel(model_name="gpt-4.1", fn=echo),
        "ft": FunctionChatModel(model_name="my-finetune", fn=echo),
    }
    router = ChatCostRouter(models=models)
    cat = router.route_catalog
    assert cat["ft"].prices is None and cat["small"].prices is not None
    for lv, names in cat.levels.items():
        assert any(cat[n].prices is not None for n in names), lv
        assert names[-1] == "ft"  # routable, as the last resort of every level
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnpricedModelWarning)
        msg = router.invoke("Prove the Riemann hypothesis step by step, rigorously.",
                            level="expert")
    assert msg.response_metadata["costrouter"]["tier"] == "large"
    assert msg.response_metadata["costrouter"]["cost_usd"] is not None


def test_unknown_constructor_argument_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigError, match=r"'maxcost' \(did you mean 'max_cost'\?\)"):
        ChatCostRouter(catalog=cheap_and_backup(echo), maxcost=0.0001)
    with pytest.raises(ConfigError, match=r"unknown ChatCostRouter argument: 'zzzz'$"):
        ChatCostRouter(catalog=cheap_and_backup(echo), zzzz=1)


@pytest.mark.parametrize("bad", [0, -1, "nan", "inf", Decimal("NaN")])
def test_a_ceiling_of_zero_negative_or_nan_is_a_config_error(bad: Any) -> None:
    with pytest.raises(ConfigError, match="max_cost"):
        ChatCostRouter(catalog=cheap_and_backup(echo), max_cost=bad)
    router = ChatCostRouter(catalog=cheap_and_backup(echo))
    with pytest.raises(ConfigError, match="max_cost"):
        router.invoke("hi", max_cost=bad)


def test_a_bad_ceiling_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ceiling"):
        ChatCostRouter(catalog=cheap_and_backup(echo), ceiling="medium")
    with pytest.raises(ConfigError, match="ceiling must be 'hard' or 'soft'"):
        ChatCostRouter(catalog=cheap_and_backup(echo)).invoke("hi", ceiling="medium")


def test_a_bug_in_planning_is_not_swallowed_and_planning_runs_once() -> None:
    calls: list[int] = []

    def broken_scorer(messages: Any) -> float:
        calls.append(1)
        raise ZeroDivisionError("scorer bug")

    router = ChatCostRouter(catalog=cheap_and_backup(echo), scorer=broken_scorer,
                            thresholds=(0.25, 0.45, 0.65))
    with pytest.raises(ZeroDivisionError):
        router.invoke("hi")
    assert calls == [1]  # not swallowed before the run and planned again inside it


def test_a_pin_only_model_is_planned_at_the_scored_level_not_silently_expert() -> None:
    models = [
        {"name": "cheap", "provider": "a", "model": "cheap-1",
         "chat_model": FunctionChatModel(model_name="cheap-1", fn=echo),
         "prices": Prices(input=Decimal("0.1"), output=Decimal("0.4"))},
        {"name": "special", "provider": "a", "model": "special-1",
         "chat_model": FunctionChatModel(model_name="special-1", fn=echo),
         "prices": Prices(input=Decimal("1"), output=Decimal("4"))},
    ]
    levels = {lv: ["cheap"] for lv in ("trivial", "standard", "complex", "expert")}
    router = ChatCostRouter(catalog=Catalog.build({"models": models, "levels": levels}),
                            scorer=lambda messages: 0.1, thresholds=(0.25, 0.45, 0.65))
    meta = router.invoke("hi", model="special").response_metadata["costrouter"]
    assert meta["tier"] == "special" and meta["reason"] == "pinned"
    assert meta["level"] == meta["scored_level"] == "trivial"


def test_the_retry_modules_example_runs() -> None:
    import re

    from langchain_costrouter.resilience import retry

    doc = retry.__doc__ or ""
    example = re.search(r"^\s+(RetryPolicy\(.*\))$", doc, re.M)
    assert example is not None
    policy = eval(example.group(1), vars(retry))  # our own docstring
    assert isinstance(policy, RetryPolicy)
