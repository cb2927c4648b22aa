"""A batch job under a budget guard: reserved at submission, settled once, even across kill -9.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/batch_budget.py [--items 2000]``

Half the prompts go to gemini-flash (OpenAI-format batches), half to claude-sonnet (message
batches), against the local server, with a guard of $50/day per team and 5M tokens/day on a
SQLite ledger, each item capped at 300 output tokens. It prints what the guard holds at
submission (the job's estimate at batch prices). Then a child process resumes the job,
collects the first batch and is killed with SIGKILL right after the ledger settled it, before
the job store recorded that; this process resumes and collects the rest. It prints the settled
spend against the items' cost at batch prices (must be equal) and at realtime prices, a job
refused for lack of room (no provider batch created), and the time of the same job with and
without the guard (a ratio, same process).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from benchmarks.batch_lane import prompts, router_for
from langchain_costrouter.batch import BatchJob, BatchLimits, submit_batch
from langchain_costrouter.budget import Budget, BudgetGuard, SQLiteLedger
from langchain_costrouter.exceptions import BudgetExceededError
from langchain_costrouter.models.lanes import lane_prices
from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.testing import LocalServer, ServerConfig
from langchain_costrouter.testing.lane_catalog import lane_catalog

SCOPE = {"team": "ml"}
MAX_TOKENS = 300
"""Each item's output cap: its estimate (what is reserved) prices the output at this."""
NO_WAIT = {"poll_s": 0.0, "sleep": lambda s: None}


def guard_for(ledger: str, usd: str = "50") -> BudgetGuard:
    return BudgetGuard(budgets=[Budget.usd(usd, per="day", scope="team"),
                                Budget.tokens(5_000_000, per="day")], ledger=SQLiteLedger(ledger))


def child(base_url: str, store: str, ledger: str) -> None:
    original = SQLiteLedger.reconcile

    def reconcile(self, rid, charges, *, now):  # type: ignore[no-untyped-def]
        out = original(self, rid, charges, now=now)
        os.kill(os.getpid(), signal.SIGKILL)  # settled in the ledger, not yet in the store
        return out

    SQLiteLedger.reconcile = reconcile  # type: ignore[method-assign]
    BatchJob.resume("cbj_budget", store, router=router_for(base_url),
                    budget=guard_for(ledger)).poll()


def row(guard: BudgetGuard) -> Any:
    return guard.status(SCOPE).per_budget["usd/day/team"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=2000)
    n = ap.parse_args().items
    tmp = Path(tempfile.mkdtemp())
    limits = BatchLimits(max_requests=max(1, n // 10), max_bytes=10**8)
    served = ServerConfig.from_catalog(lane_catalog("http://127.0.0.1/v1"), latency_scale=0)
    with LocalServer(served) as srv:
        router = router_for(srv.base_url)
        store, ledger = str(tmp / "jobs.db"), str(tmp / "ledger.db")
        guard = guard_for(ledger)
        job = submit_batch(router, prompts(n), store=store, job_id="cbj_budget", limits=limits,
                           budget=guard, metadata=SCOPE, max_tokens=MAX_TOKENS)
        held = row(guard)
        print(f"items {n}, chunks {len(job.store.chunks(job.id))}; estimate at batch prices "
              f"${job.estimated_cost():.6f}; reserved ${held.reserved:.6f}, "
              f"spent ${held.spent:.6f}")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        proc = subprocess.run([sys.executable, __file__, "--child", srv.base_url, store, ledger],
                              env=env, check=False)
        print(f"child collecting the first batch: exit {proc.returncode} (SIGKILL is -9)")
        job = BatchJob.resume("cbj_budget", store, router=router, budget=guard)
        job.wait(**NO_WAIT)
        batch, realtime, cat = Decimal(0), Decimal(0), router.route_catalog
        for r in job.results():
            um, tier = r.usage_metadata, r.response_metadata["costrouter_tier"]  # type: ignore[union-attr]
            usage = TokenUsage(input_tokens=um["input_tokens"], output_tokens=um["output_tokens"])
            batch += cost_of(lane_prices(cat[tier], "batch"), usage) or Decimal(0)
            realtime += cost_of(lane_prices(cat[tier], "realtime"), usage) or Decimal(0)
        done = row(guard)
        print(f"after collect: spent ${done.spent} (items at batch prices ${batch}; equal: "
              f"{done.spent == batch}); reserved ${done.reserved}; same tokens at realtime "
              f"prices ${realtime:.6f}")
        # a job that does not fit what is left
        before = httpx.get(f"{srv.url}/admin/batches").json()["batches_created"]
        small = guard_for(str(tmp / "small.db"), usd=str(batch / 2))
        try:
            submit_batch(router, prompts(n), store=store, limits=limits, budget=small,
                         metadata=SCOPE, max_tokens=MAX_TOKENS)
        except BudgetExceededError as e:
            after = httpx.get(f"{srv.url}/admin/batches").json()["batches_created"]
            print(f"refused: needs ${e.requested:.6f} of ${e.limit}; provider batches created "
                  f"{after - before}")
        # time of the same job with and without the guard (ratio, same process)
        times = {}
        for name in ("no budget", "budget"):
            t0 = time.perf_counter()
            kw = {"budget": guard_for(str(tmp / f"{name}.db")), "metadata": SCOPE} \
                if name == "budget" else {}
            j = submit_batch(router, prompts(n), store=store, limits=limits,
                             max_tokens=MAX_TOKENS, **kw)
            j.wait(**NO_WAIT)
            times[name] = time.perf_counter() - t0
        print(f"submit + collect: {times['no budget']:.2f} s without a guard, "
              f"{times['budget']:.2f} s with; ratio {times['budget'] / times['no budget']:.3f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        main()
