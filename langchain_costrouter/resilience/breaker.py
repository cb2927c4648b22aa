"""Circuit breakers per model (and optionally per provider), over a pluggable store.

Usage in a fallback loop::

    permit = breakers.allow(name)            # non-blocking: a Permit, or None to skip
    if permit is None:
        continue
    try:
        result = call()
    except Exception as exc:
        verdict = breakers.failure(permit, exc)   # classifies, updates state
        if verdict.action is Action.FAIL_FAST:
            raise
        continue
    breakers.success(permit)

A permit of a half-open breaker is the one probe: whoever else asks meanwhile gets ``None``.
Report every permit exactly once (``success``, ``failure`` or ``release`` for a cancelled
call); a probe that is never reported is given to another caller after ``probe_timeout_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from langchain_costrouter.resilience import machine
from langchain_costrouter.resilience.failures import Action, Classify, Verdict, classify
from langchain_costrouter.resilience.machine import BreakerConfig, Transition
from langchain_costrouter.resilience.store import BreakerStore, MemoryBreakerStore

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Returns seconds; monotonic for a private store, wall clock for a shared one."""


@dataclass(frozen=True, slots=True)
class TransitionEvent:
    """A breaker changed state (reported to ``on_transition`` listeners and logged)."""

    model: str
    """Model name, or ``provider:<name>`` for a provider-wide breaker."""
    old_state: str
    new_state: str
    reason: str
    at: float
    """Clock time of the transition."""


