"""The router gives checks the call's messages, so a missing final answer escalates.

Needs one line in ``router.py`` (``_generate`` and ``_agenerate``):
``check = as_check(self.cascade, kwargs, messages)``. Until it lands the test is an expected
failure; with the hook in place it runs as a normal test.
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from langchain_costrouter import Catalog, ChatCostRouter, router
from langchain_costrouter.cascade import final_answer
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.testing.function_model import FunctionChatModel

QUESTION = (
    "Which gas do plants absorb?\nA) oxygen\nB) carbon dioxide\n"
    'Print only a single choice  from "A" or "B" without explanation.\nAnswer:'
)
HOOKED = "as_check(self.cascade, kwargs, messages)" in inspect.getsource(router)


def replying(text: str) -> Any:
    def fn(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        return text

    return fn


def make_router() -> ChatCostRouter:
    models = [
        {"name": name, "provider": "fake", "model": f"{name}-model", "prices": prices,
         "chat_model": FunctionChatModel(model_name=f"{name}-model", fn=replying(text))}
        for name, prices, text in (
            ("cheap", Prices(input=Decimal("0.1"), output=Decimal("0.4")), "Carbon dioxide"),
            ("dear", Prices(input=Decimal("3"), output=Decimal("15")), "B"),
        )
    ]
    levels = {lv: ["cheap", "dear"] for lv in ("trivial", "standard", "complex", "expert")}
    return ChatCostRouter(catalog=Catalog.build({"models": models, "levels": levels}),
                          cascade=[final_answer])


@pytest.mark.xfail(not HOOKED, strict=True, reason="router.py does not pass messages to as_check")
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_missing_option_letter_escalates(mode: str) -> None:
    r = make_router()
    prompt = [HumanMessage(QUESTION)]
    msg = r.invoke(prompt, level="trivial") if mode == "sync" else await r.ainvoke(
        prompt, level="trivial")
    attempts = msg.response_metadata["costrouter"]["attempts"]
    assert [(a["tier"], a["status"]) for a in attempts] == [("cheap", "rejected"),
                                                             ("dear", "ok")]
    assert "no option letter" in attempts[0]["error"]
    assert msg.text == "B"
