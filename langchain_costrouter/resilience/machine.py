"""The breaker state machine as pure functions over one record (a JSON-able dict).

Every store runs these same rules: the memory store under a lock, the SQLite store inside
``BEGIN IMMEDIATE``, and the Redis store as a Lua port (``redis_store.py``, kept line by line in
step with this file; the shared store test suite checks they agree).

Record keys (short, because Redis and SQLite store them as JSON)::

    s    state: "closed" | "open" | "half_open"
    oa   opened-at (-1 when never opened)       ou   open-until (next probe time)
    t    consecutive trips (drives the exponential recovery timeout)
    pid  id of the current half-open probe      pu   probe lease end (0: no probe in flight)
    cu   cooldown-until (429 / out of credit; 0: none)
    ls   last stamp: the clock reading of the latest write (absent on a fresh record)
    ring sliding window: ``buckets`` triples [bucket index, calls, failures]

Clock steps. Every time in a record is on ONE clock: the store's (a shared store's own clock,
or the caller's for the memory store); a host's skewed wall clock never enters a shared record.
If that clock steps back (``now < ls``: an NTP correction, a VM restored), :func:`rebase`
shifts every stored time by the step, so what remained of a recovery or cooldown still
remains, measured from now: a step back of 2 h never keeps a 30 s breaker open for 2 h.
The failure window is cleared then (its buckets no longer line up). A step forward cannot be
told from time passing; it only ends waits early.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from langchain_costrouter.exceptions import ConfigError

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
DENY, NORMAL = -1, 0
"""Grant values: -1 refused, 0 a normal call, > 0 the id of a half-open probe."""

Record = dict[str, Any]
Transition = tuple[str, str, str]
"""(old state, new state, reason)."""


@dataclass(frozen=True, kw_only=True)
class BreakerConfig:
    """When a breaker opens and how long it stays open."""

    failure_threshold: int | None = 5
    """Open after this many failures within ``window_s`` (``None``: no count rule)."""
    failure_rate: float | None = None
    """Open when failures / calls reaches this rate within ``window_s`` (``None``: no rate rule)."""
    min_calls: int = 10
    """Calls needed in the window before the rate rule applies."""
    window_s: float = 60.0
    """Length of the sliding window."""
    buckets: int = 10
    """The window slides by ``window_s / buckets``."""
    recovery_s: float = 30.0
    """How long the breaker stays open after its first trip."""
    backoff_multiplier: float = 2.0
    """Each consecutive trip multiplies the recovery timeout by this (1: constant)."""
    max_recovery_s: float = 600.0
    """Cap of the growing recovery timeout."""
    probe_timeout_s: float = 120.0
    """Lease of the half-open probe: if its caller never reports, another may probe after it."""

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"BreakerConfig.{name}={getattr(self, name)!r}: {why}")

        if self.failure_threshold is None and self.failure_rate is None:
            raise bad("failure_threshold", "set failure_threshold or failure_rate (both None)")
        if self.failure_threshold is not None and self.failure_threshold < 1:
            raise bad("failure_threshold", "must be >= 1")
        if self.failure_rate is not None and not 0 < self.failure_rate <= 1:
            raise bad("failure_rate", "must be in (0, 1]")
        if self.min_calls < 1:
            raise bad("min_calls", "must be >= 1")
        if self.buckets < 1:
            raise bad("buckets", "must be >= 1")
        for name in ("window_s", "recovery_s", "probe_timeout_s"):
            if not getattr(self, name) > 0:
                raise bad(name, "must be > 0 seconds")
        if self.backoff_multiplier < 1:
            raise bad("backoff_multiplier", "must be >= 1")
        if self.max_recovery_s < self.recovery_s:
            raise bad("max_recovery_s", f"must be >= recovery_s ({self.recovery_s})")

    def recovery_for(self, trips: int) -> float:
        """Open time after the ``trips``-th consecutive trip (1-based)."""
        try:
            grown = self.recovery_s * self.backoff_multiplier ** max(trips - 1, 0)
        except OverflowError:
            return self.max_recovery_s
        return min(grown, self.max_recovery_s)


def new_record(cfg: BreakerConfig) -> Record:
    return {"s": CLOSED, "oa": -1, "ou": 0, "t": 0, "pid": 0, "pu": 0, "cu": 0,
            "ring": [-1, 0, 0] * cfg.buckets}


_TIMES = (("oa", -1), ("ou", 0), ("pu", 0), ("cu", 0))
"""Absolute times of a record, with the sentinel meaning "none"."""


def shift(rec: Record, by: float, bucket_shift: int | None = None) -> None:
    """Move every stored time by ``by`` seconds (sentinels stay); ring indices by
    ``bucket_shift`` buckets, or clear the ring when ``None``."""
    for name, none in _TIMES:
        if rec[name] != none:
            rec[name] += by
    if "ls" in rec:
        rec["ls"] += by
    ring = rec["ring"]
    for i in range(0, len(ring), 3):
        if bucket_shift is None:
            ring[i], ring[i + 1], ring[i + 2] = -1, 0, 0
        elif ring[i] != -1:
            ring[i] += bucket_shift


def rebase(rec: Record, now: float) -> bool:
    """Repair a clock that stepped back behind the record's last write; True if it did."""
    last = rec.get("ls")
    if last is None or now >= last:
        return False
    shift(rec, now - last)
    rec["ls"] = now
    return True


def to_frame(rec: Record, store_now: float, caller_now: float, cfg: BreakerConfig) -> Record:
    """A copy of ``rec`` with its times moved from the store's clock to the caller's."""
    out = {**rec, "ring": list(rec["ring"])}
    if caller_now != store_now:
        shift(out, caller_now - store_now, _bucket(caller_now, cfg) - _bucket(store_now, cfg))
    return out


