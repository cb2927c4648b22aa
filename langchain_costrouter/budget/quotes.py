"""From a runnable and its input to a :class:`~.bounds.Quote`, and back to a bounded call.

* :func:`find_model` finds the chat model inside what the guard wraps: a model, a
  ``bind``/``bind_tools`` binding, a ``with_structured_output`` chain (model | parser, or the
  ``include_raw`` map), and the kwargs bound on the way.
* :func:`router_quote` / :func:`model_quote` price the call on every model that may serve it
  (the router's plan gives its candidates in order; a plain model is its own only line).
* :func:`with_call_kwargs` rebuilds the same structure with ``max_tokens`` (or a router pin)
  bound on the inner model, so the bound reaches it through any parser or map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableBinding, RunnableParallel, RunnableSequence

from langchain_costrouter.budget.bounds import Line, Quote
from langchain_costrouter.budget.estimate import Estimate, model_estimate, model_name

CAP_KWARGS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


def find_model(runnable: Any) -> tuple[Any, dict[str, Any]]:
    """The chat model inside ``runnable`` and the call kwargs bound around it."""
    kwargs: dict[str, Any] = {}
    node = runnable
    for _ in range(32):
        if isinstance(node, RunnableBinding):
            kwargs = {**node.kwargs, **kwargs}
            node = node.bound
        elif isinstance(node, RunnableSequence):
            node = node.first
        elif isinstance(node, RunnableParallel) and "raw" in node.steps__:
            node = node.steps__["raw"]
        else:
            break
    return node, kwargs


def with_call_kwargs(runnable: Any, extra: Mapping[str, Any]) -> Any:
    """``runnable`` with ``extra`` bound on its inner model (same structure otherwise)."""
    if not extra:
        return runnable
    if isinstance(runnable, RunnableBinding):
        if isinstance(runnable.bound, (RunnableBinding, RunnableSequence, RunnableParallel)):
            return runnable.model_copy(update={"bound": with_call_kwargs(runnable.bound, extra)})
        return runnable.model_copy(update={"kwargs": {**runnable.kwargs, **extra}})
    if isinstance(runnable, RunnableSequence):
        return RunnableSequence(
            with_call_kwargs(runnable.first, extra), *runnable.middle, runnable.last,
            name=runnable.name,
        )
    if isinstance(runnable, RunnableParallel) and "raw" in runnable.steps__:
        steps = dict(runnable.steps__)
        steps["raw"] = with_call_kwargs(steps["raw"], extra)
        return RunnableParallel(steps)
    return runnable.bind(**extra)


def caller_cap(model: Any, kwargs: Mapping[str, Any]) -> int | None:
    """The caller's own output cap: a call or bound kwarg, else the model's setting."""
    for k in CAP_KWARGS:
        v = kwargs.get(k)
        if v is not None:
            return int(v)
    for attr in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        v = getattr(model, attr, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def router_quote(
    router: Any,
    messages: list[BaseMessage],
    tools: Sequence[Any] | None,
    overrides: Mapping[str, Any],
    *,
    expected: int,
    pinned: bool = False,
) -> tuple[Quote, Estimate]:
    """Every candidate of the router's plan, in order; ``pinned`` keeps only the first."""
    ov = dict(overrides)
    if tools:
        ov["tools"] = list(tools)
    try:
        plan = router.plan(messages, **ov)
    except TypeError:  # a router-like model without tools in plan()
        ov.pop("tools", None)
        plan = router.plan(messages, **ov)
    cands = list(plan.candidates)[:1] if pinned else list(plan.candidates)
    lines = tuple(Line(c.name, int(c.input_tokens), c.spec.prices) for c in cands)
    first = cands[0].spec
    cap = min(int(ov.get("max_tokens") or first.max_output_tokens), first.max_output_tokens)
    summed = getattr(router, "cascade", None) is not None and len(lines) > 1
    est = Estimate(  # what plan_estimate() gives, without planning twice
        model=cands[0].name, input_tokens=int(cands[0].input_tokens),
        output_tokens=int(cands[0].output_tokens), cost=cands[0].estimated_cost,
        prices=first.prices,
    )
    return Quote(lines, cap, expected=min(expected, cap), summed=summed), est


def model_quote(
    model: Any,
    messages: list[BaseMessage],
    kwargs: Mapping[str, Any],
    tools: Any,
    *,
    default_cap: int,
    expected: int,
    prices: Mapping[str, Any] | None,
) -> tuple[Quote, Estimate]:
    """A plain chat model: one line, its prompt counted and priced (genai-prices or ``prices``)."""
    cap = caller_cap(model, kwargs) or default_cap
    est = model_estimate(
        model, messages, kwargs={**kwargs, "max_tokens": cap}, default_max_tokens=cap,
        prices=prices, tools=tools,
    )
    line = Line(est.model or model_name(model), est.input_tokens, est.prices)
    return Quote((line,), cap, expected=min(expected, cap)), est