Listener = Callable[[TransitionEvent], object]
Grant = tuple[str, int, BreakerConfig, str]
"""(store key, grant, config, label) held by a permit."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Health:
    """Observable state of one breaker, from :meth:`Breakers.health`."""

    model: str
    state: str
    """``closed``, ``open`` or ``half_open`` (an open breaker past ``next_probe_at`` stays
    ``open`` until a caller takes the probe)."""
    failures: int
    """Failures in the current sliding window (closed state)."""
    calls: int
    """Calls counted in the window (successes are counted only when a rate rule is set)."""
    opened_at: float | None
    next_probe_at: float | None
    """When an open breaker lets a probe through; for half-open, when the probe lease ends."""
    cooldown_until: float | None
    """Skipped until then after a 429 or out-of-credit error."""
    trips: int
    """Consecutive trips (the recovery timeout grows with it)."""
    available: bool
    """Whether a call would be let through now."""


class Permit:
    """Leave to make one call; hand it back to ``success``/``failure``/``release``."""

    __slots__ = ("_done", "_grants", "model", "transitions")

    def __init__(self, model: str, grants: tuple[Grant, ...],
                 transitions: list[TransitionEvent] | None = None) -> None:
        self.model = model
        self._grants = grants
        self._done = False
        self.transitions: list[TransitionEvent] = transitions if transitions is not None else []
        """Transitions this permit caused: when it was granted and when it was reported."""

    @property
    def probe(self) -> bool:
        """True if this call is a half-open probe."""
        return any(g[1] > 0 for g in self._grants)

    def __repr__(self) -> str:
        return f"Permit({self.model!r}, probe={self.probe})"


class Breakers:
    """One breaker per model, plus one per provider when ``provider_config`` is given."""

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        store: BreakerStore | None = None,
        clock: Clock | None = None,
        classify: Classify = classify,
        configs: Mapping[str, BreakerConfig] | None = None,
        providers: Mapping[str, str] | None = None,
        provider_config: BreakerConfig | None = None,
        listeners: Iterable[Listener] = (),
    ) -> None:
        """
        Args:
            config: rules for every model (default :class:`BreakerConfig`).
            store: where state lives (default: this process's memory).
            clock: seconds; default ``time.monotonic``, or ``time.time`` for a shared store.
            classify: ``classify(exc) -> Verdict`` used by :meth:`failure`.
            configs: per-model overrides of ``config``.
            providers: model name -> provider name, for provider-wide breaking.
            provider_config: rules of the provider-wide breakers (``None``: off).
            listeners: called with each :class:`TransitionEvent`.
        """
        self.config = config or BreakerConfig()
        self.store: BreakerStore = store if store is not None else MemoryBreakerStore()
        self.clock: Clock = clock or (time.time if self.store.shared else time.monotonic)
        self.classify = classify
        self.configs = dict(configs or {})
        self.providers = dict(providers or {})
        self.provider_config = provider_config
        self._listeners: list[Listener] = list(listeners)
        self._plans: dict[str, tuple[tuple[str, str, BreakerConfig], ...]] = {}
        self._lock = threading.Lock()

    # -- keys ---------------------------------------------------------------------------
    def _keys(self, model: str) -> tuple[tuple[str, str, BreakerConfig], ...]:
        """(store key, label, config) of the breakers guarding ``model``: provider first."""
        plan = self._plans.get(model)
        if plan is None:
            keys = []
            provider = self.providers.get(model)
            if provider is not None and self.provider_config is not None:
                keys.append((f"p:{provider}", f"provider:{provider}", self.provider_config))
            keys.append((f"m:{model}", model, self.configs.get(model, self.config)))
            plan = self._plans[model] = tuple(keys)
        return plan

    # -- the router's calls ---------------------------------------------------------------
    def allow(self, model: str) -> Permit | None:
        """A permit to call ``model`` now, or ``None`` (open, cooling down, probe taken)."""
        return self.request(model)[0]

    def request(self, model: str) -> tuple[Permit | None, list[TransitionEvent]]:
        """:meth:`allow`, with the transitions asking caused (open -> half-open on a probe).

        A granted permit keeps them in ``permit.transitions`` too, and collects there the
        transitions its report causes, so a caller reads what *its* call did from the return
        values alone (no listener: two routers sharing these breakers never see each other's).
        """
        now = self.clock()
        grants: list[Grant] = []
        events: list[TransitionEvent] = []
        for key, label, cfg in self._keys(model):
            grant, transition = self.store.allow(key, now, cfg)
            if transition is not None:
                events.append(self._emit(label, transition, now))
            if grant == machine.DENY:
                for g in grants:  # give back a provider probe slot already taken
                    if g[1] > 0:
                        events.extend(self._record(g, now, "neutral"))
                return None, events
            grants.append((key, grant, cfg, label))
        return Permit(model, tuple(grants), list(events)), events

    def success(self, permit: Permit) -> list[TransitionEvent]:
        """The permitted call succeeded (a probe closes its breaker); returns the transitions."""
        return self._finish(permit, "success")

    def failure(self, permit: Permit, exc: BaseException | Verdict) -> Verdict:
        """The permitted call failed: classify ``exc``, update the breaker, return the verdict.

        TRIP counts a failure; COOLDOWN skips the model (or its provider, when provider-wide
        and provider breaking is on) for ``cooldown_s``; FAIL_FAST and FALLBACK blame nobody.
        Transitions it causes are added to ``permit.transitions``.
        """
        verdict = exc if isinstance(exc, Verdict) else self.classify(exc)
        if verdict.action is Action.TRIP:
            self._finish(permit, "failure")
            return verdict
        cooldown_key = None
        if verdict.action is Action.COOLDOWN and verdict.cooldown_s:
            has_provider = len(permit._grants) > 1
            cooldown_key = permit._grants[0 if verdict.provider_wide and has_provider else -1][0]
        self._finish(permit, "neutral", cooldown_key, verdict.cooldown_s or 0.0)
        return verdict

    def release(self, permit: Permit) -> list[TransitionEvent]:
        """The call ended without a verdict (cancelled): free the probe slot, blame nobody."""
        return self._finish(permit, "neutral")

    def is_available(self, model: str) -> bool:
        """Whether :meth:`allow` would let a call through now, without taking the probe."""
        now = self.clock()
        for key, _, cfg in self._keys(model):
            rec = self.store.snapshot(key, now, cfg)  # in this clock's frame
            if rec is not None and not machine.available(rec, now):
                return False
        return True

    # -- observation -----------------------------------------------------------------------
    def health(self, models: Iterable[str] = ()) -> dict[str, Health]:
        """State of every breaker used so far (and of ``models``), by model/provider label."""
        now = self.clock()
        for model in models:
            self._keys(model)
        out: dict[str, Health] = {}
        for model in list(self._plans):
            for key, label, cfg in self._keys(model):
                if label in out:
                    continue
                rec = self.store.snapshot(key, now, cfg) or machine.new_record(cfg)
                calls, failures = machine.window(rec, now, cfg)
                state = rec["s"]
                out[label] = Health(
                    model=label, state=state, failures=failures, calls=calls,
                    opened_at=rec["oa"] if rec["oa"] >= 0 else None,
                    next_probe_at={machine.OPEN: rec["ou"], machine.HALF_OPEN: rec["pu"] or None
                                   }.get(state),
                    cooldown_until=rec["cu"] if rec["cu"] > now else None,
                    trips=rec["t"], available=machine.available(rec, now))
        return out

    def on_transition(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` on every transition; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def reset(self, model: str) -> None:
        """Forget the model's breaker state (closed, no failures, no cooldown)."""
        self.store.reset(f"m:{model}")

    # -- internals ---------------------------------------------------------------------------
    def _finish(self, permit: Permit, outcome: str, cooldown_key: str | None = None,
                cooldown_s: float = 0.0) -> list[TransitionEvent]:
        if permit._done:
            return []
        permit._done = True
        events: list[TransitionEvent] = []
        now = None
        for g in permit._grants:
            key, grant, cfg, _ = g
            until = cooldown_s if key == cooldown_key else 0.0  # a duration: no clock stored
            if (grant == machine.NORMAL and until == 0.0 and outcome != "failure"
                    and (outcome == "neutral" or cfg.failure_rate is None)):
                continue  # nothing to record (see machine.record): skip the store round trip
            now = self.clock() if now is None else now
            events.extend(self._record(g, now, outcome, until))
        permit.transitions.extend(events)
        return events

    def _record(self, g: Grant, now: float, outcome: str,
                cooldown_s: float = 0.0) -> list[TransitionEvent]:
        key, grant, cfg, label = g
        transition = self.store.record(key, now, cfg, outcome, grant, cooldown_s)
        return [] if transition is None else [self._emit(label, transition, now)]

    def _emit(self, label: str, transition: Transition, now: float) -> TransitionEvent:
        event = TransitionEvent(label, transition[0], transition[1], transition[2], now)
        level = logging.WARNING if event.new_state == machine.OPEN else logging.INFO
        logger.log(level, "breaker %s: %s -> %s (%s)", label, event.old_state,
                   event.new_state, event.reason)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("breaker transition listener %r failed", listener)
        return event

    def __repr__(self) -> str:
        return f"Breakers(models={len(self._plans)}, store={self.store!r})"
