"""Pieces of the fault-injection benchmark (``benchmarks/faults.py``): the catalog, call tags,
a breaker that logs every permit, and the checks run over that log.

The log is the ground truth for the breaker claims. Every entry is appended synchronously on the
event loop thread by ``allow``/``success``/``failure``/``release`` and by the transition
listener, so its order *is* the order in which the breakers changed and granted. Replaying it
per model gives the exact breaker state at each grant; the server's own request counters are
then compared with the number of grants, so nothing reached a model without a permit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.resilience import Breakers, Permit, TransitionEvent, Verdict
from langchain_costrouter.routing.levels import LEVELS

FLAKY, BURSTY, HANGING, HEALTHY = "flaky-500", "bursty-429", "hanging", "healthy"
MODELS = (FLAKY, BURSTY, HANGING, HEALTHY)
"""Cheapest first: every level tries the faulty models before the healthy one."""


def fault_catalog(
    base_url: str,
    *,
    hang_timeout_s: float = 0.5,
    timeout_s: float = 10.0,
    names: Sequence[str] = MODELS,
) -> Catalog:
    """``names`` served by ``base_url``, priced so that they are tried in the given order.

    Only the hanging model gets the short timeout: a loaded client loop must not turn the
    healthy model's answers into timeouts.
    """
    models = [
        {
            "name": n,
            "provider": f"prov-{n}",
            "model": n,
            "base_url": base_url,
            "api_key_env": None,
            "prices": Prices(input=Decimal(i + 1) / 10, output=Decimal(i + 1) / 5),
            "timeout_s": hang_timeout_s if n == HANGING else timeout_s,
        }
        for i, n in enumerate(names)
    ]
    return Catalog.build({"models": models, "levels": {lv.value: list(names) for lv in LEVELS}})


_ALPHA = "abcdefghijklmnopqrstuvwxyz"


def tag(i: int) -> str:
    """A letters-only id (the server's reply names the prompt's last long words, not digits)."""
    out = ""
    for _ in range(5):
        i, r = divmod(i, 26)
        out = _ALPHA[r] + out
    return "zq" + out


def prompt(i: int) -> str:
    return f"Explain caching briefly for ticket {tag(i)}"


# -- the permit log ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One breaker event: a grant/deny, a report, or a state transition."""

    kind: str
    """``grant`` | ``deny`` | ``report`` | ``transition``."""
    model: str
    at: float
    probe: bool = False
    permit: int = 0
    """``id()`` of the permit, to pair a probe's grant with its report."""
    outcome: str = ""
    """Report: ``success``/``failure``/``release``; transition: ``old->new``."""
    cooldown_until: float = 0.0
    """Report of a COOLDOWN failure: the stored cooldown end."""


class RecordingBreakers(Breakers):
    """``Breakers`` that appends every decision to ``log`` (single event loop: exact order)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log: list[Entry] = []
        self.on_transition(self._transition)

    def _transition(self, ev: TransitionEvent) -> None:
        self.log.append(Entry("transition", ev.model, ev.at, outcome=f"{ev.old_state}->"
                              f"{ev.new_state}"))

    def allow(self, model: str) -> Permit | None:
        permit = super().allow(model)
        now = self.clock()
        if permit is None:
            self.log.append(Entry("deny", model, now))
        else:
            self.log.append(Entry("grant", model, now, permit.probe, id(permit)))
        return permit

    def success(self, permit: Permit) -> None:
        super().success(permit)
        self.log.append(Entry("report", permit.model, self.clock(), permit.probe, id(permit),
                              "success"))

    def failure(self, permit: Permit, exc: BaseException | Verdict) -> Verdict:
        verdict = super().failure(permit, exc)
        rec = self.store.snapshot(f"m:{permit.model}") or {}
        self.log.append(Entry("report", permit.model, self.clock(), permit.probe, id(permit),
                              "failure", float(rec.get("cu", 0.0))))
        return verdict

    def release(self, permit: Permit) -> None:
        super().release(permit)
        self.log.append(Entry("report", permit.model, self.clock(), permit.probe, id(permit),
                              "release"))


# -- checks over the log ----------------------------------------------------------------------


@dataclass
class ModelAudit:
    """What the log says about one model."""

    grants: int = 0
    probes: int = 0
    denies: int = 0
    grants_while_open: int = 0
    """Normal grants while the breaker was open or half-open: must be 0."""
    grants_in_cooldown: int = 0
    """Grants before a stored Retry-After cooldown ended: must be 0."""
    overlapping_probes: int = 0
    """Grants (probe or normal) while a half-open probe was outstanding: must be 0."""
    max_probes_in_flight: int = 0
    cooldowns: int = 0
    transitions: list[tuple[float, str]] = field(default_factory=list)


def audit(log: Iterable[Entry]) -> dict[str, ModelAudit]:
    """Replay the log per model and count every breach of the breaker's promises."""
    out: dict[str, ModelAudit] = defaultdict(ModelAudit)
    state: dict[str, str] = defaultdict(lambda: "closed")
    probe_out: dict[str, set[int]] = defaultdict(set)
    cooldown: dict[str, float] = defaultdict(float)
    for e in log:
        a = out[e.model]
        if e.kind == "transition":
            state[e.model] = e.outcome.split("->")[1]
            a.transitions.append((e.at, e.outcome))
        elif e.kind == "deny":
            a.denies += 1
        elif e.kind == "grant":
            a.grants += 1
            if probe_out[e.model]:
                a.overlapping_probes += 1
            if e.at < cooldown[e.model]:
                a.grants_in_cooldown += 1
            if e.probe:
                a.probes += 1
                probe_out[e.model].add(e.permit)
                a.max_probes_in_flight = max(a.max_probes_in_flight, len(probe_out[e.model]))
            elif state[e.model] != "closed":
                a.grants_while_open += 1
        elif e.kind == "report":
            probe_out[e.model].discard(e.permit)
            if e.cooldown_until > cooldown[e.model]:
                cooldown[e.model] = e.cooldown_until
                a.cooldowns += 1
    return dict(out)


def network_attempts(attempts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attempts that made a request (``ok``/``error``); ``skipped`` ones cost nothing."""
    return [a for a in attempts if a["status"] in ("ok", "error")]


def per_model_attempts(calls: Iterable[Sequence[dict[str, Any]]]) -> dict[str, Counter[str]]:
    """model -> Counter(status) over every call's attempts."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for attempts in calls:
        for a in attempts:
            out[a["tier"]][a["status"]] += 1
    return dict(out)
