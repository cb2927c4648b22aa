"""One call's walk through its candidates: breakers, retries, the deadline, the attempts list.

The router's four loops (invoke/stream, sync/async) share this object and differ only in how
they call the model and sleep::

    run = CallRun(plan, breakers=..., retry=..., classify=...)
    while (cand := run.next()) is not None:        # skips open breakers, honours the deadline
        start = run.clock()
        try:
            result = call(cand)
        except Exception:
            if run.failed(cand, exc, start):        # the request is at fault: no fallback
                raise
            run.sleep()                             # backoff before retrying the same model
            continue
        run.succeeded(cand, start)
        return result
    raise run.all_failed()

With a cascade (invoke only), ``run.answered(cand, start, reason)`` replaces ``succeeded``: a
rejected answer is a success for the breaker, is recorded as ``"rejected"``, and raises a floor
so ``next()`` only offers candidates of a higher level or a higher estimated cost. ``billed``
keeps every answer paid for, so the final message can carry their summed usage and cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from langchain_costrouter.exceptions import (
    AllModelsFailedError,
    Attempt,
    CircuitOpenError,
    ConfigError,
)
from langchain_costrouter.resilience.breaker import Breakers, Permit, TransitionEvent
from langchain_costrouter.resilience.concurrency import ConcurrencyLimiter
from langchain_costrouter.resilience.failures import Action, Classify, Verdict, status_of
from langchain_costrouter.resilience.retry import RetryPolicy, RetryState
from langchain_costrouter.routing.plan import Candidate, RoutePlan

TRANSITIONS: ContextVar[list[TransitionEvent] | None] = ContextVar(
    "costrouter_transitions", default=None
)
"""Breaker transitions that happen during the current call, for its metadata and events."""


def collect_transition(event: TransitionEvent) -> None:
    """A breaker listener: keep the transition with the call that caused it."""
    sink = TRANSITIONS.get()
    if sink is not None:
        sink.append(event)


@dataclass(frozen=True, slots=True)
class Billed:
    """An answer that was paid for: a model answered (accepted or rejected by the cascade)."""

    attempt: int
    """Index of its attempt in ``CallRun.attempts``."""
    usage_metadata: dict[str, Any]
    """Its tokens, as LangChain ``usage_metadata`` (estimated when the model sent none)."""
    cost: Decimal | None
    """Its cost in USD; ``None`` when the model is unpriced."""
    estimated: bool


def _cost_key(cand: Candidate) -> Decimal:
    return cand.estimated_cost if cand.estimated_cost is not None else Decimal("Infinity")


def describe(exc: BaseException) -> str:
    """Type, HTTP status and first line of an error, short and key-free."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    status = status_of(exc)
    head = type(exc).__name__ + (f" {status}" if status else "")
    return f"{head}: {text[:200]}" if text else head


