"""Resilience layer: circuit breakers, failure classification, retries, concurrency limits.

The router's API, in the order a call uses it::

    from langchain_costrouter.resilience import (
        Action, Breakers, BreakerConfig, ConcurrencyLimiter, RetryPolicy, classify)

    breakers = Breakers(BreakerConfig(failure_threshold=5, window_s=60, recovery_s=30),
                        providers={"gpt-4o": "openai"}, provider_config=None)
    breakers.on_transition(lambda ev: dispatch_custom_event("costrouter_breaker", ev))
    limiter = ConcurrencyLimiter(per_model=50, per_provider=None, max_queue=1000)
    retry = RetryPolicy(max_attempts=2, deadline_s=30)

    for name in candidates:                      # rank with breakers.is_available(name)
        permit = breakers.allow(name)            # non-blocking: Permit, or None -> next model
        if permit is None:
            continue
        try:
            with limiter.slot(name, priority=p): # async: `async with limiter.aslot(...)`
                result = call(name)
        except BaseException as exc:
            if not isinstance(exc, Exception):   # cancelled: blame nobody, free the probe
                breakers.release(permit); raise
            verdict = breakers.failure(permit, exc)   # -> Verdict(action, reason, ...)
            if verdict.action is Action.FAIL_FAST:
                raise                            # the request is at fault (400/401/403/404)
            continue                             # TRIP / COOLDOWN / FALLBACK -> next model
        breakers.success(permit)

Pieces (each a small module):

* ``failures``: ``classify(exc) -> Verdict`` (replaceable by any plain callable); ``Action``
  TRIP / COOLDOWN / FAIL_FAST / FALLBACK; ``parse_retry_after``; ``Classifier`` knobs.
* ``breaker``: ``Breakers.allow/success/failure/release/is_available/health/on_transition``,
  ``Permit``, ``TransitionEvent(model, old_state, new_state, reason, at)``, ``Health``.
  Clock injected (``clock=``); every transition is logged and sent to listeners.
* ``machine``: ``BreakerConfig`` and the pure state machine every store runs.
* ``store`` / ``sqlite_store`` / ``redis_store``: ``BreakerStore`` interface;
  ``MemoryBreakerStore`` (default), ``SQLiteBreakerStore(path)``,
  ``RedisBreakerStore(url)`` (Lua, atomic; degrades to memory with one warning when Redis is
  down). Shared stores measure recovery on their own clock (SQLite's ``julianday('now')``,
  Redis ``TIME`` inside the script), never a host's: skewed or stepping host clocks cannot
  lock a fleet out; cooldowns cross as durations; a step back is repaired (``machine.rebase``).
* ``retry``: ``RetryPolicy(max_attempts, deadline_s, wait, sleep, asleep, rng).call/acall``,
  waits ``wait_exponential``, ``wait_full_jitter``, ``wait_fixed``, composable with ``+``.
* ``concurrency``: ``ConcurrencyLimiter`` (threads + asyncio, priority queue,
  ``QueueFullError``, ``shutdown()`` -> ``ShutdownError``).
"""

from langchain_costrouter.resilience.breaker import Breakers, Health, Permit, TransitionEvent
from langchain_costrouter.resilience.concurrency import ConcurrencyLimiter, Lease
from langchain_costrouter.resilience.failures import (
    Action,
    Classifier,
    Verdict,
    classify,
    parse_retry_after,
    retry_after_of,
)
from langchain_costrouter.resilience.machine import BreakerConfig
from langchain_costrouter.resilience.retry import (
    RetryPolicy,
    RetryState,
    Wait,
    wait_combine,
    wait_exponential,
    wait_fixed,
    wait_full_jitter,
)
from langchain_costrouter.resilience.sqlite_store import SQLiteBreakerStore
from langchain_costrouter.resilience.store import BreakerStore, MemoryBreakerStore


def __getattr__(name: str) -> object:
    if name == "RedisBreakerStore":  # imports redis only when asked for
        from langchain_costrouter.resilience.redis_store import RedisBreakerStore

        return RedisBreakerStore
    raise AttributeError(name)


__all__ = [
    "Action",
    "BreakerConfig",
    "BreakerStore",
    "Breakers",
    "Classifier",
    "ConcurrencyLimiter",
    "Health",
    "Lease",
    "MemoryBreakerStore",
    "Permit",
    "RedisBreakerStore",
    "RetryPolicy",
    "RetryState",
    "SQLiteBreakerStore",
    "TransitionEvent",
    "Verdict",
    "Wait",
    "classify",
    "parse_retry_after",
    "retry_after_of",
    "wait_combine",
    "wait_exponential",
    "wait_fixed",
    "wait_full_jitter",
]
