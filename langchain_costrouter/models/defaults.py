"""The default 2026 catalog: four levels served by four distinct tiers of models.

Each level's first choice under the default cheapest-first policy is a different, more capable
model than the level below's, and is cheaper, on input and on output, than every fallback of its
own level; each fallback is of the same class, from another provider:

| level | class | first choice | same-class fallback |
|---|---|---|---|
| trivial | small | gpt-5.4-nano ($0.20 / $1.25) | gemini-3.1-flash-lite ($0.25 / $1.50) |
| standard | mid | gpt-5.4-mini ($0.75 / $4.50) | gemini-3.5-flash ($1.50 / $9) |
| complex | large | claude-sonnet-5.5 ($2 / $10) | gpt-5.4 ($2.50 / $15) |
| expert | frontier | claude-opus-5.5 ($4 / $20) | gpt-5.5 ($5 / $30) |

(USD per 1M input / output tokens, from genai-prices; nothing here types a price.) When a level's
own models fail the router escalates to the levels above. ``gpt-5.5-pro`` is *pin-only*: in no
level, used only when a call pins it (``model="gpt-5.5-pro"``), because at $30 / $180 it costs
six times the expert level's dearest model.

The class of a model (``ModelSpec.grade``) is its vendor's own tier: nano / flash-lite are small,
mini / flash are mid, Sonnet and GPT-5.4 are large, Opus and GPT-5.5 are frontier. Context windows
come from genai-prices; output limits and capabilities (tools, structured output, image input) are
the vendors' published ones, as recorded by models.dev in LangChain's model profiles. The p50
latencies are rough medians used only by the local test server's simulation.
"""

from __future__ import annotations

from typing import Any

from langchain_costrouter.pricing.prices import context_window_of, lookup_prices

OPENAI = "https://api.openai.com/v1"
ANTHROPIC = "https://api.anthropic.com/v1/"
GEMINI = "https://generativelanguage.googleapis.com/v1beta/openai/"

_ALL = {"streaming": True, "tools": True, "structured_output": True, "vision": True}

# name, provider, model id, base URL, key variable, grade, max output tokens, p50 latency ms
_MODELS: list[tuple[str, str, str, str, str, str, int, float]] = [
    ("gpt-5.4-nano", "openai", "gpt-5.4-nano", OPENAI, "OPENAI_API_KEY", "trivial", 128_000, 400),
    ("gemini-3.1-flash-lite", "google", "gemini-3.1-flash-lite", GEMINI, "GEMINI_API_KEY",
     "trivial", 65_536, 400),
    ("gpt-5.4-mini", "openai", "gpt-5.4-mini", OPENAI, "OPENAI_API_KEY", "standard", 128_000, 600),
    ("gemini-3.5-flash", "google", "gemini-3.5-flash", GEMINI, "GEMINI_API_KEY", "standard",
     65_536, 700),
    ("claude-sonnet-5.5", "anthropic", "claude-sonnet-5-5", ANTHROPIC, "ANTHROPIC_API_KEY",
     "complex", 128_000, 1500),
    ("gpt-5.4", "openai", "gpt-5.4", OPENAI, "OPENAI_API_KEY", "complex", 128_000, 1200),
    ("claude-opus-5.5", "anthropic", "claude-opus-5-5", ANTHROPIC, "ANTHROPIC_API_KEY", "expert",
     128_000, 2500),
    ("gpt-5.5", "openai", "gpt-5.5", OPENAI, "OPENAI_API_KEY", "expert", 128_000, 2000),
    ("gpt-5.5-pro", "openai", "gpt-5.5-pro", OPENAI, "OPENAI_API_KEY", "expert", 128_000, 8000),
]

DEFAULT_LEVELS: dict[str, list[str]] = {
    "trivial": ["gpt-5.4-nano", "gemini-3.1-flash-lite"],
    "standard": ["gpt-5.4-mini", "gemini-3.5-flash"],
    "complex": ["claude-sonnet-5.5", "gpt-5.4"],
    "expert": ["claude-opus-5.5", "gpt-5.5"],
}

PIN_ONLY: dict[str, str] = {
    "gpt-5.5-pro": "six times the price of gpt-5.5; used only when a call pins it",
}
"""Default models that sit in no level, with the reason."""

def default_models() -> list[dict[str, Any]]:
    """The default models as catalog entries, priced from genai-prices."""
    out = []
    for name, provider, model, url, env, grade, max_out, p50 in _MODELS:
        window = context_window_of(model, provider)
        if window is None:  # pragma: no cover - genai-prices knows every default model
            raise LookupError(f"genai-prices has no context window for {provider}/{model}")
        out.append({
            "name": name, "provider": provider, "model": model, "base_url": url,
            "api_key_env": env, "grade": grade, "prices": lookup_prices(model, provider),
            "context_window": window, "max_output_tokens": max_out, "p50_latency_ms": p50,
            "capabilities": dict(_ALL),
        })
    return out


AGGREGATOR_PRESETS: dict[str, dict[str, Any]] = {
    "openrouter": {
        "base_url": "https://openrouter.ai/api/v1",
        "api_key_env": "OPENROUTER_API_KEY",
        "model_ids": {
            "gpt-5.4-nano": "openai/gpt-5.4-nano",
            "gemini-3.1-flash-lite": "google/gemini-3.1-flash-lite",
            "gpt-5.4-mini": "openai/gpt-5.4-mini",
            "gemini-3.5-flash": "google/gemini-3.5-flash",
            "claude-sonnet-5.5": "anthropic/claude-sonnet-5.5",
            "gpt-5.4": "openai/gpt-5.4",
            "claude-opus-5.5": "anthropic/claude-opus-5.5",
            "gpt-5.5": "openai/gpt-5.5",
            "gpt-5.5-pro": "openai/gpt-5.5-pro",
        },
    },
}
