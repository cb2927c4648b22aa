"""A chat model under a budget guard: bound, reserve, call, settle; release when it fails.

``BudgetedModel`` is what ``guard.wrap(model)`` and ``with_budget(model, ...)`` return. It
adds no run of its own to tracing (the model's run is the only one), so cost callbacks do not
count a call twice. The call gets ``max_tokens`` = the guard's bound (bound on the inner model,
so it reaches it through ``bind_tools`` and ``with_structured_output`` chains); the caller's
own ``max_tokens`` is a cap the bound never exceeds.

The actual usage is read from every LLM run of the call (a callback sees their final
answers), so a structured-output chain whose result is not a message is priced too. A stream
cut after text was delivered, or one the caller stops reading, is *settled*: the delivered text
is charged at its counted tokens plus the prompt (marked estimated), never released for free.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import LLMResult
from langchain_core.runnables import (
    Runnable,
    RunnableBinding,
    RunnableConfig,
    RunnableParallel,
    RunnableSequence,
    RunnableSerializable,
)
from langchain_core.runnables.config import ensure_config
from pydantic import ConfigDict

from langchain_costrouter.budget.estimate import is_router, to_messages
from langchain_costrouter.budget.guard import BudgetGuard
from langchain_costrouter.budget.quotes import CAP_KWARGS, find_model, with_call_kwargs
from langchain_costrouter.budget.ticket import Ticket
from langchain_costrouter.pricing.tokens import count_text

METADATA_KEY = "costrouter_budget"
"""Key of the guard's entry in the answer's ``response_metadata`` and the run's metadata."""


class _Answers(BaseCallbackHandler):
    """Collects the final message of every LLM run under the guarded call."""

    run_inline = True

    def __init__(self) -> None:
        self.messages: list[BaseMessage] = []

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        for gens in response.generations:
            for g in gens:
                msg = getattr(g, "message", None)
                if isinstance(msg, BaseMessage):
                    self.messages.append(msg)


def _with_handler(config: RunnableConfig, handler: BaseCallbackHandler) -> RunnableConfig:
    cbs = config.get("callbacks")
    if cbs is None:
        new: Any = [handler]
    elif isinstance(cbs, list):
        new = [*cbs, handler]
    else:
        assert isinstance(cbs, BaseCallbackManager)
        new = cbs.copy()
        new.add_handler(handler, inherit=True)
    return {**config, "callbacks": new}


def _priority(config: RunnableConfig, kwargs: dict[str, Any]) -> int:
    raw = kwargs.get("priority", (config.get("metadata") or {}).get("priority", 0))
    try:
        return int(raw or 0)
    except (TypeError, ValueError):
        return 0


def _text(merged: Any) -> str | None:
    if isinstance(merged, BaseMessage):
        return merged.text
    return None


