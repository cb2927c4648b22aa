"""BudgetGuard behaviour over an in-memory ledger, with function-backed chat models.

Clocks and sleeps are injected: no test waits on the wall clock.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage

from langchain_costrouter import Catalog, ChatCostRouter, Prices
from langchain_costrouter.budget import (
    Budget,
    BudgetGuard,
    BudgetLedgerWarning,
    Charge,
    Grant,
    InMemoryLedger,
    hash_api_key,
)
from langchain_costrouter.exceptions import (
    BudgetExceededError,
    BudgetUnpricedError,
    ConfigError,
    LedgerUnavailableError,
)
from langchain_costrouter.pricing.tokens import count_messages
from langchain_costrouter.testing import FunctionChatModel

T0 = datetime(2026, 3, 10, 12, 30, tzinfo=timezone.utc).timestamp()  # 12:30 UTC


class Clock:
    """Injected time: ``sleep`` moves it forward and records the request."""

    def __init__(self, t: float = T0) -> None:
        self.t = t
        self.slept: list[float] = []
        self.on_sleep: Any = None

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        if self.on_sleep:
            self.on_sleep()
        self.slept.append(s)
        self.t += s

    async def asleep(self, s: float) -> None:
        self.sleep(s)


def guard(*budgets: Budget, clock: Clock | None = None, **kw: Any) -> BudgetGuard:
    c = clock or Clock()
    return BudgetGuard(
        budgets=list(budgets), ledger=InMemoryLedger(), clock=c, sleep=c.sleep, asleep=c.asleep,
        **kw,
    )


def long_reply(messages: list[BaseMessage], info: dict[str, Any]) -> str:
    """About 150 output tokens, cut at the call's max_tokens like a real model."""
    return " ".join(["lorem"] * min(150, info.get("max_tokens") or 150))


def smallest(text: str, margin: float = 0.1, min_output: int = 16) -> int:
    """Tokens the smallest call reserves: the prompt with its margin and a minimal answer."""
    n = count_messages([_human(text)])
    return n + math.ceil(n * margin) + min_output


def mini(fn: Any = None) -> FunctionChatModel:
    kw = {"fn": fn} if fn else {}
    return FunctionChatModel(model_name="gpt-4.1-mini", **kw)


def _spec(name: str, inp: str, out: str) -> dict[str, Any]:
    return {
        "name": name, "provider": "openai", "model": name,
        "chat_model": FunctionChatModel(model_name=name),
        "prices": Prices(input=Decimal(inp), output=Decimal(out)),
    }


def router(*extra: dict[str, Any]) -> ChatCostRouter:
    specs = [_spec("small", "0.1", "0.4"), _spec("mid", "1", "4"), _spec("big", "10", "40")]
    cat = Catalog.build({
        "models": [*specs, *extra],
        "levels": {"trivial": ["small"], "standard": ["mid"], "complex": ["big"],
                   "expert": ["big"]},
    })
    return ChatCostRouter(catalog=cat)


BIG = {"configurable": {"costrouter_model": "big"}}


# -- raise ---------------------------------------------------------------------------------


def test_raise_mode_names_budget_scope_limit_used_and_reset_time() -> None:
    g = guard(Budget.tokens(300, per="hour", scope="user"), default_max_tokens=100)
    model = g.wrap(mini(long_reply))
    cfg = {"metadata": {"user": "alice"}}
    used = 0
    with pytest.raises(BudgetExceededError) as ei:
        for _ in range(100):
            used += model.invoke("hello", cfg).usage_metadata["total_tokens"]  # type: ignore[index]
    e = ei.value
    need = smallest("hello")
    assert (e.budget, e.scope, e.unit, e.limit, e.used, e.requested) == (
        "tokens/hour/user", "user:alice", "tokens", 300, used, need)
    assert used <= 300 < used + need  # refused only once the smallest call no longer fits
    assert e.resets_at == datetime(2026, 3, 10, 13, 0, tzinfo=timezone.utc)
    assert str(e) == (
        f"budget 'tokens/hour/user' for scope 'user:alice' exceeded: limit 300 tokens, "
        f"used {used} tokens, this call needs {need} tokens; resets at 2026-03-10T13:00:00+00:00"
    )
    model.invoke("hello", {"metadata": {"user": "bob"}})  # another scope has its own budget


