"""Breaker state in Redis, shared by a fleet; every transition is one atomic Lua script.

The scripts are a port of :mod:`.machine` (same record, same rules): two processes can never
both take the half-open probe. The record is one JSON string per key.

Time is the Redis server's ``TIME``, read inside each script, never the caller's ``now``: a
fleet whose wall clocks disagree by days still shares one timeline, and a step back of the
server's clock is repaired by :func:`~.machine.rebase` (ported below). ``clock=`` replaces
``TIME`` with a callable (tests drive time with it).

A dead or unreachable Redis never hangs a call: the client uses short socket timeouts and no
retries (redis-py's default retry takes ~4 s to fail). On the first error the store logs ONE
warning and serves from a local in-memory store; after ``reconnect_after_s`` (measured on the
callers' clock) it tries Redis again, and logs once when it is back.

Calls are synchronous (one round trip, ~0.1 ms on loopback); from asyncio they briefly block
the loop, bounded by ``socket_timeout_s`` when Redis is slow or gone.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from langchain_costrouter.resilience import machine
from langchain_costrouter.resilience.machine import BreakerConfig, Record, Transition
from langchain_costrouter.resilience.store import MemoryBreakerStore

logger = logging.getLogger(__name__)

_PRELUDE = """
local key = KEYS[1]
local now
if ARGV[1] == '' then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
local threshold = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local min_calls = tonumber(ARGV[4])
local window_s = tonumber(ARGV[5])
local buckets = tonumber(ARGV[6])
local recovery_s = tonumber(ARGV[7])
local mult = tonumber(ARGV[8])
local max_rec = tonumber(ARGV[9])
local probe_s = tonumber(ARGV[10])
local function new_ring()
  local r = {}
  for i = 1, buckets do r[3*i-2] = -1; r[3*i-1] = 0; r[3*i] = 0 end
  return r
end
local raw = redis.call('GET', key)
local rec
if raw then rec = cjson.decode(raw) else
  rec = {s='closed', oa=-1, ou=0, t=0, pid=0, pu=0, cu=0, ring=new_ring()}
end
if #rec.ring ~= 3 * buckets then rec.ring = new_ring() end
local rebased = false
if rec.ls ~= nil and now < rec.ls then
  local d = now - rec.ls
  if rec.oa ~= -1 then rec.oa = rec.oa + d end
  if rec.ou ~= 0 then rec.ou = rec.ou + d end
  if rec.pu ~= 0 then rec.pu = rec.pu + d end
  if rec.cu ~= 0 then rec.cu = rec.cu + d end
  rec.ring = new_ring()
  rebased = true
end
local function save() rec.ls = now; rebased = false; redis.call('SET', key, cjson.encode(rec)) end
local function done(x) if rebased then save() end return x end
local function trip()
  rec.t = rec.t + 1
  rec.s = 'open'; rec.oa = now; rec.pu = 0
  local r = recovery_s * mult ^ math.max(rec.t - 1, 0)
  if r > max_rec then r = max_rec end
  rec.ou = now + r
  rec.ring = new_ring()
end
"""

_ALLOW = _PRELUDE + """
if now < rec.cu then return done({-1}) end
if rec.s == 'closed' then return done({0}) end
if rec.s == 'open' then
  if now < rec.ou then return done({-1}) end
  rec.s = 'half_open'; rec.pid = rec.pid + 1; rec.pu = now + probe_s
  save()
  return {rec.pid, 'open', 'half_open', 'recovery timeout elapsed'}
end
if now < rec.pu then return done({-1}) end
rec.pid = rec.pid + 1; rec.pu = now + probe_s
save()
return {rec.pid}
"""

_RECORD = _PRELUDE + """
local outcome = ARGV[11]
local grant = tonumber(ARGV[12])
local cooldown_s = tonumber(ARGV[13])
local dirty = false
if cooldown_s > 0 and now + cooldown_s > rec.cu then rec.cu = now + cooldown_s; dirty = true end
if grant > 0 then
  if rec.s ~= 'half_open' or rec.pid ~= grant then
    if dirty then save() end
    return done({})
  end
  if outcome == 'success' then
    rec.s = 'closed'; rec.t = 0; rec.pu = 0; rec.ring = new_ring()
    save()
    return {'half_open', 'closed', 'probe succeeded'}
  end
  if outcome == 'failure' then
    trip(); save()
    return {'half_open', 'open', string.format('probe failed; open for %gs', rec.ou - now)}
  end
  rec.pu = 0; save()
  return {}
end
if rec.s ~= 'closed' or outcome == 'neutral' or (outcome == 'success' and rate < 0) then
  if dirty then save() end
  return done({})
end
local width = window_s / buckets
local idx = math.floor(now / width)
local i = 3 * (idx % buckets) + 1
if rec.ring[i] ~= idx then rec.ring[i] = idx; rec.ring[i+1] = 0; rec.ring[i+2] = 0 end
rec.ring[i+1] = rec.ring[i+1] + 1
if outcome == 'success' then save(); return {} end
rec.ring[i+2] = rec.ring[i+2] + 1
local calls, failures = 0, 0
for j = 1, #rec.ring, 3 do
  if rec.ring[j] > idx - buckets and rec.ring[j] <= idx then
    calls = calls + rec.ring[j+1]; failures = failures + rec.ring[j+2]
  end
