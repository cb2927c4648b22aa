"""Retries with exponential backoff and full jitter, honouring Retry-After.

Wait policies are small callables over a :class:`RetryState`, as in tenacity: a plain function
``(state) -> seconds`` works wherever a policy does, and policies add up with ``+``::

    RetryPolicy(wait=wait_full_jitter(0.5, max=20) + wait_fixed(0.1))

A :class:`RetryPolicy` stops after ``max_attempts`` or when the next wait would cross the
per-call ``deadline_s``; it retries only failures whose :class:`~.failures.Verdict` is
``retryable`` and waits at least the server's Retry-After. Clock, sleep (sync and async) and
RNG are injected, so tests never sleep.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.resilience.failures import Action, Classify, Verdict, classify

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryState:
    """What a wait policy sees after a failed attempt."""

    attempt: int
    """Attempts made so far (1 after the first failure)."""
    elapsed: float
    """Seconds since the first attempt started."""
    exception: BaseException
    verdict: Verdict
    rng: Callable[[], float]
    """Uniform in [0, 1): the policy's injected RNG."""


WaitFn = Callable[[RetryState], float]


class Wait:
    """Base of the wait policies; ``a + b`` sums two policies (plain functions too)."""

    def __call__(self, state: RetryState) -> float:
        raise NotImplementedError

    def __add__(self, other: WaitFn) -> Wait:
        return wait_combine(self, other)

    def __radd__(self, other: WaitFn | int) -> Wait:
        if other == 0:  # sum([...]) starts from 0
            return self
        return wait_combine(other, self)  # type: ignore[arg-type]


class wait_fixed(Wait):
    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ConfigError(f"wait_fixed seconds must be >= 0, got {seconds!r}")
        self.seconds = seconds

    def __call__(self, state: RetryState) -> float:
        return self.seconds

    def __repr__(self) -> str:
        return f"wait_fixed({self.seconds})"


class wait_exponential(Wait):
    """``multiplier * base ** (attempt - 1)``, clamped to [min, max]; no jitter."""

    def __init__(self, multiplier: float = 0.5, *, base: float = 2.0, min: float = 0.0,
                 max: float = 30.0) -> None:
        if multiplier < 0 or base < 1 or min < 0 or max < min:
            raise ConfigError(
                f"wait_exponential needs multiplier >= 0, base >= 1, 0 <= min <= max; got "
                f"multiplier={multiplier!r}, base={base!r}, min={min!r}, max={max!r}")
        self.multiplier, self.base, self.min, self.max = multiplier, base, min, max

    def __call__(self, state: RetryState) -> float:
        try:
            value = self.multiplier * self.base ** (state.attempt - 1)
        except OverflowError:
            value = self.max
        return max(self.min, min(value, self.max))

    def __repr__(self) -> str:
        return (f"wait_exponential({self.multiplier}, base={self.base}, min={self.min}, "
                f"max={self.max})")


class wait_full_jitter(wait_exponential):
    """AWS "full jitter": uniform in [0, exponential(attempt)) using the state's RNG."""

    def __call__(self, state: RetryState) -> float:
        return state.rng() * super().__call__(state)

    def __repr__(self) -> str:
        return "wait_full_jitter" + super().__repr__().removeprefix("wait_exponential")


class wait_combine(Wait):
    """Sum of several policies."""

    def __init__(self, *waits: WaitFn) -> None:
        self.waits = waits

    def __call__(self, state: RetryState) -> float:
        return sum(w(state) for w in self.waits)

    def __repr__(self) -> str:
        return " + ".join(map(repr, self.waits))


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How to retry one model before the router falls back to the next."""

    max_attempts: int = 3
    deadline_s: float | None = 60.0
    """Total time per call, waits included; a wait that would cross it is not taken."""
    wait: WaitFn = field(default_factory=wait_full_jitter)
    classify: Classify = classify
    honour_retry_after: bool = True
    """Wait at least the 429's Retry-After (the verdict's ``cooldown_s``)."""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] = time.sleep
    asleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    rng: Callable[[], float] = random.random
    before_sleep: Callable[[RetryState, float], object] | None = None
    """Called with the state and the chosen wait before each sleep (for logs, attempts)."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        if self.deadline_s is not None and not self.deadline_s > 0:
            raise ConfigError(f"RetryPolicy.deadline_s must be > 0 or None, got "
                              f"{self.deadline_s!r}")

    def next_wait(self, state: RetryState) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up."""
        verdict = state.verdict
        if not verdict.retryable or state.attempt >= self.max_attempts:
            return None
        wait = max(0.0, float(self.wait(state)))
        if (self.honour_retry_after and verdict.action is Action.COOLDOWN
                and verdict.cooldown_s is not None):
            wait = max(wait, verdict.cooldown_s)
        if self.deadline_s is not None and state.elapsed + wait >= self.deadline_s:
            return None
        return wait

    def _state(self, attempt: int, start: float, exc: BaseException) -> RetryState:
        return RetryState(attempt, self.clock() - start, exc, self.classify(exc), self.rng)

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Call ``fn`` until it succeeds or the policy gives up (re-raising the last error)."""
        start = self.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                state = self._state(attempt, start, exc)
                wait = self.next_wait(state)
                if wait is None:
                    raise
            if self.before_sleep is not None:
                self.before_sleep(state, wait)
            self.sleep(wait)

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Async :meth:`call`; waits with the injected ``asleep`` (never blocks the loop)."""
        start = self.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                state = self._state(attempt, start, exc)
                wait = self.next_wait(state)
                if wait is None:
                    raise
            if self.before_sleep is not None:
                self.before_sleep(state, wait)
            await self.asleep(wait)
