"""Catalog entries for ready chat models: their model id, provider, capabilities and window
(from LangChain's model profiles), and levels spread over them by price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from langchain_core.language_models import BaseChatModel

from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.routing.levels import LEVELS


def spread_levels(specs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Levels for models given without any: rank them by price (unpriced ones keep their given
    order, after the priced), and let level ``i`` of 4 use the models from rank ``i*n//4`` up.
    So the cheapest models serve only the easy levels and the dearest serve every level:
    ``{"small", "large"}`` gives trivial/standard ``[small, large]``, complex/expert ``[large]``.
    """

    def price(spec: dict[str, Any]) -> Decimal:
        p = spec.get("prices")
        return p.input + p.output if isinstance(p, Prices) else Decimal("Infinity")

    ranked = [s["name"] for s in sorted(specs, key=price)]  # stable: given order breaks ties
    n = len(ranked)
    return {lv.value: ranked[min(n - 1, i * n // 4):] for i, lv in enumerate(LEVELS)}


def model_id_of(chat_model: BaseChatModel) -> str | None:
    for attr in ("model_name", "model", "model_id"):
        v = getattr(chat_model, attr, None)
        if isinstance(v, str) and v:
            return v
    return None


def provider_of(chat_model: BaseChatModel) -> str:
    try:
        ls = chat_model._get_ls_params()
        if ls.get("ls_provider"):
            return str(ls["ls_provider"])
    except Exception:
        pass
    return "custom"


def capabilities_of(chat_model: BaseChatModel) -> dict[str, bool]:
    profile = getattr(chat_model, "profile", None) or {}
    tools = profile.get("tool_calling")
    if tools is None:
        tools = type(chat_model).bind_tools is not BaseChatModel.bind_tools
    return {
        "streaming": True,
        "tools": bool(tools),
        "structured_output": bool(profile.get("structured_output", tools)),
        "vision": bool(profile.get("image_inputs", False)),
    }


def window_of(chat_model: BaseChatModel) -> dict[str, int]:
    profile = getattr(chat_model, "profile", None) or {}
    out: dict[str, int] = {}
    if profile.get("max_input_tokens"):
        out["context_window"] = int(profile["max_input_tokens"])
    if profile.get("max_output_tokens"):
        out["max_output_tokens"] = int(profile["max_output_tokens"])
    return out
