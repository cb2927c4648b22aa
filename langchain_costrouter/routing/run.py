"""The call engine: one object owns a routed call's whole walk.

:class:`CallRun` walks the plan's candidates. It takes breaker permits, concurrency slots and
tier rate limiters, schedules retries within the deadline, runs the cascade check, bills every
answer through the one resolver, and builds the metadata and the breaker events. The router's
four entry points only say how to call the model, in tenacity's ``Retrying`` style::

    for attempt in run.tries():                 # async: `async for attempt in run.atries():`
        with attempt:                           #        `async with attempt:`
            attempt.answer(attempt.chat._generate(messages, **attempt.kwargs))
    return run.result()

``with attempt`` holds the slot and the permit; leaving it settles the attempt. A failure the
request caused is raised; any other is recorded and the next try is a retry of the same model
(after its backoff, outside any slot) or the next candidate. Every decision is made in
:meth:`CallRun._settle`, the same for sync and async, invoke and stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from langchain_costrouter.exceptions import (
    AllModelsFailedError,
    Attempt,
    CircuitOpenError,
    ConfigError,
    ProviderResponseError,
    StreamCutError,
)
from langchain_costrouter.models.streaming import as_text
from langchain_costrouter.pricing.resolver import Billed, bill
from langchain_costrouter.redact import scrub_text
from langchain_costrouter.resilience.breaker import Permit, TransitionEvent
from langchain_costrouter.resilience.failures import Action, Verdict, status_of
from langchain_costrouter.resilience.retry import RetryState
from langchain_costrouter.routing.attempt import Try
from langchain_costrouter.routing.engine import Engine
from langchain_costrouter.routing.lanes import flex_refused, is_flex_refusal, prices_on, served_lane
from langchain_costrouter.routing.metadata import METADATA_KEY, build_entry
from langchain_costrouter.routing.plan import Candidate, RoutePlan, cost_key


def describe(exc: BaseException) -> str:
    """Type, HTTP status and first line of an error, short and scrubbed of secrets."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    status = status_of(exc)
    head = type(exc).__name__ + (f" {status}" if status else "")
    return scrub_text(f"{head}: {text[:200]}" if text else head)


