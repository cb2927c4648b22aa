"""Lanes in a routed call: which lane each candidate is priced and served on, the flex tier's
parameter and its refusals, and the batch lane's entry points on the router.

A call asks for a lane with ``lane=`` (kwarg, the router's field, or configurable
``costrouter_lane``), or by a deadline (``lane_deadline_s=``, ``urgency=``;
:func:`~langchain_costrouter.models.lanes.lane_for` picks the cheapest lane that meets it).
A single call is answered synchronously, so it is served on ``realtime`` or ``flex``; the batch
lane is reached through ``router.batch(..., config={"configurable": {"costrouter_lane":
"batch"}})`` or ``router.submit_batch(...)``, and asking a single call for it is a
``ConfigError`` saying so.

Flex is part of the engine's attempt (not a wrapper around it), so invoke, ainvoke, stream and
astream all get it, with the same breakers, limiter, retries and metadata. A 429
``resource_unavailable`` says nothing about the model's health: it never counts against the
breaker, and by the router's :class:`~langchain_costrouter.batch.flex.FlexPolicy` the same model
is tried on realtime (default), flex again after a wait, or a ``FlexCapacityError`` is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from langchain_costrouter.exceptions import (
    BatchLaneUnavailableError,
    ConfigError,
    FlexCapacityError,
)
from langchain_costrouter.models.lanes import Lane, lane_for, lane_prices, offered_lanes, parse_lane
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.pricing.resolver import estimate_cost

if TYPE_CHECKING:
    from langchain_costrouter.batch.job import BatchJob
    from langchain_costrouter.models.catalog import ModelSpec
    from langchain_costrouter.routing.attempt import Try
    from langchain_costrouter.routing.run import CallRun

LanePick = Callable[["ModelSpec"], "Lane | str"]
"""``pick(spec)``: the lane to serve ``spec`` on, or a reason (not a lane name) to skip it."""


@dataclass(frozen=True, slots=True)
class LaneAsk:
    """What a call asked for: a lane, or a deadline/urgency that chooses one."""

    lane: Lane | None = None
    deadline_s: float | None = None
    urgency: str | None = None

    @classmethod
    def of(cls, kwargs: Mapping[str, Any], default: Any = None) -> LaneAsk:
        """From a call's kwargs (``lane``, ``lane_deadline_s``, ``urgency``) and the router's
        ``lane`` field; bad values are a ``ConfigError`` naming the argument."""
        if (default is None and "lane" not in kwargs and "lane_deadline_s" not in kwargs
                and "urgency" not in kwargs):
            return _NO_ASK  # most calls ask nothing: no checks, no new object
        lane = kwargs.get("lane")
        lane = parse_lane(lane if lane is not None else default) if (
            lane is not None or default is not None) else None
        deadline = kwargs.get("lane_deadline_s")
        if deadline is not None:
            if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not (
                    deadline >= 0 and deadline != float("inf")):
                raise ConfigError(f"lane_deadline_s must be a finite number of seconds >= 0, "
                                  f"got {deadline!r}")
            deadline = float(deadline)
        urgency = kwargs.get("urgency")
        if urgency is not None and urgency not in ("now", "soon", "later"):
            raise ConfigError(f"unknown urgency {urgency!r}; expected now, soon or later")
        return cls(lane, deadline, urgency)

    @property
    def asked(self) -> bool:
        return self.lane not in (None, "realtime") or self.deadline_s is not None or (
            self.urgency not in (None, "now"))

    def pick(self, spec: ModelSpec) -> Lane | str:
        """The lane ``spec`` serves this call on; a model without an asked-for lane is skipped
        (the reason is returned), so routing moves on to one that has it."""
        try:
            lane = lane_for(spec, lane=self.lane, deadline_s=self.deadline_s,
                            urgency=self.urgency)
        except BatchLaneUnavailableError:
            return f"no {self.lane} lane (offers {', '.join(offered_lanes(spec))})"
        if lane == "batch" and self.lane is None:  # a deadline allows batch; a call is synchronous
            return "flex" if "flex" in offered_lanes(spec) else "realtime"
        return lane


_NO_ASK = LaneAsk()


def refuse_batch_call(kwargs: Mapping[str, Any], default: Any = None) -> None:
    """A single invoke/stream asked for the batch lane: say where that lane is."""
    lane = kwargs.get("lane", default)
    if lane == "batch":
        raise ConfigError(
            "the batch lane answers within 24 h, not in one call: use "
            "router.batch(inputs, config={'configurable': {'costrouter_lane': 'batch'}}) or "
            "router.submit_batch(inputs) (async: abatch / asubmit_batch), or lane='flex' for "
            "a cheaper synchronous call")


def prices_on(spec: ModelSpec, lane: str) -> Prices | None:
    """``spec``'s prices on ``lane`` (realtime: its own)."""
    return spec.prices if lane == "realtime" else lane_prices(spec, lane)  # type: ignore[arg-type]


