"""A Redis that dies mid-run, seen by a guard: refusals within the socket timeout, and once it
returns every settlement lands exactly once (nothing lost, nothing charged twice).

The outage is a real ``redis-server`` frozen with SIGSTOP: commands already sent are run when
it resumes (SIGCONT), exactly the case where a replayed settlement could double-charge.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_costrouter.budget import Budget, BudgetGuard, BudgetLedgerWarning
from langchain_costrouter.budget.testing import free_port, redis_binary
from langchain_costrouter.exceptions import LedgerUnavailableError
from langchain_costrouter.testing import FunctionChatModel

NOW = 1_750_000_000.0


@pytest.fixture
def redis_proc() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    binary = redis_binary()
    if binary is None:
        if os.environ.get("COSTROUTER_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is required")
        pytest.skip("redis-server is not installed")
    import redis

    port = free_port()
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
    try:
        for _ in range(500):  # start-up wait only
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.01)
        yield proc, url
    finally:
        client.close()
        os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait(timeout=10)


def test_redis_dying_mid_run_fails_closed_fast_and_never_double_charges(
    redis_proc: tuple[subprocess.Popen[bytes], str],
) -> None:
    from langchain_costrouter.budget.redis import RedisLedger

    proc, url = redis_proc
    frozen = {"now": False}

    def reply(messages: Any, info: dict[str, Any]) -> str:
        if frozen["now"]:
            os.kill(proc.pid, signal.SIGSTOP)  # dies while this call runs: its settle fails
        return "an answer of a few tokens"

    guard = BudgetGuard(budgets=[Budget.tokens(100_000, per="day")],
                        ledger=RedisLedger(url, prefix="f:"), clock=lambda: NOW)
    model = guard.wrap(FunctionChatModel(model_name="gpt-4.1-mini", fn=reply))
    paid = [model.invoke("hello").usage_metadata["total_tokens"]  # type: ignore[index]
            for _ in range(3)]
    frozen["now"] = True
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        paid.append(model.invoke("hello").usage_metadata["total_tokens"])  # type: ignore[index]
    assert any(issubclass(x.category, BudgetLedgerWarning) for x in w)
    frozen["now"] = False
    took = []
    for _ in range(3):
        t0 = time.monotonic()
        with pytest.raises(LedgerUnavailableError):
            model.invoke("hello")
        took.append(time.monotonic() - t0)
    print(f"\nrefusals while Redis is down took {max(took) * 1000:.0f} ms at most")
    assert max(took) < 0.5 + 0.4  # 0.4 s socket timeout: < 0.5 s, plus a loaded machine's slack
    os.kill(proc.pid, signal.SIGCONT)  # back: the settle sent before it froze runs now too
    paid.append(model.invoke("hello").usage_metadata["total_tokens"])  # type: ignore[index]
    assert guard.flush() == 0
    st = guard.status()
    assert st.spent == sum(paid)  # the replayed settlement counted once
    assert st.reserved == 0  # the reservations refused mid-outage were taken back
