"""Cascade: the cheap model answers first; a rejected answer escalates and is still paid for."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, ValidationError

from langchain_costrouter import Catalog, ChatCostRouter, ConfigError
from langchain_costrouter.cascade import (
    all_of,
    empty_answer,
    low_confidence,
    refusal,
    structured_check,
)
from langchain_costrouter.costs import track_costs
from langchain_costrouter.exceptions import CascadeCheckError
from langchain_costrouter.pricing.prices import Prices, TokenUsage, cost_of
from langchain_costrouter.pricing.tokens import count_messages, count_text
from langchain_costrouter.resilience import BreakerConfig, Breakers
from langchain_costrouter.testing.function_model import FunctionChatModel

CHEAP = Prices(input=Decimal("0.10"), output=Decimal("0.40"))
MID = Prices(input=Decimal("1"), output=Decimal("4"))
DEAR = Prices(input=Decimal("3"), output=Decimal("15"))
LEVELS = ("trivial", "standard", "complex", "expert")
PROMPT = [HumanMessage("Say hello to the team")]


def says(reply: str | AIMessage) -> Any:
    def fn(messages: list[BaseMessage], info: dict[str, Any]) -> str | AIMessage:
        return reply.model_copy(deep=True) if isinstance(reply, AIMessage) else reply

    return fn


def spec(name: str, prices: Prices | None, fn: Any) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "fake",
        "model": f"{name}-model",
        "chat_model": FunctionChatModel(model_name=f"{name}-model", fn=fn),
        "prices": prices,
    }


def make_router(
    cheap: Any, mid: Any = "Hello team!", dear: Any = "Hello, dear team!", **kw: Any
) -> ChatCostRouter:
    models = [
        spec("cheap", CHEAP, cheap if callable(cheap) else says(cheap)),
        spec("mid", MID, mid if callable(mid) else says(mid)),
        spec("dear", DEAR, dear if callable(dear) else says(dear)),
    ]
    names = [m["name"] for m in models]
    cat = Catalog.build({"models": models, "levels": {lv: names for lv in LEVELS}})
    return ChatCostRouter(catalog=cat, **kw)


def fm(router: ChatCostRouter, name: str) -> FunctionChatModel:
    model = router.route_catalog[name].chat_model
    assert isinstance(model, FunctionChatModel)
    return model


def meta(msg: BaseMessage) -> dict[str, Any]:
    return msg.response_metadata["costrouter"]


def steps(msg: BaseMessage) -> list[tuple[str, str]]:
    return [(a["tier"], a["status"]) for a in meta(msg)["attempts"]]


def usage_of(text: str, messages: list[BaseMessage] = PROMPT) -> TokenUsage:
    """What FunctionChatModel bills for a text reply: tiktoken counts of prompt and reply."""
    return TokenUsage(input_tokens=count_messages(messages), output_tokens=count_text(text))


# -- escalation and accounting ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_empty_answer_escalates_and_both_answers_are_paid_for(mode: str) -> None:
    router = make_router("", cascade=empty_answer)
    if mode == "sync":
        msg = router.invoke(PROMPT, level="trivial")
    else:
        msg = await router.ainvoke(PROMPT, level="trivial")
    assert msg.text == "Hello team!"
    assert steps(msg) == [("cheap", "rejected"), ("mid", "ok")]
    assert meta(msg)["attempts"][0]["error"] == "empty answer"
    assert meta(msg)["tier"] == "mid" and meta(msg)["cascade_exhausted"] is False
    assert fm(router, "dear").calls == []

    u_cheap, u_mid = usage_of(""), usage_of("Hello team!")
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["input_tokens"] == u_cheap.input_tokens + u_mid.input_tokens
    assert msg.usage_metadata["output_tokens"] == u_cheap.output_tokens + u_mid.output_tokens
    assert msg.usage_metadata["total_tokens"] == (
        msg.usage_metadata["input_tokens"] + msg.usage_metadata["output_tokens"]
    )
    c_cheap, c_mid = cost_of(CHEAP, u_cheap), cost_of(MID, u_mid)
    assert c_cheap is not None and c_mid is not None and c_cheap > 0
    assert [a["cost_usd"] for a in meta(msg)["attempts"]] == [str(c_cheap), str(c_mid)]
    assert Decimal(meta(msg)["cost_usd"]) == c_cheap + c_mid


def test_escalation_skips_models_as_cheap_at_the_same_level_but_not_higher_levels() -> None:
    models = [
        spec("cheap", CHEAP, says("")),
        spec("twin", CHEAP, says("twin")),
        spec("up", CHEAP, says("from above")),
    ]
    levels = {"trivial": ["cheap", "twin"], **{lv: ["up"] for lv in LEVELS[1:]}}
    router = ChatCostRouter(
        catalog=Catalog.build({"models": models, "levels": levels}), cascade=[empty_answer]
    )
    msg = router.invoke(PROMPT, level="trivial")
    assert fm(router, "twin").calls == []  # same level, same price: not an escalation
    assert steps(msg) == [("cheap", "rejected"), ("up", "ok")]  # a higher level at that price
    assert msg.text == "from above"


def test_errors_still_fall_back_to_a_model_of_the_same_price() -> None:
    def boom(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        raise ConnectionError("reset")

    models = [spec("cheap", CHEAP, boom), spec("twin", CHEAP, says("twin answers"))]
    cat = Catalog.build({"models": models, "levels": {lv: ["cheap", "twin"] for lv in LEVELS}})
    msg = ChatCostRouter(catalog=cat, cascade=empty_answer).invoke(PROMPT, level="trivial")
    assert steps(msg) == [("cheap", "error"), ("twin", "ok")]
    assert meta(msg)["cost_usd"] == str(cost_of(CHEAP, usage_of("twin answers")))


def test_refusal_escalates() -> None:
    router = make_router("I'm sorry, but I can't help with that.", cascade=[empty_answer, refusal])
    msg = router.invoke(PROMPT, level="trivial")
    assert steps(msg) == [("cheap", "rejected"), ("mid", "ok")]
    assert meta(msg)["attempts"][0]["error"].startswith("refusal")


def test_every_answer_rejected_returns_the_last_with_cascade_exhausted() -> None:
    router = make_router("", "  ", "\n", cascade=empty_answer)
    msg = router.invoke(PROMPT, level="trivial")
    assert msg.text == "\n"  # the dearest model's answer, best effort
    assert steps(msg) == [("cheap", "rejected"), ("mid", "rejected"), ("dear", "rejected")]
    assert meta(msg)["cascade_exhausted"] is True and meta(msg)["tier"] == "dear"
    costs = [cost_of(p, usage_of(t)) for p, t in ((CHEAP, ""), (MID, "  "), (DEAR, "\n"))]
    assert Decimal(meta(msg)["cost_usd"]) == sum(costs, Decimal(0))  # type: ignore[arg-type]
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["input_tokens"] == 3 * count_messages(PROMPT)


def test_cascade_off_checks_nothing() -> None:
    router = make_router("")
    msg = router.invoke(PROMPT, level="trivial")
    assert msg.text == "" and steps(msg) == [("cheap", "ok")]
    assert "cascade_exhausted" not in meta(msg)
    assert fm(router, "mid").calls == []
    assert meta(msg)["cost_usd"] == str(cost_of(CHEAP, usage_of("")))


def test_rejections_do_not_trip_the_breaker() -> None:
    now = [1000.0]
    breakers = Breakers(
        BreakerConfig(failure_threshold=2, window_s=60, recovery_s=30), clock=lambda: now[0]
    )
    router = make_router("", cascade=empty_answer, breakers=breakers)
    for _ in range(4):
        msg = router.invoke(PROMPT, level="trivial")
        assert steps(msg) == [("cheap", "rejected"), ("mid", "ok")]  # still tried every time
    health = router.health()["cheap"]
    assert (health.state, health.failures) == ("closed", 0)


def test_a_check_that_raises_fails_the_call() -> None:
    def broken(message: AIMessage) -> str | None:
        raise ValueError("bug in my check")

    router = make_router("fine", cascade=broken)
    with pytest.raises(CascadeCheckError, match="'broken' failed: ValueError: bug in") as e:
        router.invoke(PROMPT, level="trivial")
    assert e.value.check == "broken" and isinstance(e.value.__cause__, ValueError)
    assert fm(router, "mid").calls == []
    assert router.health()["cheap"].state == "closed"


# -- usage counted once -------------------------------------------------------------------------


def test_track_costs_records_one_call_with_the_summed_cost() -> None:
    router = make_router("", cascade=empty_answer)
    with track_costs() as cb:
        msg = router.invoke(PROMPT, level="trivial")
    (record,) = cb.records
    expected = cost_of(CHEAP, usage_of("")) + cost_of(MID, usage_of("Hello team!"))  # type: ignore[operator]
    assert record.cost == expected == Decimal(meta(msg)["cost_usd"])
    assert record.input_tokens == 2 * count_messages(PROMPT)
    assert cb.summary().requests == 1


def test_usage_callback_counts_the_summed_usage_once() -> None:
    router = make_router("", cascade=empty_answer)
    with get_usage_metadata_callback() as cb:
        msg = router.invoke(PROMPT, level="trivial")
    assert list(cb.usage_metadata) == ["mid-model"]  # one run, named after the final model
    assert cb.usage_metadata["mid-model"] == msg.usage_metadata
    assert cb.usage_metadata["mid-model"]["input_tokens"] == 2 * count_messages(PROMPT)


# -- structured output ----------------------------------------------------------------------------


class Person(BaseModel):
    name: str
    age: int


def call(args: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": "Person", "args": args, "id": "c1"}])


BAD_JSON = AIMessage(
    content="",
    invalid_tool_calls=[
        {"name": "Person", "args": '{"name": "Ada", "age":', "id": "c1", "error": "bad json"}
    ],
)


@pytest.mark.parametrize("cheap", [BAD_JSON, call({"name": "Ada"}), AIMessage("Ada, 36")])
def test_structured_output_that_does_not_parse_escalates(cheap: AIMessage) -> None:
    router = make_router(cheap, call({"name": "Ada", "age": 36}), cascade=[])
    chain = router.with_structured_output(Person, include_raw=True)
    out = chain.invoke(PROMPT, level="trivial")
    assert out["parsed"] == Person(name="Ada", age=36)
    assert steps(out["raw"]) == [("cheap", "rejected"), ("mid", "ok")]
    assert meta(out["raw"])["attempts"][0]["error"].startswith("structured output")
    assert fm(router, "cheap").calls[0]["tool_choice"] == "any"


def test_structured_output_is_not_checked_with_the_cascade_off() -> None:
    router = make_router(call({"name": "Ada"}), call({"name": "Ada", "age": 36}))
    with pytest.raises(ValidationError):  # the parser meets the cheap model's bad arguments
        router.with_structured_output(Person).invoke(PROMPT, level="trivial")
    assert fm(router, "mid").calls == []


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_json_answers_that_do_not_parse_escalate(method: str) -> None:
    router = make_router("Sure! Ada is 36.", '```json\n{"name": "Ada", "age": 36}\n```',
                         cascade=empty_answer)
    out = router.with_structured_output(Person, method=method).invoke(PROMPT, level="trivial")
    assert out == Person(name="Ada", age=36)
    assert len(fm(router, "cheap").calls) == len(fm(router, "mid").calls) == 1


def test_tool_calls_with_auto_choice_are_not_structured_output() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    assert structured_check({"tools": tools}) is None
    assert structured_check({"tools": tools, "tool_choice": "auto"}) is None
    check = structured_check({"tools": tools, "tool_choice": "f"})
    assert check is not None
    assert check(AIMessage("plain text")) == "structured output: no tool call to 'f'"
    assert check(AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "1"}])) is None


def test_schema_missing_keys_are_named() -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "P", "schema": {"required": ["a", "b"]}}}
    check = structured_check({"response_format": rf})
    assert check is not None
    assert check(AIMessage('{"a": 1}')) == "structured output: missing required keys ['b']"
    assert check(AIMessage("[1, 2]")) == "structured output: arguments are list, not a JSON object"
    assert check(AIMessage('{"a": 1, "b": 2}')) is None


# -- confidence ---------------------------------------------------------------------------------


def with_logprobs(text: str, *logprobs: float) -> AIMessage:
    content = [{"token": t, "logprob": lp} for t, lp in zip(text.split(), logprobs, strict=True)]
    return AIMessage(content=text, response_metadata={"logprobs": {"content": content}})


def test_low_confidence_escalates() -> None:
    router = make_router(
        with_logprobs("maybe Paris", -2.5, -1.0),
        with_logprobs("Paris", -0.01),
        cascade=low_confidence(-1.0),
    )
    msg = router.invoke(PROMPT, level="trivial")
    assert msg.text == "Paris"
    assert steps(msg) == [("cheap", "rejected"), ("mid", "ok")]
    assert meta(msg)["attempts"][0]["error"] == (
        "low confidence: mean token logprob -1.750 < -1.0"
    )


def test_low_confidence_accepts_answers_without_logprobs_and_at_the_threshold() -> None:
    check = low_confidence(-1.0)
    assert check(AIMessage("no logprobs here")) is None
    assert check(with_logprobs("a b", -0.5, -1.5)) is None  # mean == threshold
    assert check(with_logprobs("a b", -0.5, -1.6)) is not None
    assert check.__name__ == "low_confidence(-1.0)"


@pytest.mark.parametrize("bad", [0.5, math.nan, "low", True])
def test_low_confidence_rejects_a_bad_threshold(bad: Any) -> None:
    with pytest.raises(ConfigError, match="low_confidence threshold"):
        low_confidence(bad)


# -- the checks on their own ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rejected"),
    [
        ("I can't help with that request.", True),
        ("I can\u2019t assist with this.", True),
        ("  i cannot provide medical advice", True),
        ("I'm sorry, but that is not something I can do.", True),
        ("Sorry, but I won't write that.", True),
        ("As an AI language model, I have no opinions.", True),
        ("I can't stress enough how useful this is.", False),
        ("Paris. I cannot help noticing you asked twice.", False),
        ("I'm sorry to hear that; here is a plan.", False),
    ],
)
def test_refusal_phrases_only_at_the_start(text: str, rejected: bool) -> None:
    assert (refusal(AIMessage(text)) is not None) is rejected


def test_refusal_field_of_the_provider() -> None:
    assert refusal(AIMessage("", additional_kwargs={"refusal": "I can't"})) is not None


def test_empty_answer_accepts_tool_calls() -> None:
    assert empty_answer(AIMessage(" \n")) == "empty answer"
    assert empty_answer(AIMessage([])) == "empty answer"
    assert empty_answer(AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "1"}])) is None


def test_all_of_gives_the_first_reason() -> None:
    check = all_of(empty_answer, refusal)
    assert check(AIMessage("")) == "empty answer"
    assert check(AIMessage("As an AI, no.")) == "refusal: 'As an AI'"
    assert check(AIMessage("Hello")) is None
    with pytest.raises(ConfigError, match="callable"):
        all_of(empty_answer, "refusal")  # type: ignore[arg-type]


def test_a_non_callable_cascade_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cascade"):
        make_router("x", cascade=["refusal"])


def test_the_cache_key_names_the_checks() -> None:
    on = make_router("x", cascade=[empty_answer, low_confidence(-2.0)])
    assert on._identifying_params["cascade"] == ["empty_answer", "low_confidence(-2.0)"]
    assert "cascade" not in make_router("x")._identifying_params


# -- streams ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_streams_are_not_checked(mode: str) -> None:
    router = make_router("I'm sorry, but no.", cascade=refusal)
    if mode == "sync":
        chunks = list(router.stream(PROMPT, level="trivial"))
    else:
        chunks = [c async for c in router.astream(PROMPT, level="trivial")]
    assert "".join(c.text for c in chunks) == "I'm sorry, but no."
    last = chunks[-1].response_metadata["costrouter"]
    assert [a["status"] for a in last["attempts"]] == ["ok"]
    assert last["cost_usd"] == last["attempts"][0]["cost_usd"]
    assert fm(router, "mid").calls == []


class GenInfoLogprobs(FunctionChatModel):
    """Like ChatOpenAI: logprobs and the model name come in ``generation_info``, which core
    merges into ``response_metadata`` only after the router's own run."""

    logprob: float = 0.0

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        msg = self._reply(messages, stop, kwargs)
        msg.response_metadata = {}
        info = {"model_name": self.model_name,
                "logprobs": {"content": [{"token": "x", "logprob": self.logprob}]}}
        return ChatResult(generations=[ChatGeneration(message=msg, generation_info=info)])


def test_checks_see_the_generation_info_a_caller_would_see() -> None:
    cheap, mid = GenInfoLogprobs(model_name="c", logprob=-3), GenInfoLogprobs(model_name="m")
    models = [
        {**spec("cheap", CHEAP, says("x")), "chat_model": cheap},
        {**spec("mid", MID, says("x")), "chat_model": mid},
    ]
    cat = Catalog.build({"models": models, "levels": {lv: ["cheap", "mid"] for lv in LEVELS}})
    msg = ChatCostRouter(catalog=cat, cascade=low_confidence(-1)).invoke(PROMPT, level="trivial")
    assert steps(msg) == [("cheap", "rejected"), ("mid", "ok")]
    assert msg.response_metadata["model_name"] == "m"
