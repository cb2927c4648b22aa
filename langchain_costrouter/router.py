"""``ChatCostRouter``: a chat model that sends each call to the cheapest capable model.

It works in *engine mode* (shared/notes/langchain-contract.md §1): the router is the only LLM run.
It calls the chosen model's ``_generate``/``_agenerate``/``_stream``/``_astream`` directly with its
own run manager, so usage is counted exactly once for invoke and stream alike, under
``get_usage_metadata_callback``, cost handlers and LangSmith. The loop reads like pydantic-ai's
fallback model: candidates in order, one typed error listing every attempt when all fail.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.chat_models import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.utils import secret_from_env
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from langchain_costrouter.cascade import Check, as_check
from langchain_costrouter.exceptions import (
    ConfigError,
    ProviderResponseError,
    StreamInterruptedError,
)
from langchain_costrouter.models.catalog import Catalog, explain_validation
from langchain_costrouter.models.pool import ModelPool
from langchain_costrouter.models.streaming import (
    StreamTally,
    as_text,
    async_chunks,
    check_result,
    sync_chunks,
)
from langchain_costrouter.models.structured import structured_output_runnable
from langchain_costrouter.pricing.prices import TokenUsage, cost_of, warn_unpriced
from langchain_costrouter.pricing.tokens import count_text
from langchain_costrouter.resilience.breaker import Breakers, Health
from langchain_costrouter.resilience.concurrency import ConcurrencyLimiter
from langchain_costrouter.resilience.failures import Classify
from langchain_costrouter.resilience.failures import classify as classify_failure
from langchain_costrouter.resilience.retry import RetryPolicy
from langchain_costrouter.routing.events import (
    aemit_transitions,
    emit_transitions,
    event_dict,
)
from langchain_costrouter.routing.levels import Level
from langchain_costrouter.routing.plan import (
    Candidate,
    Needs,
    RoutePlan,
    SelectionPolicy,
    cheapest_within_ceiling,
    make_plan,
)
from langchain_costrouter.routing.run import Billed, CallRun, collect_transition
from langchain_costrouter.routing.scorers import Scorer, Thresholds, resolve_scorer, score_request

METADATA_KEY = "costrouter"
"""Key of the router's entry in ``response_metadata``."""

_ROUTING_KWARGS = ("model", "level", "max_cost", "priority", "costrouter_route")
_CONFIGURABLE = {
    "costrouter_model": "model",
    "costrouter_level": "level",
    "costrouter_max_cost": "max_cost",
    "costrouter_priority": "priority",
}
_TOOL_KWARGS = ("tool_choice", "parallel_tool_calls", "strict")

# The plan made in invoke()/stream() before the run starts, handed to _generate()/_stream() so the
# work is not done twice. Keyed by the router and the identity of the messages' contents (a
# router serving as another router's model must not take the outer router's plan).
_PLANNED: ContextVar[tuple[tuple[int, ...], RoutePlan] | None] = ContextVar(
    "costrouter_planned", default=None
)

# Async streams opened by _astream() during an astream() call. langchain-core iterates _astream()
# without closing it, so a caller that stops early would leave the model's breaker permit (a
# half-open probe slot) taken until garbage collection; astream() closes them itself.
_ASTREAMS: ContextVar[list[AsyncGenerator[ChatGenerationChunk, None]] | None] = ContextVar(
    "costrouter_astreams", default=None
)


def _fingerprint(router: ChatCostRouter, messages: Sequence[BaseMessage]) -> tuple[int, ...]:
    return (id(router), *(id(m.content) for m in messages))


