"""A process that submits or collects a batch job under a budget, for the kill -9 test.

    python _batch_budget_worker.py submit BASE_URL STORE LEDGER N
    python _batch_budget_worker.py collect BASE_URL STORE LEDGER JOB_ID --die before|after

``submit`` submits N items under :func:`batch_guard` (SQLite ledger) and prints the job id.
``collect`` resumes the job and polls once; it kills itself with SIGKILL when the first chunk
settles in the ledger: ``before`` the ledger's reconcile (the collect is committed in the job
store, the settlement is not) or ``after`` it (the ledger has it, the job store does not know).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from langchain_costrouter.batch import BatchJob, BatchLimits, submit_batch
from langchain_costrouter.budget import Budget, BudgetGuard, SQLiteLedger
from tests.integration_tests._batch_setup import lane_router, prompts

SCOPE = {"team": "ml"}


def batch_guard(ledger: str) -> BudgetGuard:
    return BudgetGuard(budgets=[Budget.usd("5", per="day", scope="team"),
                                Budget.tokens(1_000_000, per="day")],
                       ledger=SQLiteLedger(ledger))


def main(argv: list[str]) -> None:
    phase, base_url, store, ledger = argv[:4]
    router = lane_router(base_url)
    guard = batch_guard(ledger)
    if phase == "submit":
        job = submit_batch(router, prompts(int(argv[4])), store=store, model="gpt-4.1",
                           limits=BatchLimits(max_requests=10, max_bytes=10**7),
                           budget=guard, metadata=SCOPE, job_id="cbj_budgetkill")
        print(job.id, flush=True)
        return
    when = argv[argv.index("--die") + 1]
    original = SQLiteLedger.reconcile

    def reconcile(self, rid, charges, *, now):  # type: ignore[no-untyped-def]
        if when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        out = original(self, rid, charges, now=now)
        os.kill(os.getpid(), signal.SIGKILL)
        return out

    SQLiteLedger.reconcile = reconcile  # type: ignore[method-assign]
    BatchJob.resume(argv[4], store, router=router, budget=guard).poll()
    print("not killed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
