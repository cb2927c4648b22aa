"""The one place a model's prices and a call's usage are resolved.

Used by the router (planning estimates and billing), the cost handler (``costs/``) and the budget
guard's estimate (``budget/estimate``), so the three can never disagree about one model:

* :class:`Pricer` finds the prices of a reported model: the catalog first (by catalog name or
  API model id; a catalog entry without prices means "unpriced" and is respected), then
  genai-prices with the provider, then without it.
* :func:`bill` turns what a provider reported into tokens and dollars. The report is untrusted:
  it passes :func:`~langchain_costrouter.pricing.usage.checked_usage`, so a bad one raises
  ``ProviderResponseError`` (the provider's fault) and nothing is billed from it. A provider
  that sent no usage is billed on counted tokens, marked ``estimated``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from langchain_costrouter.exceptions import ProviderResponseError
from langchain_costrouter.pricing.prices import MTOK, Prices, TokenUsage, cost_of, lookup_prices
from langchain_costrouter.pricing.prices import warn_unpriced as warn_unpriced
from langchain_costrouter.pricing.tokens import EncodingName, count_text
from langchain_costrouter.pricing.usage import checked_usage
from langchain_costrouter.redact import scrub_text

if TYPE_CHECKING:
    from langchain_costrouter.models.catalog import Catalog, ModelSpec

# LangChain ``ls_provider`` / ``model_provider`` values -> genai-prices provider ids.
_PROVIDER_IDS = {
    "google_genai": "google",
    "google_vertexai": "google",
    "google_anthropic_vertex": "anthropic",
    "azure_openai": "azure",
    "bedrock": "aws",
    "amazon_bedrock": "aws",
    "mistralai": "mistral",
    "xai": "x-ai",
}

_CACHE_LIMIT = 1024
logger = logging.getLogger(__name__)


def price(prices: Prices | None, usage: TokenUsage, model: str) -> Decimal | None:
    """Dollar cost of ``usage``; ``None`` (and one warning per model) when unpriced."""
    if prices is None:
        warn_unpriced(model)
        return None
    return cost_of(prices, usage)


def estimate_cost(prices: Prices | None, input_tokens: int, output_tokens: int) -> Decimal | None:
    """Cost of a planned call (no warning: planning asks about every candidate)."""
    if prices is None:
        return None
    p = prices.for_input(input_tokens)  # = cost_of() with no cached tokens, minus its overhead
    return (input_tokens * p.input + output_tokens * p.output) / MTOK


@dataclass(frozen=True, slots=True)
class Billed:
    """What one answer cost: its tokens (as LangChain ``usage_metadata``) and its dollars."""

    usage_metadata: dict[str, Any]
    cost: Decimal | None
    """``None`` when the model is unpriced."""
    estimated: bool
    """The provider sent no usage (or the stream was cut): tokens were counted by us."""
    lane: str = "realtime"
    """The lane whose prices were used."""


def bill(
    spec: ModelSpec,
    usage_metadata: Mapping[str, Any] | None,
    *,
    input_tokens: int,
    text: str,
    estimated: bool = False,
    prices: Prices | str | None = "spec",
    lane: str = "realtime",
) -> Billed:
    """Bill one answer of ``spec``.

    With a provider report (and ``estimated`` false) the report is checked and priced; a bad
    report raises ``ProviderResponseError``. Otherwise ``input_tokens`` (the plan's count) plus
    the counted tokens of ``text`` are billed, marked estimated. ``prices`` (default: the
    spec's own) are those of ``lane`` when the answer was served on a cheaper lane.
    """
    at = spec.prices if isinstance(prices, str) else prices
    usage = None
    if not estimated:
        usage = checked_usage(
            usage_metadata,
            model=spec.name,
            context_window=spec.context_window,
            max_output_tokens=spec.max_output_tokens,
        )
    if usage is None:
        usage = TokenUsage(input_tokens=input_tokens,
                           output_tokens=count_text(text, spec.tokenizer))
        um: dict[str, Any] = {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
        }
        return Billed(um, price(at, usage, spec.name), True, lane)
    assert usage_metadata is not None
    return Billed(dict(usage_metadata), price(at, usage, spec.name), False, lane)


def reported_usage(usage_metadata: Mapping[str, Any] | None, model: str) -> TokenUsage | None:
    """A provider's usage seen after the fact (by a cost handler): checked, or ``None``.

    A report that fails the check is logged and treated as absent, so the caller estimates the
    call instead of billing garbage (the router already counted it against the provider).
    """
    try:
        return checked_usage(usage_metadata, model=model)
    except ProviderResponseError as e:
        logger.warning("ignoring the usage report of %r: %s", model, scrub_text(str(e)))
        return None


@dataclass(frozen=True, slots=True)
class PriceMatch:
    """The prices (``None`` = unpriced) of a model, where they came from, and its tokenizer."""

    prices: Prices | None
    source: str | None
    tier: str | None = None
    tokenizer: EncodingName = "o200k_base"


class Pricer:
    """Prices by model name with a bounded cache; the catalog is built lazily on first use.

    Answers are cached per (names, provider), so a call costs one dict lookup after the first.
    """

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._catalog = catalog
        self._by_id: dict[str, ModelSpec] | None = None
        self._cache: dict[tuple[str | None, ...], PriceMatch] = {}
        self._lock = threading.Lock()

    def _specs(self) -> tuple[Catalog, dict[str, ModelSpec]]:
        with self._lock:
            if self._catalog is None:
                from langchain_costrouter.models.catalog import Catalog

                self._catalog = Catalog.default()
            if self._by_id is None:
                by_id: dict[str, ModelSpec] = {}
                for spec in self._catalog.models.values():
                    by_id.setdefault(spec.model, spec)
                self._by_id = by_id
            return self._catalog, self._by_id

    def match(
        self, model: str | None, provider: str | None, *, tier: str | None = None,
        requested: str | None = None,
    ) -> PriceMatch:
        key = (model, provider, tier, requested)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        found = self._resolve(model, provider, tier, requested)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = found
        return found

    def _resolve(
        self, model: str | None, provider: str | None, tier: str | None, requested: str | None
    ) -> PriceMatch:
        catalog, by_id = self._specs()
        for name in (tier, model, requested):
            if not name:
                continue
            spec = catalog.models.get(name) or by_id.get(name)
            if spec is not None:
                source = spec.prices.source if spec.prices is not None else None
                return PriceMatch(spec.prices, source and f"catalog ({source})", spec.name,
                                  spec.tokenizer)
        gp_provider = _PROVIDER_IDS.get(provider or "", provider)
        for name in (model, requested):
            if not name:
                continue
            prices = lookup_prices(name, gp_provider) if gp_provider else None
            if prices is None:
                prices = lookup_prices(name, None)
            if prices is not None:
                return PriceMatch(prices, prices.source)
        return PriceMatch(None, None)


_default: Pricer | None = None


def default_pricer() -> Pricer:
    """A process-wide :class:`Pricer` over the default catalog (for callers with none)."""
    global _default
    if _default is None:
        _default = Pricer()
    return _default
