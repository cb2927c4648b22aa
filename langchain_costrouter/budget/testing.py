"""Test helpers for ledgers: a real ``redis-server`` on a free loopback port.

>>> with redis_server() as url:          # doctest: +SKIP
...     ledger = RedisLedger(url)
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def redis_server(startup_timeout: float = 10.0) -> Iterator[str]:
    """Start ``redis-server`` (no persistence) on 127.0.0.1, yield its URL, kill it after."""
    binary = redis_binary()
    if binary is None:
        raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
    import redis

    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.02)
        client.close()
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=10)


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
