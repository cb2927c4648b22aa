"""The ledger interface, and the in-memory store.

A ledger keeps integer tallies per *counter* (one budget for one scope, e.g.
``usd/day|user:alice``) in time *buckets* (see :mod:`.windows`). It knows nothing of prices,
scopes or windows: the guard hands it :class:`Charge` objects that already carry the bucket to
add to, the first bucket still counted and the limit. Every store does three atomic steps:

* :meth:`Ledger.reserve` - drop expired reservations, then add every charge of a call at once
  if *all* fit under their limits, else add nothing;
* :meth:`Ledger.reconcile` - replace the reserved amounts with the actual ones (a refund or a
  top-up) and forget the reservation. A second reconcile of the same id is a no-op, so a
  settlement replayed after an outage never charges twice;
* :meth:`Ledger.release` - take a failed call's reservation back.

Reads never delete. :meth:`Ledger.tally` reports spent (settled) and reserved (in flight)
apart and leaves expired reservations to the next writer. Old buckets are pruned only by
writers, below :attr:`Charge.prune_before`, which the guard sets a full window plus three days
before the window start: a host whose clock is days fast or slow never prunes the current or
the previous window of the others.

Amounts are integers: tokens, or USD in nano-dollars (:data:`NANO_USD` per dollar) so that
SQLite integers and Redis Lua numbers (doubles, exact to 2**53) add exactly.

The ledger also persists usage records (counts and costs; a prompt only when the caller passes
one): :meth:`Ledger.write` makes any ledger a ``RecordSink`` for the cost tracking handler.
"""

from __future__ import annotations

import asyncio
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

NANO_USD = 1_000_000_000


def usd_to_nano(usd: Decimal | str | int | float, *, limit: bool = False) -> int:
    """Dollars to integer nano-dollars: costs round up, limits round down (never overspend)."""
    rounding = ROUND_FLOOR if limit else ROUND_CEILING
    return int((Decimal(str(usd)) * NANO_USD).to_integral_value(rounding=rounding))


def nano_to_usd(nano: int) -> Decimal:
    return (Decimal(nano) / NANO_USD).normalize() if nano else Decimal(0)


@dataclass(frozen=True, slots=True)
class Charge:
    """One counter touched by one call."""

    key: str
    """Counter: ``<budget name>|<scope>``."""
    amount: int
    """Tokens or nano-dollars to reserve; 0 reserves nothing and is never refused."""
    limit: int
    bucket: int
    """Bucket (epoch second) the amount is added to."""
    since: int
    """First bucket counted."""
    prune_before: int | None = None
    """Buckets of this counter older than this may be deleted by the write (``None``: keep)."""


@dataclass(frozen=True, slots=True)
class Tally:
    """What a counter holds at a given time, including live reservations."""

    used: int
    """Spent plus reserved."""
    oldest: int | None = None
    """Oldest bucket in the window that holds usage (for rolling reset times)."""
    reserved: int = 0
    """Held by live reservations (calls in flight), part of ``used``."""

    @property
    def spent(self) -> int:
        """Settled usage: what finished calls used."""
        return self.used - self.reserved


def fits(charges: Sequence[Charge], tallies: Sequence[Tally]) -> bool:
    """Every charge fits its limit (a charge of 0 always fits)."""
    return all(
        c.amount <= 0 or t.used + c.amount <= c.limit
        for c, t in zip(charges, tallies, strict=True)
    )


@dataclass(frozen=True, slots=True)
class Grant:
    """Outcome of :meth:`Ledger.reserve`. ``tallies`` are the counters *before* this call."""

    granted: bool
    tallies: tuple[Tally, ...]

    def denied(self, charges: Sequence[Charge]) -> list[tuple[Charge, Tally]]:
        """The charges that did not fit."""
        return [
            (c, t)
            for c, t in zip(charges, self.tallies, strict=True)
            if c.amount > 0 and t.used + c.amount > c.limit
        ]


