"""Where breaker state lives: the :class:`BreakerStore` interface and the in-memory store.

A store applies the rules of :mod:`.machine` atomically per key. Shared stores
(:class:`~.sqlite_store.SQLiteBreakerStore`, :class:`~.redis_store.RedisBreakerStore`) let a
fleet of processes learn together. They keep every time on THEIR OWN clock (SQLite's
``julianday('now')``, Redis ``TIME`` read inside the Lua script) and ignore the caller's
``now``, so one host with a skewed wall clock cannot lock the fleet out (a host 10 days fast
opening a breaker for 10 days) nor reopen it early; cooldowns cross the interface as
durations. :meth:`BreakerStore.snapshot` with ``now`` gives the record in the caller's clock
frame. The memory store measures on the caller's clock (one process, one clock).
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

from langchain_costrouter.resilience import machine
from langchain_costrouter.resilience.machine import BreakerConfig, Record, Transition


@runtime_checkable
class BreakerStore(Protocol):
    """Atomic per-key breaker state. Keys are opaque strings chosen by ``Breakers``."""

    shared: bool
    """True when several processes see the same state (they then measure on the store's
    clock, not the caller's)."""

    def allow(self, key: str, now: float, cfg: BreakerConfig) -> tuple[int, Transition | None]:
        """Grant (-1 refused, 0 normal, > 0 probe id) and the transition it caused, if any."""
        ...

    def record(self, key: str, now: float, cfg: BreakerConfig, outcome: str, grant: int,
               cooldown_s: float = 0) -> Transition | None:
        """Report ``"success"``/``"failure"``/``"neutral"`` for a grant (``cooldown_s``: skip
        the key for that long); returns a transition."""
        ...

    def snapshot(self, key: str, now: float | None = None,
                 cfg: BreakerConfig | None = None) -> Record | None:
        """The record, or None if the key was never used (a copy; never blocks long).

        With ``now`` (the caller's clock) and ``cfg``, a clock step back is repaired first and
        the times come in the caller's clock frame; without, the record as stored.
        """
        ...

    def reset(self, key: str) -> None:
        """Forget the key (back to closed)."""
        ...

    def close(self) -> None: ...


class MemoryBreakerStore:
    """State in this process only. One lock; ~1 us per call (see benchmarks)."""

    shared = False

    def __init__(self) -> None:
        self._records: dict[str, Record] = {}
        self._lock = threading.Lock()

    def _get(self, key: str, cfg: BreakerConfig) -> Record:
        rec = self._records.get(key)
        if rec is None:
            rec = self._records[key] = machine.new_record(cfg)
        return rec

    def allow(self, key: str, now: float, cfg: BreakerConfig) -> tuple[int, Transition | None]:
        rec = self._records.get(key)
        if (rec is not None and rec["s"] == machine.CLOSED and now >= rec["cu"]
                and now >= rec.get("ls", now)):
            # Lock-free fast path: a closed breaker changes nothing when it grants. A racing
            # trip lets at most this one call through, as if it had come a moment earlier.
            return machine.NORMAL, None
        with self._lock:
            grant, transition, _ = machine.allow(self._get(key, cfg), now, cfg)
        return grant, transition

    def record(self, key: str, now: float, cfg: BreakerConfig, outcome: str, grant: int,
               cooldown_s: float = 0) -> Transition | None:
        with self._lock:
            rec = self._get(key, cfg)
            transition, _ = machine.record(rec, now, cfg, outcome, grant, cooldown_s)
        return transition

    def snapshot(self, key: str, now: float | None = None,
                 cfg: BreakerConfig | None = None) -> Record | None:
        with self._lock:
            rec = self._records.get(key)
            if rec is None:
                return None
            if now is not None:
                machine.rebase(rec, now)
            return {**rec, "ring": list(rec["ring"])}

    def reset(self, key: str) -> None:
        with self._lock:
            self._records.pop(key, None)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"MemoryBreakerStore(keys={len(self._records)})"
