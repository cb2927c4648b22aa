"""The budget proof, heavy version: 4 processes x 60 calls at concurrency 10, one USD budget.

    .venv/bin/python -m benchmarks.budget_proof [--procs 4] [--calls 60] [--concurrency 10]

Each spawned process runs its own local server (real HTTP on loopback) and makes guarded
router calls (level "expert") against one USD budget shared through a SQLite file, then
through a real redis-server (started here on a free port, skipped if absent). Three
scenarios: short answers (~200 tokens) under the caller's 64-token cap; 1,800-token answers
with no cap of the caller's; 1,800-token answers under a 2,048-token cap. Reported per store
and scenario: calls answered and refused, the real spend from the servers' own usage at
catalog prices against the limit, the least settled spend any refusal reported (the share
of the limit spent before refusing), and whether every process's cost handler equals its
server's usage to the nano-dollar.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_costrouter.budget import SQLiteLedger
from langchain_costrouter.budget.ledger import usd_to_nano
from langchain_costrouter.budget.testing import proof_worker, redis_binary, redis_server

NOW = 1_750_000_000.0


def scenarios(calls: int, concurrency: int) -> list[dict[str, Any]]:
    base = {"calls": calls, "concurrency": concurrency}
    return [
        {**base, "name": "short answers, max_tokens=64", "limit_usd": "0.05",
         "output_tokens": 200, "max_tokens": 64},
        {**base, "name": "1,800-token answers, no cap", "limit_usd": "0.5",
         "output_tokens": 1800, "max_tokens": None},
        {**base, "name": "1,800-token answers, max_tokens=2048", "limit_usd": "0.5",
         "output_tokens": 1800, "max_tokens": 2048},
    ]


def run(kind: str, target: str, prefix: str, procs: int, scs: list[dict[str, Any]]) -> list[Any]:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    ps = [ctx.Process(target=proof_worker,
                      args=(kind, target, prefix, w, scs, NOW, barrier, results))
          for w in range(procs)]
    for p in ps:
        p.start()
    rows = [row for _ in ps for row in results.get(timeout=1200)]
    for p in ps:
        p.join(timeout=60)
    return rows


def report(kind: str, rows: list[dict[str, Any]], scs: list[dict[str, Any]]) -> bool:
    ok = True
    for sc in scs:
        mine = [r for r in rows if r["scenario"] == sc["name"]]
        limit = Decimal(sc["limit_usd"])
        real = sum(Decimal(r["server_usd"]) for r in mine)
        refusals = [Decimal(u) for r in mine for u in r["refusals"]]
        first = min(refusals) / limit if refusals else None
        exact = all(usd_to_nano(r["handler_usd"]) == usd_to_nano(r["server_usd"]) for r in mine)
        errors = sum(len(r["errors"]) for r in mine)
        good = real <= limit and first is not None and first >= Decimal("0.9") and exact
        ok = ok and good and not errors
        print(f"| {kind} | {sc['name']} | {sum(r['ok'] for r in mine)} | {len(refusals)} | "
              f"${real} of ${limit} ({real / limit:.3%}) | "
              f"{'-' if first is None else f'{first:.3%}'} | {'yes' if exact else 'NO'} | "
              f"{errors} |")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--concurrency", type=int, default=10)
    args = ap.parse_args()
    scs = scenarios(args.calls, args.concurrency)
    print(f"{args.procs} processes x {args.calls} calls at concurrency {args.concurrency}\n")
    print("| ledger | scenario | answered | refused | real spend (server usage) | "
          "settled at first refusal | handler = server | errors |")
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "budget.db")
        SQLiteLedger(path).close()
        t0 = time.perf_counter()
        ok = report("SQLite", run("sqlite", path, "", args.procs, scs), scs) and ok
        print(f"\n(SQLite run: {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if redis_binary() is None:
        print("\nredis-server not installed: Redis skipped", file=sys.stderr)
    else:
        with redis_server() as url:
            t0 = time.perf_counter()
            rows = run("redis", url, f"b{uuid.uuid4().hex[:6]}:", args.procs, scs)
            ok = report("Redis", rows, scs) and ok
            print(f"(Redis run: {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
