"""Shared stores under real concurrency and real crashes (SQLite file, real redis-server).

* 500 reservations from 4 spawned processes never overspend one budget, and do reach it.
* A process SIGKILLed inside a guarded call (reserved, never reconciled) leaks nothing once
  the reservation's TTL has passed (time moved by passing ``now``, not by sleeping).
* SQLite: every transaction reported committed survives ``kill -9``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from langchain_costrouter.budget import Budget, SQLiteLedger
from langchain_costrouter.budget.testing import (
    open_ledger,
    reserve_worker,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_750_000_000.0


def test_500_reservations_from_4_processes_never_exceed_the_limit(
    shared_ledger: tuple[str, str, str],
) -> None:
    kind, target, prefix = shared_ledger
    procs, per = 4, 125
    pattern = [7, 10, 13, 4, 9]
    amounts = [pattern[i % len(pattern)] for i in range(per)]  # 1,075 asked per process
    limit = 2_500  # well below the 4,300 asked: most processes are refused at the end
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(
            target=reserve_worker,
            args=(kind, target, prefix, w, amounts, limit, NOW, w % 2 == 0, barrier, results),
        )
        for w in range(procs)
    ]
    for p in workers:
        p.start()
    out = [results.get(timeout=60) for _ in workers]
    for p in workers:
        p.join(timeout=30)
        assert p.exitcode == 0
    granted = [a for _, g, _ in out for a in g]
    elapsed = max(e for _, _, e in out)
    rate = procs * per / elapsed
    print(f"\n{kind}: {procs * per} reservations from {procs} processes in {elapsed:.3f} s "
          f"= {rate:,.0f} reservations/s; granted {len(granted)} = {sum(granted)}/{limit}")
    assert sum(granted) <= limit
    assert sum(granted) > limit - max(pattern)  # reached: no room left for any reservation
    assert len(granted) < procs * per  # some were refused: the test is not vacuous
    ledger = open_ledger(kind, target, prefix)
    assert ledger.tally("shared", 0, now=NOW).used == sum(granted)
    ledger.close()


CRASHING_CALL = textwrap.dedent(
    """
    import sys, time
    from langchain_costrouter.budget import Budget, BudgetGuard
    from langchain_costrouter.budget.testing import open_ledger
    from langchain_costrouter.testing import FunctionChatModel

    def hang(messages, info):
        print("in-call", flush=True)   # the reservation is held now
        time.sleep(60)                 # killed long before this returns
        return "never"

    ledger = open_ledger(sys.argv[1], sys.argv[2], sys.argv[3])
    guard = BudgetGuard(
        budgets=[Budget.tokens(1000, per="day")], ledger=ledger,
        clock=lambda: float(sys.argv[4]), reservation_ttl=30.0, default_max_tokens=400,
    )
    done = guard.wrap(FunctionChatModel(model_name="gpt-4.1-mini")).invoke("hi")
    print(done.usage_metadata["total_tokens"], flush=True)   # committed before the crash
    guard.wrap(FunctionChatModel(fn=hang, model_name="gpt-4.1-mini")).invoke("hello")
    """
)


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_a_process_killed_mid_call_leaks_nothing_after_the_ttl_and_keeps_its_spend(
    shared_ledger: tuple[str, str, str],
) -> None:
    kind, target, prefix = shared_ledger
    budget = Budget.tokens(1000, per="day")
    key, since = budget.counter("*"), budget.window.since(NOW)
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_CALL, kind, target, prefix, repr(NOW)],
        stdout=subprocess.PIPE, text=True, env=_child_env(),
    )
    try:
        assert child.stdout is not None
        committed = int(child.stdout.readline())
        assert child.stdout.readline().strip() == "in-call"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    ledger = open_ledger(kind, target, prefix)
    t = ledger.tally(key, since, now=NOW + 1)
    assert t.reserved > 400  # the dead process's reservation: prompt + its 400-token bound
    assert t.spent == committed > 0
    assert ledger.pending(now=NOW + 1) == 1
    after = NOW + 31  # past the 30 s TTL
    t = ledger.tally(key, since, now=after)
    assert (t.used, t.reserved) == (committed, 0)  # committed spend is never lost
    assert ledger.pending(now=after) == 0
    ledger.expire(now=after)  # a writer sweeps it; the spend stays
    assert ledger.tally(key, since, now=after).used == committed
    ledger.close()


DURABLE_WRITER = textwrap.dedent(
    """
    import sys
    from langchain_costrouter.budget import SQLiteLedger, UsageRow, Charge

    ledger = SQLiteLedger(sys.argv[1])
    i = 0
    while True:
        c = Charge(key="k", amount=1, limit=10**12, bucket=0, since=0)
        ledger.reserve(f"r{i}", [c], now=1.0, ttl=10**9)
        ledger.reconcile(f"r{i}", [c], now=1.0)
        ledger.write(UsageRow(ts=1.0, run_id=f"run-{i}", input_tokens=i))
        print(i, flush=True)            # printed only after both commits returned
        i += 1
    """
)


def test_sqlite_keeps_every_committed_record_after_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    child = subprocess.Popen(
        [sys.executable, "-c", DURABLE_WRITER, str(path)],
        stdout=subprocess.PIPE, text=True, env=_child_env(),
    )
    assert child.stdout is not None
    committed = -1
    try:
        while committed < 300:
            committed = int(child.stdout.readline())
    finally:
        child.send_signal(signal.SIGKILL)  # mid-loop: the writer never stops by itself
        child.wait(timeout=10)
    ledger = SQLiteLedger(path)
    run_ids = {r.run_id for r in ledger.usage_rows(limit=10**6)}
    assert {f"run-{i}" for i in range(committed + 1)} <= run_ids
    assert ledger.tally("k", 0, now=1.0).used >= committed + 1
    assert ledger.migrations() == ["0001_buckets_and_reservations", "0002_usage_records",
                                   "0003_settled_ids_and_output_lengths"]
    ledger.close()


def test_dead_redis_fails_fast_with_ledger_unavailable() -> None:
    from langchain_costrouter.budget.redis import RedisLedger
    from langchain_costrouter.budget.testing import free_port
    from langchain_costrouter.exceptions import LedgerUnavailableError

    ledger = RedisLedger(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(LedgerUnavailableError, match="unreachable"):
        ledger.tally("k", 0, now=NOW)
    assert time.monotonic() - t0 < 2.0  # no retries, no multi-second hang