def _human(text: str) -> BaseMessage:
    from langchain_core.messages import HumanMessage

    return HumanMessage(text)


def test_usd_limits_are_decimal_in_the_error() -> None:
    g = guard(Budget.usd("0.0001", per="day"), default_max_tokens=100)
    with pytest.raises(BudgetExceededError) as ei:
        g.wrap(router()).invoke("hello", BIG)
    e = ei.value
    assert e.unit == "usd" and e.limit == Decimal("0.0001") and e.used == 0
    assert isinstance(e.requested, Decimal) and e.requested > e.limit
    assert e.resets_at == datetime(2026, 3, 11, tzinfo=timezone.utc)


def test_one_guard_holds_a_daily_and_an_hourly_token_budget() -> None:
    clock = Clock()
    g = guard(Budget.tokens(1000, per="day"), Budget.tokens(250, per="hour"), clock=clock,
              default_max_tokens=100)
    model = g.wrap(mini())
    hourly = 0
    with pytest.raises(BudgetExceededError, match="tokens/hour"):
        for _ in range(40):
            hourly += model.invoke("hello").usage_metadata["total_tokens"]  # type: ignore[index]
    assert hourly <= 250
    clock.t += 3600  # next hour: the hourly budget resets, the daily one keeps counting
    model.invoke("hello")
    st = g.status()
    assert st.per_budget["tokens/hour"].used < st.per_budget["tokens/day"].used
    assert st.per_budget["tokens/day"].used > hourly


def test_a_request_larger_than_the_budget_is_refused_even_in_wait_mode() -> None:
    clock = Clock()
    g = guard(Budget.tokens(10, per="hour"), clock=clock, on_exceeded="wait",
              default_max_tokens=100)
    with pytest.raises(BudgetExceededError, match="limit 10 tokens"):
        g.wrap(mini()).invoke("hello")
    assert clock.slept == []


# -- reservations --------------------------------------------------------------------------