class CallRun:
    """The state and every decision of one routed call."""

    __slots__ = ("_current", "_expired", "_flex_refusals", "_floor", "_index", "_last",
                 "_retry_same", "_served", "_streamed", "_tries", "_wait", "_wait_state",
                 "attempts", "billed", "check",
                 "clock", "engine", "errors", "kwargs", "plan", "priority", "started", "stop",
                 "transitions")

    def __init__(self, engine: Engine, plan: RoutePlan, kwargs: Mapping[str, Any],
                 stop: list[str] | None, check: Callable[[Any], str | None] | None) -> None:
        self.engine = engine
        self.plan = plan
        self.kwargs = kwargs
        self.stop = stop or engine.stop
        self.check = check
        self.priority = engine.priority_of(kwargs)
        self.clock: Callable[[], float] = engine.clock
        self.started = self.clock()
        self.attempts: list[Attempt] = []
        self.errors: list[Exception] = []
        self.transitions: list[TransitionEvent] = []
        """Breaker transitions this call caused, for its metadata and custom events."""
        self.billed: list[tuple[int, Billed]] = []
        """Every answer paid for (index of its attempt, bill); several after a cascade."""
        self._index = 0
        self._current: Try | None = None
        self._retry_same = False
        self._tries = 0
        self._wait = 0.0
        self._wait_state: RetryState | None = None
        self._expired = False
        self._floor: tuple[int, Decimal] | None = None
        self._served: tuple[ChatResult, Candidate] | None = None
        self._last: tuple[ChatResult, Candidate] | None = None
        self._streamed: Try | None = None
        self._flex_refusals = 0

    # -- the walk ---------------------------------------------------------------------------

    def tries(self) -> Iterator[Try]:
        """Tries in order until one is served; a retry's backoff is slept here, in no slot."""
        while self._served is None and self._streamed is None:
            if self._wait > 0:
                self.engine.sleep(self._take_wait())
            t = self._next()
            if t is None:
                return
            yield t

    async def atries(self) -> AsyncIterator[Try]:
        while self._served is None and self._streamed is None:
            if self._wait > 0:
                await self.engine.asleep(self._take_wait())
            t = self._next()
            if t is None:
                return
            yield t

    def _take_wait(self) -> float:
        wait, self._wait = self._wait, 0.0
        retry = self.engine.retry
        if retry is not None and retry.before_sleep is not None and self._wait_state:
            retry.before_sleep(self._wait_state, wait)
        return wait

    def _next(self) -> Try | None:
        if self._retry_same and self._current is not None:
            self._retry_same = False
            cand = self._current.cand
            permit = self._permit(cand)
            if permit is not False:
                return self._try(cand, permit)
            self.errors.append(CircuitOpenError(cand.name))
        candidates = self.plan.candidates
        while self._index < len(candidates):
            if self._out_of_time():
                return None
            cand = candidates[self._index]
            self._index += 1
            self._tries = 0
            if not self._above_floor(cand):  # a cascade escalates: no model as cheap again
                continue
            permit = self._permit(cand)
            if permit is False:
                self.attempts.append(Attempt(tier=cand.name, status="skipped",
                                             error="circuit open"))
                continue
            return self._try(cand, permit)
        return None

    def _try(self, cand: Candidate, permit: Permit | None) -> Try:
        try:
            chat = self.engine.pool.get(cand.spec)
            kw = self.engine.call_kwargs(chat, self.kwargs, self.stop)
            if cand.lane == "flex":  # the provider's tier parameter, and its longer timeout
                kw.update(service_tier="flex", timeout=self.engine.flex_policy.timeout_s)
        except BaseException:
            self._report(permit, None)
            raise
        self._current = t = Try(self, cand, permit, chat, kw)
        return t

    def _permit(self, cand: Candidate) -> Permit | bool | None:
        """A permit, ``None`` when there are no breakers, ``False`` when the breaker refuses."""
        breakers = self.engine.breakers
        if breakers is None:
            return None
        permit, events = breakers.request(cand.name)
        if permit is None:
            self.transitions.extend(events)
            return False
        return permit

    def _report(self, permit: Permit | None, verdict: Verdict | None,
                success: bool = False) -> None:
        """Tell the breaker how a permitted call ended (once); keep the transitions."""
        breakers = self.engine.breakers
        if permit is None or breakers is None:
            return
        if success:
            breakers.success(permit)
        elif verdict is None:
            breakers.release(permit)
        else:
            breakers.failure(permit, verdict)
        self.transitions.extend(permit.transitions)
        permit.transitions.clear()

    def _above_floor(self, cand: Candidate) -> bool:
        if self._floor is None:
            return True
        rank, cost = self._floor
        return cand.level.rank > rank or cost_key(cand) > cost

    def _out_of_time(self) -> bool:
        deadline = self.engine.deadline_s
        if deadline is not None and self.attempts and self.clock() - self.started >= deadline:
            self._expired = True
        return self._expired

    # -- settling a try: every decision ---------------------------------------------------

    def _unwind(self, t: Try) -> None:
        """A try that never reached the model (slot refused, cancelled while waiting)."""
        self._free(t)
        self._report(t.permit, None)

    def _free(self, t: Try) -> None:
        lease, t.lease = t.lease, None
        if lease is not None and self.engine.limiter is not None:
            self.engine.limiter.release(lease)

    def _settle(self, t: Try, exc: BaseException | None) -> bool:
        """End a try. Returns True to swallow ``exc`` (the walk goes on), False to raise it."""
        self._free(t)
        if exc is None:
            try:
                billed = self._bill(t)
            except ProviderResponseError as bad:  # its usage report is garbage: its fault
                if t.tally is None:
                    exc = bad  # an answer not yet shown: fall back, bill nothing from it
                else:  # the whole stream went out: bill it on counted tokens, blame the model
                    verdict = self._verdict(t, bad)
                    self._record(t, "ok", f"{describe(bad)} [{verdict.action.value}, usage "
                                 "refused: billed on counted tokens]")
                    self._bill_cut(t, None)
                    return False
            else:
                self._answered(t, billed)
                return False
        if not isinstance(exc, Exception):  # cancelled, or the caller stopped a stream
            self._report(t.permit, None)
            if t.tally is not None:
                self._bill_cut(t, "stopped by the caller")
            return False
        if t.tally is None and t.cand.lane == "flex" and is_flex_refusal(exc):
            return flex_refused(self, t, exc)
        verdict = self._verdict(t, exc)
        if t.tally is not None:  # output was shown: count it, never retry, bill what went out
            self._record(t, "error", f"{describe(exc)} [{verdict.action.value}, mid-stream]")
            self._bill_cut(t, None)
            raise self._interrupted(t, exc) from exc
        self._record(t, "error", f"{describe(exc)} [{verdict.action.value}]")
        if verdict.action is Action.FAIL_FAST:
            return False
        self._schedule(t, exc, verdict)
        return True

    def _verdict(self, t: Try, exc: Exception) -> Verdict:
        if isinstance(exc, ConfigError):  # nobody's fault: give a probe slot back
            self._report(t.permit, None)
            return Verdict(Action.FAIL_FAST, "configuration")
        verdict = self.engine.classify(exc)
        self._report(t.permit, verdict)
        return verdict

    def _schedule(self, t: Try, exc: Exception, verdict: Verdict) -> None:
        """Retry the same model after a wait, or move on to the next candidate."""
        self._tries += 1
        wait = None
        retry = self.engine.retry
        others_left = self._index < len(self.plan.candidates)
        if verdict.action is Action.COOLDOWN and others_left:
            pass  # the breaker skips it until its Retry-After: fall back now, do not wait
        elif retry is not None:
            state = RetryState(self._tries, self.clock() - self.started, exc, verdict, retry.rng)
            wait = retry.next_wait(state)
            self._wait_state = state
        if wait is None:
            self.errors.append(exc)
        else:
            self._retry_same = True
            self._wait = wait

    def _record(self, t: Try, status: str, error: str | None) -> None:
        self.attempts.append(Attempt(tier=t.cand.name, status=status, error=error,
                                     duration_s=self.clock() - t.start))

    def _bill(self, t: Try) -> Billed:
        """Billed at the prices of the lane the provider reports it served."""
        lane = served_lane(t.cand.lane, t.tier)
        at = prices_on(t.cand.spec, lane)
        if t.tally is not None:
            return bill(t.cand.spec, t.tally.usage, input_tokens=t.cand.input_tokens,
                        text=t.tally.text, prices=at, lane=lane)
        assert t.result is not None, "a try ended without answer() or stream()"
        msg = t.result.generations[0].message
        return bill(t.cand.spec, msg.usage_metadata, input_tokens=t.cand.input_tokens,  # type: ignore[attr-defined]
                    text=as_text(msg.content), prices=at, lane=lane)

    def _bill_cut(self, t: Try, why: str | None) -> None:
        """A cut stream is paid for: the prompt plus the counted tokens of what went out."""
        assert t.tally is not None
        if why is not None:
            self._record(t, "cut", why)
        lane = served_lane(t.cand.lane, t.tier)
        billed = bill(t.cand.spec, None, input_tokens=t.cand.input_tokens, text=t.tally.text,
                      estimated=True, prices=prices_on(t.cand.spec, lane), lane=lane)
        self.billed.append((len(self.attempts) - 1, billed))
        self._streamed = t

    def _interrupted(self, t: Try, exc: Exception) -> StreamCutError:
        assert t.tally is not None
        b = self.billed[-1][1]
        return StreamCutError(t.cand.name, t.tally.text, exc, usage_metadata=b.usage_metadata,
                              cost=b.cost, route=self.entry(t.cand))

    def _answered(self, t: Try, billed: Billed) -> None:
        """The model answered: a success for its breaker whatever the cascade says."""
        self._report(t.permit, None, success=True)
        reason: str | None = None
        try:
            if self.check is not None and t.result is not None:
                reason = self.check(_as_seen(t.result))
        finally:
            self._record(t, "ok" if reason is None else "rejected", reason)
            self.billed.append((len(self.attempts) - 1, billed))
        if t.result is None:
            self._streamed = t
        elif reason is None:
            self._served = (t.result, t.cand)
        else:  # escalate: from now on only models of a higher level or price
            self._last = (t.result, t.cand)
            rank, cost = t.cand.level.rank, cost_key(t.cand)
            if self._floor is not None:
                rank, cost = max(rank, self._floor[0]), max(cost, self._floor[1])
            self._floor = (rank, cost)

    # -- the end ------------------------------------------------------------------------------

    def result(self) -> ChatResult:
        """The served answer with its metadata, the last rejected one, or every failure."""
        if self._served is not None:
            return self._annotate(*self._served, exhausted=None if self.check is None else False)
        if self._last is not None:  # every answer rejected: the last one, best effort
            return self._annotate(*self._last, exhausted=True)
        raise self.all_failed()

    def last_chunk(self) -> ChatGenerationChunk:
        """The stream's closing chunk: the router's metadata (or every failure, raised)."""
        if self._streamed is None:
            raise self.all_failed()
        return ChatGenerationChunk(message=AIMessageChunk(
            content="", chunk_position="last",
            response_metadata={METADATA_KEY: self.entry(self._streamed.cand)}))

    def _annotate(self, result: ChatResult, cand: Candidate,
                  exhausted: bool | None) -> ChatResult:
        msg = result.generations[0].message
        assert isinstance(msg, AIMessage)
        if len(self.billed) > 1:
            total: UsageMetadata | None = None
            for _, b in self.billed:  # a cascade paid for several answers: the message has all
                total = add_usage(total, UsageMetadata(**b.usage_metadata))  # type: ignore[typeddict-item]
            msg.usage_metadata = total
        entry = self.entry(cand)
        if exhausted is not None:
            entry["cascade_exhausted"] = exhausted
        msg.response_metadata = {**msg.response_metadata, METADATA_KEY: entry}
        return result

    def entry(self, cand: Candidate) -> dict[str, Any]:
        """``response_metadata["costrouter"]`` for an answer of ``cand``."""
        return build_entry(self, cand)

    def all_failed(self) -> AllModelsFailedError:
        errors: list[Exception] = list(self.errors)
        if not errors:  # every candidate was skipped by its breaker
            errors = [CircuitOpenError(a.tier) for a in self.attempts if a.status == "skipped"]
        if self._expired:
            errors.append(TimeoutError(f"call deadline of {self.engine.deadline_s} s passed"))
        if not errors:
            errors = [RuntimeError("no candidate was tried")]
        tried = len({a.tier for a in self.attempts})
        why = "deadline passed" if self._expired else "every candidate failed"
        return AllModelsFailedError(
            f"{why} for a {self.plan.level.value}-level call ({tried} models)",
            errors, self.attempts)


def _as_seen(result: ChatResult) -> AIMessage:
    """The message as a caller would see it (core merges these), for the cascade check."""
    gen = result.generations[0]
    msg = gen.message
    assert isinstance(msg, AIMessage)
    msg.response_metadata = {**(result.llm_output or {}), **(gen.generation_info or {}),
                             **msg.response_metadata}
    return msg