@dataclass(kw_only=True)
class UsageRow:
    """One call's usage as persisted: counts and costs, never the prompt unless given."""

    ts: float
    run_id: str | None = None
    model: str | None = None
    provider: str | None = None
    tier: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: str | None = None
    """Decimal as text; ``None`` when the model is unpriced."""
    scope: str | None = None
    """Scope keys such as ``user:alice,api_key:sha256:...`` (keys hashed)."""
    prompt: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Any, *, store_prompt: bool = False) -> UsageRow:
        """Read a ``costs.CallRecord`` (or any object or mapping) by field name.

        Field aliases of the cost handler's records are understood (``timestamp``,
        ``cached_input_tokens``, ``cost``); ``metadata`` gives the scope (API keys hashed);
        other plain fields go to ``extra``. ``prompt`` is dropped unless ``store_prompt``.
        """
        data = dict(record) if isinstance(record, Mapping) else _public_attrs(record)
        for alias, name in _ALIASES.items():
            if alias in data and data.get(name) is None:
                data[name] = data.pop(alias)
        names = {f.name for f in fields(cls)} - {"extra"}
        row: dict[str, Any] = {k: data[k] for k in names if data.get(k) is not None}
        ts = row.get("ts") or time.time()
        row["ts"] = float(ts.timestamp() if hasattr(ts, "timestamp") else ts)
        for k in ("run_id", "cost_usd"):
            if k in row:
                row[k] = str(row[k])
        metadata = data.get("metadata")
        if "scope" not in row and isinstance(metadata, Mapping):
            from langchain_costrouter.budget.budgets import SCOPE_KINDS, scope_value

            parts = [
                f"{k}:{scope_value(k, metadata[k])}" for k in SCOPE_KINDS[1:] if metadata.get(k)
            ]
            row["scope"] = ",".join(parts) or None
        if not store_prompt:
            row.pop("prompt", None)
        extra = {
            k: v for k, v in data.items()
            if k not in names and k not in _ALIASES and k not in ("prompt", "metadata")
            and isinstance(v, (str, int, float, bool))
        }
        return cls(**row, extra=extra)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_ALIASES = {"timestamp": "ts", "cached_input_tokens": "cached_tokens", "cost": "cost_usd"}


def _public_attrs(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump())
    if hasattr(obj, "__dataclass_fields__"):
        return {f: getattr(obj, f) for f in obj.__dataclass_fields__}
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


