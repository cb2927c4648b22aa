"""A chat model backed by a plain function: tests that read like prose and need no network.

``FunctionChatModel(fn)`` calls ``fn(messages, info)`` where ``info`` holds the call's keyword
arguments (``tools``, ``tool_choice``, ``max_tokens`` ...). ``fn`` returns a string or an
``AIMessage``, or raises to simulate a provider error. Usage is real: prompt and reply tokens are
counted with tiktoken. Streams split the reply into words and put usage on the last chunk
(``stream_usage=False`` leaves it out, like a provider that sends none).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from langchain_costrouter.pricing.tokens import count_messages, count_text

ReplyFn = Callable[[list[BaseMessage], dict[str, Any]], "str | AIMessage"]


def echo(messages: list[BaseMessage], info: dict[str, Any]) -> str:
    """Default reply: echoes the last message's text."""
    return f"echo: {messages[-1].text}" if messages else "echo:"


class FunctionChatModel(BaseChatModel):
    """A chat model whose replies come from ``fn``; tools, streaming and usage included."""

    fn: ReplyFn = echo
    model_name: str = "function-model"
    provider: str = "function"
    stream_usage: bool = True
    calls: list[dict[str, Any]] = Field(default_factory=list, exclude=True, repr=False)
    """Every call's keyword arguments, for assertions."""

    @property
    def _llm_type(self) -> str:
        return "function-chat-model"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = self.provider
        params["ls_model_name"] = kwargs.get("model", self.model_name)
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _reply(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: Any) -> AIMessage:
        info = {**kwargs, "stop": stop}
        self.calls.append(info)
        out = self.fn(messages, info)
        msg = out if isinstance(out, AIMessage) else AIMessage(content=str(out))
        if stop and isinstance(msg.content, str):
            for s in stop:
                msg.content = msg.content.split(s)[0]
        text = msg.content if isinstance(msg.content, str) else json.dumps(msg.content)
        out_tokens = count_text(text) + sum(
            count_text(json.dumps(tc["args"])) for tc in msg.tool_calls
        )
        in_tokens = count_messages(messages, tools=kwargs.get("tools"))
        msg.usage_metadata = {
            "input_tokens": in_tokens,
            "output_tokens": out_tokens,
            "total_tokens": in_tokens + out_tokens,
        }
        msg.response_metadata = {
            **msg.response_metadata,
            "model_name": self.model_name,
            "model_provider": self.provider,
            "finish_reason": "tool_calls" if msg.tool_calls else "stop",
        }
        return msg

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages, stop, kwargs))])

    def _chunks(self, msg: AIMessage) -> list[AIMessageChunk]:
        text = msg.content if isinstance(msg.content, str) else ""
        pieces = re.findall(r"\S+\s*|\s+", text) or [""]
        chunks = [AIMessageChunk(content=p) for p in pieces]
        if msg.tool_calls:
            chunks.append(
                AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "name": tc["name"],
                            "args": json.dumps(tc["args"]),
                            "id": tc["id"],
                            "index": i,
                        }
                        for i, tc in enumerate(msg.tool_calls)
                    ],
                )
            )
        last = chunks[-1]
        last.response_metadata = dict(msg.response_metadata)
        if self.stream_usage:
            last.usage_metadata = msg.usage_metadata
        return chunks

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(self._reply(messages, stop, kwargs)):
            if run_manager:
                run_manager.on_llm_new_token(
                    str(chunk.content), chunk=ChatGenerationChunk(message=chunk)
                )
            yield ChatGenerationChunk(message=chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(self._reply(messages, stop, kwargs)):
            if run_manager:
                await run_manager.on_llm_new_token(
                    str(chunk.content), chunk=ChatGenerationChunk(message=chunk)
                )
            yield ChatGenerationChunk(message=chunk)
