"""``CostRouterMiddleware``: route every model call of a ``create_agent`` agent by difficulty.

Each model call is scored with the router's own scorer over the *task* (system prompt and
first human message) together with the *latest turn* (a tool result is scored in the context
of the task it serves), and served by the router pinned to that level. When the answer fails
(a tool call with invalid arguments, a structured-output parse error, a cascade check), the
call is made again one level up, until the top of the ladder; every answer paid for is a
separate model run, so the cost handler counts each exactly once.

Composition: the router is swapped for a :class:`RoutedModel` view only when the request's
model *is* this middleware's router. A ``ModelFallbackMiddleware`` fallback or a
``BudgetMiddleware`` downgrade model passes through untouched, in either order; the view
exposes the router's ``plan`` so an inner ``BudgetMiddleware`` estimates the routed level.
The route (level, score, escalations) goes into the run's metadata (so LangSmith shows it) and
into the final message's ``response_metadata["costrouter_route"]``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain.agents.middleware.types import (
    AgentMiddleware,
    ExtendedModelResponse,
    ModelRequest,
    ModelResponse,
)
from langchain.agents.structured_output import StructuredOutputError
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import ensure_config

from langchain_costrouter.agents.responses import message_of
from langchain_costrouter.agents.view import RoutedModel
from langchain_costrouter.cascade import Check, all_of, as_check
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.routing.levels import LEVELS, Level
from langchain_costrouter.routing.scorers import prompt_text, resolve_scorer, score_request

ROUTE_KEY = "costrouter_route"
"""Key of the route in the final message's ``response_metadata``."""


class _Route:
    """One model call's walk up the ladder."""

    def __init__(self, mw: CostRouterMiddleware, step: int, score: float, limit: int) -> None:
        self.mw = mw
        self.step = step
        self.score = score
        self.limit = limit
        self.escalations: list[dict[str, str]] = []

    @property
    def level(self) -> str:
        return self.mw.ladder[self.step].value

    def entry(self) -> dict[str, Any]:
        return {"level": self.level, "score": self.score,
                "escalations": [dict(e) for e in self.escalations]}

    def request(self, request: ModelRequest) -> ModelRequest:
        return request.override(model=RoutedModel.of(self.mw.router, self.level, self.entry()))

    def can_escalate(self) -> bool:
        return self.step + 1 < len(self.mw.ladder) and len(self.escalations) < self.limit

    def escalate(self, reason: str) -> None:
        self.escalations.append({"level": self.level, "reason": reason})
        self.step += 1

    def finish(self, response: Any, reason: str | None) -> Any:
        msg = message_of(response)
        if msg is not None:
            entry = self.entry()
            if reason is not None:
                entry["unresolved"] = reason
            msg.response_metadata = {**msg.response_metadata, ROUTE_KEY: entry}
        return response


