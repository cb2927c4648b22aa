"""Settling a call: its actual usage replaces its reservation, exactly once.

The actual usage is the sum over every LLM answer the call produced (the wrapped model's runs,
seen by a callback, or the returned message). What the response does not say (no usage, an
unpriced model) keeps the reserved amount, which is the bound: never less than the truth.

A settlement or release the ledger cannot take (it is down) is kept in an outbox and replayed
before the guard's next ledger call. The ledger ignores a second reconcile of the same
reservation, so a replay after an outage never charges twice.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from langchain_costrouter.budget.estimate import actual_usage
from langchain_costrouter.budget.ledger import Charge, usd_to_nano
from langchain_costrouter.exceptions import LedgerUnavailableError

if TYPE_CHECKING:
    from langchain_costrouter.budget.guard import BudgetGuard
    from langchain_costrouter.budget.ticket import Ticket


class BudgetOvershootWarning(UserWarning):
    """A model answered more output tokens than the ``max_tokens`` bound it was given."""


_overshoot_warned: set[str] = set()


def _usage(messages: Sequence[Any], ticket: Ticket) -> tuple[int | None, Decimal | None, int]:
    """Total tokens, dollars and output tokens of every answer (``None``: not all known)."""
    tokens: int | None = 0
    cost: Decimal | None = Decimal(0)
    out = 0
    for m in messages:
        t, c = actual_usage(m, ticket.option.estimate)
        tokens = None if t is None or tokens is None else tokens + t
        cost = None if c is None or cost is None else cost + c
        um = getattr(m, "usage_metadata", None) or {}
        out += int(um.get("output_tokens") or 0)
    return tokens, cost, out


def served_model(messages: Sequence[Any], ticket: Ticket) -> str | None:
    for m in reversed(messages):
        meta = (getattr(m, "response_metadata", None) or {}).get("costrouter") or {}
        if meta.get("tier"):
            return str(meta["tier"])
    return ticket.option.quote.primary.name


class Settlements:
    """Settle, release and replay for one guard."""

    def __init__(self, guard: BudgetGuard) -> None:
        self.guard = guard
        self._lock = threading.Lock()
        self._outbox: list[tuple[str, str, tuple[Charge, ...]]] = []

    def __len__(self) -> int:
        return len(self._outbox)

    def actual(self, ticket: Ticket, messages: Sequence[Any]) -> tuple[tuple[Charge, ...], int]:
        tokens, cost, out = _usage(messages, ticket)
        charges = []
        for b, c in zip(self.guard.budgets, ticket.charges, strict=True):
            if b.unit == "tokens":
                amount = tokens if tokens is not None else c.amount
            else:
                amount = usd_to_nano(cost) if cost is not None else c.amount
            charges.append(replace(c, amount=amount))
        return tuple(charges), out

    def _after(self, ticket: Ticket, messages: Sequence[Any], out: int) -> None:
        real = [m for m in messages if getattr(m, "usage_metadata", None)]
        if not real:
            return
        model = served_model(messages, ticket)
        bound = ticket.max_tokens
        if bound is not None and out > bound and model not in _overshoot_warned:
            _overshoot_warned.add(str(model))
            warnings.warn(
                f"model {model!r} answered {out} output tokens over its max_tokens bound of "
                f"{bound}: it ignores max_tokens, so a budget can be overshot by one such call",
                BudgetOvershootWarning, stacklevel=4,
            )
        if len(real) == 1 and not ticket.option.quote.summed:
            self.guard.history.observe(model, out, now=self.guard.clock())

    def later(self, op: str, rid: str, charges: tuple[Charge, ...] = ()) -> None:
        """Queue a ledger operation to replay once the ledger answers again."""
        with self._lock:
            self._outbox.append((op, rid, charges))

    def _failed(self, op: str, ticket: Ticket, charges: tuple[Charge, ...],
                e: LedgerUnavailableError) -> None:
        assert ticket.id is not None
        self.later(op, ticket.id, charges)
        warnings.warn(
            f"could not {op} a budget reservation now ({e}); it is replayed on the next "
            "ledger call", _ledger_warning(), stacklevel=4,
        )

    def settle(self, ticket: Ticket, messages: Sequence[Any]) -> None:
        charges, out = self.actual(ticket, messages)
        if ticket.id is not None:
            try:
                self.guard.ledger.reconcile(ticket.id, charges, now=self.guard.clock())
            except LedgerUnavailableError as e:
                self._failed("reconcile", ticket, charges, e)
        self._after(ticket, messages, out)

    async def asettle(self, ticket: Ticket, messages: Sequence[Any]) -> None:
        charges, out = self.actual(ticket, messages)
        if ticket.id is not None:
            try:
                await self.guard.ledger.areconcile(ticket.id, charges, now=self.guard.clock())
            except LedgerUnavailableError as e:
                self._failed("reconcile", ticket, charges, e)
        if self.guard.ledger.blocking_io:
            import asyncio

            await asyncio.to_thread(self._after, ticket, messages, out)
        else:
            self._after(ticket, messages, out)

    def cancel(self, ticket: Ticket) -> None:
        if ticket.id is None:
            return
        try:
            self.guard.ledger.release(ticket.id, now=self.guard.clock())
        except LedgerUnavailableError as e:
            self._failed("release", ticket, (), e)

    async def acancel(self, ticket: Ticket) -> None:
        if ticket.id is None:
            return
        try:
            await self.guard.ledger.arelease(ticket.id, now=self.guard.clock())
        except LedgerUnavailableError as e:
            self._failed("release", ticket, (), e)

    def flush(self, now: float) -> int:
        """Replay the outbox in order; raises :class:`LedgerUnavailableError` if still down."""
        while True:
            with self._lock:
                if not self._outbox:
                    return 0
                op, rid, charges = self._outbox[0]
            if op == "reconcile":
                self.guard.ledger.reconcile(rid, charges, now=now)
            else:
                self.guard.ledger.release(rid, now=now)
            with self._lock:
                if self._outbox and self._outbox[0][1] == rid:
                    self._outbox.pop(0)


def _ledger_warning() -> type[Warning]:
    from langchain_costrouter.budget.guard import BudgetLedgerWarning

    return BudgetLedgerWarning
