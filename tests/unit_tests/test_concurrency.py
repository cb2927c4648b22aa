"""In-flight limits for threads and asyncio tasks, priority queue, backpressure, shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest

from langchain_costrouter.exceptions import ConfigError, QueueFullError, ShutdownError
from langchain_costrouter.resilience import ConcurrencyLimiter


async def wait_until_queued(limiter: ConcurrencyLimiter, n: int) -> None:
    for _ in range(1000):
        if limiter.queued >= n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"expected {n} queued, got {limiter.queued}")


def threads_until_queued(limiter: ConcurrencyLimiter, n: int) -> None:
    done = threading.Event()
    for _ in range(100_000):
        if limiter.queued >= n:
            return
        done.wait(0.0001)  # yield to the waiting threads (bounded, not a timing assertion)
    raise AssertionError(f"expected {n} queued, got {limiter.queued}")


async def test_async_in_flight_never_exceeds_the_model_limit() -> None:
    limiter = ConcurrencyLimiter(per_model=5)
    peak = 0
    gate = asyncio.Event()

    async def call() -> None:
        nonlocal peak
        async with limiter.aslot("m"):
            peak = max(peak, limiter.in_flight("m"))
            await gate.wait()

    tasks = [asyncio.create_task(call()) for _ in range(50)]
    await wait_until_queued(limiter, 45)
    assert limiter.in_flight("m") == 5
    gate.set()
    await asyncio.gather(*tasks)
    assert peak == 5 and limiter.in_flight("m") == 0 and limiter.queued == 0


def test_threads_respect_model_and_provider_limits() -> None:
    limiter = ConcurrencyLimiter(per_model=3, per_provider=4,
                                 providers={"a": "acme", "b": "acme"})
    gate = threading.Event()
    peaks = {"a": 0, "b": 0, "acme": 0}
    lock = threading.Lock()

    def call(model: str) -> None:
        with limiter.slot(model):
            with lock:
                peaks[model] = max(peaks[model], limiter.in_flight(model))
                total = limiter.in_flight("a") + limiter.in_flight("b")
                peaks["acme"] = max(peaks["acme"], total)
            gate.wait()

    threads = [threading.Thread(target=call, args=("ab"[i % 2],)) for i in range(20)]
    for t in threads:
        t.start()
    threads_until_queued(limiter, 16)
    assert limiter.in_flight("a") + limiter.in_flight("b") == 4
    gate.set()
    for t in threads:
        t.join()
    assert peaks["acme"] == 4 and peaks["a"] <= 3 and peaks["b"] <= 3


async def test_priority_then_fifo_order() -> None:
    limiter = ConcurrencyLimiter(per_model=1)
    holder = await limiter.aacquire("m")
    order: list[str] = []

    async def call(name: str, priority: int) -> None:
        async with limiter.aslot("m", priority=priority):
            order.append(name)

    tasks = []
    for name, prio in [("low1", 5), ("high1", 0), ("low2", 5), ("high2", 0), ("mid", 2)]:
        tasks.append(asyncio.create_task(call(name, prio)))
        await wait_until_queued(limiter, len(tasks))
    limiter.release(holder)
    await asyncio.gather(*tasks)
    assert order == ["high1", "high2", "mid", "low1", "low2"]


async def test_full_queue_refuses_at_once() -> None:
    limiter = ConcurrencyLimiter(per_model=1, max_queue=2)
    holder = limiter.try_acquire("m")
    assert holder is not None
    assert limiter.try_acquire("m") is None
    waiting = [asyncio.create_task(limiter.aacquire("m")) for _ in range(2)]
    await wait_until_queued(limiter, 2)
    with pytest.raises(QueueFullError, match="max_queue=2"):
        await limiter.aacquire("m")
    with pytest.raises(QueueFullError):
        limiter.acquire("m")
    limiter.release(holder)
    first = await waiting[0]
    limiter.release(first)
    limiter.release(await waiting[1])
    assert limiter.in_flight("m") == 0


async def test_shutdown_fails_queued_callers_sync_and_async() -> None:
    limiter = ConcurrencyLimiter(per_model=1)
    holder = limiter.acquire("m")
    async_waiter = asyncio.create_task(limiter.aacquire("m"))
    errors: list[BaseException] = []

    def sync_caller() -> None:
        try:
            limiter.acquire("m", priority=1)
        except ShutdownError as exc:
            errors.append(exc)

    thread = threading.Thread(target=sync_caller)
    thread.start()
    await wait_until_queued(limiter, 2)
    limiter.shutdown()
    with pytest.raises(ShutdownError, match="shut down while the call waited for 'm'"):
        await async_waiter
    await asyncio.to_thread(thread.join)
    assert len(errors) == 1
    with pytest.raises(ShutdownError):
        limiter.acquire("other")
    limiter.release(holder)  # the running call finishes normally
    assert limiter.in_flight("m") == 0


async def test_cancelled_waiter_leaves_the_queue_and_leaks_no_slot() -> None:
    limiter = ConcurrencyLimiter(per_model=1)
    holder = await limiter.aacquire("m")
    task = asyncio.create_task(limiter.aacquire("m"))
    await wait_until_queued(limiter, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter.queued == 0
    limiter.release(holder)
    assert limiter.in_flight("m") == 0
    lease = limiter.try_acquire("m")
    assert lease is not None


async def test_waiting_does_not_block_the_event_loop() -> None:
    limiter = ConcurrencyLimiter(per_model=1)
    holder = limiter.acquire("m")
    ticks = 0
    waiter = asyncio.create_task(limiter.aacquire("m"))
    for _ in range(10):
        await asyncio.sleep(0)
        ticks += 1
    assert ticks == 10 and not waiter.done()
    await asyncio.to_thread(limiter.release, holder)  # released from another thread
    lease = await waiter
    limiter.release(lease)


def test_release_is_idempotent_and_bad_limits_are_named() -> None:
    limiter = ConcurrencyLimiter(per_model={"m": 2})
    lease = limiter.acquire("m")
    limiter.release(lease)
    limiter.release(lease)
    assert limiter.in_flight("m") == 0
    with pytest.raises(ConfigError, match="per_provider limits must be >= 1, got 0"):
        ConcurrencyLimiter(per_provider=0)