def _bucket(now: float, cfg: BreakerConfig) -> int:
    return math.floor(now / (cfg.window_s / cfg.buckets))


def window(rec: Record, now: float, cfg: BreakerConfig) -> tuple[int, int]:
    """(calls, failures) in the sliding window ending at ``now``."""
    ring = rec["ring"]
    if len(ring) != 3 * cfg.buckets:
        return 0, 0
    idx = _bucket(now, cfg)
    calls = failures = 0
    for i in range(0, len(ring), 3):
        if idx - cfg.buckets < ring[i] <= idx:
            calls += ring[i + 1]
            failures += ring[i + 2]
    return calls, failures


def _add(rec: Record, now: float, cfg: BreakerConfig, failed: bool) -> None:
    ring = rec["ring"]
    if len(ring) != 3 * cfg.buckets:
        ring = rec["ring"] = [-1, 0, 0] * cfg.buckets
    idx = _bucket(now, cfg)
    i = 3 * (idx % cfg.buckets)
    if ring[i] != idx:
        ring[i], ring[i + 1], ring[i + 2] = idx, 0, 0
    ring[i + 1] += 1
    if failed:
        ring[i + 2] += 1


def _trip(rec: Record, now: float, cfg: BreakerConfig) -> None:
    rec["t"] += 1
    rec["s"], rec["oa"], rec["pu"] = OPEN, now, 0
    rec["ou"] = now + cfg.recovery_for(rec["t"])
    rec["ring"] = [-1, 0, 0] * cfg.buckets


def allow(rec: Record, now: float, cfg: BreakerConfig) -> tuple[int, Transition | None, bool]:
    """Ask to make a call. Returns (grant, transition, dirty)."""
    rebased = rebase(rec, now)
    grant, transition, dirty = _allow(rec, now, cfg)
    if dirty or rebased:
        rec["ls"] = now
    return grant, transition, dirty or rebased


def _allow(rec: Record, now: float, cfg: BreakerConfig) -> tuple[int, Transition | None, bool]:
    if now < rec["cu"]:
        return DENY, None, False
    state = rec["s"]
    if state == CLOSED:
        return NORMAL, None, False
    if state == OPEN:
        if now < rec["ou"]:
            return DENY, None, False
        rec["s"], rec["pid"], rec["pu"] = HALF_OPEN, rec["pid"] + 1, now + cfg.probe_timeout_s
        return rec["pid"], (OPEN, HALF_OPEN, "recovery timeout elapsed"), True
    if now < rec["pu"]:  # half-open with a probe in flight
        return DENY, None, False
    rec["pid"], rec["pu"] = rec["pid"] + 1, now + cfg.probe_timeout_s
    return rec["pid"], None, True


def record(rec: Record, now: float, cfg: BreakerConfig, outcome: str, grant: int,
           cooldown_s: float = 0) -> tuple[Transition | None, bool]:
    """Report how a granted call ended: ``"success"``, ``"failure"`` or ``"neutral"``.

    ``cooldown_s`` (a duration, so no caller's clock is stored) skips the key for that long.
    Returns (transition, dirty). Reports from stale grants (a call let through before the
    breaker opened, or a probe superseded after its lease expired) do not move the state.
    """
    rebased = rebase(rec, now)
    transition, dirty = _record(rec, now, cfg, outcome, grant, cooldown_s)
    if dirty or rebased:
        rec["ls"] = now
    return transition, dirty or rebased


def _record(rec: Record, now: float, cfg: BreakerConfig, outcome: str, grant: int,
            cooldown_s: float) -> tuple[Transition | None, bool]:
    dirty = False
    if cooldown_s > 0 and now + cooldown_s > rec["cu"]:
        rec["cu"], dirty = now + cooldown_s, True
    if grant > 0:
        if rec["s"] != HALF_OPEN or rec["pid"] != grant:
            return None, dirty
        if outcome == "success":
            rec["s"], rec["t"], rec["pu"] = CLOSED, 0, 0
            rec["ring"] = [-1, 0, 0] * cfg.buckets
            return (HALF_OPEN, CLOSED, "probe succeeded"), True
        if outcome == "failure":
            _trip(rec, now, cfg)
            return (HALF_OPEN, OPEN, f"probe failed; open for {rec['ou'] - now:g}s"), True
        rec["pu"] = 0  # neutral: free the probe slot for the next caller
        return None, True
    if rec["s"] != CLOSED or outcome == "neutral":
        return None, dirty
    if outcome == "success":
        if cfg.failure_rate is None:  # successes only matter to the rate rule
            return None, dirty
        _add(rec, now, cfg, False)
        return None, True
    _add(rec, now, cfg, True)
    calls, failures = window(rec, now, cfg)
    reason = None
    if cfg.failure_threshold is not None and failures >= cfg.failure_threshold:
        reason = f"{failures} failures in {cfg.window_s:g}s"
    elif (cfg.failure_rate is not None and calls >= cfg.min_calls
          and failures >= cfg.failure_rate * calls):
        reason = f"failure rate {failures}/{calls} in {cfg.window_s:g}s"
    if reason is None:
        return None, True
    _trip(rec, now, cfg)
    return (CLOSED, OPEN, f"{reason}; open for {rec['ou'] - now:g}s"), True


def available(rec: Record, now: float) -> bool:
    """Whether :func:`allow` would grant now (without taking the probe slot)."""
    if now < rec.get("ls", now):  # the clock stepped back: judge the repaired record
        rec = {**rec, "ring": list(rec["ring"])}
        rebase(rec, now)
    if now < rec["cu"]:
        return False
    state = rec["s"]
    if state == CLOSED:
        return True
    if state == OPEN:
        return now >= rec["ou"]
    return now >= rec["pu"]
