"""Run-time state of the local server: per-model dice, fault plans and counters (thread-safe)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_costrouter.testing.config import ModelBehaviour, ServerConfig
from langchain_costrouter.testing.faults import FaultDice, FaultPlan


def _rng(seed: int, model: str, purpose: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}|{model}|{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(kw_only=True)
class ModelStats:
    requests: int = 0
    ok: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    """Non-fault error responses by status (400, 404, ...)."""
    in_flight: int = 0
    max_in_flight: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    """Simulated latency of each request (the first 10,000)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "faults": dict(self.faults),
            "faults_total": sum(self.faults.values()),
            "errors": dict(self.errors),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latencies_ms": list(self.latencies_ms),
        }


@dataclass(frozen=True)
class Ticket:
    """What the dice decided for one request."""

    index: int
    latency_s: float
    fault: str | None


class ServerState:
    """Shared by every request; safe to use from the test thread while the server runs."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._behaviours: dict[str, ModelBehaviour] = dict(config.models)
        self._dice: dict[str, FaultDice] = {}
        self._latency_rng: dict[str, random.Random] = {}
        self._stats: dict[str, ModelStats] = {}
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self.closing = False

    # configuration ----------------------------------------------------------------------

    def behaviour(self, model: str) -> ModelBehaviour | None:
        with self._lock:
            found = self._behaviours.get(model)
        return found if found is not None else self.config.behaviour(model)

    def models(self) -> dict[str, ModelBehaviour]:
        with self._lock:
            return dict(self._behaviours)

    def set_faults(self, model: str, plan: FaultPlan | None) -> None:
        """Replace ``model``'s fault plan (``None`` heals it); its script starts over."""
        plan = plan or FaultPlan()
        with self._lock:
            base = self._behaviours.get(model) or self.config.default
            self._behaviours[model] = replace(base, faults=plan)
            dice = self._dice.get(model)
            if dice is not None:
                self._dice[model] = FaultDice(plan=plan, rng=dice.rng)

    # per request ------------------------------------------------------------------------

    def begin(self, model: str, b: ModelBehaviour) -> Ticket:
        with self._lock:
            st = self._stats.setdefault(model, ModelStats())
            st.requests += 1
            st.in_flight += 1
            st.max_in_flight = max(st.max_in_flight, st.in_flight)
            dice = self._dice.get(model)
            if dice is None:
                dice = self._dice[model] = FaultDice(
                    plan=b.faults, rng=_rng(self.config.seed, model, "faults")
                )
            fault = dice.draw()
            rng = self._latency_rng.setdefault(model, _rng(self.config.seed, model, "latency"))
            z = rng.gauss(0.0, 1.0)
            latency = b.p50_latency_ms * self.config.latency_scale * math.exp(b.latency_sigma * z)
            if len(st.latencies_ms) < 10_000:
                st.latencies_ms.append(round(latency, 3))
            if fault is not None:
                st.faults[fault] = st.faults.get(fault, 0) + 1
            return Ticket(index=st.requests - 1, latency_s=latency / 1000.0, fault=fault)

    def end(
        self, model: str, *, ok: bool, prompt_tokens: int = 0, completion_tokens: int = 0
    ) -> None:
        with self._lock:
            st = self._stats[model]
            st.in_flight -= 1
            if ok:
                st.ok += 1
                st.prompt_tokens += prompt_tokens
                st.completion_tokens += completion_tokens

    def record_error(self, model: str, status: int) -> None:
        with self._lock:
            st = self._stats.setdefault(model, ModelStats())
            st.errors[str(status)] = st.errors.get(str(status), 0) + 1

    def stats(self) -> dict[str, dict[str, Any]]:
        """Counters per model: requests, ok, faults by kind, in-flight, max in-flight, tokens."""
        with self._lock:
            return {m: s.as_dict() for m, s in self._stats.items()}

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = {m: ModelStats(in_flight=s.in_flight) for m, s in self._stats.items()}

    # shutdown ---------------------------------------------------------------------------

    async def wait_closing(self) -> None:
        """Return when :meth:`close` is called (wakes hanging requests at server stop)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        entry = (loop, fut)
        with self._lock:
            if self.closing:
                return
            self._waiters.add(entry)
        try:
            await fut
        finally:
            with self._lock:
                self._waiters.discard(entry)

    def close(self) -> None:
        with self._lock:
            self.closing = True
            waiters = list(self._waiters)
        for loop, fut in waiters:
            loop.call_soon_threadsafe(lambda f=fut: f.done() or f.set_result(None))
