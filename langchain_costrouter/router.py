"""``ChatCostRouter``: a chat model that sends each call to the cheapest capable model.

It works in *engine mode* (shared/notes/langchain-contract.md §1): the router is the only LLM run.
It calls the chosen model's ``_generate``/``_agenerate``/``_stream``/``_astream`` directly with its
own run manager, so usage is counted exactly once for invoke and stream alike, under
``get_usage_metadata_callback``, cost handlers and LangSmith. The router plans (scores, counts,
prices, orders the candidates); one :class:`~langchain_costrouter.routing.run.CallRun` per call
walks them, and the four entry points below only say how to call a model.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import aclosing
from decimal import Decimal
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.chat_models import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils import secret_from_env
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from langchain_costrouter.batch.flex import FlexPolicy
from langchain_costrouter.cascade import Check, as_check
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.catalog import Catalog, explain_validation
from langchain_costrouter.models.lanes import Lane
from langchain_costrouter.models.pool import ModelPool
from langchain_costrouter.models.streaming import async_chunks, sync_chunks
from langchain_costrouter.models.structured import structured_output_runnable
from langchain_costrouter.redact import scrub_text
from langchain_costrouter.resilience.breaker import Breakers, Health
from langchain_costrouter.resilience.concurrency import ConcurrencyLimiter
from langchain_costrouter.resilience.failures import Classify
from langchain_costrouter.resilience.failures import classify as classify_failure
from langchain_costrouter.resilience.retry import RetryPolicy
from langchain_costrouter.routing.call_plan import plan_request
from langchain_costrouter.routing.config import (
    build_catalog,
    check_names,
    parse_ceiling,
    refuse_unknown,
    settle,
)
from langchain_costrouter.routing.engine import Engine, Runtime
from langchain_costrouter.routing.events import aemit_transitions, emit_transitions
from langchain_costrouter.routing.lanes import LaneEntries
from langchain_costrouter.routing.metadata import METADATA_KEY
from langchain_costrouter.routing.plan import RoutePlan, SelectionPolicy, cheapest_within_ceiling
from langchain_costrouter.routing.preplan import PlanFirst
from langchain_costrouter.routing.scorers import Scorer, Thresholds, resolve_scorer

__all__ = ["METADATA_KEY", "ChatCostRouter"]

class ChatCostRouter(LaneEntries, PlanFirst, BaseChatModel):
    """Routes each call to the cheapest model that can do the job within the cost ceiling.

    Build it from a :class:`Catalog` (ChatOpenAI models per base URL) or from ready chat models::

        router = ChatCostRouter()                                  # default 2026 catalog
        router = ChatCostRouter(catalog=Catalog.default().served_by("http://127.0.0.1:8000/v1"))
        router = ChatCostRouter(models={"small": ChatOpenAI(...), "large": ChatAnthropic(...)})

    Per call: ``model=`` pins a catalog entry, ``level=`` pins a level, ``max_cost=`` sets the
    ceiling in USD, ``lane=`` (or ``lane_deadline_s=``/``urgency=``) the lane; or the same
    through ``config={"configurable": {"costrouter_model": ..., "costrouter_level": ...,
    "costrouter_max_cost": ..., "costrouter_lane": ...}}``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    model: str = "costrouter"
    """Name of the router itself, reported to tracing when no model has been chosen yet."""
    catalog: Catalog | None = None
    """Models, prices and level lists; ``Catalog.default()`` when neither this nor ``models``."""
    models: dict[str, BaseChatModel] | None = Field(default=None, repr=False)
    """Ready chat models by name, instead of (or added to) a catalog."""
    levels: dict[str, list[str]] | None = None
    """Level -> ordered candidate names; overrides the catalog's."""
    scorer: Scorer | str | os.PathLike[str] | None = None
    """``score(messages) -> float``; ``None``: the default scorer."""
    thresholds: Thresholds | Sequence[float] | None = None
    """Cut points on the score; ``None``: the scorer's own cuts."""
    selection: SelectionPolicy = cheapest_within_ceiling
    classify: Classify = classify_failure
    """``classify(exc) -> Verdict``: trip the breaker, cool down, fall back or fail fast."""
    breakers: Breakers | Literal[False] | None = Field(default=None, repr=False)
    """Circuit breakers per model; ``None`` builds in-memory ones, ``False`` turns them off.
    Pass ``Breakers(store=SQLiteBreakerStore(...))`` or a Redis store to share them."""
    retry: RetryPolicy | None = Field(default=None, repr=False)
    """Retries of one model before falling back; default: ``max_retries`` retries with full
    jitter, and a deadline of ``deadline_s`` per call (give either this or those two)."""
    deadline_s: float | None = Field(default=120.0, gt=0)
    """No new attempt starts once this many seconds have passed since the call began."""
    limiter: ConcurrencyLimiter | None = Field(default=None, repr=False)
    """In-flight caps per model/provider with a priority queue; ``None``: unlimited."""
    max_cost: Decimal | None = None
    """Per-request cost ceiling in USD, on the estimate (prompt + output cap)."""
    ceiling: Literal["hard", "soft"] = "hard"
    """``"hard"``: a call no model fits raises ``CostCeilingError``; ``"soft"``: the cheapest
    model serves it anyway and the metadata says ``over_ceiling: true``."""
    default_output_tokens: int = Field(default=512, gt=0)
    """The output length a budget guard expects before it has seen any answers. The router's
    own estimates never use it: they count the output cap (``max_tokens``, else each model's
    ``max_output_tokens`` within its context window), so estimates and ceilings are upper
    bounds, not a guess. Set ``max_tokens`` for tight ones."""
    escalate: bool | Literal["up", "down", "any"] = True
    """When every candidate of a level fails, try other levels' models: ``"up"``/``True`` only
    higher levels (never a cheaper class), ``"any"`` higher then lower, ``"down"`` lower then
    higher, ``False`` none."""
    cascade: Check | Sequence[Check] | None = None
    """Checks of each answer (``invoke``/``ainvoke`` only; see ``langchain_costrouter.cascade``).
    A rejected answer is paid for and escalates to a model of a higher level or price; the
    final message's usage and ``cost_usd`` sum every answer paid for. When all are rejected
    the last answer is returned with ``cascade_exhausted: True``. ``None``: off. Streams are
    not checked (what was streamed cannot be taken back)."""
    lane: Lane | None = None
    """Lane of every call unless it says otherwise: ``flex`` (cheaper, slower, refusals fall
    back by ``flex_policy``) or ``batch`` (``batch()``/``submit_batch()`` only)."""
    flex_policy: FlexPolicy = Field(default_factory=FlexPolicy)
    """A flex refusal (429 ``resource_unavailable``): realtime, wait and retry, or raise."""
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    stop: list[str] | None = None
    timeout: float | None = Field(default=None, gt=0)
    """Per-request timeout given to catalog-built models, in seconds."""
    max_retries: int = Field(default=0, ge=0)
    """Retries of the same model on a transient error before falling back (0: fall back)."""
    streaming: bool = False
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("COSTROUTER_API_KEY", default=None), repr=False
    )
    """One key for every catalog model (an aggregator), or ``COSTROUTER_API_KEY``; else each
    model's own env var."""

    # Everything built at construction lives in one plain object: a pydantic private attribute
    # costs a __getattr__ round trip per access, and the hot path reads these on every call.
    _rt: Runtime = PrivateAttr()

    @property
    def _r(self) -> Runtime:
        """``_rt`` read straight from pydantic's private dict (its ``__getattr__`` is slow)."""
        return self.__pydantic_private__["_rt"]  # type: ignore[index,no-any-return]

    @property
    def _catalog(self) -> Catalog:
        return self._r.catalog

    @property
    def _engine(self) -> Engine:
        return self._r.engine

    @property
    def _breakers(self) -> Breakers | None:
        return self._r.engine.breakers

    @property
    def _pool(self) -> ModelPool:
        return self._r.engine.pool

    @property
    def _scorer(self) -> Scorer:
        return self._r.scorer

    @property
    def _thresholds(self) -> Thresholds:
        return self._r.thresholds

    def __init__(self, **kwargs: Any) -> None:
        refuse_unknown(type(self), kwargs)
        try:
            super().__init__(**kwargs)
        except ValidationError as e:  # a typed error naming the field and value
            raise ConfigError(explain_validation(e, "invalid ChatCostRouter")) from None

    def model_post_init(self, context: Any, /) -> None:
        if self.max_cost is not None:
            parse_ceiling(self.max_cost)
        cat = build_catalog(self.catalog, self.models, self.levels)
        catalog_params = {
            "levels": {lv.value: list(n) for lv, n in cat.levels.items()},
            # what serves each name: two routers over different endpoints never share a cache
            "models": {n: [s.provider, s.model, scrub_text(s.base_url) if s.base_url else None]
                       for n, s in cat.models.items()},
        }
        scorer, thresholds = resolve_scorer(self.scorer, self.thresholds)
        pool = ModelPool(self.api_key, self.timeout)
        providers = {name: spec.provider for name, spec in cat.models.items()}
        classify, breakers, retry = settle(
            fields_set=set(self.model_fields_set), classify=self.classify,
            breakers=self.breakers, retry=self.retry, max_retries=self.max_retries,
            deadline_s=self.deadline_s, providers=providers)
        if self.limiter is not None and not self.limiter.providers:
            self.limiter.providers.update(providers)
        engine = Engine(
            pool=pool, breakers=breakers, classify=classify, retry=retry,
            deadline_s=retry.deadline_s, limiter=self.limiter, cascade=self.cascade,
            temperature=self.temperature, max_tokens=self.max_tokens, stop=self.stop,
            flex_policy=self.flex_policy, clock=retry.clock, sleep=retry.sleep, asleep=retry.asleep)
        self._rt = Runtime(cat, scorer, thresholds, engine, catalog_params)

    def with_budget(
        self, budgets: Sequence[Any] | None = None, **kwargs: Any
    ) -> Runnable[Any, Any]:
        """This router behind a :class:`~langchain_costrouter.budget.BudgetGuard`: reserve the
        estimated cost before each call, reconcile after it (see ``budget.with_budget``)."""
        from langchain_costrouter.budget.guard import with_budget

        return with_budget(self, budgets, **kwargs)

    def health(self) -> dict[str, Health]:
        """State of every model's breaker: state, failures, opened-at, next probe."""
        if self._breakers is None:
            return {}
        return self._breakers.health(self._catalog.models)

    # -- identity ------------------------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "costrouter"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # LangChain asks for these on every call; the catalog part never changes, so it is
        # built once (see model_post_init).
        return {
            "model": self.model,
            **self._r.catalog_params,
            "thresholds": list(self._r.thresholds.cuts),
            "max_cost": str(self.max_cost) if self.max_cost is not None else None,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **({"cascade": check_names(self.cascade)} if self.cascade is not None else {}),
        }

    @property
    def route_catalog(self) -> Catalog:
        """The resolved catalog the router routes over."""
        return self._catalog

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """Tracing sees the provider and model of the model that serves the call."""
        route = kwargs.get("costrouter_route") or kwargs.get("model")
        spec = self._r.catalog.models.get(route) if isinstance(route, str) else None
        params = LangSmithParams(
            ls_provider=spec.provider if spec else "costrouter",
            ls_model_name=spec.model if spec else str(route or self.model),
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # -- planning ------------------------------------------------------------------------------

    def plan(
        self, input: LanguageModelInput, *, stop: list[str] | None = None, **kwargs: Any
    ) -> RoutePlan:
        """Score, count, price and order the candidates for ``input``; no network I/O.

        Raises ``ContextWindowExceededError`` when the prompt fits no candidate,
        ``CostCeilingError`` when none fits a hard ceiling, and ``ConfigError`` for a bad
        override (unknown model or level, ceiling <= 0, no messages).
        """
        return plan_request(self, input, stop, kwargs)

    # -- tools and structured output ----------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools as OpenAI-format dicts; each candidate formats them its own way per call."""
        strict = kwargs.get("strict")
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: str = "function_calling",
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Structured output through tool calling (default, portable), ``json_schema`` (models
        with native structured output only) or ``json_mode``."""
        if kwargs:
            raise ConfigError(f"unsupported with_structured_output arguments: {sorted(kwargs)}")
        return structured_output_runnable(
            self, schema, method=method, strict=strict, include_raw=include_raw
        )

    # -- the four entry points: each drives one CallRun ---------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        run = self._start(messages, stop, kwargs, as_check(self.cascade, kwargs, messages))
        try:
            for t in run.tries():
                with t:
                    t.answer(t.chat._generate(messages, run_manager=run_manager, **t.kwargs))
            return run.result()
        finally:
            emit_transitions(run.transitions, run_manager)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        run = self._start(messages, stop, kwargs, as_check(self.cascade, kwargs, messages))
        try:
            async for t in run.atries():
                async with t:
                    t.answer(await t.chat._agenerate(messages, run_manager=run_manager,
                                                     **t.kwargs))
            return run.result()
        finally:
            await aemit_transitions(run.transitions, run_manager)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        run = self._start(messages, stop, kwargs)
        try:
            for t in run.tries():
                with t:
                    yield from t.stream(sync_chunks(t.chat, messages, run_manager, t.kwargs))
            yield run.last_chunk()
        finally:
            emit_transitions(run.transitions, run_manager)

    async def _astream_run(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> AsyncGenerator[ChatGenerationChunk, None]:
        run = self._start(messages, stop, kwargs)
        try:
            async for t in run.atries():
                async with t, aclosing(
                    t.astream(async_chunks(t.chat, messages, run_manager, t.kwargs))
                ) as chunks:
                    async for chunk in chunks:
                        yield chunk
            yield run.last_chunk()
        finally:
            await aemit_transitions(run.transitions, run_manager)
