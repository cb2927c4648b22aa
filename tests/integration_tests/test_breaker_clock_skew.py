"""Shared breakers survive skewed and stepping clocks: recovery is measured on the store's clock.

A fleet shares one SQLite file or one Redis. Each host has its own wall clock; here they are
injected and set days apart. The store's clock is injected too (in place of SQLite's
``julianday('now')`` / Redis ``TIME``) so time passes without sleeping; the last tests use the
real store clocks and check the stored times are on them, whatever the host's clock says.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

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
from langchain_costrouter.resilience.redis_store import RedisBreakerStore

pytestmark = pytest.mark.enable_socket

DAY = 86_400.0
T0 = 1_764_600_000.0  # a plausible Unix time (2025-12-01)
CFG = BreakerConfig(failure_threshold=3, recovery_s=30, max_recovery_s=600)
TRIP = Verdict(Action.TRIP, "http 503", retryable=True)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Fleet:
    """Hosts with their own clocks over one shared store whose clock is ``store_clock``."""

    def __init__(self, make: Callable[[Clock], BreakerStore], skews: dict[str, float]) -> None:
        self.store_clock = Clock(T0)
        self.clocks = {name: Clock(T0 + skew) for name, skew in skews.items()}
        self.stores = [make(self.store_clock) for _ in skews]  # one connection per host
        self.hosts = {name: Breakers(CFG, store=store, clock=self.clocks[name])
                      for (name, store) in zip(skews, self.stores, strict=True)}

    def advance(self, seconds: float) -> None:
        self.store_clock.now += seconds
        for c in self.clocks.values():
            c.now += seconds

    def fail(self, host: str, n: int = 1, verdict: Verdict = TRIP) -> None:
        for _ in range(n):
            permit = self.hosts[host].allow("m")
            assert permit is not None, f"{host} was refused"
            self.hosts[host].failure(permit, verdict)

    def close(self) -> None:
        for s in self.stores:
            s.close()


@pytest.fixture(params=["sqlite", "redis"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Clock], BreakerStore]:
    if request.param == "sqlite":
        path = tmp_path / "breakers.sqlite3"
        return lambda clock: SQLiteBreakerStore(path, clock=clock)
    url = request.getfixturevalue("redis_url")
    prefix = f"skew:{uuid.uuid4().hex}:"
    return lambda clock: RedisBreakerStore(url, prefix=prefix, clock=clock)


def test_a_host_ten_days_fast_does_not_lock_out_the_fleet(
        shared: Callable[[Clock], BreakerStore]) -> None:
    fleet = Fleet(shared, {"fast": 10 * DAY, "ok": 0.0, "slow": -2 * DAY})
    fleet.fail("fast", 3)  # the fast host trips the shared breaker
    for host in ("ok", "slow"):
        assert fleet.hosts[host].allow("m") is None  # the fleet sees it open ...
        h = fleet.hosts[host].health()["m"]
        # ... until 30 s from now on each host's own clock, not 10 days
        assert h.state == "open"
        assert h.next_probe_at == pytest.approx(fleet.clocks[host].now + 30, abs=0.01)
    fleet.advance(29)
    assert fleet.hosts["slow"].allow("m") is None
    fleet.advance(1)
    probe = fleet.hosts["slow"].allow("m")
    assert probe is not None and probe.probe
    assert fleet.hosts["fast"].allow("m") is None  # one probe, fleet-wide
    fleet.hosts["slow"].success(probe)
    assert all(b.allow("m") is not None for b in fleet.hosts.values())
    fleet.close()


def test_hosts_two_days_apart_count_their_failures_together(
        shared: Callable[[Clock], BreakerStore]) -> None:
    fleet = Fleet(shared, {"behind": -2 * DAY, "ahead": 2 * DAY})
    fleet.fail("behind", 2)
    fleet.fail("ahead")
    assert fleet.hosts["behind"].health()["m"].state == "open"
    assert fleet.hosts["ahead"].allow("m") is None
    fleet.close()


def test_a_host_two_days_behind_does_not_reopen_early_or_late(
        shared: Callable[[Clock], BreakerStore]) -> None:
    fleet = Fleet(shared, {"behind": -2 * DAY, "ahead": 2 * DAY})
    fleet.fail("behind", 3)
    fleet.advance(10)
    assert fleet.hosts["ahead"].allow("m") is None  # 2 days ahead, yet only 10 s have passed
    fleet.advance(20)
    assert fleet.hosts["ahead"].allow("m") is not None
    fleet.close()


def test_a_step_back_of_two_hours_does_not_keep_a_breaker_open(
        shared: Callable[[Clock], BreakerStore]) -> None:
    fleet = Fleet(shared, {"a": 0.0, "b": 0.0})
    fleet.fail("a", 3)  # open for 30 s
    fleet.advance(5)
    fleet.advance(-2 * 3600)  # NTP steps the clocks back 2 hours
    assert fleet.hosts["b"].allow("m") is None
    fleet.advance(30)  # at most one recovery from the step, not 2 h + 25 s
    probe = fleet.hosts["b"].allow("m")
    assert probe is not None and probe.probe
    fleet.hosts["b"].success(probe)
    assert fleet.hosts["a"].health()["m"].state == "closed"
    fleet.close()


def test_a_step_back_does_not_extend_or_revive_a_cooldown(
        shared: Callable[[Clock], BreakerStore]) -> None:
    fleet = Fleet(shared, {"a": 0.0, "b": 3 * DAY})
    cooldown = Verdict(Action.COOLDOWN, "http 429", cooldown_s=20, retryable=True)
    fleet.fail("b", 1, cooldown)  # a duration crosses to the store, not b's clock + 20
    assert fleet.hosts["a"].allow("m") is None
    h = fleet.hosts["a"].health()["m"]
    assert h.cooldown_until == pytest.approx(fleet.clocks["a"].now + 20, abs=0.01)
    fleet.advance(-2 * 3600)
    assert fleet.hosts["a"].allow("m") is None  # what remained of the cooldown still remains
    fleet.advance(20)  # ... and no more: not 2 h + 20 s
    assert fleet.hosts["a"].allow("m") is not None
    fleet.close()


def test_the_memory_store_repairs_a_step_back_of_the_callers_clock() -> None:
    clock = Clock(T0)
    b = Breakers(CFG, store=MemoryBreakerStore(), clock=clock)
    for _ in range(3):
        permit = b.allow("m")
        assert permit is not None
        b.failure(permit, TRIP)
    clock.now -= 2 * 3600
    assert not b.is_available("m")
    clock.now += 30
    assert b.is_available("m")
    assert b.health()["m"].next_probe_at == pytest.approx(clock.now, abs=0.01)
    assert b.allow("m") is not None


# -- the real store clocks -------------------------------------------------------------------
def _trip_from(store: BreakerStore, host_clock: Callable[[], float]) -> Breakers:
    b = Breakers(CFG, store=store, clock=host_clock)
    for _ in range(3):
        permit = b.allow("m")
        assert permit is not None
        b.failure(permit, TRIP)
    return b


def _check_on_store_clock(store: BreakerStore, other: BreakerStore, store_now: float) -> None:
    rec = store.snapshot("m:m")
    assert rec is not None and rec["s"] == "open"
    # stored on the store's clock: open until ~30 s from the store's now, not 10 days on
    assert store_now + 25 < rec["ou"] < store_now + 35
    slow_host = lambda: time.time() - 2 * DAY  # noqa: E731
    b = Breakers(CFG, store=other, clock=slow_host)
    assert not b.is_available("m")
    h = b.health()["m"]
    assert h.next_probe_at is not None
    assert 25 < h.next_probe_at - slow_host() < 35


def test_sqlite_measures_on_its_own_clock(tmp_path: Path) -> None:
    path = tmp_path / "real.sqlite3"
    store, other = SQLiteBreakerStore(path), SQLiteBreakerStore(path)
    _trip_from(store, lambda: time.time() + 10 * DAY)
    _check_on_store_clock(store, other, time.time())  # julianday('now') is this machine's
    store.close()
    other.close()


def test_redis_measures_on_the_server_time(redis_url: str) -> None:
    prefix = f"real:{uuid.uuid4().hex}:"
    store, other = RedisBreakerStore(redis_url, prefix=prefix), RedisBreakerStore(
        redis_url, prefix=prefix)
    _trip_from(store, lambda: time.time() + 10 * DAY)
    secs, micros = store._client.time()
    _check_on_store_clock(store, other, secs + micros / 1e6)
    store.close()
    other.close()
