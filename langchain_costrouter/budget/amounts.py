"""Reserving a known amount instead of a chat call: what a batch job's chunk costs.

A batch chunk has no single prompt to bound; it has an estimate (tokens and dollars at the
lane's prices) computed when the job was planned. :func:`reserve_amount` reserves it on the
same counters (budgets and scopes) a normal call charges, refusing with the same errors:
:class:`BudgetExceededError` when *settled* spend plus the amount is over a limit,
:class:`BudgetBusyError` when only other reservations hold the room past ``settle_timeout``.
:func:`settle_amount` replaces it by the actual amount (the ledger's reconcile: a replay of the
same id is a no-op), :func:`release_amount` takes it back.

A reservation is plain data (:meth:`AmountReservation.to_json`), so another process can settle
it: the batch job store keeps it next to the chunk.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from langchain_costrouter.budget.budgets import scopes_of
from langchain_costrouter.budget.decide import scope_labels
from langchain_costrouter.budget.ledger import Charge, Tally, usd_to_nano
from langchain_costrouter.budget.status import in_unit
from langchain_costrouter.exceptions import (
    BudgetBusyError,
    BudgetExceededError,
    BudgetUnpricedError,
    ConfigError,
    LedgerUnavailableError,
)

if TYPE_CHECKING:
    from langchain_costrouter.budget.guard import BudgetGuard


@dataclass(frozen=True)
class AmountReservation:
    """A reserved amount. ``id`` is ``None`` when it runs untracked (``fail_open``)."""

    id: str | None
    charges: tuple[Charge, ...]

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "charges": [
            [c.key, c.amount, c.limit, c.bucket, c.since, c.prune_before] for c in self.charges]})

    @classmethod
    def from_json(cls, raw: str) -> AmountReservation:
        d = json.loads(raw)
        return cls(d["id"], tuple(Charge(*c) for c in d["charges"]))


def _usd(usd: Any, what: str) -> Decimal | None:
    if usd is None:
        return None
    if isinstance(usd, (float, bool)):
        raise ConfigError(f"{what}: usd must be a Decimal, int or str (money is exact), "
                          f"got {usd!r}")
    try:
        value = Decimal(str(usd))
    except Exception:
        raise ConfigError(f"{what}: usd={usd!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ConfigError(f"{what}: usd={usd!r} must be a finite amount >= 0")
    return value


def _tokens(tokens: Any, what: str) -> int:
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise ConfigError(f"{what}: tokens={tokens!r} must be a whole number >= 0")
    return tokens


def _amounts(guard: BudgetGuard, usd: Decimal | None, tokens: int, model: str | None,
             ) -> list[int]:
    out = []
    for b in guard.budgets:
        if b.unit == "tokens":
            out.append(tokens)
        elif usd is not None:
            out.append(usd_to_nano(usd))
        elif guard.on_unpriced == "allow":
            out.append(0)
        else:
            raise BudgetUnpricedError(budget=b.name, model=model)
    return out


def _over(guard: BudgetGuard, scopes: Mapping[str, str], charges: tuple[Charge, ...],
          tallies: list[Tally], now: float, *, settled: bool) -> tuple[Any, Charge, Tally] | None:
    """The first budget the amount does not fit (against settled spend, or spend + reserved)."""
    labels = scope_labels(guard.budgets, scopes)
    for b, label, c, t in zip(guard.budgets, labels, charges, tallies, strict=True):
        base = t.spent if settled else t.used
        if c.amount > 0 and base + c.amount > c.limit:
            return (b, label), c, t
    return None


def _exceeded(found: tuple[Any, Charge, Tally], now: float) -> BudgetExceededError:
    (b, label), c, t = found
    return BudgetExceededError(
        budget=b.name, scope=label, unit=b.unit, limit=in_unit(b, c.limit),
        used=in_unit(b, t.spent), reserved=in_unit(b, t.reserved),
        requested=in_unit(b, c.amount), resets_at=b.window.resets_at(now, t.oldest),
    )


def check_amount(
    guard: BudgetGuard, *, usd: Decimal | str | int | None, tokens: int,
    metadata: Mapping[str, Any] | None = None, model: str | None = None,
) -> None:
    """Raise :class:`BudgetExceededError` when settled spend plus this amount is over a
    limit (what several reservations made one after another will need in all). Reserves
    nothing; a ledger that is down is left to :func:`reserve_amount` to handle."""
    cost, n = _usd(usd, "amount check"), _tokens(tokens, "amount check")
    scopes = scopes_of(metadata)
    amounts = _amounts(guard, cost, n, model)
    now = guard.clock()
    charges = guard._charges(scopes, amounts, now)
    try:
        tallies = guard.ledger.tallies(guard._queries(scopes, now), now=now)
    except LedgerUnavailableError:
        tallies = [Tally(0)] * len(charges)
    refused = _over(guard, scopes, charges, tallies, now, settled=True)
    if refused is not None:
        raise _exceeded(refused, now)


def reserve_amount(
    guard: BudgetGuard, rid: str, *, usd: Decimal | str | int | None, tokens: int,
    metadata: Mapping[str, Any] | None = None, ttl: float | None = None,
    model: str | None = None,
) -> AmountReservation:
    """Reserve ``usd`` and ``tokens`` under id ``rid`` on every budget of ``metadata``'s scopes.

    ``usd=None`` means unpriced: refused by a USD budget unless ``on_unpriced="allow"``.
    ``ttl`` (seconds) defaults to the guard's ``reservation_ttl``; ``model`` names the priced
    thing in errors.
    """
    cost, n = _usd(usd, f"reservation {rid}"), _tokens(tokens, f"reservation {rid}")
    scopes = scopes_of(metadata)
    amounts = _amounts(guard, cost, n, model)
    ttl = guard.reservation_ttl if ttl is None else ttl
    start = guard.clock()
    while True:
        now = guard.clock()
        charges = guard._charges(scopes, amounts, now)
        try:
            guard._settlements.flush(now)
            tallies = guard.ledger.tallies(guard._queries(scopes, now), now=now)
            refused = _over(guard, scopes, charges, tallies, now, settled=True)
            if refused is not None:
                raise _exceeded(refused, now)
            try:
                grant = guard.ledger.reserve(rid, charges, now=now, ttl=ttl)
            except LedgerUnavailableError:
                guard._settlements.later("release", rid)  # it may land once the ledger is back
                raise
        except LedgerUnavailableError as e:
            guard._ledger_failed(e)  # fail_closed: raises
            whole = _over(guard, scopes, charges, [Tally(0)] * len(charges), now, settled=True)
            if whole is not None:  # larger than a whole budget: refused even untracked
                raise _exceeded(whole, now) from None
            return AmountReservation(None, charges)
        if grant.granted:
            return AmountReservation(rid, charges)
        busy = _over(guard, scopes, charges, list(grant.tallies), now, settled=False)
        if busy is not None and now - start >= guard.settle_timeout:
            (b, label), c, t = busy
            raise BudgetBusyError(
                budget=b.name, scope=label, unit=b.unit, limit=in_unit(b, c.limit),
                spent=in_unit(b, t.spent), reserved=in_unit(b, t.reserved),
                requested=in_unit(b, c.amount), waited_s=now - start)
        guard.sleep(guard.poll_interval)


def actual_charges(guard: BudgetGuard, res: AmountReservation, *,
                   usd: Decimal | str | int | None, tokens: int | None) -> tuple[Charge, ...]:
    """The reservation's charges with the actual amounts (``None``: keep the reserved one)."""
    cost = _usd(usd, f"settlement {res.id}")
    out = []
    for b, c in zip(guard.budgets, res.charges, strict=True):
        if b.unit == "tokens":
            amount = c.amount if tokens is None else _tokens(tokens, f"settlement {res.id}")
        else:
            amount = c.amount if cost is None else usd_to_nano(cost)
        out.append(replace(c, amount=amount))
    return tuple(out)


