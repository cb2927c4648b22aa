"""A chat model under a budget guard: reserve, call, reconcile; release when the call fails.

``BudgetedModel`` is what ``guard.wrap(model)`` and ``with_budget(model, ...)`` return. It
adds no run of its own to tracing (the model's run is the only one), so cost callbacks do
not count a call twice. Streams reconcile from the merged chunks, whose last one carries the
usage; a stream the caller abandons keeps its full reservation (the tokens may be spent).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import ensure_config
from pydantic import ConfigDict

from langchain_costrouter.budget.estimate import to_messages
from langchain_costrouter.budget.guard import BudgetGuard, Ticket


class BudgetedModel(RunnableSerializable[Any, BaseMessage]):
    """``model`` guarded by ``guard``; ``downgrade_to`` lists cheaper stand-ins (plain models)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    guard: BudgetGuard
    model: Runnable[Any, Any]
    downgrade_to: list[Runnable[Any, Any]] = []

    def __repr__(self) -> str:
        return f"BudgetedModel(model={self.model!r}, guard={self.guard!r})"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> BudgetedModel:
        """Bind tools on the model (and on every downgrade stand-in), keeping the guard."""
        return BudgetedModel(
            guard=self.guard,
            model=self.model.bind_tools(tools, **kwargs),  # type: ignore[attr-defined]
            downgrade_to=[m.bind_tools(tools, **kwargs) for m in self.downgrade_to],  # type: ignore[attr-defined]
        )

    def _options(self, input: Any, config: RunnableConfig, kwargs: dict[str, Any]) -> Any:
        return self.guard.options(
            self.model,
            to_messages(input),
            configurable=config.get("configurable"),
            kwargs=kwargs,
            downgrade_to=self.downgrade_to,
        )

    def _target(
        self, ticket: Ticket, config: RunnableConfig, kwargs: dict[str, Any]
    ) -> tuple[Runnable[Any, Any], RunnableConfig, dict[str, Any]]:
        """The model to call: pinned to a cheaper router model, or a stand-in, when downgraded."""
        opt = ticket.option
        if opt.model is not None:
            return opt.model, config, kwargs
        if opt.pin is not None:
            configurable = {
                k: v for k, v in (config.get("configurable") or {}).items()
                if k != "costrouter_max_cost"
            }
            configurable["costrouter_model"] = opt.pin
            kwargs = {k: v for k, v in kwargs.items() if k != "max_cost"}
            if "model" in kwargs:
                kwargs["model"] = opt.pin
            return self.model, {**config, "configurable": configurable}, kwargs
        return self.model, config, kwargs

    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> BaseMessage:
        config = ensure_config(config)
        ticket = self.guard.acquire(self._options(input, config, kwargs), config.get("metadata"))
        model, cfg, kw = self._target(ticket, config, kwargs)
        try:
            out = model.invoke(input, cfg, **kw)
        except BaseException:
            self.guard.cancel(ticket)
            raise
        self.guard.settle(ticket, out)
        return out

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> BaseMessage:
        config = ensure_config(config)
        options = self._options(input, config, kwargs)
        ticket = await self.guard.aacquire(options, config.get("metadata"))
        model, cfg, kw = self._target(ticket, config, kwargs)
        try:
            out = await model.ainvoke(input, cfg, **kw)
        except BaseException:
            await self.guard.acancel(ticket)
            raise
        await self.guard.asettle(ticket, out)
        return out

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[BaseMessage]:
        config = ensure_config(config)
        ticket = self.guard.acquire(self._options(input, config, kwargs), config.get("metadata"))
        model, cfg, kw = self._target(ticket, config, kwargs)
        merged: Any = None
        try:
            for chunk in model.stream(input, cfg, **kw):
                merged = chunk if merged is None else merged + chunk
                yield chunk
        except GeneratorExit:
            self.guard.settle(ticket, merged)
            raise
        except BaseException:
            self.guard.cancel(ticket)
            raise
        self.guard.settle(ticket, merged)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[BaseMessage]:
        config = ensure_config(config)
        options = self._options(input, config, kwargs)
        ticket = await self.guard.aacquire(options, config.get("metadata"))
        model, cfg, kw = self._target(ticket, config, kwargs)
        merged: Any = None
        stream = aiter(model.astream(input, cfg, **kw))
        try:
            async for chunk in stream:
                merged = chunk if merged is None else merged + chunk
                yield chunk
        except GeneratorExit:
            await _aclose(stream)  # now, not at GC: the model frees what it holds
            await self.guard.asettle(ticket, merged)
            raise
        except BaseException:
            await self.guard.acancel(ticket)
            raise
        await self.guard.asettle(ticket, merged)


async def _aclose(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
