"""Redis ledger: one budget shared by many processes and hosts.

Reserve, reconcile, release and expiry are each one Lua script, so Redis runs them atomically:
no two processes can both take the last of a budget. Keys (``prefix`` defaults to
``costrouter:``): ``c:<counter>`` hashes bucket -> amount, ``r:<id>`` hashes one reservation,
``rz`` orders reservations by expiry, ``usage`` lists usage rows as JSON.

A dead or unreachable Redis raises :class:`LedgerUnavailableError` within the socket timeouts
(0.5 s by default), never a hang: redis-py's default retries are switched off. What the guard
does then is its ``on_ledger_error`` setting (fail-closed by default).

Expiry uses the callers' clocks (``now``), so hosts sharing a budget should be NTP-synced.
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

from langchain_costrouter.budget.ledger import Charge, Grant, Ledger, Tally, UsageRow
from langchain_costrouter.exceptions import LedgerUnavailableError

T = TypeVar("T")

_COMMON = """
local p = ARGV[1]
local function expire(now)
  local dead = redis.call('ZRANGEBYSCORE', p..'rz', '-inf', now, 'LIMIT', 0, 256)
  for _, id in ipairs(dead) do
    local r = redis.call('HGETALL', p..'r:'..id)
    for i = 1, #r, 2 do
      local sep = string.find(r[i], '|', 1, true)
      local k = p..'c:'..string.sub(r[i], sep + 1)
      redis.call('HINCRBY', k, string.sub(r[i], 1, sep - 1), -tonumber(r[i + 1]))
    end
    redis.call('DEL', p..'r:'..id)
    redis.call('ZREM', p..'rz', id)
  end
  return #dead
end
local function tally(ck, since)
  local h = redis.call('HGETALL', ck)
  local used, oldest = 0, -1
  for i = 1, #h, 2 do
    local b, a = tonumber(h[i]), tonumber(h[i + 1])
    if b < since then
      redis.call('HDEL', ck, h[i])
    else
      used = used + a
      if a > 0 and (oldest < 0 or b < oldest) then oldest = b end
    end
  end
  return used, oldest
end
"""

# ARGV: prefix, id, now, expires_at, n, then n x (key, amount, limit, bucket, since, keep_s)
_RESERVE = _COMMON + """
local id, now, exp, n = ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
expire(now)
local out, ok = {}, 1
for i = 0, n - 1 do
  local j = 6 + i * 6
  local amount, limit = tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
  local used, oldest = tally(p..'c:'..ARGV[j], tonumber(ARGV[j + 4]))
  if amount > 0 and used + amount > limit then ok = 0 end
  out[#out + 1] = used
  out[#out + 1] = oldest
end
if ok == 1 then
  for i = 0, n - 1 do
    local j = 6 + i * 6
    local ck = p..'c:'..ARGV[j]
    if tonumber(ARGV[j + 1]) ~= 0 then
      redis.call('HINCRBY', ck, ARGV[j + 3], ARGV[j + 1])
    end
    redis.call('EXPIRE', ck, ARGV[j + 5])
    redis.call('HSET', p..'r:'..id, ARGV[j + 3]..'|'..ARGV[j], ARGV[j + 1])
  end
  redis.call('ZADD', p..'rz', exp, id)
end
table.insert(out, 1, ok)
return out
"""

# ARGV: prefix, id, n, then n x (key, bucket, actual)
_RECONCILE = _COMMON + """
local id, n = ARGV[2], tonumber(ARGV[3])
local rk = p..'r:'..id
local held = redis.call('EXISTS', rk)
for i = 0, n - 1 do
  local j = 4 + i * 3
  local f = ARGV[j + 1]..'|'..ARGV[j]
  local reserved = tonumber(redis.call('HGET', rk, f) or '0')
  redis.call('HDEL', rk, f)
  local delta = tonumber(ARGV[j + 2]) - reserved
  if delta ~= 0 then redis.call('HINCRBY', p..'c:'..ARGV[j], ARGV[j + 1], delta) end
end
local rest = redis.call('HGETALL', rk)
for i = 1, #rest, 2 do
  local sep = string.find(rest[i], '|', 1, true)
  redis.call('HINCRBY', p..'c:'..string.sub(rest[i], sep + 1),
             string.sub(rest[i], 1, sep - 1), -tonumber(rest[i + 1]))
end
redis.call('DEL', rk)
redis.call('ZREM', p..'rz', id)
return held
"""

# ARGV: prefix, id
_RELEASE = _COMMON + """
local rk = p..'r:'..ARGV[2]
local r = redis.call('HGETALL', rk)
for i = 1, #r, 2 do
  local sep = string.find(r[i], '|', 1, true)
  redis.call('HINCRBY', p..'c:'..string.sub(r[i], sep + 1),
             string.sub(r[i], 1, sep - 1), -tonumber(r[i + 1]))
end
redis.call('DEL', rk)
redis.call('ZREM', p..'rz', ARGV[2])
return #r > 0 and 1 or 0
"""

# ARGV: prefix, now, key, since   (key empty: only expire)
_TALLY = _COMMON + """
local n = expire(tonumber(ARGV[2]))
if ARGV[3] == '' then return {n, 0, -1} end
local used, oldest = tally(p..'c:'..ARGV[3], tonumber(ARGV[4]))
return {n, used, oldest}
"""


class RedisLedger(Ledger):
    """A ledger in Redis, atomic across processes and hosts through Lua scripts."""

    blocking_io = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "costrouter:",
        socket_timeout: float = 0.5,
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
            keep = max(int(now - c.since) * 2 + 3600, int(ttl) + 60)
            argv += [c.key, c.amount, c.limit, c.bucket, c.since, keep]
        out = self._call(lambda: self._reserve(keys=[], args=argv))
        tallies = tuple(
            Tally(int(out[i]), None if int(out[i + 1]) < 0 else int(out[i + 1]))
            for i in range(1, len(out), 2)
        )
        return Grant(bool(out[0]), tallies)

    def reconcile(self, reservation_id: str, charges: Sequence[Charge], *, now: float) -> bool:
        argv: list[Any] = [self.prefix, reservation_id, len(charges)]
        for c in charges:
            argv += [c.key, c.bucket, c.amount]
        return bool(self._call(lambda: self._reconcile(keys=[], args=argv)))

    def release(self, reservation_id: str, *, now: float) -> bool:
        return bool(self._call(lambda: self._release(keys=[], args=[self.prefix, reservation_id])))

    def tally(self, key: str, since: int, *, now: float) -> Tally:
        out = self._call(lambda: self._tally(keys=[], args=[self.prefix, repr(now), key, since]))
        while int(out[0]) >= 256:  # more expired reservations than one sweep takes
            out = self._call(
                lambda: self._tally(keys=[], args=[self.prefix, repr(now), key, since])
            )
        return Tally(int(out[1]), None if int(out[2]) < 0 else int(out[2]))

    def expire(self, *, now: float) -> int:
        total = 0
        while True:
            out = self._call(lambda: self._tally(keys=[], args=[self.prefix, repr(now), "", 0]))
            total += int(out[0])
            if int(out[0]) < 256:
                return total

    def pending(self, *, now: float) -> int:
        return int(self._call(lambda: self._r.zcount(self.prefix + "rz", f"({now!r}", "+inf")))

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
