"""Throughput of the zero-latency local provider server (one uvicorn worker, loopback).

The server runs in its own process (the CLI, ``--port 0``) so that it does not share the
client's GIL; ``--in-thread`` uses ``LocalServer`` in this process instead, as tests do.
Against it: a raw ``httpx.AsyncClient`` and ``ChatOpenAI.ainvoke``, each at concurrency 50 for
1,000 calls (after a warm-up of 50); prints requests/s and the ratio. 2 cores in all.

    .venv/bin/python benchmarks/server_throughput.py [--calls 1000] [--concurrency 50] [--in-thread]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import httpx2  # what openai 3.x uses
from langchain_openai import ChatOpenAI

from langchain_costrouter.testing.server import LocalServer, ServerConfig, server_app

PROMPT = "Explain in a few sentences what a circuit breaker does in a service client."


async def _bounded(n: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await call(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - t0)


async def raw_httpx(base_url: str, n: int, concurrency: int, lib: Any = httpx) -> float:
    limits = lib.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with lib.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        body = {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": PROMPT}]}

        async def call(_: int) -> None:
            r = await client.post("/chat/completions", json=body)
            r.raise_for_status()

        await _bounded(50, concurrency, call)  # warm-up
        return await _bounded(n, concurrency, call)


async def chat_openai(base_url: str, n: int, concurrency: int) -> float:
    llm = ChatOpenAI(model="gpt-5.4-mini", base_url=base_url, api_key="bench", max_retries=0)

    async def call(_: int) -> None:
        await llm.ainvoke(PROMPT)

    await _bounded(50, concurrency, call)
    return await _bounded(n, concurrency, call)


async def app_only(n: int) -> float:
    """The app's own cost: direct ASGI calls, no HTTP parsing, no socket."""
    app = server_app(ServerConfig.from_catalog(latency_scale=0))
    data = json.dumps({"model": "gpt-5.4-mini",
                       "messages": [{"role": "user", "content": PROMPT}]}).encode()
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions",
             "raw_path": b"/v1/chat/completions", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json")], "scheme": "http",
             "server": ("bench", 80), "http_version": "1.1", "asgi": {"version": "3.0"}}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(_: Any) -> None:
        return None

    async def call(_: int) -> None:
        await app(dict(scope), receive, send)

    await _bounded(50, 1, call)
    return await _bounded(n, 1, call)


@contextlib.contextmanager
def subprocess_server() -> Iterator[str]:
    """The CLI server on a free port; yields its base URL once it has printed it."""
    cmd = [sys.executable, "-m", "langchain_costrouter.testing.server", "--port", "0",
           "--latency-scale", "0", "--log-level", "error"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed after the socket is bound
        m = re.search(r"(http://\S+/v1)", line)
        if not m:
            raise RuntimeError(f"server did not start: {line!r}")
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def thread_server() -> Iterator[str]:
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as server:
        yield server.base_url


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--in-thread", action="store_true")
    args = p.parse_args()
    where = "a thread of this process" if args.in_thread else "its own process"
    with (thread_server() if args.in_thread else subprocess_server()) as base_url:
        raw = asyncio.run(raw_httpx(base_url, args.calls, args.concurrency))
        raw2 = asyncio.run(raw_httpx(base_url, args.calls, args.concurrency, httpx2))
        lc = asyncio.run(chat_openai(base_url, args.calls, args.concurrency))
    own = asyncio.run(app_only(args.calls))
    print(f"app alone (direct ASGI calls, one at a time): {own:8.0f} req/s "
          f"({1000 / own:.2f} ms per request)")
    print(f"zero-latency server in {where}, {args.calls} calls at concurrency "
          f"{args.concurrency}:")
    print(f"  raw httpx.AsyncClient : {raw:8.0f} req/s")
    print(f"  raw httpx2.AsyncClient: {raw2:8.0f} req/s")
    print(f"  ChatOpenAI.ainvoke    : {lc:8.0f} req/s  ({lc / raw:.2f}x raw httpx, "
          f"{lc / raw2:.2f}x raw httpx2)")


if __name__ == "__main__":
    main()
