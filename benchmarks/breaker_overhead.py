"""Cost of guarding a call with a breaker: ``allow() + success()`` per call.

Run: ``.venv/bin/python benchmarks/breaker_overhead.py [--calls N]``

* memory store vs a no-breaker baseline in the same process (ns/call and ratio), for a
  count-only breaker (successes skip the store) and a rate breaker (every success recorded);
* ops/s (one allow+success pair = one op) for a SQLite file and a real redis-server started
  here on a free loopback port (skipped if ``redis-server`` is not installed).

Figures are medians of interleaved repeats; the baseline is the same loop calling the same
no-op "model" without a breaker.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from langchain_costrouter.resilience import (
    BreakerConfig,
    Breakers,
    MemoryBreakerStore,
    SQLiteBreakerStore,
)


def model_call() -> int:
    return 1


def baseline(n: int) -> None:
    call = model_call
    for _ in range(n):
        call()


def guarded(b: Breakers) -> Callable[[int], None]:
    def run(n: int) -> None:
        allow, success, call = b.allow, b.success, model_call
        for _ in range(n):
            permit = allow("m")
            call()
            success(permit)  # type: ignore[arg-type]

    return run


def ns_per_call(fn: Callable[[int], None], n: int) -> float:
    start = time.perf_counter_ns()
    fn(n)
    return (time.perf_counter_ns() - start) / n


def interleaved(fns: dict[str, Callable[[int], None]], n: int, repeats: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(ns_per_call(fn, n))
    return {k: statistics.median(v) for k, v in samples.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis() -> tuple[subprocess.Popen[bytes], str] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    import redis

    port = free_port()
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--daemonize", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(500):
        try:
            client.ping()
            return proc, url
        except redis.exceptions.ConnectionError:
            time.sleep(0.01)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--store-calls", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    count = Breakers(BreakerConfig(failure_threshold=5), store=MemoryBreakerStore())
    rate = Breakers(BreakerConfig(failure_rate=0.5, min_calls=20), store=MemoryBreakerStore())
    mem = interleaved({"baseline": baseline, "count": guarded(count), "rate": guarded(rate)},
                      args.calls, args.repeats)
    print(f"memory store, {args.calls:,} calls x {args.repeats} interleaved repeats (median)")
    print(f"  no breaker (baseline)            {mem['baseline']:8.1f} ns/call")
    for key, label in (("count", "count rule (success skips store)"),
                       ("rate", "rate rule (every success stored)")):
        extra = mem[key] - mem["baseline"]
        print(f"  {label:32} {mem[key]:8.1f} ns/call  (+{extra:.0f} ns, "
              f"{mem[key] / mem['baseline']:.1f}x baseline)")

    def ops_per_s(b: Breakers, n: int) -> float:
        samples = [1e9 / ns_per_call(guarded(b), n) for _ in range(3)]
        return statistics.median(samples)

    with tempfile.TemporaryDirectory() as tmp:
        for cfg, label in ((BreakerConfig(failure_threshold=5), "count rule"),
                           (BreakerConfig(failure_rate=0.5, min_calls=20), "rate rule")):
            store = SQLiteBreakerStore(Path(tmp) / f"{label}.sqlite3")
            rate_ops = ops_per_s(Breakers(cfg, store=store), args.store_calls)
            print(f"SQLite store ({label}):  {rate_ops:10,.0f} allow+success ops/s")
            store.close()

    started = start_redis()
    if started is None:
        print("Redis store: skipped (redis-server not installed)")
        return
    proc, url = started
    from langchain_costrouter.resilience.redis_store import RedisBreakerStore

    try:
        for cfg, label in ((BreakerConfig(failure_threshold=5), "count rule"),
                           (BreakerConfig(failure_rate=0.5, min_calls=20), "rate rule")):
            store = RedisBreakerStore(url, prefix=f"bench:{label}:")
            rate_ops = ops_per_s(Breakers(cfg, store=store), args.store_calls)
            print(f"Redis store ({label}):   {rate_ops:10,.0f} allow+success ops/s")
            store.close()
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
