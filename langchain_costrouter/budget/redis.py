"""Redis ledger: one budget shared by many processes and hosts.

Reserve, reconcile, release and expiry are each one Lua script, so Redis runs them atomically:
no two processes can both take the last of a budget. Keys (``prefix`` defaults to
``costrouter:``): ``c:<counter>`` hashes bucket -> amount, ``r:<id>`` hashes one reservation,
``rz`` orders reservations by expiry, ``usage`` lists usage rows as JSON.

A dead or unreachable Redis raises :class:`LedgerUnavailableError` within the socket timeouts
(0.4 s by default, so a guard refuses within 0.5 s), never a hang: redis-py's default retries
are switched off. What the guard does then is its ``on_ledger_error`` setting (fail-closed by
default).

Reads (``tally``) are read-only scripts. Old buckets are pruned by writers only, below each
charge's ``prune_before`` (a window plus three days before the writer's window start), so a host
with a skewed clock cannot wipe the current window. Reservation expiry uses the writers'
clocks (``now``): a host whose clock is ahead by more than ``reservation_ttl`` can release the
others' live reservations early, so hosts sharing a budget should still be NTP-synced.
Keys are built inside the scripts, so this store needs a single Redis (not Redis Cluster).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from langchain_costrouter.budget.ledger import (
    OUTPUT_HISTORY,
    SETTLED_KEEP_S,
    Charge,
    Grant,
    Ledger,
    Tally,
    UsageRow,
)
from langchain_costrouter.exceptions import LedgerUnavailableError

T = TypeVar("T")

_COMMON = """
local p = ARGV[1]
local function split(f)
  local sep = string.find(f, '|', 1, true)
  return string.sub(f, 1, sep - 1), string.sub(f, sep + 1)
end
local function unhold(rk)
  local r = redis.call('HGETALL', rk)
  for i = 1, #r, 2 do
    local b, key = split(r[i])
    redis.call('HINCRBY', p..'c:'..key, b, -tonumber(r[i + 1]))
    redis.call('HINCRBY', p..'p:'..key, b, -tonumber(r[i + 1]))
  end
  redis.call('DEL', rk)
  return #r
end
local function expire(now)
  local dead = redis.call('ZRANGEBYSCORE', p..'rz', '-inf', now, 'LIMIT', 0, 256)
  for _, id in ipairs(dead) do
    unhold(p..'r:'..id)
    redis.call('ZREM', p..'rz', id)
  end
  return #dead
end
local function sum(h, since)
  local total, oldest = 0, -1
  for i = 1, #h, 2 do
    local b, a = tonumber(h[i]), tonumber(h[i + 1])
    if b >= since then
      total = total + a
      if a > 0 and (oldest < 0 or b < oldest) then oldest = b end
    end
  end
  return total, oldest
end
-- read-only: expired but unswept reservations are subtracted, nothing is deleted
local function tally(key, since, now)
  local used, oldest = sum(redis.call('HGETALL', p..'c:'..key), since)
  local held = sum(redis.call('HGETALL', p..'p:'..key), since)
  local dead = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', p..'rz', '-inf', now)) do
    local r = redis.call('HGETALL', p..'r:'..id)
    for i = 1, #r, 2 do
      local b, k = split(r[i])
      if k == key and tonumber(b) >= since then dead = dead + tonumber(r[i + 1]) end
    end
  end
  return used - dead, oldest, held - dead
end
local function prune(key, before)
  for _, ck in ipairs({p..'c:'..key, p..'p:'..key}) do
    local h = redis.call('HKEYS', ck)
    for _, b in ipairs(h) do
      if tonumber(b) < before then redis.call('HDEL', ck, b) end
    end
  end
