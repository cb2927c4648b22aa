"""Test helpers for ledgers: open a ledger in a worker process, race reservations.

The Redis server itself comes from :mod:`langchain_costrouter.testing.redis_server`.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_costrouter.testing.redis_server import free_port, redis_binary, redis_server

__all__ = [
    "free_port", "open_ledger", "proof_worker", "redis_binary", "redis_server",
    "reserve_worker",
]


def open_ledger(store: str, target: str, prefix: str = "costrouter:") -> Any:
    """A ledger from a picklable description (for worker processes)."""
    if store == "sqlite":
        from langchain_costrouter.budget.sqlite import SQLiteLedger

        return SQLiteLedger(target)
    if store == "redis":
        from langchain_costrouter.budget.redis import RedisLedger

        return RedisLedger(target, prefix=prefix)
    raise ValueError(f"store must be 'sqlite' or 'redis', got {store!r}")


def reserve_worker(
    store: str,
    target: str,
    prefix: str,
    worker: int,
    amounts: list[int],
    limit: int,
    now: float,
    reconcile: bool,
    barrier: Any,
    results: Any,
) -> None:
    """Reserve ``amounts`` one by one against one counter; report granted amounts and time.

    Each granted reservation is reconciled with the same amount when ``reconcile`` is set
    (so the counter only ever holds granted usage). Runs in a spawned process.
    """
    from langchain_costrouter.budget.ledger import Charge

    ledger = open_ledger(store, target, prefix)
    granted: list[int] = []
    barrier.wait()
    t0 = time.perf_counter()
    for i, amount in enumerate(amounts):
        rid = f"w{worker}-{i}"
        charge = Charge(key="shared", amount=amount, limit=limit, bucket=0, since=0)
        if ledger.reserve(rid, [charge], now=now, ttl=600).granted:
            granted.append(amount)
            if reconcile:
                ledger.reconcile(rid, [charge], now=now)
    elapsed = time.perf_counter() - t0
    ledger.close()
    results.put((worker, granted, elapsed))


def proof_worker(
    store: str,
    target: str,
    prefix: str,
    worker: int,
    scenarios: list[dict[str, Any]],
    now: float,
    barrier: Any,
    results: Any,
) -> None:
    """One process of the budget proof, for each scenario in turn.

    A scenario is ``{"name", "calls", "concurrency", "limit_usd", "output_tokens",
    "max_tokens"}``. For each, the process starts its own local server (real HTTP on
    loopback) whose answers have about ``output_tokens`` tokens, and makes ``calls`` guarded
    router calls at ``concurrency`` against one USD budget named ``name`` that every process
    shares through the ledger, under the cost handler. It reports per scenario the server's own
    usage priced at catalog prices, the cost handler's total, the calls answered and refused,
    and the settled spend each refusal reported. Runs in a spawned process; the clock is fixed
    at ``now`` (one window).
    """
    import asyncio
    from decimal import Decimal

    from langchain_costrouter import Budget, Catalog, ChatCostRouter, track_costs
    from langchain_costrouter.exceptions import BudgetExceededError
    from langchain_costrouter.testing.server import LocalServer, ModelBehaviour, ServerConfig

    ledger = open_ledger(store, target, prefix)
    report = []
    barrier.wait()
    for sc in scenarios:
        behaviour = ModelBehaviour(
            output_tokens_p50=sc["output_tokens"], output_tokens_sigma=0.05,
            output_tokens_max=max(2048, sc["output_tokens"] * 2), p50_latency_ms=20.0,
        )
        with LocalServer(ServerConfig(default=behaviour, seed=worker)) as srv:
            catalog = Catalog.default().served_by(srv.base_url)
            guarded = ChatCostRouter(catalog=catalog).with_budget(
                [Budget.usd(sc["limit_usd"], per="day", name=sc["name"])], ledger=ledger,
                clock=lambda: now, settle_timeout=120.0,
            )
            refusals: list[str] = []
            errors: list[str] = []
            answered = [0]
            kw = {"max_tokens": sc["max_tokens"]} if sc.get("max_tokens") else {}

            async def one(i: int, sem: asyncio.Semaphore, kw: dict[str, Any] = kw,
                          guarded: Any = guarded, refusals: list[str] = refusals,
                          errors: list[str] = errors, answered: list[int] = answered) -> None:
                async with sem:
                    try:
                        await guarded.ainvoke(f"Write about Rome, part {worker}-{i}.",
                                              level="expert", **kw)
                        answered[0] += 1
                    except BudgetExceededError as e:
                        refusals.append(str(e.used))
                    except Exception as e:  # reported: it fails the proof
                        errors.append(f"{type(e).__name__}: {e}")

            async def run(calls: int = sc["calls"], conc: int = sc["concurrency"]) -> None:
                sem = asyncio.Semaphore(conc)
                await asyncio.gather(*(one(i, sem) for i in range(calls)))

            with track_costs() as cb:
                asyncio.run(run())
            server_usd = Decimal(0)
            stats = srv.stats()
            for _ in range(500):  # the server counts a request just after answering it
                if all(st["in_flight"] == 0 for st in stats.values()):
                    break
                time.sleep(0.01)
                stats = srv.stats()
            for model, st in stats.items():
                spec = next(s for s in catalog.models.values() if model in (s.model, s.name))
                assert spec.prices is not None
                server_usd += (st["prompt_tokens"] * spec.prices.input
                               + st["completion_tokens"] * spec.prices.output) / 1_000_000
        report.append({
            "scenario": sc["name"], "worker": worker, "ok": answered[0], "refusals": refusals,
            "errors": errors, "server_usd": str(server_usd),
            "handler_usd": str(cb.summary().total_cost),
        })
    ledger.close()
    results.put(report)
