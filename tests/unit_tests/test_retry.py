"""Retry wait math with a fake RNG, Retry-After parsing, and the retry loop on a fake clock."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.resilience import (
    Action,
    RetryPolicy,
    RetryState,
    Verdict,
    parse_retry_after,
    wait_exponential,
    wait_fixed,
    wait_full_jitter,
)

TRANSIENT = Verdict(Action.TRIP, "http 503", retryable=True)


def state(attempt: int, rng: float = 0.5, verdict: Verdict = TRANSIENT) -> RetryState:
    return RetryState(attempt, 0.0, RuntimeError("x"), verdict, lambda: rng)


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def test_exponential_doubles_and_caps() -> None:
    w = wait_exponential(0.5, max=3)
    assert [w(state(n)) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3, 3]
    assert wait_exponential(1, base=3, min=2)(state(1)) == 2


def test_full_jitter_scales_the_exponential_by_the_rng() -> None:
    w = wait_full_jitter(1.0, max=8)
    assert [w(state(n, rng=0.25)) for n in (1, 2, 3, 4, 5)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert w(state(3, rng=0.0)) == 0.0
    assert w(state(100, rng=0.999)) == pytest.approx(7.992)  # no overflow at large attempts


def test_policies_compose_with_plus_and_accept_plain_functions() -> None:
    def one_per_attempt(s: RetryState) -> float:
        return float(s.attempt)

    w = wait_fixed(0.1) + one_per_attempt + wait_exponential(1, max=4)
    assert w(state(3)) == pytest.approx(0.1 + 3 + 4)
    assert sum([wait_fixed(1), wait_fixed(2)])(state(1)) == 3  # type: ignore[operator]


def test_bad_wait_arguments_are_named() -> None:
    with pytest.raises(ConfigError, match="multiplier=-1"):
        wait_exponential(-1)
    with pytest.raises(ConfigError, match="max_attempts must be >= 1, got 0"):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(("value", "seconds"), [
    ("7", 7.0), (" 0 ", 0.0), ("1.5", 1.5), ("", None), (None, None), ("soon", None),
    ("-3", None), ("nan", None),
])
def test_parse_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 3, 1, 8, 0, 0, tzinfo=timezone.utc).timestamp()
    later = format_datetime(datetime(2026, 3, 1, 8, 1, 30, tzinfo=timezone.utc), usegmt=True)
    assert later == "Sun, 01 Mar 2026 08:01:30 GMT"
    assert parse_retry_after(later, now=lambda: now) == 90.0
    assert parse_retry_after("Sun, 01 Mar 2026 07:00:00 GMT", now=lambda: now) == 0.0


def test_retries_transient_errors_then_succeeds() -> None:
    t = FakeTime()
    calls = []

    def flaky() -> str:
        calls.append(t.now)
        if len(calls) < 3:
            raise TimeoutError("read timed out")
        return "ok"

    policy = RetryPolicy(max_attempts=3, wait=wait_full_jitter(1.0), rng=lambda: 0.5,
                         clock=t.clock, sleep=t.sleep)
    assert policy.call(flaky) == "ok"
    assert t.sleeps == [0.5, 1.0]
    assert calls == [0.0, 0.5, 1.5]


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    t = FakeTime()
    errors = iter([ConnectionError("1"), ConnectionError("2"), ConnectionError("3")])

    def down() -> None:
        raise next(errors)

    policy = RetryPolicy(max_attempts=3, wait=wait_fixed(1), clock=t.clock, sleep=t.sleep)
    with pytest.raises(ConnectionError, match="3"):
        policy.call(down)
    assert t.sleeps == [1, 1]


def test_does_not_retry_what_is_not_retryable() -> None:
    t = FakeTime()
    attempts = 0

    def bad_request() -> None:
        nonlocal attempts
        attempts += 1
        raise KeyError("bug")

    with pytest.raises(KeyError):
        RetryPolicy(clock=t.clock, sleep=t.sleep).call(bad_request)
    assert attempts == 1 and t.sleeps == []


def test_waits_at_least_retry_after() -> None:
    limited = Verdict(Action.COOLDOWN, "http 429", cooldown_s=4.0, retryable=True)
    policy = RetryPolicy(wait=wait_fixed(0.5))
    assert policy.next_wait(state(1, verdict=limited)) == 4.0
    assert RetryPolicy(wait=wait_fixed(0.5), honour_retry_after=False).next_wait(
        state(1, verdict=limited)) == 0.5


def test_deadline_stops_a_wait_that_would_cross_it() -> None:
    t = FakeTime()
    attempts = 0

    def down() -> None:
        nonlocal attempts
        attempts += 1
        t.now += 2.0  # each attempt takes 2 s
        raise TimeoutError

    policy = RetryPolicy(max_attempts=10, deadline_s=7.0, wait=wait_fixed(1), clock=t.clock,
                         sleep=t.sleep)
    with pytest.raises(TimeoutError):
        policy.call(down)
    # 0-2 fail, wait to 3, 3-5 fail, wait to 6, 6-8 fail: 8 + 1 > 7, stop.
    assert attempts == 3 and t.sleeps == [1, 1]


def test_retry_after_longer_than_the_deadline_gives_up_at_once() -> None:
    limited = Verdict(Action.COOLDOWN, "http 429", cooldown_s=120.0, retryable=True)
    assert RetryPolicy(deadline_s=60).next_wait(state(1, verdict=limited)) is None


async def test_async_retry_uses_the_injected_async_sleep() -> None:
    t = FakeTime()
    seen: list[tuple[int, float]] = []

    async def flaky() -> str:
        if len(t.sleeps) < 2:
            raise TimeoutError
        return "ok"

    policy = RetryPolicy(wait=wait_exponential(1), clock=t.clock, sleep=_never, asleep=t.asleep,
                         before_sleep=lambda s, w: seen.append((s.attempt, w)))
    assert await policy.acall(flaky) == "ok"
    assert t.sleeps == [1, 2] and seen == [(1, 1), (2, 2)]


def _never(seconds: float) -> None:
    raise AssertionError("the async path must not use the blocking sleep")
