"""Plan before the run starts, so tracing names the model that will serve the call.

``invoke``/``ainvoke``/``stream``/``astream`` plan first (the plan's first model goes into the
run's ``ls_model_name``), then hand the plan to the ``_generate``/``_stream`` family through a
context variable, so the work is not done twice. A planning error of the call is kept and
raised inside the run, where callbacks and tracing see it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.runnables import RunnableConfig

from langchain_costrouter.exceptions import ConfigError, CostRouterError
from langchain_costrouter.routing.lanes import refuse_batch_call
from langchain_costrouter.routing.overrides import merged
from langchain_costrouter.routing.plan import RoutePlan

if TYPE_CHECKING:
    from langchain_costrouter.routing.run import CallRun

# The plan made in invoke()/stream() before the run starts, handed to _generate()/_stream() so the
# work is not done twice (or the planning error, raised inside the run so tracing sees it).
# Keyed by the router and the identity of the messages' contents (a router serving as another
# router's model must not take the outer router's plan).
_PLANNED: ContextVar[tuple[tuple[int, ...], RoutePlan | Exception] | None] = ContextVar(
    "costrouter_planned", default=None
)

# Async streams opened by _astream() during an astream() call. langchain-core iterates _astream()
# without closing it, so a caller that stops early would leave the model's breaker permit (a
# half-open probe slot) taken until garbage collection; astream() closes them itself.
_ASTREAMS: ContextVar[list[AsyncGenerator[ChatGenerationChunk, None]] | None] = ContextVar(
    "costrouter_astreams", default=None
)


def _fingerprint(router: Any, messages: Sequence[BaseMessage]) -> tuple[int, ...]:
    return (id(router), *(id(m.content) for m in messages))


class PlanFirst:
    """The public entry points of :class:`~langchain_costrouter.router.ChatCostRouter`
    (a mixin: ``plan``, ``_engine`` and ``_astream_run`` are the router's)."""

    def _preplan(
        self, input: LanguageModelInput, config: RunnableConfig | None, kwargs: dict[str, Any],
        stop: list[str] | None = None,
    ) -> tuple[dict[str, Any], tuple[tuple[int, ...], RoutePlan | Exception] | None]:
        """Apply configurable overrides and plan before the run starts (for tracing).

        A planning error of the call (bad override, no model fits) is kept and raised inside the
        run, so callbacks and tracing see it; any other error is a bug and propagates here.
        """
        kwargs = merged((config or {}).get("configurable"), kwargs)
        messages = self._convert_input(input).to_messages()
        try:
            refuse_batch_call(kwargs, self.lane)
            plan: RoutePlan | Exception = self.plan(messages, stop=stop, **kwargs)
        except (ConfigError, CostRouterError) as e:
            plan = e
        if isinstance(plan, RoutePlan):
            kwargs["costrouter_route"] = plan.tier
        return kwargs, (_fingerprint(self, messages), plan)

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        kwargs, planned = self._preplan(input, config, kwargs, stop)
        token = _PLANNED.set(planned)
        try:
            return super().invoke(input, config, stop=stop, **kwargs)
        finally:
            _PLANNED.reset(token)

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        kwargs, planned = self._preplan(input, config, kwargs, stop)
        token = _PLANNED.set(planned)
        try:
            return await super().ainvoke(input, config, stop=stop, **kwargs)
        finally:
            _PLANNED.reset(token)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        kwargs, planned = self._preplan(input, config, kwargs, stop)
        inner = super().stream(input, config, stop=stop, **kwargs)
        token = _PLANNED.set(planned)
        try:  # the plan is read when the first chunk is asked for
            first = next(inner, None)
        finally:
            _PLANNED.reset(token)
        if first is None:
            return
        yield first
        yield from inner

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        kwargs, planned = self._preplan(input, config, kwargs, stop)
        opened: list[AsyncGenerator[ChatGenerationChunk, None]] = []
        token = _PLANNED.set(planned)
        streams_token = _ASTREAMS.set(opened)
        try:
            inner = super().astream(input, config, stop=stop, **kwargs)
            first = await anext(inner, None)
        finally:
            _ASTREAMS.reset(streams_token)
            _PLANNED.reset(token)
        try:
            if first is None:
                return
            yield first
            async for chunk in inner:
                yield chunk
        finally:  # the caller stopped early (or we are done): close now, not at GC
            await inner.aclose()
            for gen in opened:
                await gen.aclose()

    def _start(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any],
        check: Any = None,
    ) -> CallRun:
        planned = _PLANNED.get()
        if planned is not None and planned[0] == _fingerprint(self, messages):
            if isinstance(planned[1], Exception):
                raise planned[1]  # planning failed before the run: raised inside it, traced
            return self._r.engine.start(planned[1], kwargs, stop, check)
        refuse_batch_call(kwargs, self.lane)
        return self._r.engine.start(self.plan(messages, stop=stop, **kwargs), kwargs, stop,
                                     check)

    def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        gen = self._astream_run(messages, stop, run_manager, kwargs)
        opened = _ASTREAMS.get()
        if opened is not None:  # astream() closes it if its caller stops early
            opened.append(gen)
        return gen