def served_lane(asked: str, reported_tier: Any) -> str:
    """The lane an answer is billed at: the tier the provider reports. A flex request whose
    answer reports another tier (or none) is billed at realtime prices, the higher ones, so a
    budget never counts a call as cheaper than it may have been."""
    if asked != "flex":
        return asked
    return "flex" if reported_tier == "flex" else "realtime"


def is_flex_refusal(exc: BaseException) -> bool:
    from langchain_costrouter.batch.flex import is_flex_refusal as check

    return check(exc)


def flex_refused(run: CallRun, t: Try, exc: Exception) -> bool:
    """No flex capacity: not the model's fault (no breaker count). By the flex policy, the same
    model on realtime (when that fits the ceiling; else the next candidate), flex again after a
    wait (on the engine's sleep), or :class:`FlexCapacityError`. True: the walk goes on."""
    from langchain_costrouter.routing.run import describe

    run._report(t.permit, None)
    run._flex_refusals += 1
    policy = run.engine.flex_policy
    run._record(t, "flex_refused", f"{describe(exc)} [{policy.on_unavailable}]")
    if policy.on_unavailable == "raise" or (
            policy.on_unavailable == "wait" and run._flex_refusals > policy.max_waits):
        raise FlexCapacityError(t.cand.name, run._flex_refusals) from exc
    if policy.on_unavailable == "wait":
        run._wait = policy.first_wait_s * 2 ** (run._flex_refusals - 1)
        run._wait_state = None
    else:
        c = t.cand
        cost = estimate_cost(c.spec.prices, c.input_tokens, c.output_tokens)
        ceiling = run.plan.ceiling
        if ceiling is not None and (cost is None or cost > ceiling):
            run.errors.append(exc)  # realtime would break the ceiling: the next candidate
            return True
        t.cand = replace(c, lane="realtime", estimated_cost=cost)
    run._retry_same = True
    return True


class LaneEntries:
    """``batch``/``abatch`` on the batch lane and ``submit_batch``/``asubmit_batch`` (a mixin of
    the router; everything else goes the normal way)."""

    lane: Lane | None

    def _batch_lane(self, config: Any, kwargs: dict[str, Any]) -> str | None:
        from langchain_costrouter.batch import lane_of

        lane = lane_of(config, kwargs)
        if lane is None and kwargs.get("lane") is None and self.lane == "batch":
            lane = "batch"
        return lane if lane == "batch" else None  # flex is served per call by the engine

    def batch(self, inputs: Sequence[Any], config: Any = None, *,
              return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
        """``lane="batch"`` (kwarg, configurable ``costrouter_lane`` or the router's field):
        one provider batch job, waited for, answers in input order; else LangChain's batch."""
        if self._batch_lane(config, kwargs):
            from langchain_costrouter.batch import lane_batch

            return lane_batch(self, inputs, config, return_exceptions=return_exceptions,
                              **{**kwargs, "lane": "batch"})
        return super().batch(inputs, config, return_exceptions=return_exceptions,  # type: ignore[misc,no-any-return]
                             **kwargs)

    async def abatch(self, inputs: Sequence[Any], config: Any = None, *,
                     return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
        if self._batch_lane(config, kwargs):
            from langchain_costrouter.batch import alane_batch

            return await alane_batch(self, inputs, config, return_exceptions=return_exceptions,
                                     **{**kwargs, "lane": "batch"})
        return await super().abatch(inputs, config,  # type: ignore[misc,no-any-return]
                                    return_exceptions=return_exceptions, **kwargs)

    def submit_batch(self, inputs: Sequence[Any], **kwargs: Any) -> BatchJob:
        """Submit ``inputs`` as a durable batch job (see ``langchain_costrouter.batch``)."""
        from langchain_costrouter.batch import submit_batch

        return submit_batch(self, inputs, **kwargs)

    async def asubmit_batch(self, inputs: Sequence[Any], **kwargs: Any) -> BatchJob:
        from langchain_costrouter.batch import asubmit_batch

        return await asubmit_batch(self, inputs, **kwargs)
