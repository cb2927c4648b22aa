"""A real ``redis-server`` on a free loopback port, for tests (no persistence, killed after).

>>> with redis_server() as url:          # doctest: +SKIP
...     ledger = RedisLedger(url)

``COSTROUTER_REQUIRE_REDIS=1`` (set by ``.ci/run``) turns a missing binary from a skip into a
failure in the ``redis_url`` fixture, so CI never passes by skipping the Redis tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

MISSING = "redis-server is not installed (apt-get install redis-server)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def redis_required() -> bool:
    return os.environ.get("COSTROUTER_REQUIRE_REDIS") == "1"


@contextmanager
def redis_server(port: int | None = None, startup_timeout: float = 10.0) -> Iterator[str]:
    """Start ``redis-server`` on 127.0.0.1 (``port`` or a free one), yield its URL, kill it."""
    binary = redis_binary()
    if binary is None:
        raise FileNotFoundError(MISSING)
    import redis

    port = port or free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:  # start-up wait only, bounded
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.01)
        yield url
    finally:
        client.close()
        proc.kill()
        proc.wait(timeout=10)
