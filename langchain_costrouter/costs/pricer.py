"""Find the prices of a reported model: the catalog first, then genai-prices.

A model is matched to a catalog entry by catalog name (the router's ``tier``) or by API model id
(``ModelSpec.model``); a catalog entry without prices means "unpriced" and is respected. Other
models are looked up in genai-prices with the provider, then without it (a LangChain provider
name such as ``fake`` or ``azure_openai`` is often unknown there). Answers are cached per
(names, provider), so a call costs one dict lookup after the first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from langchain_costrouter.models.catalog import Catalog, ModelSpec
from langchain_costrouter.pricing.prices import Prices, lookup_prices
from langchain_costrouter.pricing.tokens import EncodingName

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


@dataclass(frozen=True, slots=True)
class PriceMatch:
    """The prices (``None`` = unpriced) of a model, where they came from, and its tokenizer."""

    prices: Prices | None
    source: str | None
    tier: str | None = None
    tokenizer: EncodingName = "o200k_base"


class Pricer:
    """Prices by model name with a bounded cache; the catalog is built lazily on first use."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._catalog = catalog
        self._by_id: dict[str, ModelSpec] | None = None
        self._cache: dict[tuple[str | None, ...], PriceMatch] = {}
        self._lock = threading.Lock()

    def _specs(self) -> tuple[Catalog, dict[str, ModelSpec]]:
        with self._lock:
            if self._catalog is None:
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