class ChatCostRouter(BaseChatModel):
    """Routes each call to the cheapest model that can do the job within the cost ceiling.

    Build it from a :class:`Catalog` (ChatOpenAI models per base URL) or from ready chat models::

        router = ChatCostRouter()                                  # default 2026 catalog
        router = ChatCostRouter(catalog=Catalog.default().served_by("http://127.0.0.1:8000/v1"))
        router = ChatCostRouter(models={"small": ChatOpenAI(...), "large": ChatAnthropic(...)})

    Per call: ``model=`` pins a catalog entry, ``level=`` pins a level, ``max_cost=`` sets the
    ceiling in USD; or the same through ``config={"configurable": {"costrouter_model": ...,
    "costrouter_level": ..., "costrouter_max_cost": ...}}``.
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
    scorer: Scorer | None = None
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
    jitter, and a deadline of ``deadline_s`` per call."""
    deadline_s: float | None = Field(default=120.0, gt=0)
    """No new attempt starts once this many seconds have passed since the call began."""
    limiter: ConcurrencyLimiter | None = Field(default=None, repr=False)
    """In-flight caps per model/provider with a priority queue; ``None``: unlimited."""
    max_cost: Decimal | None = None
    """Per-request cost ceiling in USD."""
    default_output_tokens: int = Field(default=512, gt=0)
    """Expected output tokens for the cost estimate when ``max_tokens`` is not set."""
    escalate: bool | Literal["up", "down"] = True
    """When every candidate of a level fails, try the other levels' models: ``"up"``/``True``
    higher levels first, ``"down"`` lower levels first, ``False`` none. The last resort is
    whichever healthy model is left."""
    cascade: Check | Sequence[Check] | None = None
    """Checks of each answer (``invoke``/``ainvoke`` only; see ``langchain_costrouter.cascade``).
    A rejected answer is paid for and escalates to a model of a higher level or price; the
    final message's usage and ``cost_usd`` sum every answer paid for. When all are rejected
    the last answer is returned with ``cascade_exhausted: True``. ``None``: off. Streams are
    not checked (what was streamed cannot be taken back)."""
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

    _catalog: Catalog = PrivateAttr()
    _scorer: Scorer = PrivateAttr()
    _thresholds: Thresholds = PrivateAttr()
    _pool: ModelPool = PrivateAttr()
    _catalog_params: dict[str, Any] = PrivateAttr(default_factory=dict)
    _breakers: Breakers | None = PrivateAttr(default=None)
    _retry: RetryPolicy | None = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        try:
            super().__init__(**kwargs)
        except ValidationError as e:  # a typed error naming the field and value
            raise ConfigError(explain_validation(e, "invalid ChatCostRouter")) from None

    def model_post_init(self, context: Any, /) -> None:
        if self.max_cost is not None and self.max_cost <= 0:
            raise ConfigError(f"max_cost must be > 0 USD, got {self.max_cost}")
        cat = self.catalog
        if self.models:
            extra = Catalog.from_models(self.models, self.levels if cat is None else None)
            if cat is None:
                cat = extra
            else:
                merged = {**cat.models, **extra.models}
                cat = Catalog.build({"models": list(merged.values()), "levels": cat.levels})
        cat = cat or Catalog.default()
        if self.levels is not None:
            cat = cat.with_overrides({"levels": self.levels})
        self._catalog = cat
        self._catalog_params = {
            "levels": {lv.value: list(n) for lv, n in cat.levels.items()},
            # what serves each name: two routers over different endpoints never share a cache
            "models": {n: [s.provider, s.model, s.base_url] for n, s in cat.models.items()},
        }
        self._scorer, self._thresholds = resolve_scorer(self.scorer, self.thresholds)
        self._pool = ModelPool(self.api_key, self.timeout)
        providers = {name: spec.provider for name, spec in cat.models.items()}
        if self.breakers is None:
            self._breakers = Breakers(classify=self.classify, providers=providers)
        elif self.breakers is not False:
            self._breakers = self.breakers
        if self._breakers is not None:
            self._breakers.on_transition(collect_transition)
        self._retry = self.retry or RetryPolicy(
            max_attempts=self.max_retries + 1, deadline_s=self.deadline_s, classify=self.classify
        )
        if self.limiter is not None and not self.limiter.providers:
            self.limiter.providers.update(providers)

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
            **self._catalog_params,
            "thresholds": list(self._thresholds.cuts),
            "max_cost": str(self.max_cost) if self.max_cost is not None else None,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **({"cascade": _check_names(self.cascade)} if self.cascade is not None else {}),
        }

    @property
    def route_catalog(self) -> Catalog:
        """The resolved catalog the router routes over."""
        return self._catalog

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """Tracing sees the provider and model of the model that serves the call."""
        route = kwargs.get("costrouter_route") or kwargs.get("model")
        spec = self._catalog.models.get(route) if isinstance(route, str) else None
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

        Raises ``ContextWindowExceededError`` when the prompt fits no candidate, and
        ``ConfigError`` for a bad override (unknown model or level, ceiling <= 0, no messages).
        """
        messages = input if _is_messages(input) else self._convert_input(input).to_messages()
        if not messages:
            raise ConfigError("the message list is empty: a call needs at least one message")
        ceiling = _ceiling(kwargs.get("max_cost", self.max_cost))
        pinned = kwargs.get("model")
        if pinned == self.model:
            pinned = None
        names = [self._catalog[pinned].name] if pinned is not None else None
        score: float | None = None
        if kwargs.get("level") is not None:
            level = Level.parse(kwargs["level"])
        elif names is not None:
            level = self._level_of(names[0])
        else:
            score = score_request(
                self._scorer,
                messages,
                tools=kwargs.get("tools"),
                response_format=kwargs.get("response_format"),
            )
            level = self._thresholds.level(score)
        tools = kwargs.get("tools")
        return make_plan(
            self._catalog,
            messages,
            level=level,
            score=score,
            names=names,
            needs=Needs(tools=bool(tools), json_schema=_wants_json_schema(kwargs)),
            max_tokens=kwargs.get("max_tokens", self.max_tokens),
            default_output_tokens=self.default_output_tokens,
            ceiling=ceiling,
            policy=self.selection,
            tools=tools,
            has_key=self._pool.has_key,
            escalate=self.escalate,
        )

    def _level_of(self, name: str) -> Level:
        for lv, names in self._catalog.levels.items():
            if name in names:
                return lv
        return Level.EXPERT

    def _plan_for(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> RoutePlan:
        planned = _PLANNED.get()
        if planned is not None and planned[0] == _fingerprint(self, messages):
            return planned[1]
        return self.plan(messages, **kwargs)

    def _preplan(
        self, input: LanguageModelInput, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], tuple[tuple[int, ...], RoutePlan] | None]:
        """Apply configurable overrides and plan before the run starts (for tracing)."""
        conf = (config or {}).get("configurable") or {}
        for key, kw in _CONFIGURABLE.items():
            if conf.get(key) is not None and kw not in kwargs:
                kwargs[kw] = conf[key]
        try:
            messages = self._convert_input(input).to_messages()
            plan = self.plan(messages, **kwargs)
        except Exception:
            return kwargs, None
        kwargs["costrouter_route"] = plan.tier
        return kwargs, (_fingerprint(self, messages), plan)

    # -- public entry points: plan first so tracing names the serving model -------------------

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        kwargs, planned = self._preplan(input, config, kwargs)
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
        kwargs, planned = self._preplan(input, config, kwargs)
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
        kwargs, planned = self._preplan(input, config, kwargs)
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
        kwargs, planned = self._preplan(input, config, kwargs)
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

    # -- the fallback loops --------------------------------------------------------------------

    def _call_kwargs(self, chat: BaseChatModel, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """What the chosen model gets: routing keys removed, router defaults, its own tools."""
        kw = {k: v for k, v in kwargs.items() if k not in _ROUTING_KWARGS}
        if self.temperature is not None:
            kw.setdefault("temperature", self.temperature)
        if self.max_tokens is not None:
            kw.setdefault("max_tokens", self.max_tokens)
        tools = kw.pop("tools", None)
        if tools is not None:
            extra = {k: kw.pop(k) for k in _TOOL_KWARGS if k in kw}
            bound = chat.bind_tools(tools, **extra)
            kw = {**getattr(bound, "kwargs", {}), **kw}
        return kw

    def _run(self, plan: RoutePlan, kwargs: Mapping[str, Any]) -> CallRun:
        return CallRun(
            plan,
            breakers=self._breakers,
            retry=self._retry,
            classify=self.classify,
            limiter=self.limiter,
            priority=_priority(kwargs.get("priority")),
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        run = self._run(self._plan_for(messages, kwargs), kwargs)
        stop = stop or self.stop
        check = as_check(self.cascade, kwargs)
        last: tuple[ChatResult, Candidate] | None = None
        try:
            while True:
                run.sleep()  # a retry's backoff, outside any concurrency slot
                if (cand := run.next()) is None:
                    break
                chat = self._pool.get(cand.spec)
                kw = self._call_kwargs(chat, kwargs)
                with run.slot(cand):
                    start = run.clock()
                    try:
                        if chat.rate_limiter is not None:
                            chat.rate_limiter.acquire(blocking=True)
                        result = check_result(
                            chat._generate(messages, stop=stop, run_manager=run_manager, **kw)
                        )
                    except Exception as exc:
                        if run.failed(cand, exc, start):
                            raise
                        continue
                    except BaseException:
                        run.release()
                        raise
                if self._accepted(run, cand, start, result, check):
                    return self._annotate(result, run, cand, check is not None)
                last = (result, cand)
            if last is not None:  # every answer rejected: the last one, best effort
                return self._annotate(last[0], run, last[1], cascade=True, exhausted=True)
            raise run.all_failed()
        finally:
            emit_transitions(run, run_manager)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        run = self._run(self._plan_for(messages, kwargs), kwargs)
        stop = stop or self.stop
        check = as_check(self.cascade, kwargs)
        last: tuple[ChatResult, Candidate] | None = None
        try:
            while True:
                await run.asleep()  # a retry's backoff, outside any concurrency slot
                if (cand := run.next()) is None:
                    break
                chat = self._pool.get(cand.spec)
                kw = self._call_kwargs(chat, kwargs)
                async with run.aslot(cand):
                    start = run.clock()
                    try:
                        if chat.rate_limiter is not None:
                            await chat.rate_limiter.aacquire(blocking=True)
                        result = check_result(
                            await chat._agenerate(
                                messages, stop=stop, run_manager=run_manager, **kw
                            )
                        )
                    except Exception as exc:
                        if run.failed(cand, exc, start):
                            raise
                        continue
                    except BaseException:
                        run.release()
                        raise
                if self._accepted(run, cand, start, result, check):
                    return self._annotate(result, run, cand, check is not None)
                last = (result, cand)
            if last is not None:  # every answer rejected: the last one, best effort
                return self._annotate(last[0], run, last[1], cascade=True, exhausted=True)
            raise run.all_failed()
        finally:
            await aemit_transitions(run, run_manager)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        run = self._run(self._plan_for(messages, kwargs), kwargs)
        stop = stop or self.stop
        try:
            while True:
                run.sleep()  # a retry's backoff, outside any concurrency slot
                if (cand := run.next()) is None:
                    break
                chat = self._pool.get(cand.spec)
                kw = self._call_kwargs(chat, kwargs)
                with run.slot(cand):
                    start = run.clock()
                    try:
                        if chat.rate_limiter is not None:
                            chat.rate_limiter.acquire(blocking=True)
                        chunks = sync_chunks(chat, messages, stop, run_manager, kw)
                        first = next(chunks, None)
                        if first is None:
                            raise ProviderResponseError(f"{cand.name!r} sent an empty stream")
                    except Exception as exc:
                        if run.failed(cand, exc, start):
                            raise
                        continue
                    except BaseException:
                        run.release()
                        raise
                    tally = StreamTally()
                    try:  # after the first chunk is out there is no fallback
                        yield tally.add(first)
                        for chunk in chunks:
                            yield tally.add(chunk)
                    except Exception as exc:
                        run.failed_midstream(cand, exc, start)
                        raise StreamInterruptedError(cand.name, tally.text, exc) from exc
                    except BaseException:
                        run.release()
                        raise
                run.succeeded(cand, start)
                yield self._last_chunk(run, cand, tally)
                return
            raise run.all_failed()
        finally:
            emit_transitions(run, run_manager)

    def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        gen = self._astream_run(messages, stop, run_manager, **kwargs)
        opened = _ASTREAMS.get()
        if opened is not None:  # astream() closes it if its caller stops early
            opened.append(gen)
        return gen

    async def _astream_run(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        **kwargs: Any,
    ) -> AsyncGenerator[ChatGenerationChunk, None]:
        run = self._run(self._plan_for(messages, kwargs), kwargs)
        stop = stop or self.stop
        try:
            while True:
                await run.asleep()  # a retry's backoff, outside any concurrency slot
                if (cand := run.next()) is None:
                    break
                chat = self._pool.get(cand.spec)
                kw = self._call_kwargs(chat, kwargs)
                async with run.aslot(cand):
                    start = run.clock()
                    try:
                        if chat.rate_limiter is not None:
                            await chat.rate_limiter.aacquire(blocking=True)
                        chunks = async_chunks(chat, messages, stop, run_manager, kw)
                        first = await anext(chunks, None)
                        if first is None:
                            raise ProviderResponseError(f"{cand.name!r} sent an empty stream")
                    except Exception as exc:
                        if run.failed(cand, exc, start):
                            raise
                        continue
                    except BaseException:
                        run.release()
                        raise
                    tally = StreamTally()
                    try:
                        yield tally.add(first)
                        async for chunk in chunks:
                            yield tally.add(chunk)
                    except Exception as exc:
                        run.failed_midstream(cand, exc, start)
                        raise StreamInterruptedError(cand.name, tally.text, exc) from exc
                    except BaseException:
                        run.release()
                        raise
                run.succeeded(cand, start)
                yield self._last_chunk(run, cand, tally)
                return
            raise run.all_failed()
        finally:
            await aemit_transitions(run, run_manager)

    # -- metadata --------------------------------------------------------------------------------

    def _accepted(
        self,
        run: CallRun,
        cand: Candidate,
        start: float,
        result: ChatResult,
        check: Check | None,
    ) -> bool:
        """Run the cascade check on an answer, tell the breaker it answered, bill it."""
        gen = result.generations[0]
        msg = gen.message
        assert isinstance(msg, AIMessage)
        reason: str | None = None
        try:
            if check is not None:  # the check sees the metadata a caller would (as core merges it)
                msg.response_metadata = {
                    **(result.llm_output or {}),
                    **(gen.generation_info or {}),
                    **msg.response_metadata,
                }
                reason = check(msg)
        finally:  # the model is healthy whatever the check says (or if the check raised)
            run.answered(cand, start, reason)
            self._bill(run, cand, msg.usage_metadata, msg.content)
        return reason is None

    def _bill(
        self, run: CallRun, cand: Candidate, um: UsageMetadata | None, content: Any
    ) -> None:
        """Record the tokens and cost of the answer just recorded in ``run.attempts``."""
        spec = cand.spec
        usage = TokenUsage.from_usage_metadata(dict(um) if um else None)
        estimated = usage is None
        if usage is None:
            usage = TokenUsage(
                input_tokens=cand.input_tokens,
                output_tokens=count_text(as_text(content), spec.tokenizer),
            )
            um = UsageMetadata(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                total_tokens=usage.input_tokens + usage.output_tokens,
            )
        if spec.prices is None:
            warn_unpriced(spec.name)
        cost = cost_of(spec.prices, usage)
        assert um is not None
        run.billed.append(Billed(len(run.attempts) - 1, dict(um), cost, estimated))

    def _entry(self, run: CallRun, cand: Candidate) -> dict[str, Any]:
        plan = run.plan
        spec = cand.spec
        costs = [b.cost for b in run.billed if b.cost is not None]
        cost = sum(costs, Decimal(0)) if costs and len(costs) == len(run.billed) else None
        return {
            "level": plan.level.value,
            "tier": cand.name,
            "model_name": spec.model,
            "provider": spec.provider,
            "score": plan.score,
            "estimated_cost_usd": _str(cand.estimated_cost),
            "cost_usd": _str(cost),
            "currency": "USD",
            "price_source": spec.prices.source if spec.prices else None,
            "usage_estimated": any(b.estimated for b in run.billed),
            "attempts": run.as_dicts(),
            "breaker_events": [event_dict(e) for e in run.transitions],
        }

    def _annotate(
        self,
        result: ChatResult,
        run: CallRun,
        cand: Candidate,
        cascade: bool = False,
        exhausted: bool = False,
    ) -> ChatResult:
        msg = result.generations[0].message
        assert isinstance(msg, AIMessage)
        if len(run.billed) > 1:  # a cascade paid for several answers: the message carries all
            total: UsageMetadata | None = None
            for b in run.billed:
                total = add_usage(total, cast(UsageMetadata, b.usage_metadata))
            msg.usage_metadata = total
        entry = self._entry(run, cand)
        if cascade:
            entry["cascade_exhausted"] = exhausted
        msg.response_metadata = {**msg.response_metadata, METADATA_KEY: entry}
        return result

    def _last_chunk(
        self, run: CallRun, cand: Candidate, tally: StreamTally
    ) -> ChatGenerationChunk:
        self._bill(run, cand, tally.usage, tally.text)  # type: ignore[arg-type]
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata={METADATA_KEY: self._entry(run, cand)},
                chunk_position="last",
            )
        )



def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(m, BaseMessage) for m in value)


def _wants_json_schema(kwargs: Mapping[str, Any]) -> bool:
    rf = kwargs.get("response_format")
    return isinstance(rf, dict) and rf.get("type") == "json_schema"


def _ceiling(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ConfigError(f"max_cost must be a number of USD, got {value!r}") from None
    if not d.is_finite() or d <= 0:
        raise ConfigError(f"max_cost must be > 0 USD, got {value!r}")
    return d


def _priority(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"priority must be an integer (lower = sooner), got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"priority must be an integer (lower = sooner), got {value!r}") from None


def _check_names(cascade: Check | Sequence[Check]) -> list[str]:
    checks = [cascade] if callable(cascade) else list(cascade)
    return [getattr(c, "__name__", type(c).__name__) for c in checks]


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