def test_reservation_is_held_during_the_call_and_refunded_on_reconcile() -> None:
    seen: list[int] = []

    def reply(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        seen.append(g.status().used)  # type: ignore[arg-type]
        return "ok"

    g = guard(Budget.tokens(10_000, per="day"), default_max_tokens=500)
    out = g.wrap(mini(reply)).invoke("hello")
    estimate = smallest("hello", min_output=500)
    assert seen == [estimate]
    assert g.status().used == out.usage_metadata["total_tokens"] < estimate  # type: ignore[index]
    assert g.ledger.pending(now=T0) == 0


def test_a_failed_call_releases_its_reservation() -> None:
    def boom(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        assert g.status().used > 0
        raise TimeoutError("provider timed out")

    g = guard(Budget.tokens(10_000, per="day"), Budget.usd("1", per="day"))
    with pytest.raises(TimeoutError):
        g.wrap(mini(boom)).invoke("hello")
    assert [w.used for w in g.status().windows] == [0, 0]
    assert g.ledger.pending(now=T0) == 0


async def test_async_failed_call_releases_and_success_reconciles() -> None:
    g = guard(Budget.tokens(10_000, per="day"), default_max_tokens=300)

    def boom(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        raise ValueError("bad")

    with pytest.raises(ValueError):
        await g.wrap(mini(boom)).ainvoke("hello")
    assert g.status().used == 0
    out = await g.wrap(mini()).ainvoke("hello")
    assert g.status().used == out.usage_metadata["total_tokens"]  # type: ignore[index]


def test_usd_reconciles_from_the_router_cost_usd() -> None:
    g = guard(Budget.usd("1", per="day"), Budget.tokens(100_000, per="day"))
    out = g.wrap(router()).invoke("hello", BIG)
    meta = out.response_metadata["costrouter"]
    assert Decimal(meta["cost_usd"]) < Decimal(meta["estimated_cost_usd"])
    assert g.status().per_budget["usd/day"].used == Decimal(meta["cost_usd"])


def test_plain_model_usd_is_priced_from_genai_prices() -> None:
    from langchain_costrouter.pricing.prices import TokenUsage, cost_of, lookup_prices

    g = guard(Budget.usd("1", per="day"))
    out = g.wrap(mini()).invoke("hello")
    um = out.usage_metadata
    expected = cost_of(lookup_prices("gpt-4.1-mini"), TokenUsage.from_usage_metadata(um))  # type: ignore[arg-type]
    assert expected and g.status().used == expected


# -- streams, batch ------------------------------------------------------------------------


def test_stream_reconciles_from_the_final_chunk() -> None:
    g = guard(Budget.tokens(10_000, per="day"), default_max_tokens=400)
    chunks = list(g.wrap(mini()).stream("hello there"))
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert len(chunks) > 1 and len(usage) == 1
    assert g.status().used == usage[0]["total_tokens"]


async def test_astream_reconciles_from_the_final_chunk() -> None:
    g = guard(Budget.tokens(10_000, per="day"), default_max_tokens=400)
    chunks = [c async for c in g.wrap(mini()).astream("hello there")]
    total = sum(c.usage_metadata["total_tokens"] for c in chunks if c.usage_metadata)
    assert total > 0 and g.status().used == total


def test_a_stream_the_caller_stops_reading_is_charged_for_what_it_delivered() -> None:
    from langchain_costrouter.pricing.tokens import count_text

    g = guard(Budget.tokens(10_000, per="day"), default_max_tokens=400)
    it = g.wrap(mini()).stream("hello there")
    first = next(it)
    it.close()
    delivered = count_text(str(first.content))
    assert delivered > 0
    assert g.status().used == count_messages([_human("hello there")]) + delivered
    assert g.ledger.pending(now=T0) == 0


def test_stream_failure_releases() -> None:
    def boom(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        raise ConnectionError("reset")

    g = guard(Budget.tokens(10_000, per="day"))
    with pytest.raises(ConnectionError):
        list(g.wrap(mini(boom)).stream("hi"))
    assert g.status().used == 0


def test_batch_charges_every_call() -> None:
    g = guard(Budget.tokens(100_000, per="day"), default_max_tokens=50)
    outs = g.wrap(mini()).batch(["a", "bb", "ccc"])
    assert g.status().used == sum(o.usage_metadata["total_tokens"] for o in outs)  # type: ignore[index]


# -- downgrade -----------------------------------------------------------------------------


def test_downgrade_pins_the_cheapest_router_model_whose_estimate_fits() -> None:
    r = router()
    msgs = [_human("hello")]
    costs = {n: r.plan(msgs, model=n, max_tokens=512).estimated_cost  # the guard expects 512
             for n in ("small", "mid", "big")}
    assert costs["small"] < costs["mid"] < costs["big"]
    # Room for "mid" but not "big": the cheapest that fits is "small".
    g = guard(Budget.usd(costs["mid"] * 2, per="day"), on_exceeded="downgrade")
    out = g.wrap(r).invoke("hello", BIG)
    assert out.response_metadata["costrouter"]["tier"] == "small"


def test_a_downgrade_says_budget_downgrade_and_keeps_the_scored_level() -> None:
    specs = [_spec("small", "0.1", "0.4"), _spec("mid", "1", "4"), _spec("big", "10", "40")]
    cat = Catalog.build({"models": specs, "levels": {
        "trivial": ["small"], "standard": ["mid"], "complex": ["big"], "expert": ["big"]}})
    r = ChatCostRouter(catalog=cat, scorer=lambda messages: 0.99,  # every prompt is expert
                       thresholds=(0.25, 0.45, 0.65))
    msgs = [_human("hello")]
    costs = {n: r.plan(msgs, model=n, max_tokens=512).estimated_cost for n in ("small", "big")}
    assert r.plan(msgs).tier == "big"
    g = guard(Budget.usd(costs["small"] * 2, per="day"), on_exceeded="downgrade")
    meta = g.wrap(r).invoke("hello").response_metadata["costrouter"]
    assert (meta["tier"], meta["reason"]) == ("small", "budget_downgrade")
    assert meta["scored_level"] == "expert"
    # Without a downgrade the same call names no reason.
    roomy = guard(Budget.usd(costs["big"] * 10, per="day"), on_exceeded="downgrade")
    meta = roomy.wrap(r).invoke("hello").response_metadata["costrouter"]
    assert (meta["tier"], meta["reason"]) == ("big", None)


def test_downgrade_skips_models_that_do_not_fit_and_raises_when_none_does() -> None:
    r = router()
    msgs = [_human("hello")]
    small = r.plan(msgs, model="small").estimated_cost
    assert small is not None
    g = guard(Budget.usd(small * 3, per="day"), on_exceeded="downgrade")
    model = g.wrap(r)
    served = [model.invoke("hello", BIG).response_metadata["costrouter"]["tier"] for _ in range(3)]
    assert served == ["small"] * 3  # actual costs are far below estimates, so it keeps fitting
    g2 = guard(Budget.usd("0.0000001", per="day"), on_exceeded="downgrade")
    with pytest.raises(BudgetExceededError, match="usd/day"):
        g2.wrap(r).invoke("hello", BIG)


def test_downgrade_prefers_a_free_model_and_spent_usd_never_blocks_it() -> None:
    r = router(_spec("free", "0", "0"))
    g = guard(Budget.usd("0.000001", per="day"), on_exceeded="downgrade")
    out = g.wrap(r).invoke("hello", BIG)
    assert out.response_metadata["costrouter"]["tier"] == "free"


def test_downgrade_of_a_plain_model_uses_the_cheapest_fitting_stand_in() -> None:
    nano = FunctionChatModel(model_name="gpt-4.1-nano")
    g = guard(Budget.usd("0.0002", per="day"), on_exceeded="downgrade", default_max_tokens=100)
    big = FunctionChatModel(model_name="gpt-4.1")
    model = g.wrap(big, downgrade_to=[FunctionChatModel(model_name="gpt-4.1-mini"), nano])
    out = model.invoke("hello")
    assert out.response_metadata["model_name"] == "gpt-4.1-nano"
    assert big.calls == []


def test_downgrade_needs_the_wrapped_form() -> None:
    g = guard(Budget.tokens(100, per="day"), on_exceeded="downgrade")
    with pytest.raises(ConfigError, match=r"guard\.wrap"):
        (g | mini()).invoke("hello")


# -- wait ----------------------------------------------------------------------------------


def test_wait_mode_sleeps_until_the_window_resets_then_runs() -> None:
    clock = Clock()
    g = guard(Budget.tokens(130, per="hour"), clock=clock, on_exceeded="wait",
              wait_timeout=3600, default_max_tokens=100)
    model = g.wrap(mini(long_reply))
    model.invoke("hello")  # used 108 of 130
    waiters: list[int] = []
    clock.on_sleep = lambda: waiters.append(g.status().waiters)
    out = model.invoke("hello")  # the smallest call needs 25 more; only the next hour has room
    assert clock.slept == [1800.0]  # 12:30 -> 13:00
    assert waiters == [1]
    assert g.status().waiters == 0
    assert g.status().used == out.usage_metadata["total_tokens"]  # type: ignore[index]


async def test_async_wait_mode_uses_the_injected_async_sleep() -> None:
    clock = Clock()
    g = guard(Budget.tokens(130, per="hour"), clock=clock, on_exceeded="wait",
              wait_timeout=3600, default_max_tokens=100)
    model = g.wrap(mini(long_reply))
    await model.ainvoke("hello")
    await model.ainvoke("hello")
    assert clock.slept == [1800.0]


def test_wait_mode_gives_up_when_the_reset_is_past_the_timeout() -> None:
    clock = Clock()
    g = guard(Budget.tokens(130, per="hour"), clock=clock, on_exceeded="wait",
              wait_timeout=600, default_max_tokens=100)
    model = g.wrap(mini(long_reply))
    model.invoke("hello")
    with pytest.raises(BudgetExceededError, match=r"resets at 2026-03-10T13:00:00") as ei:
        model.invoke("hello")
    assert clock.slept == []
    assert ei.value.note == (
        "not waiting: the window resets at 2026-03-10T13:00:00+00:00, beyond wait_timeout=600 s")
    assert str(ei.value).endswith(ei.value.note)


def test_rolling_window_frees_usage_slice_by_slice() -> None:
    clock = Clock()
    g = guard(Budget.tokens(130, per="hour", rolling=True), clock=clock, on_exceeded="wait",
              wait_timeout=7200, default_max_tokens=100)
    model = g.wrap(mini(long_reply))
    model.invoke("hello")
    first_slice = int(T0 // 60) * 60
    model.invoke("hello")
    # The first call's 1-minute slice leaves the window 60 slices after it started.
    assert clock.t == first_slice + 3600
    assert clock.slept == [first_slice + 3600 - T0]


# -- free models, unpriced models ----------------------------------------------------------


def test_a_free_model_is_not_blocked_by_a_spent_usd_budget_but_tokens_still_apply() -> None:
    free = FunctionChatModel(model_name="local-llama")
    g = guard(Budget.usd("0.00001", per="day"), Budget.tokens(120, per="day"),
              prices={"local-llama": Prices(input=0, output=0)}, default_max_tokens=50)
    g.ledger.reserve("spent", [Charge(g.budgets[0].counter("*"), 10_000, 10_000,
                                      g.budgets[0].window.bucket(T0), 0)], now=T0, ttl=1e9)
    assert g.status().per_budget["usd/day"].remaining == 0
    model = g.wrap(free)
    model.invoke("hi")
    model.invoke("hi")
    with pytest.raises(BudgetExceededError, match="tokens/day"):
        for _ in range(50):
            model.invoke("hi")
    assert g.status().per_budget["tokens/day"].used <= 120


def test_unpriced_model_against_a_usd_budget_raises_or_is_allowed() -> None:
    mystery = FunctionChatModel(model_name="mystery-model-x")
    with pytest.raises(BudgetUnpricedError, match="mystery-model-x"):
        guard(Budget.usd("1", per="day")).wrap(mystery).invoke("hi")
    g = guard(Budget.usd("1", per="day"), Budget.tokens(10_000, per="day"), on_unpriced="allow")
    g.wrap(mystery).invoke("hi")
    assert g.status().per_budget["usd/day"].used == 0
    assert g.status().per_budget["tokens/day"].used > 0


# -- scopes --------------------------------------------------------------------------------


def test_per_scope_overrides_and_hashed_api_keys() -> None:
    g = guard(
        Budget.tokens(100, per="day", scope="api_key", overrides={"sk-big-spender": 10_000}),
        default_max_tokens=50,
    )
    model = g.wrap(mini(long_reply))
    for _ in range(5):
        model.invoke("hi", {"metadata": {"api_key": "sk-big-spender"}})
    with pytest.raises(BudgetExceededError) as ei:
        for _ in range(5):
            model.invoke("hi", {"metadata": {"api_key": "sk-small-fry"}})
    assert "sk-small-fry" not in str(ei.value)
    assert ei.value.scope == f"api_key:{hash_api_key('sk-small-fry')}"
    ledger = g.ledger
    assert isinstance(ledger, InMemoryLedger)
    keys = " ".join(ledger._buckets)
    assert "sk-" not in keys and hash_api_key("sk-big-spender") in keys
    assert "sk-big-spender" not in repr(g.budgets[0])
    st = g.status({"api_key": "sk-big-spender"})
    assert st.limit == 10_000 and st.used > 100


def test_calls_without_the_scope_key_share_the_anonymous_budget() -> None:
    g = guard(Budget.tokens(10_000, per="day", scope="team"))
    g.wrap(mini()).invoke("hi")
    assert g.status({"team": None}).used > 0
    assert g.status({"team": "ml"}).used == 0


def test_status_reports_every_window() -> None:
    g = guard(Budget.tokens(1000, per="day"), Budget.usd("2", per="month", scope="user"),
              default_max_tokens=100)
    g.wrap(mini()).invoke("hi", {"metadata": {"user": "u1"}})
    st = g.status({"user": "u1"})
    assert {w.budget for w in st.windows} == {"tokens/day", "usd/month/user"}
    tok = st.per_budget["tokens/day"]
    assert tok.remaining == 1000 - tok.used
    assert tok.utilization == pytest.approx(tok.used / 10)
    assert st.available and st.waiters == 0
    assert st.per_budget["usd/month/user"].resets_at == datetime(2026, 4, 1, tzinfo=timezone.utc)
    assert st.utilization == max(w.utilization for w in st.windows)


# -- pass-through form ---------------------------------------------------------------------


def test_pass_through_guard_charges_the_estimate_and_passes_input_on() -> None:
    m = mini()
    g = guard(Budget.tokens(10_000, per="day"), model=m, default_max_tokens=200)
    chain = g | m
    out = chain.invoke("hello")
    assert isinstance(out, AIMessage) and out.content == "echo: hello"
    # The expected answer (the 200-token cap here), without the prompt margin: it is final.
    assert g.status().used == count_messages([_human("hello")]) + 200


# -- ledger failure ------------------------------------------------------------------------


class DeadLedger(InMemoryLedger):
    def reserve(self, reservation_id: str, charges: Sequence[Charge], *, now: float,
                ttl: float) -> Grant:
        raise LedgerUnavailableError("redis at 127.0.0.1:1 is unreachable")


def test_dead_ledger_fails_closed_by_default() -> None:
    g = BudgetGuard(budgets=[Budget.tokens(100)], ledger=DeadLedger())
    m = mini()
    with pytest.raises(LedgerUnavailableError):
        g.wrap(m).invoke("hi")
    assert m.calls == []


def test_dead_ledger_fail_open_runs_the_call_with_a_warning() -> None:
    g = BudgetGuard(budgets=[Budget.tokens(100)], ledger=DeadLedger(), on_ledger_error="fail_open")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = g.wrap(mini()).invoke("hi")
    assert out.content == "echo: hi"
    assert any(issubclass(x.category, BudgetLedgerWarning) for x in w)


def test_with_budget_builds_a_guard() -> None:
    from langchain_costrouter.budget import with_budget

    model = with_budget(mini(), [Budget.tokens(1000)], default_max_tokens=10)
    model.invoke("hi")
    assert model.guard.status().used > 0  # type: ignore[attr-defined]
    with pytest.raises(ConfigError):
        with_budget(mini())


def test_estimate_counts_tools_bound_to_a_router_and_skips_toolless_downgrades() -> None:
    from decimal import Decimal as D

    from langchain_core.messages import HumanMessage

    from langchain_costrouter import Catalog, ChatCostRouter
    from langchain_costrouter.budget import Budget, BudgetGuard
    from langchain_costrouter.models.catalog import Capabilities
    from langchain_costrouter.pricing.prices import Prices
    from langchain_costrouter.testing.function_model import FunctionChatModel

    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    def spec(name: str, price: str, tools: bool = True) -> dict:
        return {"name": name, "provider": "p", "model": name,
                "chat_model": FunctionChatModel(model_name=name),
                "prices": Prices(input=D(price), output=D(price)),
                "capabilities": Capabilities(tools=tools)}

    cat = Catalog.build({
        "models": [spec("free-text", "0.01", tools=False), spec("cheap", "0.1"),
                   spec("dear", "5")],
        "levels": {lv: ["dear"] for lv in ("trivial", "standard", "complex", "expert")},
    })
    router = ChatCostRouter(catalog=cat)
    guard = BudgetGuard(budgets=[Budget.usd("1", per="day")], on_exceeded="downgrade")
    msgs = [HumanMessage("add 2 and 3")]
    plain = guard.options(router, msgs)
    with_tools = guard.options(router.bind_tools([add]), msgs)
    assert with_tools[0].estimate.input_tokens > plain[0].estimate.input_tokens
    assert "free-text" in {o.pin for o in plain}  # a text call may downgrade to it
    assert "free-text" not in {o.pin for o in with_tools}  # a tool call may not


def test_settling_never_reprices_a_router_call_the_router_could_not_price() -> None:
    from decimal import Decimal as D

    from langchain_core.messages import AIMessage

    from langchain_costrouter.budget.estimate import Estimate, actual_usage
    from langchain_costrouter.pricing.prices import Prices

    planned = Estimate(model="cheap", input_tokens=10, output_tokens=10, cost=D("0.001"),
                       prices=Prices(input=D(1), output=D(1)))
    usage = {"input_tokens": 40, "output_tokens": 20, "total_tokens": 60}
    cascaded = AIMessage("ok", usage_metadata=usage, response_metadata={"costrouter": {
        "cost_usd": None, "attempts": [{"tier": "free?", "status": "rejected"},
                                       {"tier": "cheap", "status": "ok"}]}})
    assert actual_usage(cascaded, planned) == (60, None)
    plain = AIMessage("ok", usage_metadata=usage)  # not a router: priced at the plan's prices
    assert actual_usage(plain, planned) == (60, D(60) / D(1_000_000))
