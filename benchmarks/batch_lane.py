"""A 10,000-item batch across two providers, killed with ``kill -9`` mid-job, resumed, billed once.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/batch_lane.py [--items 10000]``

Half the prompts are easy (routed to gemini-flash: OpenAI-format files + ``/v1/batches``),
half hard (claude-sonnet: ``/v1/messages/batches``), all against the local server. A child
process submits the job and is killed with SIGKILL right after its 3rd provider batch was
created (before the job store recorded it); a second child resumes it (finding that batch at
the provider, not resending it), collects and bills the batches that ended, and is killed too;
this process resumes and collects the rest. It prints the
provider batches created (must equal the job's chunks), requests processed and duplicates
(must be N and 0), ledger rows (must be N), and the cost at batch prices against the same
tokens at realtime prices (the ratio is the saving; the baseline is in the same process).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from langchain_costrouter import ChatCostRouter
from langchain_costrouter.batch import BatchJob, BatchLimits, submit_batch
from langchain_costrouter.batch.transport import OpenAIBatches
from langchain_costrouter.budget import SQLiteLedger
from langchain_costrouter.models.lanes import lane_prices
from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.testing import LocalServer, ServerConfig
from langchain_costrouter.testing.lane_catalog import lane_catalog

LEVELS = {"trivial": ["gemini-flash"], "standard": ["gemini-flash"],
          "complex": ["claude-sonnet"], "expert": ["claude-sonnet"]}
HARD = ("Prove rigorously that the algorithm for item {i} terminates, derive its complexity "
        "step by step and write a Python implementation with tests.")
EASY = "Summarize record {i}: the shipment {j} arrived on day {d}."


def router_for(base_url: str) -> ChatCostRouter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ChatCostRouter(catalog=lane_catalog(base_url, LEVELS), api_key="bench")


def prompts(n: int) -> list[str]:
    return [HARD.format(i=i) if i % 2 else EASY.format(i=i, j=7 * i, d=i % 31) for i in range(n)]


def child(argv: list[str]) -> None:
    phase, base_url, store = argv[0], argv[1], argv[2]
    router = router_for(base_url)
    if phase == "submit":
        n = int(argv[3])
        die_at, created = int(argv[4]), 0
        original = OpenAIBatches.create

        def create(self: OpenAIBatches, key: str, requests: Any) -> Any:
            nonlocal created
            remote = original(self, key, requests)
            created += 1
            if created == die_at:  # SIGKILL after the provider made it, before the store knew
                os.kill(os.getpid(), signal.SIGKILL)
            return remote

        OpenAIBatches.create = create  # type: ignore[method-assign]
        job = submit_batch(router, prompts(n), store=store, job_id="cbj_bench",
                           limits=BatchLimits(max_requests=max(1, n // 10), max_bytes=10**8))
        print(job.id, flush=True)
    else:
        BatchJob.resume("cbj_bench", store, router=router, sinks=[SQLiteLedger(argv[3])]).poll()
        print("billed", flush=True)
    time.sleep(3600)


def run_child(*args: str, expect_line: bool = True) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    if proc.wait() != -signal.SIGKILL or (expect_line and not line):
        raise SystemExit(f"child {args[0]} failed")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10_000)
    args = ap.parse_args()
    n = args.items
    tmp = Path(tempfile.mkdtemp())
    store, ledger_path = str(tmp / "jobs.db"), str(tmp / "ledger.db")
    served = ServerConfig.from_catalog(lane_catalog("http://127.0.0.1/v1"), latency_scale=0)
    with LocalServer(served) as srv:
        def script(**kw: object) -> None:
            httpx.post(f"{srv.url}/admin/batches", json={"script": kw}).raise_for_status()

        t0 = time.perf_counter()
        script(polls_to_end=1)
        # the first child dies by SIGKILL inside the creation of its 3rd provider batch
        run_child("submit", srv.base_url, store, str(n), "3", expect_line=False)
        t_submit = time.perf_counter() - t0
        script(polls_to_end=2)
        run_child("collect", srv.base_url, store, ledger_path)
        ledger = SQLiteLedger(ledger_path)
        billed_by_child = len(ledger.usage_rows(limit=10 * n))
        router = router_for(srv.base_url)
        t1 = time.perf_counter()
        job = BatchJob.resume("cbj_bench", store, router=router, sinks=[ledger])
        st = job.wait(poll_s=0.0, sleep=lambda s: None)
        t_collect = time.perf_counter() - t1
        stats = httpx.get(f"{srv.url}/admin/batches").json()
        results = job.results()
        realtime = Decimal(0)
        cat = router.route_catalog
        for r in results:
            um = r.usage_metadata  # type: ignore[union-attr]
            tier = r.response_metadata["costrouter_tier"]  # type: ignore[union-attr]
            usage = TokenUsage(input_tokens=um["input_tokens"], output_tokens=um["output_tokens"])
            realtime += cost_of(lane_prices(cat[tier], "realtime"), usage) or Decimal(0)
        rows = ledger.usage_rows(limit=10 * n)
        chunks = job.store.chunks(job.id)
        batch_cost = job.cost() or Decimal(0)
        print(f"items {n}, done {st.finished}, states {st.items}")
        print(f"providers {sorted({c.provider for c in chunks})}, chunks {len(chunks)}, "
              f"provider batches created {stats['batches_created']}")
        print(f"requests processed {stats['requests_processed']}, "
              f"duplicates {stats['duplicate_requests']}")
        print(f"ledger rows {len(rows)} (billed before the 2nd kill: {billed_by_child}), "
              f"distinct items {len({r.run_id for r in rows})}")
        print(f"cost at batch prices ${batch_cost:.4f}; same tokens at realtime prices "
              f"${realtime:.4f}; ratio {batch_cost / realtime:.3f}")
        print(f"submit (child, incl. start-up) {t_submit:.1f} s; resume + collect "
              f"{t_collect:.1f} s ({n / t_collect:.0f} items/s)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