class CostRouterMiddleware(AgentMiddleware):
    """Route each agent model call to the cheapest capable level; escalate on a bad answer.

    Args:
        router: the ``ChatCostRouter`` given to ``create_agent`` (calls of other models pass
            through untouched).
        levels: the ladder to route and escalate over, cheapest first (default: every level
            of the router's catalog that has models). An unknown or empty level is a
            ``ConfigError`` here, at agent build time.
        check: cascade check(s) ``(AIMessage) -> reason | None`` run on every answer.
        max_escalations: at most this many extra calls per model call (default: up to the top).
    """

    def __init__(
        self,
        router: Any,
        *,
        levels: Sequence[str | Level] | None = None,
        check: Check | Sequence[Check] | None = None,
        max_escalations: int | None = None,
    ) -> None:
        super().__init__()
        if router is None or not callable(getattr(router, "plan", None)) or not hasattr(
            router, "route_catalog"
        ):
            raise ConfigError(
                f"CostRouterMiddleware needs a ChatCostRouter as router, got {router!r}"
            )
        self.router = router
        catalog = router.route_catalog
        have = {lv for lv, names in catalog.levels.items() if names}
        if levels is None:
            ladder = [lv for lv in LEVELS if lv in have]
        else:
            ladder = [Level.parse(lv) for lv in levels]
            empty = [lv.value for lv in ladder if lv not in have]
            if empty:
                raise ConfigError(
                    f"level(s) {empty} have no models in the router's catalog; levels with "
                    f"models: {[lv.value for lv in LEVELS if lv in have]}"
                )
            ladder = sorted(set(ladder), key=lambda lv: lv.rank)
        if not ladder:
            raise ConfigError("CostRouterMiddleware: the router's catalog has no level with models")
        self.ladder: tuple[Level, ...] = tuple(ladder)
        if max_escalations is not None and (
            isinstance(max_escalations, bool) or not isinstance(max_escalations, int)
            or max_escalations < 0
        ):
            raise ConfigError(f"max_escalations must be an int >= 0, got {max_escalations!r}")
        self.max_escalations = max_escalations
        checks = [] if check is None else [check] if callable(check) else list(check)
        if checks:
            all_of(*checks)  # a check that is not callable is a ConfigError now
        self.checks: list[Check] = checks
        self._scorer, self._thresholds = resolve_scorer(router.scorer, router.thresholds)

    @property
    def name(self) -> str:
        return "CostRouterMiddleware"

    # -- routing ---------------------------------------------------------------------------

    def score(self, request: ModelRequest) -> float:
        """The router's score of the task plus the latest turn."""
        return score_request(self._scorer, scoring_view(request),
                             tools=_tool_dicts(request.tools) or None,
                             response_format=request.model_settings.get("response_format"))

    def _start(self, request: ModelRequest) -> tuple[int, float]:
        score = self.score(request)
        level = self._thresholds.level(score)
        for i, lv in enumerate(self.ladder):  # the scored level, or the next one with models
            if lv.rank >= level.rank:
                return i, score
        return len(self.ladder) - 1, score

    def _routes(self, request: ModelRequest) -> bool:
        """Only calls of this router, and none pinned by another middleware (a budget
        downgrade's ``model``) or by the caller (``configurable`` ``costrouter_model`` /
        ``costrouter_level``): a pin wins."""
        if request.model is not self.router:
            return False
        if "model" in request.model_settings or "level" in request.model_settings:
            return False
        conf = ensure_config().get("configurable") or {}
        return conf.get("costrouter_model") is None and conf.get("costrouter_level") is None

    def _route(self, request: ModelRequest) -> _Route:
        step, score = self._start(request)
        top = len(self.ladder) - 1 - step
        limit = top if self.max_escalations is None else min(top, self.max_escalations)
        return _Route(self, step, score, limit)

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> Any:
        if not self._routes(request):
            return handler(request)
        route = self._route(request)
        while True:
            try:
                response = handler(route.request(request))
            except StructuredOutputError as e:
                if not route.can_escalate():
                    raise
                route.escalate(f"structured output: {type(e).__name__}")
                continue
            reason = self.failure(request, response)
            if reason is None or not route.can_escalate():
                return route.finish(response, reason)
            route.escalate(reason)

    async def awrap_model_call(
        self, request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> Any:
        if not self._routes(request):
            return await handler(request)
        route = self._route(request)
        while True:
            try:
                response = await handler(route.request(request))
            except StructuredOutputError as e:
                if not route.can_escalate():
                    raise
                route.escalate(f"structured output: {type(e).__name__}")
                continue
            reason = self.failure(request, response)
            if reason is None or not route.can_escalate():
                return route.finish(response, reason)
            route.escalate(reason)

    # -- what counts as a failed answer -----------------------------------------------------

    def failure(self, request: ModelRequest, response: Any) -> str | None:
        """Why this answer must escalate, or ``None`` when it is good."""
        msg = message_of(response)
        if msg is None:
            return None
        if msg.invalid_tool_calls:
            return f"tool call {msg.invalid_tool_calls[0].get('name')!r} has invalid JSON arguments"
        reason = _bad_tool_args(msg, request.tools, _structured_names(request))
        if reason is not None:
            return reason
        model_response = response.model_response if isinstance(
            response, ExtendedModelResponse) else response
        if (request.response_format is not None and isinstance(model_response, ModelResponse)
                and model_response.structured_response is None
                and any(isinstance(m, ToolMessage) for m in model_response.result)):
            return "structured output: the answer did not parse"
        if self.checks:  # bound to the call, for checks that read the prompt or options
            messages = list(request.messages)
            if request.system_message is not None:
                messages.insert(0, request.system_message)
            options = {**request.model_settings, "tools": _tool_dicts(request.tools)}
            check = as_check(self.checks, options, messages)
            return check(msg) if check is not None else None
        return None


def scoring_view(request: ModelRequest) -> list[BaseMessage]:
    """What the scorer reads: the system prompt, then one human message holding the first
    human message (the task) and the latest turn (when it is another message)."""
    msgs = list(request.messages)
    first = next((m for m in msgs if m.type == "human"), None)
    latest = msgs[-1] if msgs else None
    parts = [prompt_text([first])] if first is not None else []
    if latest is not None and latest is not first:
        parts.append(prompt_text([latest]))
    view: list[BaseMessage] = []
    if request.system_message is not None:
        view.append(request.system_message)
    view.append(HumanMessage("\n\n".join(p for p in parts if p)))
    return view


def _tool_dicts(tools: Sequence[Any]) -> list[dict[str, Any]]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    out = []
    for t in tools or []:
        try:
            out.append(convert_to_openai_tool(t))
        except Exception:  # a provider-native tool dict: scored without it
            continue
    return out


def _bad_tool_args(msg: AIMessage, tools: Sequence[Any], structured: set[str]) -> str | None:
    """A tool call to an unknown tool, or whose arguments fail the tool's schema."""
    if not msg.tool_calls or not tools:
        return None
    by_name = {getattr(t, "name", None) or _dict_name(t): t for t in tools}
    for call in msg.tool_calls:
        tool = by_name.get(call["name"])
        if tool is None:
            if call["name"] in structured:  # the agent's structured-output tool: parsed apart
                continue
            return f"tool call to unknown tool {call['name']!r}"
        schema = getattr(tool, "tool_call_schema", None)
        validate = getattr(schema, "model_validate", None)
        if callable(validate):
            try:
                validate(call["args"])
            except Exception as e:
                first = str(e).strip().splitlines()
                return f"tool call {call['name']!r}: invalid arguments ({first[0] if first else e})"
    return None


def _structured_names(request: ModelRequest) -> set[str]:
    specs = getattr(request.response_format, "schema_specs", None) or []
    return {str(getattr(s, "name", "")) for s in specs}


def _dict_name(tool: Any) -> str | None:
    if isinstance(tool, dict):
        fn = tool.get("function")
        return fn.get("name") if isinstance(fn, dict) else tool.get("name")
    return None
