"""The router with breakers, retries, deadlines and concurrency limits (injected clocks)."""

from __future__ import annotations

from typing import Any

import pytest
from _router_fakes import Boom, Clock, cheap_and_backup
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage

from langchain_costrouter import AllModelsFailedError, ChatCostRouter, QueueFullError
from langchain_costrouter.resilience import (
    BreakerConfig,
    Breakers,
    ConcurrencyLimiter,
    RetryPolicy,
    wait_fixed,
)
from langchain_costrouter.testing.function_model import echo


class Flaky:
    """Fails with ``status`` while ``broken`` is true; counts calls."""

    def __init__(self, status: int = 503) -> None:
        self.broken = True
        self.status = status
        self.calls = 0

    def __call__(self, messages: list[BaseMessage], info: dict[str, Any]) -> str:
        self.calls += 1
        if self.broken:
            raise Boom(self.status)
        return "ok"


def router_with(primary: Any, clock: Clock, **kw: Any) -> ChatCostRouter:
    cat = cheap_and_backup(primary)
    breakers = Breakers(BreakerConfig(failure_threshold=2, window_s=60, recovery_s=30), clock=clock)
    return ChatCostRouter(catalog=cat, breakers=breakers, **kw)


def tiers(msg: Any) -> list[tuple[str, str]]:
    return [(a["tier"], a["status"]) for a in msg.response_metadata["costrouter"]["attempts"]]


def test_open_breaker_skips_the_model_without_a_call_then_a_probe_closes_it() -> None:
    clock, flaky = Clock(), Flaky()
    router = router_with(flaky, clock)
    router.invoke("a")
    router.invoke("b")  # 2 failures: open
    assert router.health()["cheap"].state == "open"
    msg = router.invoke("c")
    assert flaky.calls == 2  # skipped, no network call
    assert tiers(msg) == [("cheap", "skipped"), ("backup", "ok")]
    clock.now += 31  # recovery timeout passed: half-open
    flaky.broken = False
    msg = router.invoke("d")
    assert tiers(msg) == [("cheap", "ok")]
    assert router.health()["cheap"].state == "closed"
    events = msg.response_metadata["costrouter"]["breaker_events"]
    assert [(e["old_state"], e["new_state"]) for e in events] == [
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


def test_failed_probe_reopens() -> None:
    clock, flaky = Clock(), Flaky()
    router = router_with(flaky, clock)
    router.invoke("a")
    router.invoke("b")
    clock.now += 31
    router.invoke("probe")
    assert flaky.calls == 3
    h = router.health()["cheap"]
    assert h.state == "open" and h.trips == 2
    assert h.next_probe_at is not None and h.next_probe_at - clock.now >= 59  # grew


def test_transitions_are_langchain_custom_events() -> None:
    seen: list[tuple[str, Any]] = []

    class Spy(BaseCallbackHandler):
        def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
            seen.append((name, data))

    clock = Clock()
    router = router_with(Flaky(), clock)
    router.invoke("a", config={"callbacks": [Spy()]})
    router.invoke("b", config={"callbacks": [Spy()]})
    assert [(n, d["model"], d["new_state"]) for n, d in seen] == [
        ("costrouter_breaker", "cheap", "open")
    ]


def test_retry_waits_with_injected_sleep_then_succeeds() -> None:
    slept: list[float] = []
    flaky = Flaky()

    def fn(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        if flaky.calls == 1:
            flaky.broken = False
        return flaky(messages, info)

    retry = RetryPolicy(max_attempts=3, deadline_s=30, wait=wait_fixed(0.25), sleep=slept.append)
    router = router_with(fn, Clock(), retry=retry)
    msg = router.invoke("x")
    assert tiers(msg) == [("cheap", "error"), ("cheap", "ok")]
    assert slept == [0.25]


def test_request_errors_are_not_retried_or_fallen_back() -> None:
    flaky = Flaky(status=401)
    router = router_with(flaky, Clock(), max_retries=3)
    with pytest.raises(Boom):
        router.invoke("x")
    assert flaky.calls == 1


def test_deadline_stops_further_attempts() -> None:
    clock = Clock()

    def slow_fail(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        clock.now += 10  # this attempt "took" 10 s
        raise Boom(503)

    retry = RetryPolicy(max_attempts=1, deadline_s=5, clock=clock)
    router = router_with(slow_fail, clock, retry=retry)
    with pytest.raises(AllModelsFailedError, match="deadline passed") as ei:
        router.invoke("x")
    assert [a.tier for a in ei.value.attempts] == ["cheap"]  # backup never started
    assert any(isinstance(e, TimeoutError) for e in ei.value.exceptions)


def test_full_queue_refuses_at_once() -> None:
    limiter = ConcurrencyLimiter(per_model=1, max_queue=0)
    router = router_with(echo, Clock(), limiter=limiter)
    lease = limiter.acquire("cheap")  # someone holds the only slot
    try:
        with pytest.raises(QueueFullError):
            router.invoke("x")
    finally:
        limiter.release(lease)
    assert router.invoke("x").response_metadata["costrouter"]["tier"] == "cheap"


def test_retry_backoff_does_not_hold_the_concurrency_slot() -> None:
    limiter = ConcurrencyLimiter(per_model=1)
    in_flight_while_sleeping: list[int] = []
    flaky = Flaky()

    def fn(messages: list[BaseMessage], info: dict[str, Any]) -> str:
        if flaky.calls == 1:
            flaky.broken = False
        return flaky(messages, info)

    def sleep(seconds: float) -> None:
        in_flight_while_sleeping.append(limiter.in_flight("cheap"))

    retry = RetryPolicy(max_attempts=2, deadline_s=30, wait=wait_fixed(0.5), sleep=sleep)
    router = router_with(fn, Clock(), retry=retry, limiter=limiter)
    assert tiers(router.invoke("x")) == [("cheap", "error"), ("cheap", "ok")]
    assert in_flight_while_sleeping == [0]


@pytest.mark.parametrize("bad", ["high", 1.5, True])
def test_bad_priority_is_a_config_error(bad: Any) -> None:
    from langchain_costrouter import ConfigError

    router = router_with(echo, Clock())
    with pytest.raises(ConfigError, match="priority must be an integer"):
        router.invoke("x", priority=bad)
