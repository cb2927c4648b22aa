"""A batch job survives ``kill -9``: resumed from its SQLite store in a new process, it is
never submitted twice, each item is answered once, and each is billed once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage

from langchain_costrouter.batch import BatchJob
from langchain_costrouter.budget import SQLiteLedger
from langchain_costrouter.testing import LocalServer
from tests.integration_tests._batch_setup import (
    TWO_PROVIDERS,
    lane_router,
    lane_server_config,
    script,
    stats,
)

WORKER = Path(__file__).with_name("_batch_worker.py")
ROOT = Path(__file__).resolve().parents[2]
N = 200


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        proc.wait(timeout=60)
        assert proc.stderr is not None
        pytest.fail(f"worker printed nothing (rc {proc.returncode}): {proc.stderr.read()[-2000:]}")
    return line


def kill9(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


@pytest.fixture
def server():
    with LocalServer(lane_server_config()) as srv:
        yield srv


def test_a_killed_job_resumes_and_is_billed_once(server, tmp_path):
    store, ledger_path = str(tmp_path / "jobs.db"), str(tmp_path / "ledger.db")
    # 1. killed by SIGKILL right after its 3rd provider batch was created, before the store
    #    recorded it: the worst moment for a duplicate submission
    script(server.url, polls_to_end=1)  # batches of the first process end on their first read
    proc = start("submit", server.base_url, store, str(N), "--die-in-create", "3")
    assert proc.wait(timeout=120) == -signal.SIGKILL
    created_by_dead = stats(server.url)["batches_created"]
    assert created_by_dead == 3
    script(server.url, polls_to_end=3)  # later batches take three reads
    # 2. a new process resumes: the lost batch is found at the provider, not resent; it
    #    collects and bills, then is killed with kill -9
    proc = start("collect", server.base_url, store, "cbj_killtest", ledger_path)
    try:
        assert first_line(proc) == "billed"
    finally:
        kill9(proc)
    job = BatchJob("cbj_killtest", store)
    chunks = job.store.chunks(job.id)
    assert {c.provider for c in chunks} == {"google", "anthropic"}
    assert stats(server.url)["batches_created"] == len(chunks)  # each chunk sent exactly once
    # 3. this process resumes again and finishes the job
    ledger = SQLiteLedger(ledger_path)
    billed_before = len(ledger.usage_rows(limit=10 * N))
    assert 0 < billed_before < N  # the second process billed the batches that had ended
    resumed = BatchJob.resume("cbj_killtest", store, router=lane_router(server.base_url,
                                                                      levels=TWO_PROVIDERS),
                              sinks=[ledger])
    st = resumed.wait(poll_s=0, sleep=lambda s: None)
    assert st.done and st.items == {"succeeded": N}
    results = resumed.results()
    assert len(results) == N and all(isinstance(r, AIMessage) for r in results)
    server_stats = stats(server.url)
    assert server_stats["batches_created"] == len(chunks)
    assert server_stats["requests_processed"] == N and server_stats["duplicate_requests"] == 0
    rows = ledger.usage_rows(limit=10 * N)
    assert len(rows) == N  # every item billed once, across three processes
    assert len({r.run_id for r in rows}) == N
    assert sum(Decimal(r.cost_usd) for r in rows) == resumed.cost()
