"""Chunks and results of the model that serves a call: streams, one-chunk fallbacks, checks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.usage import _dict_int_op

from langchain_costrouter.exceptions import ProviderResponseError


class StreamTally:
    """What a stream carried so far: its text and its usage."""

    __slots__ = ("parts", "usage")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.usage: dict[str, Any] | None = None

    def add(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk:
        msg = chunk.message
        if isinstance(msg.content, str):
            self.parts.append(msg.content)
        else:
            self.parts.append(as_text(msg.content))
        um = getattr(msg, "usage_metadata", None)
        if um:
            self.usage = (
                dict(um) if self.usage is None else _dict_int_op(self.usage, um, int.__add__)
            )
        if isinstance(msg, AIMessageChunk) and msg.chunk_position == "last":
            msg.chunk_position = None  # the router's metadata chunk is the last one
        return chunk

    @property
    def text(self) -> str:
        return "".join(self.parts)


def sync_chunks(
    chat: BaseChatModel,
    messages: list[BaseMessage],
    run_manager: CallbackManagerForLLMRun | None,
    kw: dict[str, Any],
) -> Iterator[ChatGenerationChunk]:
    """The model's stream (``kw`` includes ``stop``); one chunk if it cannot stream."""
    if type(chat)._stream is BaseChatModel._stream:  # no native streaming: one chunk
        result = check_result(chat._generate(messages, run_manager=run_manager, **kw))
        return iter([_to_chunk(result.generations[0])])
    return iter(chat._stream(messages, run_manager=run_manager, **kw))


def async_chunks(
    chat: BaseChatModel,
    messages: list[BaseMessage],
    run_manager: AsyncCallbackManagerForLLMRun | None,
    kw: dict[str, Any],
) -> AsyncIterator[ChatGenerationChunk]:
    cls = type(chat)
    if cls._astream is BaseChatModel._astream and cls._stream is BaseChatModel._stream:

        async def one() -> AsyncIterator[ChatGenerationChunk]:
            result = check_result(await chat._agenerate(messages, run_manager=run_manager, **kw))
            yield _to_chunk(result.generations[0])

        return one()
    return aiter(chat._astream(messages, run_manager=run_manager, **kw))


def _to_chunk(gen: ChatGeneration) -> ChatGenerationChunk:
    m = gen.message
    tool_calls = getattr(m, "tool_calls", None) or []
    chunk = AIMessageChunk(
        content=m.content,
        additional_kwargs=m.additional_kwargs,
        response_metadata=m.response_metadata,
        usage_metadata=getattr(m, "usage_metadata", None),
        tool_call_chunks=[
            {"name": tc["name"], "args": _json(tc["args"]), "id": tc.get("id"), "index": i}
            for i, tc in enumerate(tool_calls)
        ],
        id=m.id,
    )
    return ChatGenerationChunk(message=chunk, generation_info=gen.generation_info)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def check_result(result: Any) -> ChatResult:
    """A provider that answers garbage gets a typed error, so the router can fall back."""
    if (
        not isinstance(result, ChatResult)
        or not result.generations
        or not isinstance(result.generations[0].message, AIMessage)
    ):
        raise ProviderResponseError(f"model returned no chat generation: {type(result).__name__}")
    return result


def as_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content if b)
    return str(content)
