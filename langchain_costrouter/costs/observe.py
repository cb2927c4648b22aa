"""What a run's end event tells: model, provider, usage, router metadata, output text.

The router's entry is read by :class:`~langchain_costrouter.routing.metadata.RouteInfo` (the one
parser), and provider usage passes the resolver's check: a report that fails it is treated as
no report (so the call is estimated, never billed from garbage).

Also the fallback when a provider sends no usage: tiktoken counts of the prompt captured at the
start event and of the output (``estimate``), marked ``estimated`` on the record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import LLMResult

from langchain_costrouter.pricing.prices import TokenUsage
from langchain_costrouter.pricing.resolver import reported_usage
from langchain_costrouter.pricing.tokens import EncodingName, count_messages, count_text
from langchain_costrouter.routing.metadata import RouteInfo


@dataclass(slots=True)
class Observed:
    """What an end event tells about a run: model, usage, router metadata, output."""

    model: str | None
    provider: str | None
    usage: TokenUsage | None
    message: BaseMessage | None
    text: str
    message_id: str | None
    router: bool = False
    level: str | None = None
    tier: str | None = None
    router_cost: Decimal | None = None
    router_source: str | None = None
    estimated: bool = False
    summed: bool = False
    """The router's message sums several paid answers (a cascade rejected some): its usage
    cannot be priced at one model's prices, so only the router's ``cost_usd`` is used."""
    route: RouteInfo | None = None
    """The router's report (scored and served level, reason, score), parsed by the one parser."""

    @classmethod
    def of(cls, response: LLMResult | None, requested: str | None,
           provider: str | None) -> Observed:
        gens = response.generations[0] if response is not None and response.generations else []
        gen = gens[0] if gens else None
        message = getattr(gen, "message", None)
        meta: dict[str, Any] = dict(
            getattr(message, "response_metadata", None) or getattr(gen, "generation_info", None)
            or {}
        )
        llm_output = (response.llm_output if response is not None else None) or {}
        route = RouteInfo.parse(meta)
        model = _clean_name(
            (route.model_name if route else None) or meta.get("model_name") or meta.get("model")
            or llm_output.get("model_name") or requested,
            requested,
        )
        usage = reported_usage(getattr(message, "usage_metadata", None), model or "unknown")
        if usage is None:
            usage = _usage_from_llm_output(llm_output)
        ob = cls(
            model=model,
            provider=(route.provider if route else None) or meta.get("model_provider")
            or provider,
            usage=usage, message=message, text=getattr(gen, "text", "") or "",
            message_id=getattr(message, "id", None),
        )
        if route is not None:
            ob.router = True
            ob.route = route
            ob.level = route.level
            ob.tier = route.tier
            ob.estimated = route.usage_estimated
            ob.summed = route.summed
            ob.router_cost = route.cost
            if route.cost is not None:
                ob.router_source = route.price_source or "costrouter"
        return ob


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(getattr(v, "value", v))


def _clean_name(name: Any, requested: str | None) -> str | None:
    """Undo ``merge_dicts`` concatenating a repeated model name across stream chunks."""
    if not name:
        return None
    s = str(name)
    k = len(s) // len(requested) if requested else 0
    if requested and k > 1 and s == requested * k:
        return requested
    half = len(s) // 2
    if len(s) % 2 == 0 and half and s[:half] == s[half:]:
        return s[:half]
    return s


def _usage_from_llm_output(llm_output: dict[str, Any]) -> TokenUsage | None:
    tu = llm_output.get("token_usage") or llm_output.get("usage")
    if not isinstance(tu, dict) or "prompt_tokens" not in tu:
        return None
    details = tu.get("prompt_tokens_details") or {}
    out_details = tu.get("completion_tokens_details") or {}
    return TokenUsage(
        input_tokens=int(tu.get("prompt_tokens") or 0),
        output_tokens=int(tu.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
        reasoning_tokens=int(out_details.get("reasoning_tokens") or 0),
    )


def estimate(
    ob: Observed,
    encoding: EncodingName,
    messages: Sequence[BaseMessage] | None,
    prompts: Sequence[str] | None = None,
    tools: Sequence[Any] | None = None,
) -> TokenUsage:
    """tiktoken counts of the prompt (captured at start) and of the output."""
    if messages is not None:
        schemas = [t for t in tools or [] if isinstance(t, dict)] or None
        inp = count_messages(messages, encoding, tools=schemas)
    else:
        inp = sum(count_text(p, encoding) for p in prompts or [])
    if isinstance(ob.message, AIMessage):
        out = count_text(ob.message.text, encoding)
        for tc in ob.message.tool_calls:
            args = json.dumps(tc["args"], sort_keys=True, ensure_ascii=False)
            out += count_text(tc["name"], encoding) + count_text(args, encoding)
    else:
        out = count_text(ob.text, encoding)
    return TokenUsage(input_tokens=inp, output_tokens=out)


@dataclass(frozen=True, slots=True)
class CutBill:
    """What the router billed for a stream that broke after text went out."""

    usage: TokenUsage
    cost: Decimal | None
    route: RouteInfo | None


def cut_stream_bill(error: BaseException | None) -> CutBill | None:
    """The router's bill of a cut stream, carried by its ``StreamCutError`` (else ``None``):
    the prompt plus the counted tokens of the delivered text, marked estimated."""
    from langchain_costrouter.exceptions import StreamCutError

    if not isinstance(error, StreamCutError):
        return None
    um = error.usage_metadata
    usage = TokenUsage(input_tokens=int(um.get("input_tokens") or 0),
                       output_tokens=int(um.get("output_tokens") or 0))
    return CutBill(usage, error.cost, RouteInfo.parse({"costrouter": error.route}))
