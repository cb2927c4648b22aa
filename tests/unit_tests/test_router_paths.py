"""Every resilience behaviour, on each of the four paths: invoke, ainvoke, stream, astream.

Breakers, retries, the concurrency limiter, the tier rate limiters, fallbacks, cascades and
checked usage are decided in one place (the call engine); these tests hold each path to it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from _router_fakes import Boom, Clock, cheap_and_backup
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.rate_limiters import BaseRateLimiter

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.exceptions import StreamCutError
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.resilience import (
    BreakerConfig,
    Breakers,
    ConcurrencyLimiter,
    RetryPolicy,
    wait_fixed,
)
from langchain_costrouter.testing.function_model import FunctionChatModel, echo
from langchain_costrouter.testing.paths import PATHS, call, route, tiers

LEVELS = ("trivial", "standard", "complex", "expert")


class Flaky:
    """Fails with ``status`` the first ``fails`` calls (forever if None); counts calls."""

    def __init__(self, status: int = 503, fails: int | None = None) -> None:
        self.status, self.fails, self.calls = status, fails, 0

    def __call__(self, messages: list[BaseMessage], info: dict[str, Any]) -> str:
        self.calls += 1
        if self.fails is None or self.calls <= self.fails:
            raise Boom(self.status)
        return "fine answer"


def breakers(clock: Clock, **kw: Any) -> Breakers:
    return Breakers(BreakerConfig(failure_threshold=2, window_s=60, recovery_s=30),
                    clock=clock, **kw)


@pytest.mark.parametrize("how", PATHS)
def test_a_server_error_falls_back_to_the_next_model(how: str) -> None:
    router = ChatCostRouter(catalog=cheap_and_backup(Flaky()))
    msg = call(router, how, "hello there")
    assert tiers(msg) == [("cheap", "error"), ("backup", "ok")]
    assert route(msg)["tier"] == "backup" and route(msg)["reason"] == "fallback"
    assert "hello there" in msg.text


@pytest.mark.parametrize("status", [400, 422])
@pytest.mark.parametrize("how", PATHS)
def test_a_request_error_is_raised_once_without_fallback_or_breaker_count(
    how: str, status: int
) -> None:
    flaky, clock = Flaky(status), Clock()
    router = ChatCostRouter(catalog=cheap_and_backup(flaky), breakers=breakers(clock))
    for _ in range(3):
        with pytest.raises(Boom):
            call(router, how, "hi")
    assert flaky.calls == 3  # once per call: never retried, never fallen back
    assert router.route_catalog["backup"].chat_model.calls == []  # type: ignore[union-attr]
    assert router.health()["cheap"].state == "closed"


@pytest.mark.parametrize("how", PATHS)
def test_an_open_breaker_is_skipped_without_a_call_and_its_events_are_recorded_once(
    how: str,
) -> None:
    clock, flaky = Clock(), Flaky()
    shared = breakers(clock)
    router = ChatCostRouter(catalog=cheap_and_backup(flaky), breakers=shared)
    # a second router on the same breakers must not record the first one's transitions
    ChatCostRouter(catalog=cheap_and_backup(echo), breakers=shared)
    call(router, how, "a")
    msg = call(router, how, "b")  # the second failure opens the breaker
    events = [(e["model"], e["new_state"]) for e in route(msg)["breaker_events"]]
    assert events == [("cheap", "open")]
    msg = call(router, how, "c")
    assert flaky.calls == 2 and tiers(msg) == [("cheap", "skipped"), ("backup", "ok")]
    assert route(msg)["breaker_events"] == []
    clock.now += 31
    flaky.fails = 0  # healthy again: the probe closes it
    msg = call(router, how, "d")
    events = [(e["old_state"], e["new_state"]) for e in route(msg)["breaker_events"]]
    assert events == [("open", "half_open"), ("half_open", "closed")]


@pytest.mark.parametrize("how", PATHS)
def test_a_transient_error_is_retried_after_the_injected_sleep(how: str) -> None:
    flaky, slept, seen = Flaky(fails=1), [], []

    async def asleep(s: float) -> None:
        slept.append(s)

    retry = RetryPolicy(max_attempts=2, wait=wait_fixed(0.25), sleep=slept.append,
                        asleep=asleep, before_sleep=lambda st, w: seen.append((st.attempt, w)))
    router = ChatCostRouter(catalog=cheap_and_backup(flaky), retry=retry)
    msg = call(router, how, "hi")
    assert tiers(msg) == [("cheap", "error"), ("cheap", "ok")]
    assert slept == [0.25] and seen == [(1, 0.25)]  # before_sleep is called, then the sleep


@pytest.mark.parametrize("how", PATHS)
def test_the_concurrency_slot_is_held_during_the_call_and_given_back(how: str) -> None:
    limiter = ConcurrencyLimiter(per_model=1)
    held: list[int] = []

    def fn(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        held.append(limiter.in_flight("cheap"))
        return "ok"

    router = ChatCostRouter(catalog=cheap_and_backup(fn), limiter=limiter)
    call(router, how, "hi")
    assert held == [1] and limiter.in_flight("cheap") == 0


class CountingLimiter(BaseRateLimiter):
    def __init__(self) -> None:
        self.sync = self.async_ = 0

    def acquire(self, *, blocking: bool = True) -> bool:
        self.sync += 1
        return True

    async def aacquire(self, *, blocking: bool = True) -> bool:
        self.async_ += 1
        return True


@pytest.mark.parametrize("how", PATHS)
def test_the_serving_models_own_rate_limiter_is_acquired_once_per_try(how: str) -> None:
    limiter = CountingLimiter()
    flaky = Flaky(fails=1)
    cat = cheap_and_backup(flaky)
    model = cat["cheap"].chat_model
    assert model is not None
    model.rate_limiter = limiter
    router = ChatCostRouter(catalog=cat, retry=RetryPolicy(max_attempts=2, wait=wait_fixed(0)))
    msg = call(router, how, "hi")
    assert tiers(msg) == [("cheap", "error"), ("cheap", "ok")]
    acquired = limiter.async_ if how.startswith("a") else limiter.sync
    assert acquired == 2 and limiter.sync + limiter.async_ == 2


@pytest.mark.parametrize("how", PATHS)
def test_a_cascade_escalates_a_rejected_answer_on_invoke_and_streams_are_not_checked(
    how: str,
) -> None:
    def short(msg: AIMessage) -> str | None:
        return "too short" if len(msg.text) < 50 else None

    router = ChatCostRouter(catalog=cheap_and_backup(lambda m, i: "no"), cascade=[short])
    msg = call(router, how, "please answer at length " * 5)
    if how in ("invoke", "ainvoke"):
        assert tiers(msg) == [("cheap", "rejected"), ("backup", "ok")]
        assert route(msg)["reason"] == "cascade_escalation"
        costs = [Decimal(a["cost_usd"]) for a in route(msg)["attempts"]]
        assert Decimal(route(msg)["cost_usd"]) == sum(costs)  # both answers are paid for
    else:
        assert tiers(msg) == [("cheap", "ok")]


def _bad_usage_catalog() -> Catalog:
    class Liar(FunctionChatModel):
        def _reply(self, messages: Any, stop: Any, kwargs: Any) -> AIMessage:
            msg = super()._reply(messages, stop, kwargs)
            msg.usage_metadata = {"input_tokens": -5, "output_tokens": 3, "total_tokens": -2}
            return msg

    models = [
        {"name": "cheap", "provider": "a", "model": "cheap-1",
         "chat_model": Liar(model_name="cheap-1", fn=echo),
         "prices": Prices(input=Decimal("0.1"), output=Decimal("0.4"))},
        {"name": "backup", "provider": "b", "model": "backup-1",
         "chat_model": FunctionChatModel(model_name="backup-1", fn=echo),
         "prices": Prices(input=Decimal("1"), output=Decimal("4"))},
    ]
    return Catalog.build({"models": models, "levels": {lv: ["cheap", "backup"] for lv in LEVELS}})


@pytest.mark.parametrize("how", PATHS)
def test_a_bad_usage_report_is_the_providers_fault_and_is_never_billed(how: str) -> None:
    clock = Clock()
    router = ChatCostRouter(catalog=_bad_usage_catalog(), breakers=breakers(clock))
    for prompt in ("hi", "again"):  # the second bad report opens the breaker
        if how in ("invoke", "ainvoke"):
            msg = call(router, how, prompt)
            assert tiers(msg) == [("cheap", "error"), ("backup", "ok")]
            assert "negative" in route(msg)["attempts"][0]["error"]
            assert "cost_usd" not in route(msg)["attempts"][0]  # nothing billed from it
            assert msg.usage_metadata is not None and msg.usage_metadata["input_tokens"] > 0
        else:  # the report comes with the last chunk, after the text: billed on counted tokens
            msg = call(router, how, prompt)
            assert tiers(msg) == [("cheap", "ok")] and "negative" in route(msg)["attempts"][0][
                "error"]
            assert route(msg)["usage_estimated"] is True and Decimal(route(msg)["cost_usd"]) > 0
    assert router.health()["cheap"].state == "open"


@pytest.mark.parametrize("how", ["stream", "astream"])
def test_a_stream_cut_midway_is_billed_for_what_went_out(how: str) -> None:
    from langchain_costrouter.costs.observe import cut_stream_bill

    class Cut(FunctionChatModel):  # three chunks out, then the connection drops
        def _stream(self, *a: Any, **k: Any) -> Any:
            for i, c in enumerate(super()._stream(*a, **k)):
                if i == 3:
                    raise ConnectionError("connection reset")
                yield c

        async def _astream(self, *a: Any, **k: Any) -> Any:
            for c in self._stream(*a, **k):
                yield c

    cat = cheap_and_backup(echo)
    spec = cat["cheap"]
    cut = Cut(model_name="cheap-1", fn=echo)
    cat = cat.with_overrides({"models": {"cheap": {"chat_model": cut}}})
    router = ChatCostRouter(catalog=cat)
    with pytest.raises(StreamCutError) as ei:
        call(router, how, "one two three four five six seven eight")
    err = ei.value
    assert err.streamed and err.usage_metadata["output_tokens"] > 0
    assert isinstance(err.__cause__, ConnectionError)
    assert err.cost is not None and err.cost > 0 and err.route["usage_estimated"] is True
    assert spec.name == err.tier
    bill = cut_stream_bill(err)
    assert bill is not None and bill.cost == err.cost and bill.usage.input_tokens > 0
