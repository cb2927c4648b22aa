"""The ways a guarded call may be served: the requested model first, then (downgrade mode)
cheaper ones, each with the :class:`~.bounds.Quote` the guard bounds and reserves against.

For a ``ChatCostRouter`` the quote is its own plan (every candidate it may fall back to); a
downgrade pins one catalog model. For a plain chat model it is that model alone, and a
downgrade substitutes one of ``downgrade_to``. The expected output length of each quote is
the one learned from the ledger (:mod:`.history`), or the prior.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

from langchain_costrouter.budget.bounds import Quote
from langchain_costrouter.budget.estimate import (
    Estimate,
    is_router,
    router_names,
    router_overrides,
)
from langchain_costrouter.budget.quotes import find_model, model_quote, router_quote

if TYPE_CHECKING:
    from langchain_costrouter.budget.guard import BudgetGuard


@dataclass(frozen=True)
class Option:
    """One way to serve the call: the requested model, or a cheaper one in downgrade mode."""

    estimate: Estimate
    quote: Quote
    pin: str | None = None
    """Router catalog name to pin (sent as ``configurable["costrouter_model"]``)."""
    model: Runnable[Any, Any] | None = None
    """A substitute model (downgrade of a plain chat model)."""


def build_options(
    guard: BudgetGuard,
    model: Any,
    messages: list[BaseMessage],
    *,
    configurable: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    tools: Sequence[Any] | None = None,
    downgrade_to: Sequence[Runnable[Any, Any]] = (),
) -> list[Option]:
    """The requested model first, then (downgrade mode) the alternatives, cheapest first."""
    inner, bound = find_model(model) if model is not None else (None, {})
    kw = {**bound, **(kwargs or {})}
    if tools is None:  # tools bound with bind_tools count in the prompt and need tool calling
        tools = kw.get("tools")
    downgrade = guard.on_exceeded == "downgrade"
    alts: list[Option] = []
    if inner is not None and is_router(inner):
        ov = router_overrides(configurable, kw)
        if kw.get("max_tokens") is None and getattr(inner, "max_tokens", None):
            ov["max_tokens"] = inner.max_tokens
        prior = int(getattr(inner, "default_output_tokens", guard.expected_output_tokens))
        first = _router_option(guard, inner, messages, tools, ov, prior)
        if downgrade:
            pinned = {k: v for k, v in ov.items() if k != "max_cost"}
            for name in router_names(inner):
                if name == first.quote.primary.name:
                    continue
                try:
                    opt = _router_option(
                        guard, inner, messages, tools, {**pinned, "model": name}, prior, pin=name
                    )
                except Exception:  # the model cannot take this call (window, tools ...)
                    continue
                alts.append(opt)
    else:
        first = _model_option(guard, inner, messages, kw, tools)
        if downgrade:
            for m in downgrade_to:
                m_inner, m_kw = find_model(m)
                alts.append(_model_option(guard, m_inner, messages, m_kw, tools, model=m))
    alts.sort(key=lambda o: (o.estimate.cost is None, o.estimate.cost or 0))
    return [first, *alts]


def _expect(guard: BudgetGuard, quote: Quote, prior: int) -> Quote:
    exp = guard.history.expected(quote.primary.name, prior)
    return replace(quote, expected=max(1, min(exp, quote.cap)))


def _router_option(
    guard: BudgetGuard, router: Any, messages: list[BaseMessage], tools: Any,
    ov: dict[str, Any], prior: int, pin: str | None = None,
) -> Option:
    quote, est = router_quote(router, messages, tools, ov, expected=prior, pinned=bool(pin))
    return Option(est, _expect(guard, quote, prior), pin=pin)


def _model_option(
    guard: BudgetGuard, chat: Any, messages: list[BaseMessage], kw: Mapping[str, Any],
    tools: Any, **extra: Any,
) -> Option:
    quote, est = model_quote(
        chat, messages, kw, tools, default_cap=guard.default_max_tokens,
        expected=guard.expected_output_tokens, prices=guard.prices,
    )
    return Option(est, _expect(guard, quote, guard.expected_output_tokens), **extra)