class BudgetedModel(RunnableSerializable[Any, Any]):
    """``model`` guarded by ``guard``; ``downgrade_to`` lists cheaper stand-ins (plain models)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    guard: BudgetGuard
    model: Runnable[Any, Any]
    downgrade_to: list[Runnable[Any, Any]] = []

    def __repr__(self) -> str:
        return f"BudgetedModel(model={self.model!r}, guard={self.guard!r})"

    def _same_guard(self, model: Runnable[Any, Any], stand_ins: list[Any]) -> BudgetedModel:
        return BudgetedModel(guard=self.guard, model=model, downgrade_to=stand_ins)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> BudgetedModel:
        """Bind tools on the model (and on every downgrade stand-in), keeping the guard."""
        return self._same_guard(
            self.model.bind_tools(tools, **kwargs),  # type: ignore[attr-defined]
            [m.bind_tools(tools, **kwargs) for m in self.downgrade_to],  # type: ignore[attr-defined]
        )

    def with_structured_output(self, schema: Any, **kwargs: Any) -> BudgetedModel:
        """Structured output of the model (and of every stand-in), keeping the guard."""
        return self._same_guard(
            self.model.with_structured_output(schema, **kwargs),  # type: ignore[attr-defined]
            [m.with_structured_output(schema, **kwargs) for m in self.downgrade_to],  # type: ignore[attr-defined]
        )

    # -- one call ----------------------------------------------------------------------------

    def _prepare(
        self, input: Any, config: RunnableConfig, kwargs: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        kw = dict(kwargs)
        caps = [int(kw.pop(k)) for k in CAP_KWARGS if kw.get(k) is not None]
        call_kw = {**kw, **({"max_tokens": min(caps)} if caps else {})}
        options = self.guard.options(
            self.model, to_messages(input), configurable=config.get("configurable"),
            kwargs=call_kw, downgrade_to=self.downgrade_to,
        )
        if not is_router(find_model(self.model)[0]):
            kw.pop("priority", None)  # the guard's queue order; only a router takes it too
        return options, kw

    def _target(
        self, ticket: Ticket, config: RunnableConfig, answers: _Answers, kw: dict[str, Any]
    ) -> tuple[Runnable[Any, Any], RunnableConfig, dict[str, Any]]:
        """The model to call with the bound bound on it, pinned or substituted if so decided."""
        opt = ticket.option
        model = opt.model if opt.model is not None else self.model
        extra: dict[str, Any] = {}
        if ticket.max_tokens is not None:
            extra["max_tokens"] = ticket.max_tokens
        configurable = dict(config.get("configurable") or {})
        if opt.model is None and ticket.pin is not None:
            configurable.pop("costrouter_max_cost", None)
            configurable["costrouter_model"] = ticket.pin
            configurable["costrouter_reason"] = "budget_downgrade"  # the metadata says why
        metadata = {**(config.get("metadata") or {}), METADATA_KEY: ticket.metadata()}
        cfg: RunnableConfig = {**config, "configurable": configurable, "metadata": metadata}
        cfg = _with_handler(cfg, answers)
        if isinstance(model, (RunnableBinding, RunnableSequence, RunnableParallel)):
            return with_call_kwargs(model, extra), cfg, kw
        # A plain model takes the bound as a call kwarg: no wrapper generator between the
        # caller and the model's stream, so closing the stream closes the model's at once.
        return model, cfg, {**kw, **extra}

    def _annotate(self, out: Any, ticket: Ticket) -> Any:
        if isinstance(out, AIMessage):
            out.response_metadata = {**out.response_metadata, METADATA_KEY: ticket.metadata()}
        return out

    def _seen(self, answers: _Answers, out: Any) -> list[Any]:
        return list(answers.messages) or [out]

    def _cut(self, ticket: Ticket, answers: _Answers, merged: Any) -> list[Any] | None:
        """What a cut or abandoned stream delivered, as messages to settle; ``None``: nothing."""
        if answers.messages:
            return list(answers.messages)
        if merged is None:
            return None
        if getattr(merged, "usage_metadata", None):
            return [merged]
        text = _text(merged)
        if text is None:
            return [None]  # not a message: keep the reserved bound
        line = (ticket.bound.quote if ticket.bound else ticket.option.quote).primary
        n_in, n_out = line.input_tokens, count_text(text)
        return [AIMessage(text, usage_metadata={
            "input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out,
        }, response_metadata={"usage_estimated": True})]

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        config = ensure_config(config)
        options, kw = self._prepare(input, config, kwargs)
        ticket = self.guard.acquire(options, config.get("metadata"), _priority(config, kwargs))
        answers = _Answers()
        model, cfg, kw = self._target(ticket, config, answers, kw)
        try:
            out = model.invoke(input, cfg, **kw)
        except BaseException:
            self.guard.cancel(ticket)
            raise
        self.guard.settle(ticket, out, messages=self._seen(answers, out))
        return self._annotate(out, ticket)

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        config = ensure_config(config)
        options, kw = self._prepare(input, config, kwargs)
        ticket = await self.guard.aacquire(
            options, config.get("metadata"), _priority(config, kwargs)
        )
        answers = _Answers()
        model, cfg, kw = self._target(ticket, config, answers, kw)
        try:
            out = await model.ainvoke(input, cfg, **kw)
        except BaseException:
            await self.guard.acancel(ticket)
            raise
        await self.guard.asettle(ticket, out, messages=self._seen(answers, out))
        return self._annotate(out, ticket)

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        config = ensure_config(config)
        options, kw = self._prepare(input, config, kwargs)
        ticket = self.guard.acquire(options, config.get("metadata"), _priority(config, kwargs))
        answers = _Answers()
        model, cfg, kw = self._target(ticket, config, answers, kw)
        merged: Any = None
        done = False
        stream = iter(model.stream(input, cfg, **kw))
        try:
            for chunk in stream:
                merged = chunk if merged is None else merged + chunk
                yield chunk
            done = True
        finally:
            if done:
                self.guard.settle(ticket, merged, messages=self._seen(answers, merged))
            else:  # cut by an error, or the caller stopped reading
                close = getattr(stream, "close", None)
                if close is not None:
                    close()  # now, not at GC: the model stops generating
                delivered = self._cut(ticket, answers, merged)
                if delivered is None:
                    self.guard.cancel(ticket)
                else:
                    self.guard.settle(ticket, None, messages=delivered)
        if isinstance(merged, BaseMessage):
            yield type(merged)(content="", response_metadata={METADATA_KEY: ticket.metadata()})

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        config = ensure_config(config)
        options, kw = self._prepare(input, config, kwargs)
        ticket = await self.guard.aacquire(
            options, config.get("metadata"), _priority(config, kwargs)
        )
        answers = _Answers()
        model, cfg, kw = self._target(ticket, config, answers, kw)
        merged: Any = None
        done = False
        stream = aiter(model.astream(input, cfg, **kw))
        try:
            async for chunk in stream:
                merged = chunk if merged is None else merged + chunk
                yield chunk
            done = True
        finally:
            if done:
                await self.guard.asettle(ticket, merged, messages=self._seen(answers, merged))
            else:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()  # now, not at GC: the model frees what it holds
                delivered = self._cut(ticket, answers, merged)
                if delivered is None:
                    await self.guard.acancel(ticket)
                else:
                    await self.guard.asettle(ticket, None, messages=delivered)
        if isinstance(merged, BaseMessage):
            yield type(merged)(content="", response_metadata={METADATA_KEY: ticket.metadata()})
