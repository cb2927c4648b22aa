"""Test helpers for ledgers: open a ledger in a worker process, race reservations.

The Redis server itself comes from :mod:`langchain_costrouter.testing.redis_server`.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_costrouter.testing.redis_server import free_port, redis_binary, redis_server

__all__ = ["free_port", "open_ledger", "redis_binary", "redis_server", "reserve_worker"]


def open_ledger(store: str, target: str, prefix: str = "costrouter:") -> Any:
    """A ledger from a picklable description (for worker processes)."""
    if store == "sqlite":
        from langchain_costrouter.budget.sqlite import SQLiteLedger

        return SQLiteLedger(target)
    if store == "redis":
        from langchain_costrouter.budget.redis import RedisLedger

        return RedisLedger(target, prefix=prefix)
    raise ValueError(f"store must be 'sqlite' or 'redis', got {store!r}")


def reserve_worker(
    store: str,
    target: str,
    prefix: str,
    worker: int,
    amounts: list[int],
    limit: int,
    now: float,
    reconcile: bool,
    barrier: Any,
    results: Any,
) -> None:
    """Reserve ``amounts`` one by one against one counter; report granted amounts and time.

    Each granted reservation is reconciled with the same amount when ``reconcile`` is set
    (so the counter only ever holds granted usage). Runs in a spawned process.
    """
    from langchain_costrouter.budget.ledger import Charge

    ledger = open_ledger(store, target, prefix)
    granted: list[int] = []
    barrier.wait()
    t0 = time.perf_counter()
    for i, amount in enumerate(amounts):
        rid = f"w{worker}-{i}"
        charge = Charge(key="shared", amount=amount, limit=limit, bucket=0, since=0)
        if ledger.reserve(rid, [charge], now=now, ttl=600).granted:
            granted.append(amount)
            if reconcile:
                ledger.reconcile(rid, [charge], now=now)
    elapsed = time.perf_counter() - t0
    ledger.close()
    results.put((worker, granted, elapsed))
