"""Per-model and per-provider in-flight limits, with a priority queue when saturated.

One :class:`ConcurrencyLimiter` serves threads and asyncio tasks together. A caller takes a
slot of its model and of its provider; when either is full it waits in one queue ordered by
priority (lower number = sooner, FIFO among equals). Sync waiters block on a
``threading.Event``; async waiters await a future (the event loop is never blocked). A full
queue refuses at once with ``QueueFullError``; :meth:`shutdown` fails every queued caller with
``ShutdownError``::

    with limiter.slot("gpt-4o", priority=1): ...
    async with limiter.aslot("gpt-4o"): ...
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager

from langchain_costrouter.exceptions import ConfigError, QueueFullError, ShutdownError

Limits = int | Mapping[str, int] | None


class Lease:
    """A held slot; give it back with :meth:`ConcurrencyLimiter.release` (idempotent)."""

    __slots__ = ("keys", "released")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.released = False

    def __repr__(self) -> str:
        return f"Lease({', '.join(self.keys)})"


class _Waiter:
    __slots__ = ("error", "event", "future", "keys", "lease", "loop", "order")

    def __init__(self, order: tuple[int, int], keys: tuple[str, ...]) -> None:
        self.order = order
        self.keys = keys
        self.lease: Lease | None = None
        self.error: BaseException | None = None
        self.event: threading.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.future: asyncio.Future[None] | None = None

    def __lt__(self, other: _Waiter) -> bool:
        return self.order < other.order

    def wake(self) -> None:
        if self.event is not None:
            self.event.set()
        elif self.loop is not None and self.future is not None:
            fut = self.future
            self.loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(None))


class ConcurrencyLimiter:
    """In-flight caps per model and per provider (``None``: unlimited), one priority queue."""

    def __init__(self, *, per_model: Limits = 50, per_provider: Limits = None,
                 providers: Mapping[str, str] | None = None, max_queue: int | None = 1000) -> None:
        for name, limits in (("per_model", per_model), ("per_provider", per_provider)):
            values = limits.values() if isinstance(limits, Mapping) else [limits]
            for v in values:
                if v is not None and v < 1:
                    raise ConfigError(f"ConcurrencyLimiter.{name} limits must be >= 1, got {v!r}")
        if max_queue is not None and max_queue < 0:
            raise ConfigError(f"ConcurrencyLimiter.max_queue must be >= 0, got {max_queue!r}")
        self.per_model = per_model
        self.per_provider = per_provider
        self.providers = dict(providers or {})
        self.max_queue = max_queue
        self._lock = threading.Lock()
        self._inflight: dict[str, int] = {}
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()
        self._closed = False

    # -- bookkeeping (all under self._lock) ---------------------------------------------
    def _limit(self, key: str) -> int | None:
        kind, name = key.split(":", 1)
        limits = self.per_model if kind == "m" else self.per_provider
        return limits.get(name) if isinstance(limits, Mapping) else limits

    def _keys(self, model: str) -> tuple[str, ...]:
        provider = self.providers.get(model)
        return (f"m:{model}",) if provider is None else (f"m:{model}", f"p:{provider}")

    def _fits(self, keys: tuple[str, ...]) -> bool:
        for key in keys:
            limit = self._limit(key)
            if limit is not None and self._inflight.get(key, 0) >= limit:
                return False
        return True

    def _take(self, keys: tuple[str, ...]) -> Lease:
        for key in keys:
            self._inflight[key] = self._inflight.get(key, 0) + 1
        return Lease(keys)

    def _enqueue(self, model: str, priority: int) -> Lease | _Waiter:
        if self._closed:
            raise ShutdownError(f"concurrency limiter is shut down; call to {model!r} refused")
        keys = self._keys(model)
        if self._fits(keys):
            return self._take(keys)
        if self.max_queue is not None and len(self._queue) >= self.max_queue:
            raise QueueFullError(
                f"queue full: {len(self._queue)} calls already waiting (max_queue="
                f"{self.max_queue}); {model!r} has {self._inflight.get(keys[0], 0)} in flight")
        waiter = _Waiter((priority, next(self._seq)), keys)
        bisect.insort(self._queue, waiter)
        return waiter

    def _grant_waiters(self) -> list[_Waiter]:
        woken = []
        for waiter in list(self._queue):
            if self._fits(waiter.keys):
                self._queue.remove(waiter)
                waiter.lease = self._take(waiter.keys)
                woken.append(waiter)
        return woken

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter gave up (cancelled): leave the queue, or hand back a lease it got."""
        with self._lock:
            if waiter in self._queue:
                self._queue.remove(waiter)
                return
        if waiter.lease is not None:
            self.release(waiter.lease)

    # -- public API -----------------------------------------------------------------------
    def try_acquire(self, model: str) -> Lease | None:
        """A slot now, or ``None`` if the model or its provider is saturated (never queues)."""
        with self._lock:
            if self._closed:
                raise ShutdownError(f"concurrency limiter is shut down; call to {model!r} refused")
            keys = self._keys(model)
            return self._take(keys) if self._fits(keys) else None

    def acquire(self, model: str, *, priority: int = 0) -> Lease:
        """Block the calling thread until a slot is free."""
        with self._lock:
            got = self._enqueue(model, priority)
            if isinstance(got, Lease):
                return got
            got.event = threading.Event()
        try:
            got.event.wait()
        except BaseException:
            self._abandon(got)
            raise
        if got.error is not None:
            raise got.error
        assert got.lease is not None
        return got.lease

    async def aacquire(self, model: str, *, priority: int = 0) -> Lease:
        """Await a slot without blocking the event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            got = self._enqueue(model, priority)
            if isinstance(got, Lease):
                return got
            got.loop, got.future = loop, loop.create_future()
        try:
            await got.future
        except BaseException:
            self._abandon(got)
            raise
        if got.error is not None:
            raise got.error
        assert got.lease is not None
        return got.lease

    def release(self, lease: Lease) -> None:
        """Give a slot back and wake whoever can now run."""
        with self._lock:
            if lease.released:
                return
            lease.released = True
            for key in lease.keys:
                self._inflight[key] -= 1
            woken = self._grant_waiters()
        for waiter in woken:
            waiter.wake()

    @contextmanager
    def slot(self, model: str, *, priority: int = 0) -> Iterator[Lease]:
        lease = self.acquire(model, priority=priority)
        try:
            yield lease
        finally:
            self.release(lease)

    @asynccontextmanager
    async def aslot(self, model: str, *, priority: int = 0) -> AsyncIterator[Lease]:
        lease = await self.aacquire(model, priority=priority)
        try:
            yield lease
        finally:
            self.release(lease)

    def shutdown(self) -> None:
        """Refuse new calls and fail every queued caller with ``ShutdownError``.

        Calls already running keep their slots and finish normally.
        """
        with self._lock:
            self._closed = True
            queued, self._queue = self._queue, []
        for waiter in queued:
            waiter.error = ShutdownError(
                f"concurrency limiter shut down while the call waited for {waiter.keys[0][2:]!r}")
            waiter.wake()

    def in_flight(self, model: str) -> int:
        with self._lock:
            return self._inflight.get(f"m:{model}", 0)

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def __repr__(self) -> str:
        return (f"ConcurrencyLimiter(per_model={self.per_model!r}, "
                f"per_provider={self.per_provider!r}, queued={len(self._queue)})")
