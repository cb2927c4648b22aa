"""BudgetGuard: bound a call's output so it cannot overspend, reserve that, settle after.

Three ways to use one guard (all share its budgets and ledger):

* ``guard.wrap(model)`` / :func:`with_budget` - the accurate shape: bound, reserve, call the
  model, settle with the actual usage (refund or top-up), release on failure.
* ``guard | model`` - a pass-through step. It sees only the input, so it charges the expected
  answer (prompt plus the learned output length) as final and cannot bound the output;
  ``downgrade`` needs ``wrap``.
* :class:`~langchain_costrouter.budget.middleware.BudgetMiddleware` for ``create_agent``.

**Never overspend.** Each call gets ``max_tokens`` = what the budgets' room allows at the
prices of every model that may serve it (see :mod:`.bounds`), never above the caller's own cap,
and reserves exactly what that bound can cost. When not even a minimal answer
(``min_output_tokens``) fits, ``on_exceeded`` decides: ``"raise"``
:class:`BudgetExceededError`, ``"downgrade"`` to the cheapest model that fits, or ``"wait"``
(up to ``wait_timeout`` seconds) for the window to reset. A provider that ignores
``max_tokens`` can overshoot by what one call answers; the settlement charges it in full.

**Never refuse early.** A call that does not fit only because other calls (in any process)
hold reservations waits, up to ``settle_timeout``, in priority then arrival order, for them to
settle (:mod:`.queue`). ``BudgetExceededError`` therefore means settled spend plus this call's
smallest bound is over the limit; errors and :meth:`BudgetGuard.status` give spent, reserved
and remaining apart.

When the ledger is unreachable, ``on_ledger_error="fail_closed"`` (the default) refuses the
call with :class:`LedgerUnavailableError`; ``"fail_open"`` lets it run untracked with a
:class:`BudgetLedgerWarning`. Settling never raises: a settlement the ledger could not take is
kept and replayed on the next ledger call (a replay is a no-op in the ledger, so nothing is
charged twice), and until then the reservation holds the bound, or expires after its TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import ensure_config
from pydantic import ConfigDict, Field, PrivateAttr

from langchain_costrouter.budget import amounts as _amt
from langchain_costrouter.budget.amounts import AmountReservation
from langchain_costrouter.budget.budgets import Budget, scopes_of
from langchain_costrouter.budget.decide import (
    Busy,
    Go,
    Refusal,
    Rules,
    busy_error,
    decide,
    explained,
    scope_labels,
)
from langchain_costrouter.budget.estimate import to_messages
from langchain_costrouter.budget.history import OutputHistory
from langchain_costrouter.budget.ledger import Charge, InMemoryLedger, Ledger, Tally
from langchain_costrouter.budget.options import Option, build_options
from langchain_costrouter.budget.queue import Waiter as _Waiter
from langchain_costrouter.budget.queue import WaitQueue
from langchain_costrouter.budget.settle import Settlements
from langchain_costrouter.budget.status import BudgetStatus, budget_status, window_status
from langchain_costrouter.budget.ticket import Ticket
from langchain_costrouter.exceptions import (
    ConfigError,
    LedgerUnavailableError,
)
from langchain_costrouter.pricing.prices import Prices

OnExceeded = Literal["raise", "downgrade", "wait"]
OnLedgerError = Literal["fail_closed", "fail_open"]


class BudgetLedgerWarning(UserWarning):
    """The ledger failed and the guard let a call through untracked (or could not settle it)."""


class BudgetGuard(RunnableSerializable[Any, Any]):
    """Token and USD budgets per window and scope, enforced through a shared ledger."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    budgets: list[Budget]
    ledger: Ledger = Field(default_factory=InMemoryLedger)
    on_exceeded: OnExceeded = "raise"
    on_ledger_error: OnLedgerError = "fail_closed"
    on_unpriced: Literal["raise", "allow"] = "raise"
    """An unpriced model against a USD budget: refuse it, or let the USD budget ignore it."""
    wait_timeout: float = Field(default=60.0, ge=0)
    """``on_exceeded="wait"``: the longest wait for a window reset."""
    settle_timeout: float = Field(default=30.0, ge=0)
    """The longest wait for calls in flight to settle before a call that would then fit."""
    poll_interval: float = Field(default=0.02, gt=0)
    reservation_ttl: float = Field(default=600.0, gt=0)
    """A crashed process's reservations are released after this many seconds."""
    default_max_tokens: int = Field(default=4096, gt=0)
    """Output cap of plain chat models that set none themselves (the bound never exceeds it)."""
    min_output_tokens: int = Field(default=16, gt=0)
    """The smallest answer worth making; a call that cannot afford it is refused."""
    expected_output_tokens: int = Field(default=512, gt=0)
    """Expected answer length until the ledger has ``min_samples`` answers of a model."""
    expected_quantile: float = Field(default=0.9, gt=0, le=1)
    prompt_margin: float = Field(default=0.1, ge=0)
    """Reserve this fraction more prompt tokens than counted (tiktoken is an estimate for
    non-OpenAI tokenizers)."""
    model: Any = None
    """Model priced by the pass-through form (``guard | model``)."""
    prices: dict[str, Prices | None] = Field(default_factory=dict)
    """Prices by model name, over genai-prices' (plain chat models only)."""
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    _queue: WaitQueue = PrivateAttr(default_factory=WaitQueue)
    _history: OutputHistory = PrivateAttr()
    _settlements: Settlements = PrivateAttr()
    _held: dict[str, AmountReservation] = PrivateAttr(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        budgets = list(data.get("budgets") or [])
        if not budgets:
            raise ConfigError("a BudgetGuard needs at least one Budget")
        names = [getattr(b, "name", None) for b in budgets]
        dup = {str(n) for n in names if names.count(n) > 1}
        if dup:
            raise ConfigError(f"budget names must be unique, repeated: {sorted(dup)}")
        super().__init__(**data)

    def model_post_init(self, context: Any, /) -> None:
        self._history = OutputHistory(self.ledger, q=self.expected_quantile)
        self._settlements = Settlements(self)

    def __repr__(self) -> str:
        return (
            f"BudgetGuard(budgets={[b.name for b in self.budgets]}, ledger={self.ledger!r}, "
            f"on_exceeded={self.on_exceeded!r})"
        )

    @property
    def history(self) -> OutputHistory:
        return self._history

    # -- estimating ------------------------------------------------------------------------

    def options(
        self,
        model: Any,
        messages: list[BaseMessage],
        *,
        configurable: Mapping[str, Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        tools: Sequence[Any] | None = None,
        downgrade_to: Sequence[Runnable[Any, Any]] = (),
    ) -> list[Option]:
        """The requested model first, then (downgrade mode) the alternatives, cheapest first."""
        return build_options(self, model, messages, configurable=configurable, kwargs=kwargs,
                             tools=tools, downgrade_to=downgrade_to)

    # -- reserving -------------------------------------------------------------------------

    def _rules(self, scopes: Mapping[str, str]) -> Rules:
        return Rules(
            budgets=self.budgets,
            limits=[b.ledger_limit(scopes[b.scope]) for b in self.budgets],
            labels=scope_labels(self.budgets, scopes),
            margin=self.prompt_margin,
            min_output=self.min_output_tokens,
            unpriced_is_free=self.on_unpriced == "allow",
            downgrade=self.on_exceeded == "downgrade",
        )

    def _queries(self, scopes: Mapping[str, str], now: float) -> list[tuple[str, int]]:
        return [(b.counter(scopes[b.scope]), b.window.since(now)) for b in self.budgets]

    def _charges(
        self, scopes: Mapping[str, str], amounts: Sequence[int], now: float
    ) -> tuple[Charge, ...]:
        return tuple(
            Charge(b.counter(scopes[b.scope]), a, b.ledger_limit(scopes[b.scope]),
                   b.window.bucket(now), b.window.since(now), b.window.prune_before(now))
            for b, a in zip(self.budgets, amounts, strict=True)
        )

    def _ledger_failed(self, e: LedgerUnavailableError) -> None:
        if self.on_ledger_error == "fail_closed":
            raise e
        warnings.warn(
            f"budget ledger unavailable, call allowed untracked (fail_open): {e}",
            BudgetLedgerWarning,
            stacklevel=5,
        )

    def _try(
        self, options: Sequence[Option], scopes: Mapping[str, str], rid: str, now: float,
        *, reserve: bool = True,
    ) -> Ticket | Busy | Refusal:
        """Read the tallies, decide, reserve (again after a lost race, a few times)."""
        rules = self._rules(scopes)
        try:
            self._settlements.flush(now)
            tallies: Sequence[Tally] = self.ledger.tallies(self._queries(scopes, now), now=now)
            for _ in range(4):
                out = decide(rules, options, tallies, now)
                if not isinstance(out, Go):
                    return out
                charges = self._charges(scopes, out.amounts, now)
                if not reserve:
                    return Ticket(None, charges, out.option, scopes, out.bound)
                try:
                    grant = self.ledger.reserve(rid, charges, now=now, ttl=self.reservation_ttl)
                except LedgerUnavailableError:
                    # The script may still run once the ledger is back: take it back then.
                    self._settlements.later("release", rid)
                    raise
                if grant.granted:
                    return Ticket(rid, charges, out.option, scopes, out.bound)
                tallies = grant.tallies  # another call took the room first: decide again
            return decide(rules, options, tallies, now)
        except LedgerUnavailableError as e:
            self._ledger_failed(e)
            out = decide(rules, options, [Tally(0)] * len(self.budgets), now)
            if not isinstance(out, Go):  # larger than a whole budget: refuse even untracked
                raise out.error if isinstance(out, Refusal) else e from None
            return Ticket(None, self._charges(scopes, out.amounts, now), out.option, scopes,
                          out.bound)

    def _step(self, w: _Waiter) -> Ticket | float:
        """One try: a ticket, or how long to sleep before the next. Raises when refused."""
        now = self.clock()
        if w.entry is not None and not self._queue.is_head(w.key, w.entry):
            if now - w.start > self.settle_timeout and w.busy is not None:
                raise busy_error(self._rules(w.scopes), w.busy, now - w.start)
            return self.poll_interval
        arriving = w.entry is None and self._queue.busy(w.key)
        out = self._try(w.options, w.scopes, w.rid, now, reserve=not arriving)
        if isinstance(out, Ticket) and not arriving:
            return out
        if isinstance(out, Refusal):
            if self.on_exceeded != "wait" or out.wake is None:
                raise out.error
            if out.wake - w.start > self.wait_timeout:
                raise explained(out, self.wait_timeout)
            w.join(self._queue, w.priority)
            return max(out.wake - now, self.poll_interval)
        if isinstance(out, Busy):
            w.busy = out
            if now - w.start >= self.settle_timeout:
                raise busy_error(self._rules(w.scopes), w.busy, now - w.start)
        w.join(self._queue, w.priority)
        return self.poll_interval

    def _waiter(
        self, options: Sequence[Option], metadata: Mapping[str, Any] | None, priority: int
    ) -> _Waiter:
        scopes = scopes_of(metadata)
        key = tuple(scope_labels(self.budgets, scopes))
        return _Waiter(options, scopes, key, uuid.uuid4().hex, self.clock(), priority)

    def acquire(
        self, options: Sequence[Option], metadata: Mapping[str, Any] | None, priority: int = 0
    ) -> Ticket:
        """Reserve the first option that fits, waiting as configured, or raise."""
        w = self._waiter(options, metadata, priority)
        try:
            while True:
                out = self._step(w)
                if isinstance(out, Ticket):
                    return out
                self.sleep(out)
        finally:
            w.leave(self._queue)

    async def aacquire(
        self, options: Sequence[Option], metadata: Mapping[str, Any] | None, priority: int = 0
    ) -> Ticket:
        w = self._waiter(options, metadata, priority)
        try:
            while True:
                if self.ledger.blocking_io:
                    out = await asyncio.to_thread(self._step, w)
                else:
                    out = self._step(w)
                if isinstance(out, Ticket):
                    return out
                await self.asleep(out)
        finally:
            w.leave(self._queue)

    # -- settling --------------------------------------------------------------------------

    def settle(self, ticket: Ticket, message: Any, *, messages: Sequence[Any] = ()) -> None:
        """Replace the reservation by the actual usage (``messages``: every LLM answer seen)."""
        self._settlements.settle(ticket, list(messages) or [message])

    async def asettle(
        self, ticket: Ticket, message: Any, *, messages: Sequence[Any] = ()
    ) -> None:
        await self._settlements.asettle(ticket, list(messages) or [message])

    def cancel(self, ticket: Ticket) -> None:
        """Release a failed call's reservation."""
        self._settlements.cancel(ticket)

    async def acancel(self, ticket: Ticket) -> None:
        await self._settlements.acancel(ticket)

    def flush(self) -> int:
        """Replay settlements the ledger could not take earlier; returns how many are left."""
        with contextlib.suppress(LedgerUnavailableError):  # still down: kept for later
            self._settlements.flush(self.clock())
        return len(self._settlements)

    # -- known amounts (batch jobs, see .amounts) -------------------------------------------

    def reserve_amount(self, rid: str, *, usd: Decimal | str | int | None, tokens: int,
                       metadata: Mapping[str, Any] | None = None, ttl: float | None = None,
                       model: str | None = None) -> AmountReservation:
        """Reserve a known amount on the counters a call with ``metadata`` charges, or raise."""
        res = _amt.reserve_amount(self, rid, usd=usd, tokens=tokens, metadata=metadata,
                                  ttl=ttl, model=model)
        if res.id is not None:
            self._held[rid] = res
        return res

    def settle_amount(self, rid: str | AmountReservation, *, usd: Decimal | str | int | None,
                      tokens: int | None) -> bool:
        """Charge the actual amount instead of the reserved one, exactly once."""
        res = rid if isinstance(rid, AmountReservation) else self._held.get(rid)
        if res is None:
            raise ConfigError(f"unknown amount reservation {rid!r}: pass the AmountReservation "
                              "(AmountReservation.from_json) to settle it from another process")
        if res.id is not None:
            self._held.pop(res.id, None)
        return _amt.settle_amount(self, res, usd=usd, tokens=tokens)

    def release_amount(self, rid: str | AmountReservation) -> bool:
        """Take a reserved amount back (the work it covered was not done)."""
        key = rid.id if isinstance(rid, AmountReservation) else rid
        if key is None:
            return True
        self._held.pop(key, None)
        return _amt.release_amount(self, key)

    # -- status ----------------------------------------------------------------------------

    def status(self, scope: Mapping[str, Any] | None = None) -> BudgetStatus:
        """Spent, reserved, remaining and utilization of every budget for a scope (read-only).

        ``scope`` is call metadata such as ``{"user": "alice", "team": "ml"}``.
        """
        scopes = scopes_of(scope)
        now = self.clock()
        tallies = self.ledger.tallies(self._queries(scopes, now), now=now)
        labels = scope_labels(self.budgets, scopes)
        rows = [
            window_status(b, label, scopes[b.scope], t, now)
            for b, label, t in zip(self.budgets, labels, tallies, strict=True)
        ]
        return budget_status(scopes, rows, self._queue.waiting(tuple(labels)))

    # -- Runnable: the pass-through form ---------------------------------------------------

    def _passthrough_options(self, input: Any, config: RunnableConfig) -> list[Option]:
        if self.on_exceeded == "downgrade":
            raise ConfigError(
                "on_exceeded='downgrade' needs the model call: use guard.wrap(model) or "
                "with_budget(model, ...) instead of guard | model"
            )
        return self.options(
            self.model, to_messages(input), configurable=config.get("configurable")
        )

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Charge the estimated cost of ``input`` (as final) and pass it on unchanged."""
        config = ensure_config(config)
        ticket = self.acquire(self._passthrough_options(input, config), config.get("metadata"))
        self.settle(ticket, None, messages=[_expected_answer(ticket)])
        return input

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        config = ensure_config(config)
        options = self._passthrough_options(input, config)
        ticket = await self.aacquire(options, config.get("metadata"))
        await self.asettle(ticket, None, messages=[_expected_answer(ticket)])
        return input

    def wrap(
        self, model: Runnable[Any, Any], *, downgrade_to: Sequence[Runnable[Any, Any]] = ()
    ) -> Runnable[Any, Any]:
        """``model`` under this guard: bound, reserve, call, settle (or release on failure)."""
        from langchain_costrouter.budget.wrapped import BudgetedModel

        return BudgetedModel(guard=self, model=model, downgrade_to=list(downgrade_to))


def _expected_answer(ticket: Ticket) -> Any:
    """The pass-through form sees no answer: it charges the expected one (within the bound)."""
    from langchain_core.messages import AIMessage

    q = ticket.bound.quote if ticket.bound else ticket.option.quote
    n_in = q.primary.input_tokens
    n_out = min(q.expected, ticket.max_tokens if ticket.max_tokens is not None else q.expected)
    return AIMessage("", usage_metadata={"input_tokens": n_in, "output_tokens": n_out,
                                         "total_tokens": n_in + n_out})


def with_budget(
    model: Runnable[Any, Any],
    budgets: Sequence[Budget] | None = None,
    *,
    guard: BudgetGuard | None = None,
    downgrade_to: Sequence[Runnable[Any, Any]] = (),
    **guard_kwargs: Any,
) -> Runnable[Any, Any]:
    """``model`` wrapped by a guard (given, or built from ``budgets`` and ``guard_kwargs``).

    >>> with_budget(router, [Budget.usd("5", per="day", scope="user")], on_exceeded="downgrade")
    """
    if guard is None:
        if budgets is None:
            raise ConfigError("with_budget needs budgets=[...] or guard=BudgetGuard(...)")
        guard = BudgetGuard(budgets=list(budgets), **guard_kwargs)
    elif budgets is not None or guard_kwargs:
        raise ConfigError("with_budget takes either guard= or budgets/guard settings, not both")
    return guard.wrap(model, downgrade_to=downgrade_to)