class CallRun:
    """State of one routed call."""

    def __init__(
        self,
        plan: RoutePlan,
        *,
        breakers: Breakers | None,
        retry: RetryPolicy | None,
        classify: Classify,
        limiter: ConcurrencyLimiter | None = None,
        priority: int = 0,
    ) -> None:
        self.plan = plan
        self.breakers = breakers
        self.retry = retry
        self.classify = classify
        self.limiter = limiter
        self.priority = priority
        self.clock: Callable[[], float] = retry.clock if retry else time.monotonic
        self.started = self.clock()
        self.attempts: list[Attempt] = []
        self.errors: list[Exception] = []
        self.pending_wait = 0.0
        self._index = 0
        self._current: Candidate | None = None
        self._permit: Permit | None = None
        self._tries = 0
        self._retry_same = False
        self._expired = False
        self.transitions: list[TransitionEvent] = []
        """Breaker transitions this call caused, for its metadata and custom events."""
        self.billed: list[Billed] = []
        """Every answer this call paid for, in order (more than one after a cascade)."""
        self._floor: tuple[int, Decimal] | None = None

    def _breaker(self, method: Callable[..., Any], *args: Any) -> Any:
        token = TRANSITIONS.set(self.transitions)
        try:
            return method(*args)
        finally:
            TRANSITIONS.reset(token)

    # -- walking the candidates ---------------------------------------------------------------

    def next(self) -> Candidate | None:
        """The candidate to try now: the same one after a retry wait, else the next allowed."""
        if self._retry_same and self._current is not None:
            self._retry_same = False
            if self._allow(self._current):
                return self._current
            self.errors.append(CircuitOpenError(self._current.name))
        candidates = self.plan.candidates
        while self._index < len(candidates):
            if self._out_of_time():
                return None
            cand = candidates[self._index]
            self._index += 1
            self._tries = 0
            if not self._above_floor(cand):  # a cascade escalates: no model as cheap again
                continue
            if not self._allow(cand):
                self.attempts.append(
                    Attempt(tier=cand.name, status="skipped", error="circuit open")
                )
                continue
            self._current = cand
            return cand
        return None

    def _above_floor(self, cand: Candidate) -> bool:
        if self._floor is None:
            return True
        rank, cost = self._floor
        return cand.level.rank > rank or _cost_key(cand) > cost

    def _allow(self, cand: Candidate) -> bool:
        if self.breakers is None:
            return True
        self._permit = self._breaker(self.breakers.allow, cand.name)
        return self._permit is not None

    def _out_of_time(self) -> bool:
        deadline = self.retry.deadline_s if self.retry else None
        if deadline is not None and self.attempts and self.clock() - self.started >= deadline:
            self._expired = True
        return self._expired

    # -- concurrency slots ---------------------------------------------------------------------

    def slot(self, cand: Candidate) -> contextlib.AbstractContextManager[Any]:
        if self.limiter is None:
            return contextlib.nullcontext()
        return self._slot(cand)

    def aslot(self, cand: Candidate) -> contextlib.AbstractAsyncContextManager[Any]:
        if self.limiter is None:
            return contextlib.nullcontext()
        return self._aslot(cand)

    # A refused or cancelled wait for a slot gives back the breaker permit (a half-open probe
    # slot would otherwise stay taken until its lease runs out).
    @contextlib.contextmanager
    def _slot(self, cand: Candidate) -> Iterator[None]:
        assert self.limiter is not None
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.limiter.slot(cand.name, priority=self.priority))
            except BaseException:
                self.release()
                raise
            yield

    @contextlib.asynccontextmanager
    async def _aslot(self, cand: Candidate) -> AsyncIterator[None]:
        assert self.limiter is not None
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(
                    self.limiter.aslot(cand.name, priority=self.priority)
                )
            except BaseException:
                self.release()
                raise
            yield

    # -- outcomes ------------------------------------------------------------------------------

    def _verdict(self, exc: Exception) -> Verdict:
        if isinstance(exc, ConfigError):  # nobody's fault: give a probe slot back, no verdict
            self.release()
            return Verdict(Action.FAIL_FAST, "configuration")
        permit, self._permit = self._permit, None
        if permit is not None and self.breakers is not None:
            return self._breaker(self.breakers.failure, permit, exc)
        return self.classify(exc)

    def failed(self, cand: Candidate, exc: Exception, start: float) -> bool:
        """Record a failure. ``True`` means the request is at fault: raise, no fallback.

        Otherwise the run either schedules a retry of the same model (``pending_wait`` seconds,
        within the retry policy and the deadline) or moves on to the next candidate.
        """
        verdict = self._verdict(exc)
        self.attempts.append(
            Attempt(
                tier=cand.name,
                status="error",
                error=f"{describe(exc)} [{verdict.action.value}]",
                duration_s=self.clock() - start,
            )
        )
        if verdict.action is Action.FAIL_FAST:
            return True
        self._tries += 1
        wait = None
        others_left = self._index < len(self.plan.candidates)
        if verdict.action is Action.COOLDOWN and others_left:
            pass  # the breaker skips this model until its Retry-After: fall back now, not wait
        elif self.retry is not None:
            state = RetryState(
                self._tries, self.clock() - self.started, exc, verdict, self.retry.rng
            )
            wait = self.retry.next_wait(state)
        if wait is None:
            self.errors.append(exc)
            self.pending_wait = 0.0
        else:
            self._retry_same = True
            self.pending_wait = wait
        return False

    def failed_midstream(self, cand: Candidate, exc: Exception, start: float) -> None:
        """A stream broke after output was shown: count it against the model, never retry."""
        verdict = self._verdict(exc)
        self.attempts.append(
            Attempt(
                tier=cand.name,
                status="error",
                error=f"{describe(exc)} [{verdict.action.value}, mid-stream]",
                duration_s=self.clock() - start,
            )
        )

    def succeeded(self, cand: Candidate, start: float) -> None:
        self.answered(cand, start, None)

    def answered(self, cand: Candidate, start: float, rejection: str | None) -> None:
        """The model answered: a success for its breaker even when the cascade rejects the
        answer (``rejection`` is the reason). A rejection raises the floor: the next candidates
        tried are those of a higher level or a higher estimated cost."""
        permit, self._permit = self._permit, None
        if permit is not None and self.breakers is not None:
            self._breaker(self.breakers.success, permit)
        duration = self.clock() - start
        if rejection is None:
            self.attempts.append(Attempt(tier=cand.name, status="ok", duration_s=duration))
            return
        self.attempts.append(
            Attempt(tier=cand.name, status="rejected", error=rejection, duration_s=duration)
        )
        rank, cost = cand.level.rank, _cost_key(cand)
        if self._floor is not None:
            rank, cost = max(rank, self._floor[0]), max(cost, self._floor[1])
        self._floor = (rank, cost)

    def release(self) -> None:
        """The call was cancelled: free a half-open probe slot, blame nobody."""
        permit, self._permit = self._permit, None
        if permit is not None and self.breakers is not None:
            self._breaker(self.breakers.release, permit)

    def sleep(self) -> None:
        """Wait out a scheduled retry's backoff (once)."""
        wait, self.pending_wait = self.pending_wait, 0.0
        if wait > 0:
            (self.retry.sleep if self.retry else time.sleep)(wait)

    async def asleep(self) -> None:
        wait, self.pending_wait = self.pending_wait, 0.0
        if wait > 0:
            await (self.retry.asleep if self.retry else asyncio.sleep)(wait)

    # -- the end -------------------------------------------------------------------------------

    def as_dicts(self) -> list[dict[str, Any]]:
        dicts = [a.as_dict() for a in self.attempts]
        for b in self.billed:
            dicts[b.attempt]["cost_usd"] = None if b.cost is None else str(b.cost)
        return dicts

    def all_failed(self) -> AllModelsFailedError:
        errors: list[Exception] = list(self.errors)
        if not errors:  # every candidate was skipped by its breaker
            errors = [CircuitOpenError(a.tier) for a in self.attempts if a.status == "skipped"]
        if self._expired:
            assert self.retry is not None and self.retry.deadline_s is not None
            errors.append(TimeoutError(f"call deadline of {self.retry.deadline_s} s passed"))
        if not errors:
            errors = [RuntimeError("no candidate was tried")]
        tried = len({a.tier for a in self.attempts})
        why = "deadline passed" if self._expired else "every candidate failed"
        return AllModelsFailedError(
            f"{why} for a {self.plan.level.value}-level call ({tried} models)",
            errors,
            self.attempts,
        )
