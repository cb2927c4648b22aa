"""Budgets never overspend and never refuse early: 4 processes, real HTTP, one shared budget.

Each spawned process runs its own local server (real HTTP on loopback) and makes guarded
router calls at concurrency 10 against one USD budget shared through a SQLite file or a real
redis-server. The real spend is the servers' own usage at catalog prices. It must stay under
the limit, every refusal must come after 90 % of the limit was settled, and each process's
cost handler must equal its server's usage to the nano-dollar. Short answers with a 64-token
cap, then 1,800-token answers with no cap of the caller's (the guard's bound is all there is).

The heavy version (60 calls per process) is ``python -m benchmarks.budget_proof``.
"""

from __future__ import annotations

import multiprocessing as mp
from decimal import Decimal
from typing import Any

from langchain_costrouter.budget.ledger import usd_to_nano
from langchain_costrouter.budget.testing import proof_worker

PROCS, CALLS, CONCURRENCY = 4, 20, 10
SCENARIOS = [
    {"name": "short", "calls": CALLS, "concurrency": CONCURRENCY, "limit_usd": "0.02",
     "output_tokens": 200, "max_tokens": 64},
    {"name": "long", "calls": CALLS, "concurrency": CONCURRENCY, "limit_usd": "0.1",
     "output_tokens": 1800, "max_tokens": None},
]


def run_proof(kind: str, target: str, prefix: str) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(PROCS), ctx.Queue()
    procs = [
        ctx.Process(target=proof_worker,
                    args=(kind, target, prefix, w, SCENARIOS, 1_750_000_000.0, barrier, results))
        for w in range(PROCS)
    ]
    for p in procs:
        p.start()
    try:
        out = [row for _ in procs for row in results.get(timeout=240)]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)
    return out


def test_four_processes_never_overspend_and_spend_90_percent_before_refusing(
    shared_ledger: tuple[str, str, str],
) -> None:
    rows = run_proof(*shared_ledger)
    for sc in SCENARIOS:
        mine = [r for r in rows if r["scenario"] == sc["name"]]
        assert len(mine) == PROCS
        assert [e for r in mine for e in r["errors"]] == []
        limit = Decimal(sc["limit_usd"])
        real = sum(Decimal(r["server_usd"]) for r in mine)
        refusals = [Decimal(u) for r in mine for u in r["refusals"]]
        answered = sum(r["ok"] for r in mine)
        print(f"\n{shared_ledger[0]} {sc['name']}: {answered} answered, {len(refusals)} refused, "
              f"real spend {real} of {limit} ({real / limit:.2%}); "
              f"least settled at a refusal {min(refusals) / limit:.2%}")
        assert real <= limit
        assert refusals, "the budget was never reached: the test proves nothing"
        assert min(refusals) >= Decimal("0.9") * limit
        for r in mine:  # the cost handler agrees with the server to the nano-dollar
            assert usd_to_nano(r["handler_usd"]) == usd_to_nano(r["server_usd"])
        assert real > 0  # (a process whose peers took the whole budget first has 0 = 0)
