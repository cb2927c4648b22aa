"""A small fixed catalog for lane tests, benchmarks and demos: five real models with the
lanes their providers offer, priced from genai-prices, all served by one base URL.

Tests pin these names (the default catalog moves with the market): ``gpt-4.1`` (OpenAI,
batch), ``gpt-5`` (OpenAI, flex and batch), ``claude-sonnet`` (Anthropic message batches),
``gemini-flash`` (Gemini, OpenAI-format batches) and ``deepseek`` (no batch API).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.models.lanes import with_lanes
from langchain_costrouter.pricing.prices import lookup_prices

_MODELS: tuple[tuple[str, str, str, str | None], ...] = (
    # name, provider, API model id, genai-prices id when it differs
    ("gpt-4.1", "openai", "gpt-4.1", None),
    ("gpt-5", "openai", "gpt-5", None),
    ("claude-sonnet", "anthropic", "claude-sonnet-4-5", None),
    ("gemini-flash", "google", "gemini-2.5-flash", None),
    ("deepseek", "deepseek", "deepseek-chat", "deepseek-v3.2"),
)
LANE_LEVELS: dict[str, list[str]] = {
    "trivial": ["deepseek"],
    "standard": ["gemini-flash", "deepseek"],
    "complex": ["gpt-4.1", "gemini-flash"],
    "expert": ["claude-sonnet", "gpt-4.1", "gpt-5"],
}


def lane_catalog(base_url: str, levels: Mapping[str, Sequence[str]] | None = None) -> Catalog:
    """The five models behind ``base_url`` (e.g. ``LocalServer.base_url``), with lanes."""
    models: list[dict[str, Any]] = [
        {"name": name, "provider": provider, "model": model, "base_url": base_url,
         "prices": lookup_prices(ref or model, provider)}
        for name, provider, model, ref in _MODELS
    ]
    chosen = {k: list(v) for k, v in (levels or LANE_LEVELS).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return with_lanes(Catalog.build({"models": models, "levels": chosen}))  # type: ignore[no-any-return]
