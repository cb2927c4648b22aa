"""The guard bounds every call's output so that no budget can be overspent, and reserves it.

Function-backed models that cut their answer at ``max_tokens`` like a real model; clocks and
sleeps are injected, so nothing waits on the wall clock.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from langchain_costrouter import Catalog, ChatCostRouter, Prices
from langchain_costrouter.budget import Budget, BudgetGuard, Charge, InMemoryLedger
from langchain_costrouter.budget.bounds import Line, Quote, choose_bound, need
from langchain_costrouter.budget.ledger import usd_to_nano
from langchain_costrouter.exceptions import BudgetBusyError, BudgetExceededError
from langchain_costrouter.pricing.tokens import count_messages
from langchain_costrouter.testing import FunctionChatModel

T0 = 1_773_145_800.0


class Clock:
    def __init__(self) -> None:
        self.t = T0
        self.slept: list[float] = []
        self.on_sleep: Any = None

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s
        if self.on_sleep:
            self.on_sleep()

    async def asleep(self, s: float) -> None:
        self.sleep(s)


def words(n: int) -> Any:
    """A reply of ``n`` one-token words, cut at the call's max_tokens like a real model."""

    def reply(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        return " ".join(["the"] * min(n, info.get("max_tokens") or n))

    return reply


def spec(name: str, inp: str, out: str, n: int = 1800, max_out: int = 16_384) -> dict[str, Any]:
    return {"name": name, "provider": "openai", "model": name, "max_output_tokens": max_out,
            "chat_model": FunctionChatModel(model_name=name, fn=words(n)),
            "prices": Prices(input=Decimal(inp), output=Decimal(out))}


def router(*specs: dict[str, Any], level: list[str] | None = None, **kw: Any) -> ChatCostRouter:
    specs = specs or (spec("cheap", "1", "4"), spec("dear", "10", "40"))
    names = level or [s["name"] for s in specs]
    cat = Catalog.build({"models": list(specs), "levels": {
        lv: names for lv in ("trivial", "standard", "complex", "expert")}})
    return ChatCostRouter(catalog=cat, **kw)


def guard(*budgets: Budget, clock: Clock | None = None, **kw: Any) -> BudgetGuard:
    c = clock or Clock()
    return BudgetGuard(budgets=list(budgets), ledger=kw.pop("ledger", InMemoryLedger()), clock=c,
                       sleep=c.sleep, asleep=c.asleep, **kw)


def prompt(text: str = "hello") -> int:
    return count_messages([HumanMessage(text)])


def served_max_tokens(out: Any) -> int:
    return out.response_metadata["costrouter_budget"]["max_tokens"]


# -- the bound -------------------------------------------------------------------------------


def test_long_answers_never_overspend_a_usd_budget() -> None:
    # 1,800-token answers on a $0.02 budget: unbounded, two of them cost 144 % of the limit.
    r = router(spec("only", "2", "8"))
    g = guard(Budget.usd("0.02", per="day", scope="user"))
    model = g.wrap(r)
    spent = Decimal(0)
    with pytest.raises(BudgetExceededError):
        for _ in range(10):
            out = model.invoke("Write a long essay on Rome.", {"metadata": {"user": "c"}})
            spent += Decimal(out.response_metadata["costrouter"]["cost_usd"])
    assert spent <= Decimal("0.02")
    assert g.status({"user": "c"}).spent == spent
    assert spent > Decimal("0.0199")  # and the budget was used, not refused early


def test_the_bound_is_what_the_budget_allows_at_the_serving_models_prices() -> None:
    r = router(spec("only", "1", "4"))
    g = guard(Budget.usd("0.001", per="day"), prompt_margin=0)
    out = g.wrap(r).invoke("hello")
    n = prompt()
    # $0.001 = 1,000,000 nano; the prompt costs n nano (at $1/M), each output token 4 nano.
    assert served_max_tokens(out) == (1_000_000 - n * 1000) // 4000
    assert out.usage_metadata["output_tokens"] == served_max_tokens(out)  # type: ignore[index]


def test_the_bound_never_exceeds_the_callers_own_cap_nor_the_models_max() -> None:
    r = router(spec("only", "1", "4", max_out=300))
    g = guard(Budget.usd("100", per="day"))
    assert served_max_tokens(g.wrap(r).invoke("hello", max_tokens=40)) == 40
    assert served_max_tokens(g.wrap(r).invoke("hello")) == 300
    plain = FunctionChatModel(model_name="gpt-4.1-mini", fn=words(900))
    out = g.wrap(plain).invoke("hello", max_tokens=25)
    assert plain.calls[-1]["max_tokens"] == 25 and out.usage_metadata["output_tokens"] == 25


def test_a_token_budget_bounds_the_output_too() -> None:
    g = guard(Budget.tokens(500, per="hour"), prompt_margin=0)
    out = g.wrap(FunctionChatModel(model_name="gpt-4.1-mini", fn=words(2000))).invoke("hello")
    assert out.usage_metadata["total_tokens"] == 500  # type: ignore[index]
    assert g.status().spent == 500


def test_when_not_even_a_minimal_answer_fits_the_call_is_refused_before_it_runs() -> None:
    m = FunctionChatModel(model_name="gpt-4.1-mini", fn=words(50))
    g = guard(Budget.tokens(prompt() + 10, per="hour"), prompt_margin=0, min_output_tokens=16)
    with pytest.raises(BudgetExceededError) as ei:
        g.wrap(m).invoke("hello")
    assert m.calls == [] and ei.value.requested == prompt() + 16 and ei.value.used == 0


def test_streams_are_bounded_and_settled_from_their_usage() -> None:
    r = router(spec("only", "1", "4"))
    g = guard(Budget.usd("0.001", per="day"), prompt_margin=0)
    chunks = list(g.wrap(r).stream("hello"))
    um = next(c.usage_metadata for c in chunks if c.usage_metadata)
    assert um["output_tokens"] == (1_000_000 - prompt() * 1000) // 4000
    meta = [c.response_metadata["costrouter_budget"] for c in chunks
            if "costrouter_budget" in c.response_metadata]
    assert meta and meta[0]["max_tokens"] == um["output_tokens"]
    assert g.status().spent <= Decimal("0.001")


def test_tools_count_in_the_prompt_and_tool_calls_are_bounded() -> None:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    m = FunctionChatModel(model_name="gpt-4.1-mini", fn=words(3000))
    g = guard(Budget.tokens(400, per="hour"), prompt_margin=0)
    out = g.wrap(m.bind_tools([add])).invoke("hello")
    with_tools = count_messages([HumanMessage("hello")], tools=m.calls[0]["tools"])
    assert with_tools > prompt()
    assert m.calls[0]["max_tokens"] == 400 - with_tools
    assert out.usage_metadata["total_tokens"] == 400  # type: ignore[index]


def test_cached_and_reasoning_tokens_are_priced_within_the_bound() -> None:
    p = Prices(input=Decimal(1), output=Decimal(4), cached_input=Decimal("0.1"),
               cache_write=Decimal("1.25"))
    q = Quote((Line("m", 1000, p),), cap=500, expected=100)
    b = Budget.usd("1")
    # The prompt is reserved at the dearer cache-write rate; reasoning tokens are output tokens.
    assert need(b, q, 100, 0.0, unpriced_is_free=False) == usd_to_nano(
        (Decimal(1000) * Decimal("1.25") + 100 * 4) / 1_000_000)


# -- fallbacks and cascades ------------------------------------------------------------------


def test_the_reservation_covers_the_dearest_fallback_when_room_allows() -> None:
    r = router(spec("cheap", "1", "4"), spec("dear", "10", "40"))
    g = guard(Budget.usd("10", per="day"))
    seen: list[Decimal] = []
    cheap = r.route_catalog["cheap"].chat_model
    assert isinstance(cheap, FunctionChatModel)
    cheap.fn = lambda m, i: (seen.append(g.status().reserved), "ok")[1]  # type: ignore[assignment]
    out = g.wrap(r).invoke("hello", max_tokens=100)
    meta = out.response_metadata["costrouter_budget"]
    assert meta["covers"] == ["cheap", "dear"] and meta["pinned"] is None
    n = prompt() + math.ceil(prompt() * 0.1)
    assert seen == [Decimal(n * 10 + 100 * 40) / 1_000_000]  # the dear model's price


def test_a_nearly_spent_budget_pins_the_first_model_instead_of_refusing() -> None:
    r = router(spec("cheap", "1", "4"), spec("dear", "10", "40"))
    g = guard(Budget.usd("0.0015", per="day"), expected_output_tokens=200)
    out = g.wrap(r).invoke("hello", max_tokens=300)
    meta = out.response_metadata["costrouter_budget"]
    # Covering "dear" leaves < 200 tokens; the cheap model alone affords the 300 asked.
    assert meta["pinned"] == "cheap" and meta["covers"] == ["cheap"]
    assert served_max_tokens(out) == 300
    assert [a["tier"] for a in out.response_metadata["costrouter"]["attempts"]] == ["cheap"]


def test_a_cascade_reserves_every_answer_it_may_pay_for() -> None:
    q = Quote((Line("a", 10, Prices(input=Decimal(1), output=Decimal(1))),
               Line("b", 10, Prices(input=Decimal(2), output=Decimal(2)))),
              cap=100, expected=100, summed=True)
    b = Budget.usd("1")
    assert need(b, q, 100, 0.0, unpriced_is_free=False) == 110 * 1000 + 110 * 2000
    tight = choose_bound([b], [110 * 1000 + 110 * 2000 - 1], q, 0.0, 16,
                         unpriced_is_free=False)
    assert tight is not None and tight.pinned and tight.max_tokens == 100


# -- never refuse early ----------------------------------------------------------------------


def test_a_call_waits_for_in_flight_reservations_instead_of_being_refused() -> None:
    clock = Clock()
    g = guard(Budget.tokens(1000, per="day"), clock=clock, prompt_margin=0)
    b = g.budgets[0]
    other = Charge(b.counter("*"), 990, 1000, b.window.bucket(T0), b.window.since(T0))
    assert g.ledger.reserve("other-process", [other], now=T0, ttl=600).granted
    st = g.status()
    assert (st.spent, st.reserved, st.remaining) == (0, 990, 10)
    # The other call settles at 100 tokens while this one waits.
    clock.on_sleep = lambda: g.ledger.reconcile(
        "other-process", [Charge(other.key, 100, 1000, other.bucket, other.since)], now=clock.t)
    m = FunctionChatModel(model_name="gpt-4.1-mini", fn=words(50))
    out = g.wrap(m).invoke("hello")
    assert clock.slept == [g.poll_interval]
    assert out.usage_metadata["output_tokens"] == 50  # type: ignore[index]
    assert g.status().spent == 100 + out.usage_metadata["total_tokens"]  # type: ignore[index]


def test_in_flight_reservations_that_never_settle_give_a_busy_error_not_exceeded() -> None:
    clock = Clock()
    g = guard(Budget.tokens(1000, per="day"), clock=clock, settle_timeout=1.0)
    b = g.budgets[0]
    g.ledger.reserve("stuck", [Charge(b.counter("*"), 995, 1000, b.window.bucket(T0),
                                      b.window.since(T0))], now=T0, ttl=600)
    with pytest.raises(BudgetBusyError) as ei:
        g.wrap(FunctionChatModel(model_name="gpt-4.1-mini")).invoke("hello")
    e = ei.value
    assert (e.spent, e.reserved, e.limit) == (0, 995, 1000) and e.waited_s >= 1.0
    assert "995 tokens reserved by calls in flight" in str(e)


def test_refusals_report_spent_and_reserved_apart() -> None:
    g = guard(Budget.tokens(100, per="day"))
    b = g.budgets[0]
    key, bucket, since = b.counter("*"), b.window.bucket(T0), b.window.since(T0)
    g.ledger.reserve("done", [Charge(key, 95, 100, bucket, since)], now=T0, ttl=600)
    g.ledger.reconcile("done", [Charge(key, 95, 100, bucket, since)], now=T0)
    g.ledger.reserve("flying", [Charge(key, 3, 100, bucket, since)], now=T0, ttl=600)
    with pytest.raises(BudgetExceededError) as ei:
        g.wrap(FunctionChatModel(model_name="gpt-4.1-mini")).invoke("hello")
    e = ei.value
    assert (e.used, e.spent, e.reserved, e.remaining) == (95, 95, 3, 2)
    assert "used 95 tokens, 3 tokens reserved by calls in flight" in str(e)


def test_waiters_are_served_in_priority_then_arrival_order() -> None:
    from langchain_costrouter.budget.queue import WaitQueue

    q = WaitQueue()
    a = q.enter("k", priority=5)
    b = q.enter("k", priority=1)
    c = q.enter("k", priority=5)
    order = []
    for _ in range(3):
        head = next(e for e in (a, b, c) if q.is_head("k", e))
        order.append(head)
        q.leave("k", head)
    assert order == [b, a, c]
    assert not q.busy("k") and q.enter("other", 0) and q.busy("other")


# -- learned estimates -----------------------------------------------------------------------


def test_expected_output_is_learned_per_model_from_the_ledger() -> None:
    ledger = InMemoryLedger()
    m = FunctionChatModel(model_name="gpt-4.1-mini", fn=words(40))
    g = guard(Budget.tokens(10**6, per="day"), ledger=ledger, expected_output_tokens=512)
    first = g.wrap(m).invoke("hello")
    assert first.response_metadata["costrouter_budget"]["expected_output_tokens"] == 512
    for n in (10, 20, 30, 40):
        m.fn = words(n)
        g.wrap(m).invoke("hello")
    g.history.refresh_s = 0  # another process reading the same ledger
    other = guard(Budget.tokens(10**6, per="day"), ledger=ledger)
    meta = other.wrap(m).invoke("hello").response_metadata["costrouter_budget"]
    assert meta["expected_output_tokens"] == 40  # p90 of [40, 10, 20, 30, 40]
    assert meta["max_tokens"] == 4096  # the enforced bound is unchanged by the estimate
    assert ledger.recent_outputs("gpt-4.1-mini")[:2] == [40, 40]


# -- bad configuration -----------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "-inf", "NaN"])
def test_nan_and_inf_budgets_are_config_errors(bad: Any) -> None:
    from langchain_costrouter.exceptions import ConfigError

    with pytest.raises(ConfigError, match="finite"):
        Budget.usd(bad)
    with pytest.raises(ConfigError, match="finite"):
        Budget.tokens(bad)


def test_an_empty_sqlite_path_is_a_config_error() -> None:
    from langchain_costrouter.budget import SQLiteLedger
    from langchain_costrouter.exceptions import ConfigError

    for path in ("", "  "):
        with pytest.raises(ConfigError, match="file path"):
            SQLiteLedger(path)


def test_a_new_arrival_queues_behind_a_waiting_call_instead_of_jumping_ahead() -> None:
    clock = Clock()
    g = guard(Budget.tokens(10_000, per="day"), clock=clock)
    key = ("global",)
    ahead = g._queue.enter(key, priority=0)  # a call of this process already waiting
    order: list[str] = []

    def ahead_is_served() -> None:
        if g._queue.is_head(key, ahead):
            order.append("ahead")
            g._queue.leave(key, ahead)

    clock.on_sleep = ahead_is_served
    m = FunctionChatModel(model_name="gpt-4.1-mini")
    g.wrap(m).invoke("hello")
    order.append("arrival")
    assert order == ["ahead", "arrival"] and len(m.calls) == 1
    assert g.status().waiters == 0


def test_a_model_that_ignores_max_tokens_overshoots_by_one_call_at_most() -> None:
    from langchain_costrouter.budget import BudgetOvershootWarning

    def deaf(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        return " ".join(["the"] * 300)  # like llama.cpp with max_completion_tokens

    g = guard(Budget.tokens(200, per="day"), prompt_margin=0)
    model = g.wrap(FunctionChatModel(model_name="deaf-model", fn=deaf))
    with pytest.warns(BudgetOvershootWarning, match="deaf-model"):
        model.invoke("hello")
    assert g.status().spent == prompt() + 300  # charged in full: one call's overshoot
    with pytest.raises(BudgetExceededError):
        model.invoke("hello")  # and no further call runs


def test_a_cascade_that_pays_for_every_answer_never_overspends() -> None:
    def never_good(message: Any) -> str:
        return "not good enough"

    r = router(spec("cheap", "1", "4"), spec("dear", "10", "40"), cascade=never_good)
    g = guard(Budget.usd("0.01", per="day"))
    held: list[Decimal] = []
    cheap = r.route_catalog["cheap"].chat_model
    assert isinstance(cheap, FunctionChatModel)
    answer = words(1800)
    cheap.fn = lambda m, i: (held.append(g.status().reserved), answer(m, i))[1]  # type: ignore[assignment]
    model = g.wrap(r)
    model.invoke("hello", max_tokens=100)
    n = prompt() + math.ceil(prompt() * 0.1)
    # Both answers may be paid for: the reservation is their sum, not the dearer one.
    assert held == [Decimal(n * 1 + 100 * 4 + n * 10 + 100 * 40) / 1_000_000]
    paid = g.status().spent
    with pytest.raises(BudgetExceededError):
        for _ in range(20):
            out = model.invoke("hello", max_tokens=100)
            paid += Decimal(out.response_metadata["costrouter"]["cost_usd"])
    assert paid > 0 and g.status().spent == paid <= Decimal("0.01")
    assert len(held) >= 3  # several calls ran before the refusal