def settle_amount(guard: BudgetGuard, res: AmountReservation, *,
                  usd: Decimal | str | int | None, tokens: int | None) -> bool:
    """Charge the actual amount instead of the reserved one, once (a replay is a no-op).

    Returns ``False`` when the ledger is down: the settlement is then kept and replayed on the
    guard's next ledger call (and the caller may replay it too: still charged once).
    """
    if res.id is None:
        return True
    charges = actual_charges(guard, res, usd=usd, tokens=tokens)
    try:
        guard.ledger.reconcile(res.id, charges, now=guard.clock())
    except LedgerUnavailableError as e:
        guard._settlements.later("reconcile", res.id, charges)
        warnings.warn(f"could not settle budget reservation {res.id} now ({e}); it is "
                      "replayed on the next ledger call", _warning(), stacklevel=3)
        return False
    return True


def release_amount(guard: BudgetGuard, rid: str) -> bool:
    """Take reservation ``rid`` back; ``False`` when the ledger is down (replayed later)."""
    try:
        guard.ledger.release(rid, now=guard.clock())
    except LedgerUnavailableError as e:
        guard._settlements.later("release", rid)
        warnings.warn(f"could not release budget reservation {rid} now ({e}); it is "
                      "replayed on the next ledger call", _warning(), stacklevel=3)
        return False
    return True


def _warning() -> type[Warning]:
    from langchain_costrouter.budget.guard import BudgetLedgerWarning

    return BudgetLedgerWarning
