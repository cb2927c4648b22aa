"""Small fakes for the cost-tracking tests: a chat model with scripted usage, wrappers, a clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManager, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class UsageModel(BaseChatModel):
    """Replies ``reply``; reports ``usage`` on invoke and on the last stream chunk.

    ``usage=None`` sends no usage (like a local server without ``include_usage``). With a
    ``clock``, ``first_token_s`` passes before the first chunk and ``per_chunk_s`` after each.
    """

    model_name: str = "gpt-5.4-mini"
    provider: str = "fake"
    reply: str = "The capital of France is Paris."
    usage: dict[str, Any] | None = None
    error: str | None = None
    clock: Any = None
    first_token_s: float = 0.0
    per_chunk_s: float = 0.0
    api_key: str | None = None
    """Leaks into ``invocation_params`` on purpose (secrets tests)."""

    @property
    def _llm_type(self) -> str:
        return "usage-fake"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "api_key": self.api_key}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = self.provider
        params["ls_model_name"] = self.model_name
        return params

    def _tick(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(seconds)

    def _meta(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "model_provider": self.provider}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.error:
            raise RuntimeError(self.error)
        self._tick(self.first_token_s + self.per_chunk_s * len(self.reply.split(" ")))
        msg = AIMessage(self.reply, usage_metadata=self.usage, response_metadata=self._meta())
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        if self.error:
            raise RuntimeError(self.error)
        words = self.reply.split(" ")
        self._tick(self.first_token_s)
        for i, w in enumerate(words):
            yield ChatGenerationChunk(message=AIMessageChunk(w if i == 0 else " " + w))
            self._tick(self.per_chunk_s)
        yield ChatGenerationChunk(
            message=AIMessageChunk("", usage_metadata=self.usage, response_metadata=self._meta())
        )


def child_manager(run_manager: CallbackManagerForLLMRun) -> CallbackManager:
    """What ``get_child()`` would return, if LLM run managers had it."""
    return CallbackManager(
        handlers=run_manager.inheritable_handlers,
        inheritable_handlers=run_manager.inheritable_handlers,
        parent_run_id=run_manager.run_id,
        tags=run_manager.inheritable_tags,
        inheritable_tags=run_manager.inheritable_tags,
        metadata=run_manager.inheritable_metadata,
        inheritable_metadata=run_manager.inheritable_metadata,
    )


class ChildModeWrapper(BaseChatModel):
    """A wrapper that calls its inner model as a child run (callbacks handed down)."""

    inner: BaseChatModel

    @property
    def _llm_type(self) -> str:
        return "child-mode-wrapper"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        config = {"callbacks": child_manager(run_manager)} if run_manager else None
        msg = self.inner.invoke(messages, config=config)
        return ChatResult(generations=[ChatGeneration(message=msg)])


class NaiveWrapper(BaseChatModel):
    """A wrapper that calls its inner model without passing any callbacks."""

    inner: BaseChatModel

    @property
    def _llm_type(self) -> str:
        return "naive-wrapper"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        msg = self.inner.invoke(messages)
        return ChatResult(generations=[ChatGeneration(message=msg)])


def usage(inp: int, out: int, *, cached: int = 0, written: int = 0, reasoning: int = 0
          ) -> dict[str, Any]:
    u: dict[str, Any] = {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}
    if cached or written:
        u["input_token_details"] = {"cache_read": cached, "cache_creation": written}
    if reasoning:
        u["output_token_details"] = {"reasoning": reasoning}
    return u
