"""BudgetGuard: reserve a call's estimated cost before it runs, settle it after.

Three ways to use one guard (all share its budgets and ledger):

* ``guard.wrap(model)`` / :func:`with_budget` - the accurate shape: reserve the estimate,
  call the model, reconcile with the actual usage (refund or top-up), release on failure.
* ``guard | model`` - a pass-through step. It sees only the input, so it charges the estimate
  as final (no refund); ``downgrade`` needs ``wrap``.
* :class:`~langchain_costrouter.budget.middleware.BudgetMiddleware` for ``create_agent``.

When a budget is spent, ``on_exceeded`` decides: ``"raise"`` :class:`BudgetExceededError`,
``"downgrade"`` to the cheapest model whose estimate fits, or ``"wait"`` (up to
``wait_timeout`` seconds) for the window to reset. A model priced at $0 is never refused by a
USD budget (its charge is 0); token budgets still apply.

When the ledger is unreachable, ``on_ledger_error="fail_closed"`` (the default) refuses the
call with :class:`LedgerUnavailableError`: a budget that cannot be checked is not enforced by
letting calls through. ``"fail_open"`` lets the call run untracked, with a
:class:`BudgetLedgerWarning`. Settling after a call never raises: the answer is already paid
for, so a ledger error there is a warning and the reservation expires after its TTL.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import ensure_config
from pydantic import ConfigDict, Field, PrivateAttr

from langchain_costrouter.budget.budgets import Budget, scopes_of
from langchain_costrouter.budget.estimate import (
    Estimate,
    actual_usage,
    is_router,
    model_estimate,
    plan_estimate,
    router_names,
    router_overrides,
    to_messages,
    unbind,
)
from langchain_costrouter.budget.ledger import (
    Charge,
    Grant,
    InMemoryLedger,
    Ledger,
    nano_to_usd,
    usd_to_nano,
)
from langchain_costrouter.exceptions import (
    BudgetExceededError,
    BudgetUnpricedError,
    ConfigError,
    LedgerUnavailableError,
)
from langchain_costrouter.pricing.prices import Prices

OnExceeded = Literal["raise", "downgrade", "wait"]
OnLedgerError = Literal["fail_closed", "fail_open"]


class BudgetLedgerWarning(UserWarning):
    """The ledger failed and the guard let a call through untracked (or could not settle it)."""


@dataclass(frozen=True)
class Option:
    """One way to serve the call: the requested model, or a cheaper one in downgrade mode."""

    estimate: Estimate
    pin: str | None = None
    """Router catalog name to pin (sent as ``configurable["costrouter_model"]``)."""
    model: Runnable[Any, Any] | None = None
    """A substitute model (downgrade of a plain chat model)."""


@dataclass(frozen=True)
class Ticket:
    """A granted reservation. ``id`` is ``None`` when the call runs untracked (fail-open)."""

    id: str | None
    charges: tuple[Charge, ...]
    option: Option
    scopes: Mapping[str, str]


@dataclass(frozen=True)
class WindowStatus:
    budget: str
    unit: str
    window: str
    scope: str
    limit: int | Decimal
    used: int | Decimal
    remaining: int | Decimal
    utilization: float
    """Percent of the limit used, reservations included."""
    resets_at: datetime


@dataclass(frozen=True)
class BudgetStatus:
    """A scope's standing. Top-level figures are those of its most used budget."""

    scope: Mapping[str, str]
    windows: list[WindowStatus]
    waiters: int
    available: bool
    """Every budget has something left."""
    used: int | Decimal | None = None
    limit: int | Decimal | None = None
    remaining: int | Decimal | None = None
    utilization: float = 0.0
    per_budget: dict[str, WindowStatus] = field(default_factory=dict)


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
    reservation_ttl: float = Field(default=600.0, gt=0)
    """A crashed process's reservations are released after this many seconds."""
    default_max_tokens: int = Field(default=1024, gt=0)
    model: Any = None
    """Model priced by the pass-through form (``guard | model``)."""
    prices: dict[str, Prices | None] = Field(default_factory=dict)
    """Prices by model name, over genai-prices' (plain chat models only)."""
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    _waiters: Counter[str] = PrivateAttr(default_factory=Counter)

    def __init__(self, **data: Any) -> None:
        budgets = list(data.get("budgets") or [])
        if not budgets:
            raise ConfigError("a BudgetGuard needs at least one Budget")
        names = [getattr(b, "name", None) for b in budgets]
        dup = {str(n) for n in names if names.count(n) > 1}
        if dup:
            raise ConfigError(f"budget names must be unique, repeated: {sorted(dup)}")
        super().__init__(**data)

    def __repr__(self) -> str:
        return (
            f"BudgetGuard(budgets={[b.name for b in self.budgets]}, ledger={self.ledger!r}, "
            f"on_exceeded={self.on_exceeded!r})"
        )

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
        inner, bound = unbind(model) if model is not None else (None, {})
        kw = {**bound, **(kwargs or {})}
        if tools is None:  # tools bound with bind_tools count in the prompt and need tool calling
            tools = kw.get("tools")
        alts: list[Option] = []
        if inner is not None and is_router(inner):
            ov = router_overrides(configurable, kw)
            first = Option(_plan(inner, messages, tools, ov))
            if self.on_exceeded == "downgrade":
                pinned = {k: v for k, v in ov.items() if k != "max_cost"}
                for name in router_names(inner):
                    if name == first.estimate.model:
                        continue
                    try:
                        est = _plan(inner, messages, tools, {**pinned, "model": name})
                    except Exception:  # the model cannot take this call (window, tools ...)
                        continue
                    alts.append(Option(est, pin=name))
        else:
            first = Option(self._estimate(inner, messages, kw, tools))
            if self.on_exceeded == "downgrade":
                for m in downgrade_to:
                    m_inner, m_kw = unbind(m)
                    alts.append(Option(self._estimate(m_inner, messages, m_kw, tools), model=m))
        alts.sort(key=lambda o: (o.estimate.cost is None, o.estimate.cost or 0))
        return [first, *alts]

    def _estimate(
        self, model: Any, messages: list[BaseMessage], kw: Mapping[str, Any], tools: Any
    ) -> Estimate:
        return model_estimate(
            model, messages, kwargs=kw, default_max_tokens=self.default_max_tokens,
            prices=self.prices, tools=tools,
        )

    def charges(self, estimate: Estimate, scopes: Mapping[str, str], now: float) -> list[Charge]:
        """One ledger charge per budget. Raises :class:`BudgetUnpricedError` per ``on_unpriced``."""
        out = []
        for b in self.budgets:
            sid = scopes[b.scope]
            if b.unit == "tokens":
                amount = estimate.tokens
            elif estimate.cost is not None:
                amount = usd_to_nano(estimate.cost)
            elif self.on_unpriced == "raise":
                raise BudgetUnpricedError(budget=b.name, model=estimate.model)
            else:
                amount = 0
            out.append(
                Charge(b.counter(sid), amount, b.ledger_limit(sid), b.window.bucket(now),
                       b.window.since(now))
            )
        return out

    # -- reserving -------------------------------------------------------------------------

    def _scope_label(self, b: Budget, scopes: Mapping[str, str]) -> str:
        return f"{b.scope}:{scopes[b.scope]}" if b.scope != "global" else "global"

    def _labels(self, scopes: Mapping[str, str]) -> set[str]:
        return {self._scope_label(b, scopes) for b in self.budgets}

    def _denial(
        self, grant: Grant, charges: Sequence[Charge], scopes: Mapping[str, str], now: float
    ) -> tuple[BudgetExceededError, float | None]:
        """The error naming the first spent budget, and when every spent one has room again."""
        by_key = {b.counter(scopes[b.scope]): b for b in self.budgets}
        error: BudgetExceededError | None = None
        wake: float | None = 0.0
        for c, t in grant.denied(charges):
            b = by_key[c.key]
            resets = b.window.resets_at(now, t.oldest)
            if error is None:
                conv = nano_to_usd if b.unit == "usd" else int
                error = BudgetExceededError(
                    budget=b.name, scope=self._scope_label(b, scopes), unit=b.unit,
                    limit=conv(c.limit), used=conv(t.used), requested=conv(c.amount),
                    resets_at=resets,
                )
            if c.amount > c.limit:
                wake = None  # larger than the whole budget: waiting cannot help
            elif wake is not None:
                wake = max(wake, resets.timestamp())
        assert error is not None
        return error, wake

    def _try(
        self, options: Sequence[Option], scopes: Mapping[str, str], rid: str, now: float,
        reserve: Callable[[str, list[Charge]], Grant | None],
    ) -> Ticket | tuple[BudgetExceededError, float | None]:
        first_error: tuple[BudgetExceededError, float | None] | None = None
        unpriced: BudgetUnpricedError | None = None
        tries = options if self.on_exceeded == "downgrade" else options[:1]
        for opt in tries:
            try:
                charges = self.charges(opt.estimate, scopes, now)
            except BudgetUnpricedError as e:
                unpriced = unpriced or e
                continue
            grant = reserve(rid, charges)
            if grant is None:  # fail-open
                return Ticket(None, tuple(charges), opt, scopes)
            if grant.granted:
                return Ticket(rid, tuple(charges), opt, scopes)
            first_error = first_error or self._denial(grant, charges, scopes, now)
        if first_error is None:
            assert unpriced is not None
            raise unpriced
        return first_error

    def _ledger_failed(self, e: LedgerUnavailableError) -> None:
        if self.on_ledger_error == "fail_closed":
            raise e
        warnings.warn(
            f"budget ledger unavailable, call allowed untracked (fail_open): {e}",
            BudgetLedgerWarning,
            stacklevel=4,
        )

    def acquire(self, options: Sequence[Option], metadata: Mapping[str, Any] | None) -> Ticket:
        """Reserve the first option that fits (waiting if so configured) or raise."""
        scopes = scopes_of(metadata)
        rid = uuid.uuid4().hex
        start = self.clock()
        waiting = False
        try:
            while True:
                now = self.clock()
                out = self._try(options, scopes, rid, now, self._sync_reserve(now))
                if isinstance(out, Ticket):
                    return out
                error, wake = out
                if self.on_exceeded != "wait" or wake is None or wake - start > self.wait_timeout:
                    raise error
                if not waiting:
                    waiting = True
                    self._waiters.update(self._labels(scopes))
                self.sleep(max(wake - now, 0.001))
        finally:
            if waiting:
                self._waiters.subtract(self._labels(scopes))

    async def aacquire(
        self, options: Sequence[Option], metadata: Mapping[str, Any] | None
    ) -> Ticket:
        scopes = scopes_of(metadata)
        rid = uuid.uuid4().hex
        start = self.clock()
        waiting = False
        try:
            while True:
                now = self.clock()
                if not self.ledger.blocking_io:
                    out = self._try(options, scopes, rid, now, self._sync_reserve(now))
                else:
                    out = await asyncio.to_thread(
                        self._try, options, scopes, rid, now, self._sync_reserve(now)
                    )
                if isinstance(out, Ticket):
                    return out
                error, wake = out
                if self.on_exceeded != "wait" or wake is None or wake - start > self.wait_timeout:
                    raise error
                if not waiting:
                    waiting = True
                    self._waiters.update(self._labels(scopes))
                await self.asleep(max(wake - now, 0.001))
        finally:
            if waiting:
                self._waiters.subtract(self._labels(scopes))

    def _sync_reserve(self, now: float) -> Callable[[str, list[Charge]], Grant | None]:
        def reserve(rid: str, charges: list[Charge]) -> Grant | None:
            try:
                return self.ledger.reserve(rid, charges, now=now, ttl=self.reservation_ttl)
            except LedgerUnavailableError as e:
                self._ledger_failed(e)
                return None

        return reserve

    # -- settling --------------------------------------------------------------------------

    def _actual(self, ticket: Ticket, message: Any) -> list[Charge]:
        tokens, cost = actual_usage(message, ticket.option.estimate)
        out = []
        for b, c in zip(self.budgets, ticket.charges, strict=True):
            if b.unit == "tokens":
                amount = tokens if tokens is not None else c.amount
            else:
                amount = usd_to_nano(cost) if cost is not None else c.amount
            out.append(replace(c, amount=amount))
        return out

    def settle(self, ticket: Ticket, message: Any) -> None:
        """Replace the reservation by the actual usage of ``message`` (estimate if unknown)."""
        if ticket.id is None:
            return
        try:
            self.ledger.reconcile(ticket.id, self._actual(ticket, message), now=self.clock())
        except LedgerUnavailableError as e:
            warnings.warn(f"could not settle a budget reservation: {e}", BudgetLedgerWarning,
                          stacklevel=2)

    async def asettle(self, ticket: Ticket, message: Any) -> None:
        if ticket.id is None:
            return
        try:
            await self.ledger.areconcile(
                ticket.id, self._actual(ticket, message), now=self.clock()
            )
        except LedgerUnavailableError as e:
            warnings.warn(f"could not settle a budget reservation: {e}", BudgetLedgerWarning,
                          stacklevel=2)

    def cancel(self, ticket: Ticket) -> None:
        """Release a failed call's reservation."""
        if ticket.id is None:
            return
        try:
            self.ledger.release(ticket.id, now=self.clock())
        except LedgerUnavailableError as e:
            warnings.warn(f"could not release a budget reservation: {e}", BudgetLedgerWarning,
                          stacklevel=2)

    async def acancel(self, ticket: Ticket) -> None:
        if ticket.id is None:
            return
        try:
            await self.ledger.arelease(ticket.id, now=self.clock())
        except LedgerUnavailableError as e:
            warnings.warn(f"could not release a budget reservation: {e}", BudgetLedgerWarning,
                          stacklevel=2)

    # -- status ----------------------------------------------------------------------------

    def status(self, scope: Mapping[str, Any] | None = None) -> BudgetStatus:
        """Used, limit, remaining and utilization of every budget for a scope.

        ``scope`` is call metadata such as ``{"user": "alice", "team": "ml"}``.
        """
        scopes = scopes_of(scope)
        now = self.clock()
        rows: list[WindowStatus] = []
        for b in self.budgets:
            sid = scopes[b.scope]
            t = self.ledger.tally(b.counter(sid), b.window.since(now), now=now)
            limit = b.limit_for(sid)
            used: int | Decimal = nano_to_usd(t.used) if b.unit == "usd" else t.used
            remaining = max(limit - used, 0)
            util = float(used / limit * 100) if limit else (100.0 if used else 0.0)
            rows.append(WindowStatus(
                budget=b.name, unit=b.unit, window=b.window.key,
                scope=self._scope_label(b, scopes), limit=limit, used=used,
                remaining=remaining, utilization=round(util, 4),
                resets_at=b.window.resets_at(now, t.oldest),
            ))
        top = max(rows, key=lambda r: r.utilization)
        return BudgetStatus(
            scope=scopes, windows=rows,
            waiters=max((self._waiters[v] for v in self._labels(scopes)), default=0),
            available=all(r.remaining > 0 for r in rows),
            used=top.used, limit=top.limit, remaining=top.remaining,
            utilization=top.utilization, per_budget={r.budget: r for r in rows},
        )

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
        self.settle(ticket, None)
        return input

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        config = ensure_config(config)
        options = self._passthrough_options(input, config)
        ticket = await self.aacquire(options, config.get("metadata"))
        await self.asettle(ticket, None)
        return input

    def wrap(
        self, model: Runnable[Any, Any], *, downgrade_to: Sequence[Runnable[Any, Any]] = ()
    ) -> Runnable[Any, Any]:
        """``model`` under this guard: reserve, call, reconcile (or release on failure)."""
        from langchain_costrouter.budget.wrapped import BudgetedModel

        return BudgetedModel(guard=self, model=model, downgrade_to=list(downgrade_to))


def _plan(router: Any, messages: list[BaseMessage], tools: Any, ov: dict[str, Any]) -> Estimate:
    if tools:
        try:
            return plan_estimate(router, messages, tools=list(tools), **ov)
        except TypeError:
            pass
    return plan_estimate(router, messages, **ov)


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