end
local reason = nil
if threshold > 0 and failures >= threshold then
  reason = string.format('%d failures in %gs', failures, window_s)
elseif rate > 0 and calls >= min_calls and failures >= rate * calls then
  reason = string.format('failure rate %d/%d in %gs', failures, calls, window_s)
end
if reason == nil then save(); return {} end
trip(); save()
return {'closed', 'open', string.format('%s; open for %gs', reason, rec.ou - now)}
"""

_PEEK = _PRELUDE + """
if not raw then return {string.format('%.17g', now)} end
done(nil)
return {string.format('%.17g', now), cjson.encode(rec)}
"""
"""The record (a clock step back repaired first) and the store's time, for ``snapshot``."""


def _args(now: float | None, cfg: BreakerConfig) -> list[Any]:
    return ["" if now is None else repr(float(now)),
            -1 if cfg.failure_threshold is None else cfg.failure_threshold,
            -1 if cfg.failure_rate is None else repr(cfg.failure_rate),
            cfg.min_calls, repr(cfg.window_s), cfg.buckets, repr(cfg.recovery_s),
            repr(cfg.backoff_multiplier), repr(cfg.max_recovery_s), repr(cfg.probe_timeout_s)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBreakerStore:
    """Shared breaker state in Redis (``url`` or a ready ``client``), degrading to memory."""

    shared = True

    def __init__(self, url: str | None = None, *, client: Any = None,
                 prefix: str = "costrouter:breaker:", socket_timeout_s: float = 0.25,
                 reconnect_after_s: float = 5.0, clock: Callable[[], float] | None = None
                 ) -> None:
        """``clock``: seconds on the store's timeline (default: the server's ``TIME``)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        if client is None:
            if url is None:
                raise ValueError("RedisBreakerStore needs a url or a client")
            client = redis.Redis.from_url(
                url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s,
                retry=Retry(NoBackoff(), 0), health_check_interval=0)
        self._client = client
        self._errors: tuple[type[BaseException], ...] = (
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
        self.prefix = prefix
        self.reconnect_after_s = reconnect_after_s
        self.clock = clock
        self._allow = client.register_script(_ALLOW)
        self._record = client.register_script(_RECORD)
        self._peek = client.register_script(_PEEK)
        self.local = MemoryBreakerStore()
        """Fallback state while Redis is unreachable."""
        self._down_since: float | None = None
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        """True while serving from local memory because Redis failed."""
        return self._down_since is not None

    def _use_redis(self, now: float | None) -> bool:
        down = self._down_since
        return down is None or (now is not None and now - down >= self.reconnect_after_s)

    def _failed(self, now: float | None, exc: BaseException) -> None:
        with self._lock:
            first = self._down_since is None
            self._down_since = now if now is not None else (self._down_since or 0.0)
        if first:
            logger.warning("breaker store: Redis unreachable (%s: %s); using local in-memory "
                           "breaker state until it is back", type(exc).__name__, exc)

    def _ok(self) -> None:
        if self._down_since is not None:
            with self._lock:
                self._down_since = None
            logger.info("breaker store: Redis is back; shared breaker state restored")

    def allow(self, key: str, now: float, cfg: BreakerConfig) -> tuple[int, Transition | None]:
        if self._use_redis(now):
            try:
                out = self._allow(keys=[self.prefix + key], args=_args(self._now(), cfg))
            except self._errors as exc:
                self._failed(now, exc)
            else:
                self._ok()
                transition = tuple(_text(v) for v in out[1:4]) if len(out) > 1 else None
                return int(out[0]), transition  # type: ignore[return-value]
        return self.local.allow(key, now, cfg)

    def record(self, key: str, now: float, cfg: BreakerConfig, outcome: str, grant: int,
               cooldown_s: float = 0) -> Transition | None:
        if self._use_redis(now):
            args = [*_args(self._now(), cfg), outcome, grant, repr(float(cooldown_s))]
            try:
                out = self._record(keys=[self.prefix + key], args=args)
            except self._errors as exc:
                self._failed(now, exc)
            else:
                self._ok()
                return tuple(_text(v) for v in out) if out else None  # type: ignore[return-value]
        return self.local.record(key, now, cfg, outcome, grant, cooldown_s)

    def snapshot(self, key: str, now: float | None = None,
                 cfg: BreakerConfig | None = None) -> Record | None:
        if self._use_redis(now):
            try:
                if now is None or cfg is None:
                    raw = self._client.get(self.prefix + key)
                    return None if raw is None else json.loads(raw)
                out = self._peek(keys=[self.prefix + key], args=_args(self._now(), cfg))
            except self._errors as exc:
                self._failed(now, exc)
            else:
                self._ok()
                if len(out) < 2:
                    return None
                return machine.to_frame(json.loads(out[1]), float(out[0]), now, cfg)
        return self.local.snapshot(key, now, cfg)

    def reset(self, key: str) -> None:
        self.local.reset(key)
        try:
            self._client.delete(self.prefix + key)
        except self._errors as exc:
            self._failed(None, exc)

    def _now(self) -> float | None:
        """The injected store clock, or None: the script reads the server's ``TIME``."""
        return None if self.clock is None else self.clock()

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        state = "degraded to memory" if self.degraded else "ok"
        return f"RedisBreakerStore(prefix={self.prefix!r}, {state})"