class Ledger(ABC):
    """Interface of every store. All methods take ``now`` (epoch seconds) from the caller."""

    blocking_io: bool = False
    """``True`` when calls may wait on the network; async callers then use a thread."""
    store_prompts: bool = False

    @abstractmethod
    def reserve(
        self, reservation_id: str, charges: Sequence[Charge], *, now: float, ttl: float
    ) -> Grant:
        """Atomically add every charge if all fit; the reservation expires at ``now + ttl``."""

    @abstractmethod
    def reconcile(
        self, reservation_id: str, charges: Sequence[Charge], *, now: float
    ) -> bool:
        """Set the reservation's counters to ``charges``' actual amounts and forget it.

        ``charges`` carry the same keys and buckets as reserved. Returns ``False`` when the
        reservation had already expired; the actual amounts are then added in full.
        """

    @abstractmethod
    def release(self, reservation_id: str, *, now: float) -> bool:
        """Take a reservation back (the call failed). ``False`` if it was unknown or expired."""

    @abstractmethod
    def tally(self, key: str, since: int, *, now: float) -> Tally:
        """Usage of a counter from bucket ``since`` on; expired reservations do not count.

        Read-only: nothing is deleted, whatever ``now`` says.
        """

    def tallies(self, queries: Sequence[tuple[str, int]], *, now: float) -> list[Tally]:
        """:meth:`tally` of several ``(key, since)`` at once (one round trip where possible)."""
        return [self.tally(k, s, now=now) for k, s in queries]

    def note_output(self, model: str, tokens: int, *, now: float) -> None:  # noqa: B027
        """Remember one answer's output length for ``model`` (learned estimates)."""

    def recent_outputs(self, model: str, limit: int = 200) -> list[int]:
        """The latest output lengths noted for ``model``, newest first."""
        return []

    @abstractmethod
    def expire(self, *, now: float) -> int:
        """Release every reservation whose TTL has passed; returns how many."""

    @abstractmethod
    def pending(self, *, now: float) -> int:
        """Live (unexpired) reservations."""

    @abstractmethod
    def record_usage(self, row: UsageRow) -> None:
        """Persist one usage row."""

    @abstractmethod
    def usage_rows(self, limit: int = 1000) -> list[UsageRow]:
        """The latest persisted usage rows, oldest first."""

    def write(self, record: Any) -> None:
        """``RecordSink`` protocol of the cost tracking handler: persist ``record``'s counts."""
        row = record if isinstance(record, UsageRow) else UsageRow.from_record(
            record, store_prompt=self.store_prompts
        )
        if not self.store_prompts:
            row.prompt = None
        self.record_usage(row)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free connections."""

    # async twins: local stores run inline (sub-millisecond), network stores in a thread.
    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self.blocking_io:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    async def areserve(
        self, reservation_id: str, charges: Sequence[Charge], *, now: float, ttl: float
    ) -> Grant:
        return await self._run(self.reserve, reservation_id, charges, now=now, ttl=ttl)

    async def areconcile(
        self, reservation_id: str, charges: Sequence[Charge], *, now: float
    ) -> bool:
        return await self._run(self.reconcile, reservation_id, charges, now=now)

    async def arelease(self, reservation_id: str, *, now: float) -> bool:
        return await self._run(self.release, reservation_id, now=now)

    async def atallies(self, queries: Sequence[tuple[str, int]], *, now: float) -> list[Tally]:
        return await self._run(self.tallies, queries, now=now)


SETTLED_KEEP_S = 3 * 86_400.0
"""How long a settled reservation id is remembered (replays within it are no-ops). Longer than
the longest reservation the package makes (a batch chunk's 26 h), so a settlement replayed
while its reservation could still be live is always recognised."""
OUTPUT_HISTORY = 500
"""Output lengths kept per model."""


class InMemoryLedger(Ledger):
    """One process, thread-safe. For tests and single-process apps; lost at exit."""

    def __init__(self, *, store_prompts: bool = False) -> None:
        self.store_prompts = store_prompts
        self._lock = threading.Lock()
        self._buckets: dict[str, dict[int, int]] = {}
        self._res: dict[str, tuple[float, list[tuple[str, int, int]]]] = {}
        self._settled: dict[str, float] = {}
        self._rows: list[UsageRow] = []
        self._outputs: dict[str, deque[int]] = {}

    def __repr__(self) -> str:
        return f"InMemoryLedger(counters={len(self._buckets)}, reservations={len(self._res)})"

    def _add(self, key: str, bucket: int, amount: int) -> None:
        b = self._buckets.setdefault(key, {})
        b[bucket] = b.get(bucket, 0) + amount

    def _sum(self, key: str, since: int, now: float) -> Tally:
        b = self._buckets.get(key, {})
        dead = reserved = 0
        for exp, held in self._res.values():
            for k, bucket, amount in held:
                if k == key and bucket >= since:
                    if exp <= now:
                        dead += amount
                    else:
                        reserved += amount
        live = [k for k, v in b.items() if v > 0 and k >= since]
        used = sum(v for k, v in b.items() if k >= since) - dead
        return Tally(used=used, oldest=min(live) if live else None, reserved=reserved)

    def _prune(self, charges: Sequence[Charge]) -> None:
        for c in charges:
            b = self._buckets.get(c.key)
            if b and c.prune_before is not None:
                for old in [k for k in b if k < c.prune_before]:
                    del b[old]

    def _expire(self, now: float) -> int:
        dead = [rid for rid, (exp, _) in self._res.items() if exp <= now]
        for rid in dead:
            for key, bucket, amount in self._res.pop(rid)[1]:
                self._add(key, bucket, -amount)
        return len(dead)

    def reserve(
        self, reservation_id: str, charges: Sequence[Charge], *, now: float, ttl: float
    ) -> Grant:
        with self._lock:
            self._expire(now)
            self._prune(charges)
            tallies = tuple(self._sum(c.key, c.since, now) for c in charges)
            ok = fits(charges, tallies)
            if ok:
                for c in charges:
                    self._add(c.key, c.bucket, c.amount)
                self._res[reservation_id] = (
                    now + ttl, [(c.key, c.bucket, c.amount) for c in charges]
                )
            return Grant(ok, tallies)

    def reconcile(self, reservation_id: str, charges: Sequence[Charge], *, now: float) -> bool:
        with self._lock:
            if reservation_id in self._settled:
                return False  # a replay: already counted once
            for rid in [r for r, t in self._settled.items() if t < now - SETTLED_KEEP_S]:
                del self._settled[rid]
            self._settled[reservation_id] = now
            held = self._res.pop(reservation_id, None)
            reserved = {(k, b): a for k, b, a in held[1]} if held else {}
            for c in charges:
                self._add(c.key, c.bucket, c.amount - reserved.pop((c.key, c.bucket), 0))
            for (k, b), a in reserved.items():  # counters the actual usage no longer touches
                self._add(k, b, -a)
            return held is not None

    def release(self, reservation_id: str, *, now: float) -> bool:
        with self._lock:
            held = self._res.pop(reservation_id, None)
            for key, bucket, amount in held[1] if held else ():
                self._add(key, bucket, -amount)
            return held is not None

    def tally(self, key: str, since: int, *, now: float) -> Tally:
        with self._lock:
            return self._sum(key, since, now)

    def expire(self, *, now: float) -> int:
        with self._lock:
            return self._expire(now)

    def pending(self, *, now: float) -> int:
        with self._lock:
            return sum(1 for exp, _ in self._res.values() if exp > now)

    def note_output(self, model: str, tokens: int, *, now: float) -> None:
        with self._lock:
            self._outputs.setdefault(model, deque(maxlen=OUTPUT_HISTORY)).appendleft(tokens)

    def recent_outputs(self, model: str, limit: int = 200) -> list[int]:
        with self._lock:
            return list(self._outputs.get(model, ()))[:limit]

    def record_usage(self, row: UsageRow) -> None:
        with self._lock:
            self._rows.append(row)

    def usage_rows(self, limit: int = 1000) -> list[UsageRow]:
        with self._lock:
            return list(self._rows[-limit:])
