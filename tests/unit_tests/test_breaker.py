"""Every breaker transition, driven by an injected clock (no test sleeps)."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.resilience import (
    Action,
    BreakerConfig,
    Breakers,
    TransitionEvent,
    Verdict,
)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


TRIP = Verdict(Action.TRIP, "http 503", retryable=True)


def make(cfg: BreakerConfig | None = None, **kw: object) -> tuple[Breakers, Clock,
                                                                   list[TransitionEvent]]:
    clock = Clock()
    events: list[TransitionEvent] = []
    b = Breakers(cfg or BreakerConfig(failure_threshold=3, recovery_s=10), clock=clock,
                 listeners=[events.append], **kw)  # type: ignore[arg-type]
    return b, clock, events


def fail(b: Breakers, model: str, n: int = 1, exc: BaseException | Verdict = TRIP) -> None:
    for _ in range(n):
        permit = b.allow(model)
        assert permit is not None
        b.failure(permit, exc)


def trip_and_wait(b: Breakers, clock: Clock, model: str = "m") -> None:
    fail(b, model, 3)
    clock.now += 10


def test_closed_to_open_by_count_within_window() -> None:
    b, _clock, events = make()
    fail(b, "m", 2)
    assert b.health()["m"].state == "closed"
    assert b.health()["m"].failures == 2
    fail(b, "m")
    h = b.health()["m"]
    assert (h.state, h.opened_at, h.next_probe_at, h.trips) == ("open", 1000.0, 1010.0, 1)
    assert b.allow("m") is None
    assert b.is_available("m") is False
    assert [(e.model, e.old_state, e.new_state, e.at) for e in events] == [
        ("m", "closed", "open", 1000.0)]
    assert "3 failures" in events[0].reason


def test_failures_outside_the_sliding_window_do_not_count() -> None:
    b, clock, _ = make(BreakerConfig(failure_threshold=3, window_s=60, buckets=6))
    fail(b, "m", 2)
    clock.now += 61  # both failures slid out of the window
    fail(b, "m", 2)
    assert b.health()["m"].state == "closed"
    assert b.health()["m"].failures == 2
    fail(b, "m")
    assert b.health()["m"].state == "open"


def test_closed_to_open_by_failure_rate_needs_min_calls() -> None:
    cfg = BreakerConfig(failure_threshold=None, failure_rate=0.5, min_calls=6, recovery_s=5)
    b, _, events = make(cfg)
    for _ in range(3):
        permit = b.allow("m")
        assert permit is not None
        b.success(permit)
    fail(b, "m", 2)  # 2/5: below min_calls
    assert b.health()["m"].state == "closed"
    assert b.health()["m"].calls == 5
    fail(b, "m")  # 3/6 = 50%
    assert b.health()["m"].state == "open"
    assert "failure rate 3/6" in events[-1].reason


def test_open_to_half_open_after_recovery_timeout_then_closed_on_success() -> None:
    b, clock, events = make()
    fail(b, "m", 3)
    clock.now += 9.999
    assert b.allow("m") is None
    clock.now = 1010.0
    assert b.is_available("m") is True  # peeking does not take the probe
    probe = b.allow("m")
    assert probe is not None and probe.probe
    assert b.health()["m"].state == "half_open"
    b.success(probe)
    h = b.health()["m"]
    assert (h.state, h.trips, h.failures) == ("closed", 0, 0)
    assert [(e.old_state, e.new_state) for e in events] == [
        ("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_half_open_failure_reopens_with_exponential_timeout_capped() -> None:
    cfg = BreakerConfig(failure_threshold=1, recovery_s=10, backoff_multiplier=2,
                        max_recovery_s=35)
    b, clock, _ = make(cfg)
    fail(b, "m")
    opens = []
    for _ in range(4):
        h = b.health()["m"]
        opens.append(h.next_probe_at - h.opened_at)  # type: ignore[operator]
        clock.now = h.next_probe_at  # type: ignore[assignment]
        fail(b, "m")  # the probe fails
        assert b.health()["m"].state == "open"
    assert opens == [10, 20, 35, 35]
    clock.now = b.health()["m"].next_probe_at  # type: ignore[assignment]
    probe = b.allow("m")
    assert probe is not None
    b.success(probe)
    fail(b, "m")  # a success reset the growth: back to 10 s
    h = b.health()["m"]
    assert h.next_probe_at - h.opened_at == 10  # type: ignore[operator]


def test_half_open_lets_one_probe_and_frees_it_on_a_neutral_outcome() -> None:
    b, clock, _ = make()
    trip_and_wait(b, clock)
    probe = b.allow("m")
    assert probe is not None
    assert b.allow("m") is None
    assert b.is_available("m") is False
    verdict = b.failure(probe, Verdict(Action.FAIL_FAST, "http 400"))
    assert verdict.action is Action.FAIL_FAST
    assert b.health()["m"].state == "half_open"
    second = b.allow("m")  # the slot was freed, nobody blamed
    assert second is not None and second.probe


def test_unreported_probe_lease_expires() -> None:
    b, clock, _ = make(BreakerConfig(failure_threshold=3, recovery_s=10, probe_timeout_s=30))
    trip_and_wait(b, clock)
    lost = b.allow("m")
    assert lost is not None
    clock.now += 29
    assert b.allow("m") is None
    clock.now += 1
    again = b.allow("m")
    assert again is not None and again.probe
    b.success(lost)  # the superseded probe's report is ignored
    assert b.health()["m"].state == "half_open"
    b.success(again)
    assert b.health()["m"].state == "closed"


def test_stale_success_from_before_the_trip_does_not_close() -> None:
    b, _, _ = make()
    early = b.allow("m")
    assert early is not None
    fail(b, "m", 3)
    b.success(early)
    assert b.health()["m"].state == "open"


def test_exactly_one_probe_with_50_threads() -> None:
    b, clock, _ = make()
    trip_and_wait(b, clock)
    start = threading.Barrier(50)
    permits = []
    lock = threading.Lock()

    def caller() -> None:
        start.wait()
        permit = b.allow("m")
        with lock:
            permits.append(permit)

    threads = [threading.Thread(target=caller) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted = [p for p in permits if p is not None]
    assert len(permits) == 50
    assert len(granted) == 1 and granted[0].probe


async def test_exactly_one_probe_with_50_asyncio_tasks() -> None:
    b, clock, _ = make()
    trip_and_wait(b, clock)
    release = asyncio.Event()
    probes = 0

    async def caller() -> str:
        nonlocal probes
        permit = b.allow("m")
        if permit is None:
            return "next candidate"
        probes += 1
        await release.wait()  # the probe is in flight while the others arrive
        b.success(permit)
        return "probe"

    tasks = [asyncio.create_task(caller()) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*tasks)
    assert results.count("probe") == 1 and probes == 1
    assert results.count("next candidate") == 49
    assert b.health()["m"].state == "closed"


def test_cooldown_skips_the_model_without_tripping() -> None:
    b, clock, events = make()
    permit = b.allow("m")
    assert permit is not None
    b.failure(permit, Verdict(Action.COOLDOWN, "http 429", cooldown_s=7, retryable=True))
    h = b.health()["m"]
    assert (h.state, h.failures, h.cooldown_until, h.available) == ("closed", 0, 1007.0, False)
    assert b.allow("m") is None
    clock.now += 7
    assert b.allow("m") is not None
    assert events == []


def test_fallback_verdict_blames_nobody() -> None:
    b, _, _ = make()
    fail(b, "m", 5, Verdict(Action.FALLBACK, "context_length_exceeded"))
    assert b.health()["m"].state == "closed"
    assert b.health()["m"].failures == 0


def test_failure_classifies_real_exceptions() -> None:
    b, _, _ = make()
    permit = b.allow("m")
    assert permit is not None
    verdict = b.failure(permit, TimeoutError("read timed out"))
    assert verdict.action is Action.TRIP
    assert b.health()["m"].failures == 1


def test_provider_wide_breaker_blocks_all_models_of_the_provider() -> None:
    b, clock, events = make(
        BreakerConfig(failure_threshold=10),
        providers={"a": "acme", "b": "acme", "c": "other"},
        provider_config=BreakerConfig(failure_threshold=3, recovery_s=10))
    fail(b, "a", 2)
    fail(b, "b", 1)
    assert b.allow("a") is None and b.allow("b") is None
    assert b.allow("c") is not None
    assert b.health()["provider:acme"].state == "open"
    assert b.health()["a"].state == "closed"
    assert events[-1].model == "provider:acme"
    clock.now += 10
    probe = b.allow("b")
    assert probe is not None and probe.probe
    assert b.allow("a") is None  # one probe for the whole provider
    b.success(probe)
    assert b.allow("a") is not None


def test_out_of_credit_cools_down_the_whole_provider() -> None:
    b, _, _ = make(providers={"a": "acme", "b": "acme"}, provider_config=BreakerConfig())
    permit = b.allow("a")
    assert permit is not None
    b.failure(permit, Verdict(Action.COOLDOWN, "insufficient_quota", cooldown_s=300,
                              provider_wide=True))
    assert b.allow("b") is None
    assert b.health()["provider:acme"].cooldown_until == 1300.0


def test_transitions_are_logged_and_a_bad_listener_does_not_break_routing(
        caplog: pytest.LogCaptureFixture) -> None:
    b, _, events = make()

    def broken(event: TransitionEvent) -> None:
        raise RuntimeError("listener bug")

    unsubscribe = b.on_transition(broken)
    with caplog.at_level(logging.INFO, logger="langchain_costrouter.resilience.breaker"):
        fail(b, "m", 3)
    assert "breaker m: closed -> open" in caplog.text
    assert "listener" in caplog.text and len(events) == 1
    unsubscribe()
    b.reset("m")
    assert b.allow("m") is not None


def test_double_report_is_ignored() -> None:
    b, _, _ = make()
    permit = b.allow("m")
    assert permit is not None
    b.failure(permit, TRIP)
    b.failure(permit, TRIP)
    b.release(permit)
    assert b.health()["m"].failures == 1


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"failure_threshold": 0}, "failure_threshold"),
    ({"failure_threshold": None, "failure_rate": None}, "failure_threshold"),
    ({"failure_rate": 1.5}, "failure_rate"),
    ({"recovery_s": 0}, "recovery_s"),
    ({"recovery_s": 60, "max_recovery_s": 30}, "max_recovery_s"),
    ({"backoff_multiplier": 0.5}, "backoff_multiplier"),
])
def test_bad_config_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        BreakerConfig(**kwargs)  # type: ignore[arg-type]
