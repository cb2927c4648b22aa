"""A process that submits or collects a batch job, for the kill -9 test (run as a script).

    python _batch_worker.py submit BASE_URL STORE N [--die-in-create K]
    python _batch_worker.py collect BASE_URL STORE JOB_ID LEDGER

``submit`` prints the job id once it is stored and submitted, then hangs. With
``--die-in-create K`` it kills itself with SIGKILL right after the K-th provider batch was
created and before the job store heard of it (the worst moment). ``collect`` polls once
(collecting and billing into the SQLite ledger), prints ``billed``, then hangs.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from langchain_costrouter.batch import BatchJob, BatchLimits, submit_batch
from langchain_costrouter.batch.transport import OpenAIBatches
from langchain_costrouter.budget import SQLiteLedger
from tests.integration_tests._batch_setup import (
    TWO_PROVIDERS,
    lane_router,
    mixed_prompts,
)


def main(argv: list[str]) -> None:
    phase, base_url, store = argv[0], argv[1], argv[2]
    router = lane_router(base_url, levels=TWO_PROVIDERS)
    if phase == "submit":
        n = int(argv[3])
        if "--die-in-create" in argv:
            k = int(argv[argv.index("--die-in-create") + 1])
            created = 0
            original = OpenAIBatches.create

            def create(self, key, requests):  # type: ignore[no-untyped-def]
                nonlocal created
                remote = original(self, key, requests)
                created += 1
                if created == k:
                    os.kill(os.getpid(), signal.SIGKILL)
                return remote

            OpenAIBatches.create = create  # type: ignore[method-assign]
        limits = BatchLimits(max_requests=max(1, n // 8), max_bytes=10**7)
        job = submit_batch(router, mixed_prompts(n), store=store, limits=limits,
                           job_id="cbj_killtest")
        print(job.id, flush=True)
    else:
        job = BatchJob.resume(argv[3], store, router=router, sinks=[SQLiteLedger(argv[4])])
        job.poll()
        print("billed", flush=True)
    time.sleep(600)  # wait to be killed


if __name__ == "__main__":
    main(sys.argv[1:])
