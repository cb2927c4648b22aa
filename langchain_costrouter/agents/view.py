"""``RoutedModel``: the router pinned to one level, for one agent model call.

``create_agent`` binds tools on ``request.model`` and invokes the result; the view binds them
on the router itself with ``level=`` added, so the router stays the only LLM run (counted once,
traced with the served model) and its tools stay bound. It also answers ``plan()`` like the
router, so a ``BudgetMiddleware`` inside estimates the routed level. The route goes into the
run's metadata, merged over the metadata of the current run (``with_config`` alone would
replace it and lose the caller's ``user``/``team`` keys).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, ensure_config
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

METADATA_PREFIX = "costrouter_"


class RoutedModel(BaseChatModel):
    """A ``ChatCostRouter`` pinned to ``level``; everything else is the router's."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    router: Any = Field(repr=False)
    level: str
    route: dict[str, Any] = Field(default_factory=dict)
    """Level, score and escalations so far, written into the run's metadata."""

    @classmethod
    def of(cls, router: Any, level: str, route: dict[str, Any]) -> RoutedModel:
        return cls(router=router, level=level, route=dict(route), profile=router.profile)

    @property
    def _llm_type(self) -> str:
        return "costrouter"

    @property
    def route_catalog(self) -> Any:
        return self.router.route_catalog

    @property
    def catalog(self) -> Any:  # what budget estimates read for the names a router can pin
        return self.router.route_catalog

    # what budget estimates read off a router, so they see the router's own settings
    @property
    def max_tokens(self) -> int | None:
        return getattr(self.router, "max_tokens", None)

    @property
    def default_output_tokens(self) -> int | None:
        return getattr(self.router, "default_output_tokens", None)

    def _pinned(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"level": self.level, **kwargs}

    def run_metadata(self) -> dict[str, Any]:
        """The current run's metadata plus the route."""
        current = ensure_config().get("metadata") or {}
        escalations = self.route.get("escalations") or []
        return {
            **current,
            f"{METADATA_PREFIX}level": self.level,
            f"{METADATA_PREFIX}score": self.route.get("score"),
            f"{METADATA_PREFIX}escalations": [f"{e['level']}: {e['reason']}"
                                              for e in escalations],
        }

    def _routed(self, bound: Runnable[Any, Any]) -> Runnable[Any, Any]:
        return bound.with_config(metadata=self.run_metadata())

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, Any]:
        return self._routed(self.router.bind_tools(tools, **self._pinned(kwargs)))

    def bind(self, **kwargs: Any) -> Runnable[Any, Any]:  # type: ignore[override]
        return self._routed(self.router.bind(**self._pinned(kwargs)))

    def plan(self, input: LanguageModelInput, **kwargs: Any) -> Any:
        tools = kwargs.get("tools")
        if tools:  # as bind_tools sends them: OpenAI-format dicts (agents pass BaseTools)
            kwargs["tools"] = [convert_to_openai_tool(t) for t in tools]
        return self.router.plan(input, **self._pinned(kwargs))

    def invoke(self, input: LanguageModelInput, config: RunnableConfig | None = None,
               **kwargs: Any) -> Any:
        return self.bind(**kwargs).invoke(input, config)

    async def ainvoke(self, input: LanguageModelInput, config: RunnableConfig | None = None,
                      **kwargs: Any) -> Any:
        return await self.bind(**kwargs).ainvoke(input, config)

    def stream(self, input: LanguageModelInput, config: RunnableConfig | None = None,
               **kwargs: Any) -> Iterator[Any]:
        yield from self.bind(**kwargs).stream(input, config)

    async def astream(self, input: LanguageModelInput, config: RunnableConfig | None = None,
                      **kwargs: Any) -> AsyncIterator[Any]:
        async for chunk in self.bind(**kwargs).astream(input, config):
            yield chunk

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        return self.router._generate(messages, stop=stop, run_manager=run_manager,
                                     **self._pinned(kwargs))

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None,
                         **kwargs: Any) -> ChatResult:
        return await self.router._agenerate(messages, stop=stop, run_manager=run_manager,
                                            **self._pinned(kwargs))
