"""Ledger throughput: reserve + reconcile pairs per second, per store, 1 and 4 processes.

    .venv/bin/python benchmarks/ledger.py [--ops 4000] [--procs 4]

Starts its own redis-server on a free loopback port (skipped if absent) and uses SQLite files
in a temporary folder. Each op is one reservation against two counters (a token and a USD
budget, like a guard with two budgets) followed by its reconcile. The limit is never reached,
so every op does the full work. Ratios are against the in-memory store, run in the same process.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_costrouter.budget import Charge, InMemoryLedger, Ledger
from langchain_costrouter.budget.testing import open_ledger, redis_binary, redis_server

NOW = 1_750_000_000.0


def run_ops(ledger: Ledger, worker: int, n: int) -> float:
    """Seconds for ``n`` reserve+reconcile pairs."""
    charges = [
        Charge(key="bench|tokens", amount=100, limit=10**15, bucket=0, since=0),
        Charge(key="bench|usd", amount=2_000, limit=10**15, bucket=0, since=0),
    ]
    actual = [Charge(c.key, c.amount // 2, c.limit, c.bucket, c.since) for c in charges]
    t0 = time.perf_counter()
    for i in range(n):
        rid = f"b{worker}-{i}"
        ledger.reserve(rid, charges, now=NOW, ttl=600)
        ledger.reconcile(rid, actual, now=NOW)
    return time.perf_counter() - t0


def _worker(store: str, target: str, prefix: str, worker: int, n: int, barrier: Any,
            results: Any) -> None:
    ledger = open_ledger(store, target, prefix)
    barrier.wait()
    results.put(run_ops(ledger, worker, n))
    ledger.close()


def multi(store: str, target: str, prefix: str, procs: int, n: int) -> float:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    ps = [ctx.Process(target=_worker, args=(store, target, prefix, w, n, barrier, results))
          for w in range(procs)]
    for p in ps:
        p.start()
    elapsed = max(results.get(timeout=300) for _ in ps)
    for p in ps:
        p.join()
    return procs * n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=4000, help="reserve+reconcile pairs per process")
    ap.add_argument("--procs", type=int, default=4)
    args = ap.parse_args()
    rows: list[tuple[str, str, float]] = []
    memory = args.ops / run_ops(InMemoryLedger(), 0, args.ops)
    rows.append(("memory", "1 process", memory))
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        open_ledger("sqlite", db).close()
        rows.append(("sqlite", "1 process", args.ops / run_ops(open_ledger("sqlite", db), 0,
                                                               args.ops)))
        rows.append(("sqlite", f"{args.procs} processes",
                     multi("sqlite", db, "", args.procs, args.ops)))
        if redis_binary() is None:
            print("redis-server not installed: Redis rows skipped")
        else:
            with redis_server() as url:
                rows.append(("redis", "1 process",
                             args.ops / run_ops(open_ledger("redis", url, "b1:"), 0, args.ops)))
                rows.append(("redis", f"{args.procs} processes",
                             multi("redis", url, "b4:", args.procs, args.ops)))
    print(f"\nreserve+reconcile pairs per second ({args.ops} per process, 2 counters each)")
    print(f"{'store':<8} {'workers':<12} {'ops/s':>10} {'vs memory':>10}")
    for store, workers, rate in rows:
        print(f"{store:<8} {workers:<12} {rate:>10,.0f} {rate / memory:>10.3f}")


if __name__ == "__main__":
    main()