end
"""

# ARGV: prefix, id, now, expires_at, n, then n x (key, amount, limit, bucket, since, keep_s,
# prune_before or '')
_RESERVE = _COMMON + """
local id, now, exp, n = ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
expire(now)
local out, ok = {}, 1
for i = 0, n - 1 do
  local j = 6 + i * 7
  if ARGV[j + 6] ~= '' then prune(ARGV[j], tonumber(ARGV[j + 6])) end
  local amount, limit = tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
  local used, oldest, held = tally(ARGV[j], tonumber(ARGV[j + 4]), now)
  if amount > 0 and used + amount > limit then ok = 0 end
  out[#out + 1] = used
  out[#out + 1] = oldest
  out[#out + 1] = held
end
if ok == 1 then
  for i = 0, n - 1 do
    local j = 6 + i * 7
    if tonumber(ARGV[j + 1]) ~= 0 then
      redis.call('HINCRBY', p..'c:'..ARGV[j], ARGV[j + 3], ARGV[j + 1])
      redis.call('HINCRBY', p..'p:'..ARGV[j], ARGV[j + 3], ARGV[j + 1])
    end
    redis.call('EXPIRE', p..'c:'..ARGV[j], ARGV[j + 5])
    redis.call('EXPIRE', p..'p:'..ARGV[j], ARGV[j + 5])
    redis.call('HSET', p..'r:'..id, ARGV[j + 3]..'|'..ARGV[j], ARGV[j + 1])
  end
  redis.call('ZADD', p..'rz', exp, id)
end
table.insert(out, 1, ok)
return out
"""

# ARGV: prefix, id, keep_settled_s, n, then n x (key, bucket, actual)
_RECONCILE = _COMMON + """
local id, n = ARGV[2], tonumber(ARGV[4])
if redis.call('SET', p..'s:'..id, 1, 'NX', 'EX', ARGV[3]) == false then
  return -1  -- a replay: already counted once
end
local rk = p..'r:'..id
local held = redis.call('EXISTS', rk)
for i = 0, n - 1 do
  local j = 5 + i * 3
  local f = ARGV[j + 1]..'|'..ARGV[j]
  local reserved = tonumber(redis.call('HGET', rk, f) or '0')
  redis.call('HDEL', rk, f)
  local delta = tonumber(ARGV[j + 2]) - reserved
  if delta ~= 0 then redis.call('HINCRBY', p..'c:'..ARGV[j], ARGV[j + 1], delta) end
  if reserved ~= 0 then redis.call('HINCRBY', p..'p:'..ARGV[j], ARGV[j + 1], -reserved) end
end
unhold(rk)
redis.call('ZREM', p..'rz', id)
return held
"""

# ARGV: prefix, id
_RELEASE = _COMMON + """
local n = unhold(p..'r:'..ARGV[2])
redis.call('ZREM', p..'rz', ARGV[2])
return n > 0 and 1 or 0
"""

# ARGV: prefix, now
_EXPIRE = _COMMON + """
return expire(tonumber(ARGV[2]))
"""

# ARGV: prefix, now, n, then n x (key, since)
_TALLY = _COMMON + """
local now, n, out = tonumber(ARGV[2]), tonumber(ARGV[3]), {}
for i = 0, n - 1 do
  local used, oldest, held = tally(ARGV[4 + i * 2], tonumber(ARGV[5 + i * 2]), now)
  out[#out + 1] = used
  out[#out + 1] = oldest
  out[#out + 1] = held
end
return out
"""


class RedisLedger(Ledger):
    """A ledger in Redis, atomic across processes and hosts through Lua scripts."""

    blocking_io = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "costrouter:",
        socket_timeout: float = 0.4,
        client: redis.Redis | None = None,
        store_prompts: bool = False,
        max_usage_rows: int = 100_000,
    ) -> None:
        self.prefix = prefix
        self.store_prompts = store_prompts
        self.max_usage_rows = max_usage_rows
        self._url = url
        self._r = client or redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        self._reserve = self._r.register_script(_RESERVE)
        self._reconcile = self._r.register_script(_RECONCILE)
        self._release = self._r.register_script(_RELEASE)
        self._expire = self._r.register_script(_EXPIRE)
        self._tally = self._r.register_script(_TALLY)

    def __repr__(self) -> str:  # the URL may hold a password: show host only
        host = self._r.connection_pool.connection_kwargs.get("host", "?")
        port = self._r.connection_pool.connection_kwargs.get("port", "?")
        return f"RedisLedger(host={host!r}, port={port!r}, prefix={self.prefix!r})"

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise LedgerUnavailableError(
                f"Redis ledger at {self!r} is unreachable: {type(e).__name__}: {e}"
            ) from None

    def reserve(
        self, reservation_id: str, charges: Sequence[Charge], *, now: float, ttl: float
    ) -> Grant:
        argv: list[Any] = [self.prefix, reservation_id, repr(now), repr(now + ttl), len(charges)]
        for c in charges:
            keep = max(int(now - c.since) * 2 + 3600, int(ttl) + 60, 4 * 86_400)
            prune = "" if c.prune_before is None else c.prune_before
            argv += [c.key, c.amount, c.limit, c.bucket, c.since, keep, prune]
        out = self._call(lambda: self._reserve(keys=[], args=argv))
        return Grant(bool(out[0]), _tallies(out[1:]))

    def reconcile(self, reservation_id: str, charges: Sequence[Charge], *, now: float) -> bool:
        argv: list[Any] = [self.prefix, reservation_id, int(SETTLED_KEEP_S), len(charges)]
        for c in charges:
            argv += [c.key, c.bucket, c.amount]
        return int(self._call(lambda: self._reconcile(keys=[], args=argv))) == 1

    def release(self, reservation_id: str, *, now: float) -> bool:
        return bool(self._call(lambda: self._release(keys=[], args=[self.prefix, reservation_id])))

    def tally(self, key: str, since: int, *, now: float) -> Tally:
        return self.tallies([(key, since)], now=now)[0]

    def tallies(self, queries: Sequence[tuple[str, int]], *, now: float) -> list[Tally]:
        argv: list[Any] = [self.prefix, repr(now), len(queries)]
        for key, since in queries:
            argv += [key, since]
        return list(_tallies(self._call(lambda: self._tally(keys=[], args=argv))))

    def expire(self, *, now: float) -> int:
        total = 0
        while True:
            n = int(self._call(lambda: self._expire(keys=[], args=[self.prefix, repr(now)])))
            total += n
            if n < 256:
                return total

    def pending(self, *, now: float) -> int:
        return int(self._call(lambda: self._r.zcount(self.prefix + "rz", f"({now!r}", "+inf")))

    def note_output(self, model: str, tokens: int, *, now: float) -> None:
        key = self.prefix + "o:" + model

        def run() -> None:
            pipe = self._r.pipeline(transaction=True)
            pipe.lpush(key, int(tokens))
            pipe.ltrim(key, 0, OUTPUT_HISTORY - 1)
            pipe.execute()

        self._call(run)

    def recent_outputs(self, model: str, limit: int = 200) -> list[int]:
        raw = self._call(lambda: self._r.lrange(self.prefix + "o:" + model, 0, limit - 1))
        return [int(x) for x in raw]

    def record_usage(self, row: UsageRow) -> None:
        data = json.dumps(asdict(row), sort_keys=True, default=str)
        key = self.prefix + "usage"

        def run() -> None:
            pipe = self._r.pipeline(transaction=True)
            pipe.rpush(key, data)
            pipe.ltrim(key, -self.max_usage_rows, -1)
            pipe.execute()

        self._call(run)

    def usage_rows(self, limit: int = 1000) -> list[UsageRow]:
        raw = self._call(lambda: self._r.lrange(self.prefix + "usage", -limit, -1))
        return [UsageRow(**json.loads(x)) for x in raw]

    def close(self) -> None:
        self._r.close()


def _tallies(flat: Sequence[Any]) -> tuple[Tally, ...]:
    return tuple(
        Tally(int(flat[i]), None if int(flat[i + 1]) < 0 else int(flat[i + 1]), int(flat[i + 2]))
        for i in range(0, len(flat), 3)
    )
