"""Budget guard as LangChain agent middleware (``create_agent(..., middleware=[...])``).

Every model call of the agent loop is bounded (``max_tokens`` in its ``model_settings``, which
``create_agent`` passes to ``bind_tools``), reserves what that bound can cost (system prompt,
history and tool schemas counted), runs, and is settled with the response's usage; a failed
call releases its reservation. Scopes come from the run's ``config["metadata"]`` as for the
other forms.
In downgrade mode a ``ChatCostRouter`` is pinned through ``model_settings["model"]`` (passed
to ``bind_tools``); a plain model is replaced by the cheapest fitting ``downgrade_to`` model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain.agents.middleware.types import (
    AgentMiddleware,
    ModelRequest,
    ModelResponse,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

from langchain_costrouter.agents.responses import message_of
from langchain_costrouter.budget.guard import BudgetGuard
from langchain_costrouter.budget.options import Option
from langchain_costrouter.budget.ticket import Ticket


def _run_config() -> RunnableConfig:
    try:
        from langgraph.config import get_config

        return get_config()
    except RuntimeError:  # called outside a graph run
        return {}


class BudgetMiddleware(AgentMiddleware):
    """Enforce a :class:`BudgetGuard` on every model call of an agent."""

    def __init__(
        self, guard: BudgetGuard, *, downgrade_to: Sequence[BaseChatModel] = ()
    ) -> None:
        super().__init__()
        self.guard = guard
        self.downgrade_to = list(downgrade_to)

    @property
    def name(self) -> str:
        return "BudgetMiddleware"

    def _options(self, request: ModelRequest) -> tuple[list[Option], RunnableConfig]:
        config = _run_config()
        messages: list[BaseMessage] = list(request.messages)
        if request.system_message is not None:
            messages.insert(0, request.system_message)
        options = self.guard.options(
            request.model,
            messages,
            configurable=config.get("configurable"),
            kwargs=request.model_settings,
            tools=request.tools or None,
            downgrade_to=self.downgrade_to,
        )
        return options, config

    @staticmethod
    def _apply(request: ModelRequest, ticket: Ticket) -> ModelRequest:
        """The request with the bound as ``max_tokens``, pinned or substituted if so decided."""
        settings = dict(request.model_settings)
        if ticket.max_tokens is not None:
            settings["max_tokens"] = ticket.max_tokens
        opt = ticket.option
        if opt.model is not None:
            return request.override(model=opt.model, model_settings=settings)  # type: ignore[arg-type]
        if ticket.pin is not None:
            settings["model"] = ticket.pin
        return request.override(model_settings=settings)

    def wrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], ModelResponse],
    ) -> Any:
        options, config = self._options(request)
        ticket = self.guard.acquire(options, config.get("metadata"))
        try:
            response = handler(self._apply(request, ticket))
        except BaseException:
            self.guard.cancel(ticket)
            raise
        self.guard.settle(ticket, message_of(response))
        return response

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> Any:
        options, config = self._options(request)
        ticket = await self.guard.aacquire(options, config.get("metadata"))
        try:
            response = await handler(self._apply(request, ticket))
        except BaseException:
            await self.guard.acancel(ticket)
            raise
        await self.guard.asettle(ticket, message_of(response))
        return response
