"""Prices and the cost of a call, in ``Decimal`` dollars.

List prices come from genai-prices (a maintained price database) and are never retyped here.
We copy a model's base and long-context tier into :class:`Prices` once, then price each call
with our own few lines of Decimal arithmetic: genai-prices' ``calc_price`` costs 30-185 us per
call (measured, shared/notes/dependencies.md), too much for a routing hot path that prices every
candidate. ``tests/unit_tests/test_pricing.py`` checks that both agree on every default model.

An unknown price is ``None`` (with one warning per model), never a silent $0.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MTOK = Decimal(1_000_000)


class UnpricedModelWarning(UserWarning):
    """A model has no known price, so its cost is reported as ``None``."""


class Prices(BaseModel):
    """USD per 1M tokens. ``cached_input`` defaults to ``input`` when a provider has no discount."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cached_input: Decimal | None = Field(default=None, ge=0)
    cache_write: Decimal | None = Field(default=None, ge=0)
    long_context_threshold: int | None = Field(default=None, gt=0)
    """Above this many input tokens the ``long_context`` prices apply to the whole call."""
    long_context: Prices | None = None
    source: str = "user"
    """Where the figures came from, e.g. ``genai-prices 0.2.3`` or ``user``."""

    def for_input(self, input_tokens: int) -> Prices:
        if (
            self.long_context is not None
            and self.long_context_threshold is not None
            and input_tokens > self.long_context_threshold
        ):
            return self.long_context
        return self


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts of one call. ``input_tokens`` includes ``cached_tokens`` (LangChain's rule)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @classmethod
    def from_usage_metadata(cls, um: dict[str, Any] | None) -> TokenUsage | None:
        if not um:
            return None
        details = um.get("input_token_details") or {}
        out_details = um.get("output_token_details") or {}
        return cls(
            input_tokens=int(um.get("input_tokens") or 0),
            output_tokens=int(um.get("output_tokens") or 0),
            cached_tokens=int(details.get("cache_read") or 0),
            cache_write_tokens=int(details.get("cache_creation") or 0),
            reasoning_tokens=int(out_details.get("reasoning") or 0),
        )


def cost_of(prices: Prices | None, usage: TokenUsage) -> Decimal | None:
    """Dollar cost of ``usage`` at ``prices``; ``None`` when the model is unpriced.

    Reasoning tokens are part of ``output_tokens`` (OpenAI and LangChain report them so) and
    are not added twice.
    """
    if prices is None:
        return None
    p = prices.for_input(usage.input_tokens)
    cached = min(usage.cached_tokens, usage.input_tokens)
    written = min(usage.cache_write_tokens, usage.input_tokens - cached)
    fresh = usage.input_tokens - cached - written
    total = fresh * p.input + usage.output_tokens * p.output
    if cached:
        total += cached * (p.cached_input if p.cached_input is not None else p.input)
    if written:
        total += written * (p.cache_write if p.cache_write is not None else p.input)
    return total / MTOK


_warned: set[str] = set()


def warn_unpriced(model: str) -> None:
    """Warn once per model name that its cost is unknown (reported as ``None``)."""
    if model in _warned:
        return
    _warned.add(model)
    warnings.warn(
        f"no price is known for model {model!r}: its cost is reported as None, not $0. "
        "Give it prices in the catalog (ModelSpec.prices) to track its cost.",
        UnpricedModelWarning,
        stacklevel=3,
    )


def _decimal(tiered: Any) -> tuple[Decimal | None, list[tuple[int, Decimal]]]:
    """Split a genai-prices price (a Decimal or ``TieredPrices``) into base and tiers."""
    if tiered is None:
        return None, []
    base = getattr(tiered, "base", None)
    if base is None:
        return Decimal(tiered), []
    return Decimal(base), [(int(t.start), Decimal(t.price)) for t in tiered.tiers]


@lru_cache(maxsize=256)
def lookup_prices(model: str, provider: str | None = None) -> Prices | None:
    """List prices of ``model`` from genai-prices, or ``None`` when it does not know the model.

    ``provider`` is a genai-prices provider id (``openai``, ``anthropic``, ``google``,
    ``deepseek`` ...). Only the first long-context tier is kept (all 2026 models have at most one).
    """
    from genai_prices import Usage, calc_price
    from genai_prices import __version__ as gp_version

    try:
        calc = calc_price(Usage(input_tokens=1, output_tokens=1), model, provider_id=provider)
    except LookupError:
        return None
    mp = calc.model_price
    inp, inp_tiers = _decimal(mp.input_mtok)
    out, out_tiers = _decimal(mp.output_mtok)
    cr, cr_tiers = _decimal(getattr(mp, "cache_read_mtok", None))
    cw, cw_tiers = _decimal(getattr(mp, "cache_write_mtok", None))
    if inp is None or out is None:
        return None
    source = f"genai-prices {gp_version}"
    long_ctx = None
    threshold = None
    if inp_tiers:
        threshold = inp_tiers[0][0]

        def tier_of(tiers: list[tuple[int, Decimal]], base: Decimal | None) -> Decimal | None:
            return tiers[0][1] if tiers else base

        long_ctx = Prices(
            input=inp_tiers[0][1],
            output=tier_of(out_tiers, out) or out,
            cached_input=tier_of(cr_tiers, cr),
            cache_write=tier_of(cw_tiers, cw),
            source=source,
        )
    return Prices(
        input=inp,
        output=out,
        cached_input=cr,
        cache_write=cw,
        long_context_threshold=threshold,
        long_context=long_ctx,
        source=source,
    )


def context_window_of(model: str, provider: str | None = None) -> int | None:
    """Context window that genai-prices records for ``model``, if any."""
    from genai_prices import Usage, calc_price

    try:
        calc = calc_price(Usage(input_tokens=1, output_tokens=1), model, provider_id=provider)
    except LookupError:
        return None
    return calc.model.context_window
