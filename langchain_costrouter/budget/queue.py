"""Who tries next: calls waiting for in-flight reservations to settle, in priority then
arrival order.

A call that cannot reserve only because other calls hold reservations joins the queue of its
budgets' scopes. Only the head of a queue tries the ledger again, so a large call is not
starved by small ones arriving after it, and a new arrival never jumps ahead of a waiter.
The queue is per process (the ledger does the cross-process part atomically); it never
blocks: callers poll with their own (injected) sleep, so threads and asyncio tasks share it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class WaitQueue:
    """Priority (lower first), then arrival order, per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._waiting: dict[Hashable, list[tuple[int, int]]] = {}

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._waiting.values())

    def waiting(self, key: Hashable) -> int:
        with self._lock:
            return len(self._waiting.get(key, ()))

    def busy(self, key: Hashable) -> bool:
        """Someone already waits under ``key``: a new arrival must queue behind them."""
        with self._lock:
            return bool(self._waiting.get(key))

    def enter(self, key: Hashable, priority: int = 0) -> tuple[int, int]:
        entry = (priority, next(self._seq))
        with self._lock:
            q = self._waiting.setdefault(key, [])
            q.append(entry)
            q.sort()
        return entry

    def is_head(self, key: Hashable, entry: tuple[int, int]) -> bool:
        with self._lock:
            q = self._waiting.get(key)
            return bool(q) and q[0] == entry

    def leave(self, key: Hashable, entry: tuple[int, int]) -> None:
        with self._lock:
            q = self._waiting.get(key)
            if q and entry in q:
                q.remove(entry)
            if not q:
                self._waiting.pop(key, None)


@dataclass
class Waiter:
    """One call trying to reserve: its options, scopes, queue key and place in the queue."""

    options: Sequence[Any]
    scopes: Mapping[str, str]
    key: tuple[str, ...]
    rid: str
    start: float
    priority: int
    entry: tuple[int, int] | None = None
    busy: Any = None
    """The last :class:`~.decide.Busy` outcome (for the error after ``settle_timeout``)."""

    def join(self, queue: WaitQueue, priority: int) -> None:
        if self.entry is None:
            self.entry = queue.enter(self.key, priority)

    def leave(self, queue: WaitQueue) -> None:
        if self.entry is not None:
            queue.leave(self.key, self.entry)
            self.entry = None
