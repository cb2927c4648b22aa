"""A cascade that paid for an unpriced answer costs None (never repriced at the last model's
prices); calibrate's budget and output-token flags are checked before any work."""

from __future__ import annotations

import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.cascade import empty_answer
from langchain_costrouter.cli.main import main
from langchain_costrouter.costs import track_costs
from langchain_costrouter.pricing.prices import Prices, TokenUsage, cost_of
from langchain_costrouter.pricing.tokens import count_messages, count_text
from langchain_costrouter.testing.function_model import FunctionChatModel

LEVELS = ("trivial", "standard", "complex", "expert")
PRICED = Prices(input=Decimal("0.10"), output=Decimal("0.40"))
PROMPT = [HumanMessage("Say hello to the team")]


def says(reply: str) -> Any:
    def fn(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        return reply

    return fn


def spec(name: str, prices: Prices | None, reply: str) -> dict[str, Any]:
    return {"name": name, "provider": "fake", "model": f"{name}-model",
            "chat_model": FunctionChatModel(model_name=f"{name}-model", fn=says(reply)),
            "prices": prices}


def unpriced_then_priced() -> tuple[Catalog, ChatCostRouter]:
    """An unpriced TRIVIAL model that answers nothing, a priced model above it that answers."""
    models = [spec("local", None, ""), spec("cloud", PRICED, "Hello team!")]
    levels = {"trivial": ["local"], **{lv: ["cloud"] for lv in LEVELS[1:]}}
    cat = Catalog.build({"models": models, "levels": levels})
    return cat, ChatCostRouter(catalog=cat, cascade=empty_answer)


def test_cascade_with_an_unpriced_rejected_answer_costs_none() -> None:
    _, router = unpriced_then_priced()
    with pytest.warns(UserWarning, match="local"):
        msg = router.invoke(PROMPT, level="trivial")
    meta = msg.response_metadata["costrouter"]
    assert [(a["tier"], a["status"]) for a in meta["attempts"]] == [
        ("local", "rejected"), ("cloud", "ok")]
    cloud = cost_of(PRICED, TokenUsage(input_tokens=count_messages(PROMPT),
                                       output_tokens=count_text("Hello team!")))
    assert [a["cost_usd"] for a in meta["attempts"]] == [None, str(cloud)]
    assert meta["cost_usd"] is None  # not the priced part alone: one answer's price is unknown


def test_track_costs_does_not_reprice_a_cascade_sum_at_the_last_models_price() -> None:
    # The message carries the usage of BOTH answers; pricing that sum at the last model's
    # prices invents a cost for the unpriced answer's tokens. Unknown stays None.
    cat, router = unpriced_then_priced()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with track_costs(catalog=cat) as cb:
            msg = router.invoke(PROMPT, level="trivial")
    (record,) = cb.records
    assert msg.usage_metadata is not None
    assert record.input_tokens == msg.usage_metadata["input_tokens"] == 2 * count_messages(PROMPT)
    assert record.cost is None
    summary = cb.summary()
    assert summary.unpriced_requests == 1 and summary.cost_is_lower_bound


def test_track_costs_still_prices_a_single_answer_the_router_left_unpriced() -> None:
    # No cascade: one answer, so the handler's own catalog may price it (e.g. user prices).
    models = [spec("local", None, "Hi!")]
    router_cat = Catalog.build({"models": models, "levels": {lv: ["local"] for lv in LEVELS}})
    handler_cat = Catalog.build({"models": [{**models[0], "prices": PRICED}],
                                 "levels": {lv: ["local"] for lv in LEVELS}})
    router = ChatCostRouter(catalog=router_cat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with track_costs(catalog=handler_cat) as cb:
            router.invoke(PROMPT)
    (record,) = cb.records
    assert record.cost == cost_of(PRICED, TokenUsage(input_tokens=count_messages(PROMPT),
                                                     output_tokens=count_text("Hi!")))


# -- calibrate --budget: bad numbers are one-line errors ------------------------------------


def _prompts(tmp_path: Path) -> str:
    p = tmp_path / "p.txt"
    p.write_text("\n".join(f"prompt {i} " + "word " * i for i in range(10)), encoding="utf-8")
    return str(p)


@pytest.mark.parametrize("budget", ["nan", "inf", "-1", "abc"])
def test_calibrate_rejects_a_budget_that_is_not_a_usd_amount(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], budget: str
) -> None:
    code = main(["calibrate", "--prompts", _prompts(tmp_path), "--budget", budget,
                 "--strong-model", "gpt-5.5", "--weak-model", "gpt-5.4-nano"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "budget" in err and budget in err


def test_calibrate_rejects_negative_output_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["calibrate", "--prompts", _prompts(tmp_path), "--budget", "1",
                 "--strong-model", "gpt-5.5", "--weak-model", "gpt-5.4-nano",
                 "--output-tokens", "-5"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--output-tokens" in err and "-5" in err
