"""One breaker suite against every store: memory, a real SQLite file, a real redis-server.

Plus: the Lua port agrees with the Python state machine on random operation sequences, N
spawned processes race for the half-open probe (exactly one wins), and a dead Redis degrades
to local state with one warning in well under a second, then reconnects.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.resilience import (
    Action,
    BreakerConfig,
    Breakers,
    BreakerStore,
    MemoryBreakerStore,
    SQLiteBreakerStore,
    Verdict,
)
from langchain_costrouter.resilience.machine import new_record
from langchain_costrouter.resilience.redis_store import RedisBreakerStore
from langchain_costrouter.testing.redis_server import (
    MISSING,
    free_port,
    redis_binary,
    redis_required,
    redis_server,
)

pytestmark = pytest.mark.enable_socket

TRIP = Verdict(Action.TRIP, "http 503", retryable=True)
CFG = BreakerConfig(failure_threshold=3, recovery_s=10, max_recovery_s=40)


@contextlib.contextmanager
def run_redis(port: int) -> Iterator[str]:
    """A redis-server on a given port (the dead-Redis test restarts one where it was)."""
    if redis_binary() is None:
        if redis_required():  # CI must not skip these
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    with redis_server(port) as url:
        yield url


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path,
               clock: Clock) -> BreakerStore:
    """A store whose timeline is ``clock``: the caller's for memory, the store's own (injected
    in place of SQLite's julianday / Redis TIME) for the shared ones."""
    if kind == "memory":
        return MemoryBreakerStore()
    if kind == "sqlite":
        return SQLiteBreakerStore(tmp_path / "breakers.sqlite3", clock=clock)
    url = request.getfixturevalue("redis_url")
    return RedisBreakerStore(url, prefix=f"test:{uuid.uuid4().hex}:", clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[BreakerStore]:
    s = make_store(request.param, request, tmp_path, clock)
    yield s
    s.close()


def fail(b: Breakers, model: str, n: int = 1) -> None:
    for _ in range(n):
        permit = b.allow(model)
        assert permit is not None
        b.failure(permit, TRIP)


# -- the shared suite --------------------------------------------------------------------------
def test_full_cycle(store: BreakerStore, clock: Clock) -> None:
    events: list[tuple[str, str]] = []
    b = Breakers(CFG, store=store, clock=clock,
                 listeners=[lambda e: events.append((e.old_state, e.new_state))])
    fail(b, "m", 2)
    assert b.health()["m"].failures == 2
    fail(b, "m")
    assert b.allow("m") is None and not b.is_available("m")
    clock.now += 10
    assert b.is_available("m")
    probe = b.allow("m")
    assert probe is not None and probe.probe
    assert b.allow("m") is None
    b.failure(probe, TRIP)
    h = b.health()["m"]
    assert (h.state, h.trips, h.next_probe_at) == ("open", 2, clock.now + 20)
    clock.now += 20
    probe = b.allow("m")
    assert probe is not None
    b.success(probe)
    assert b.health()["m"].state == "closed" and b.health()["m"].trips == 0
    assert events == [("closed", "open"), ("open", "half_open"), ("half_open", "open"),
                      ("open", "half_open"), ("half_open", "closed")]


def test_rate_rule_and_window(store: BreakerStore, clock: Clock) -> None:
    cfg = BreakerConfig(failure_threshold=None, failure_rate=0.5, min_calls=4, window_s=10,
                        buckets=5)
    b = Breakers(cfg, store=store, clock=clock)
    for ok in (True, True, False):
        permit = b.allow("m")
        assert permit is not None
        if ok:
            b.success(permit)
        else:
            b.failure(permit, TRIP)
    clock.now += 11  # all of it slides out
    fail(b, "m")
    assert (b.health()["m"].calls, b.health()["m"].state) == (1, "closed")
    for _ in range(2):
        permit = b.allow("m")
        assert permit is not None
        b.success(permit)
    fail(b, "m")  # 2/4
    assert b.health()["m"].state == "open"


def test_cooldown_and_stale_probe(store: BreakerStore, clock: Clock) -> None:
    b = Breakers(BreakerConfig(failure_threshold=1, recovery_s=5, probe_timeout_s=30),
                 store=store, clock=clock)
    permit = b.allow("m")
    assert permit is not None
    b.failure(permit, Verdict(Action.COOLDOWN, "http 429", cooldown_s=3, retryable=True))
    assert b.allow("m") is None and b.health()["m"].state == "closed"
    clock.now += 3
    fail(b, "m")
    clock.now += 5
    lost = b.allow("m")
    assert lost is not None
    clock.now += 30
    fresh = b.allow("m")
    assert fresh is not None
    b.success(lost)
    assert b.health()["m"].state == "half_open"
    b.success(fresh)
    assert b.health()["m"].state == "closed"


def test_two_breakers_on_one_store_see_the_same_state(store: BreakerStore, clock: Clock) -> None:
    if not store.shared:
        pytest.skip("the memory store is private to one Breakers")
    one, two = Breakers(CFG, store=store, clock=clock), Breakers(CFG, store=store, clock=clock)
    fail(one, "m", 3)
    assert two.allow("m") is None
    clock.now += 10
    assert one.allow("m") is not None
    assert two.allow("m") is None  # the probe is taken fleet-wide


def test_shared_stores_default_to_the_wall_clock(tmp_path: Path) -> None:
    assert Breakers(store=SQLiteBreakerStore(tmp_path / "x.db")).clock is time.time
    assert Breakers().clock is time.monotonic


# -- the Lua port agrees with the Python machine -------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_lua_matches_python_on_random_sequences(redis_url: str, seed: int) -> None:
    rng = random.Random(seed)
    cfg = BreakerConfig(failure_threshold=4, failure_rate=0.6, min_calls=5, window_s=20,
                        buckets=4, recovery_s=3, backoff_multiplier=3, max_recovery_s=50,
                        probe_timeout_s=7)
    clock = Clock(0.0)
    py = MemoryBreakerStore()
    lua = RedisBreakerStore(redis_url, prefix=f"eq:{uuid.uuid4().hex}:", clock=clock)
    now, grants, seen = 0.0, [], set()
    for _ in range(400):
        now += rng.choice([0, 0, 0.5, 1.25, 4, 9])
        if rng.random() < 0.03:
            now -= 30  # the clock steps back: both repair it the same way
        clock.now = now
        if rng.random() < 0.5 or not grants:
            got = py.allow("k", now, cfg), lua.allow("k", now, cfg)
            assert got[0] == got[1]
            if got[0][0] >= 0:
                grants.append(got[0][0])
        else:
            grant = grants.pop(rng.randrange(len(grants)))
            outcome = rng.choice(["success", "failure", "failure", "neutral"])
            until = 2 if rng.random() < 0.1 else 0
            assert py.record("k", now, cfg, outcome, grant, until) == lua.record(
                "k", now, cfg, outcome, grant, until)
        fresh = new_record(cfg)
        assert (py.snapshot("k") or fresh) == (lua.snapshot("k") or fresh)
        seen.add((py.snapshot("k") or fresh)["s"])
    assert seen == {"closed", "open", "half_open"}  # the sequence exercised every state
    lua.close()


# -- several processes race for the half-open probe ------------------------------------------------
def _race(targets: dict[str, str], start: Any, results: Any) -> None:
    for kind, target in targets.items():
        store = (SQLiteBreakerStore(target, clock=lambda: 2000.0) if kind == "sqlite"
                 else RedisBreakerStore(target, clock=lambda: 2000.0))
        b = Breakers(CFG, store=store, clock=lambda: 2000.0)
        start.wait()
        permit = b.allow("m")
        results.put((kind, permit is not None and permit.probe))


def test_processes_race_for_the_probe_exactly_one_wins(redis_url: str, tmp_path: Path) -> None:
    """N spawned processes ask at once; per store exactly one gets the probe."""
    n = 4
    targets = {"sqlite": str(tmp_path / "race.sqlite3"), "redis": redis_url}
    stores: dict[str, BreakerStore] = {
        "sqlite": SQLiteBreakerStore(targets["sqlite"], clock=lambda: 1000.0),
        "redis": RedisBreakerStore(redis_url, clock=lambda: 1000.0)}
    for store in stores.values():
        store.reset("m:m")
        fail(Breakers(CFG, store=store, clock=lambda: 1000.0), "m", 3)  # open until 1010
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(targets, start, results)) for _ in range(n)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in range(2 * n)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    for kind, store in stores.items():
        won = sorted(probe for k, probe in outcomes if k == kind)
        assert won == [False] * (n - 1) + [True], kind
        assert store.snapshot("m:m")["s"] == "half_open"  # type: ignore[index]
        store.close()


# -- a dead Redis ---------------------------------------------------------------------------------
def test_dead_redis_degrades_with_one_warning_fast_then_reconnects(
        caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens here
    clock = Clock()
    store = RedisBreakerStore(f"redis://127.0.0.1:{port}/0", reconnect_after_s=5)
    b = Breakers(CFG, store=store, clock=clock)
    with caplog.at_level(logging.INFO, logger="langchain_costrouter.resilience.redis_store"):
        started = time.perf_counter()
        fail(b, "m", 3)  # still a working breaker, on local state
        assert b.allow("m") is None
        elapsed = time.perf_counter() - started
        assert store.degraded
        warnings = [r for r in caplog.records
                    if r.levelno == logging.WARNING and r.name.endswith("redis_store")]
        assert len(warnings) == 1 and "Redis unreachable" in warnings[0].getMessage()
        assert elapsed < 0.5, f"degrading took {elapsed:.3f}s"
        with run_redis(port):
            clock.now += 5
            assert b.allow("other") is not None  # served by Redis again
            assert not store.degraded
            assert "Redis is back" in caplog.text
    store.close()
