"""OpenTelemetry GenAI spans and metrics for routed calls, from LangChain callbacks.

One span per LLM run (the router is the only LLM run of a routed call, see ``router.py``), with
one child span per attempt rebuilt from the router's ``attempts`` list: each starts where the
previous one ended and lasts its recorded ``duration_s`` (``costrouter.attempt.timing =
"reconstructed"``; backoff waits between attempts are not in the metadata). Spans are created
when the run ends, with the start time recorded at ``on_chat_model_start``, and parented on the
OpenTelemetry context that was current when the call started.

Prompt and answer text go into spans only with ``capture_content=True`` (scrubbed of keys).
Error texts are scrubbed too. The handler runs inline (a few dict operations per event).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from langchain_costrouter.redact import is_secret_key, scrub_text
from langchain_costrouter.telemetry import semconv as sc
from langchain_costrouter.telemetry.attributes import (
    message_of,
    message_part,
    opt_str,
    route_attributes,
    usage_attributes,
)
from langchain_costrouter.telemetry.route import (
    AttemptInfo,
    RouteInfo,
    attempts_of_error,
    route_of,
    route_of_error,
)

NO_TENANT = "(none)"
ATTEMPT_EVENT = "costrouter_attempt"
"""Custom event the call engine may send at the start and end of each attempt (see
``on_custom_event``); without it attempt spans are rebuilt from the metadata."""
_MAX_OPEN = 100_000


@dataclass(slots=True)
class _Open:
    start_ns: int
    t0: float
    context: otel_context.Context
    requested: str | None
    provider: str | None
    tenant: str
    params: dict[str, Any]
    prompt: list[dict[str, str]] | None
    ttfc: float | None = None
    streamed: bool = False
    live: dict[int, list[int]] | None = None
    """Attempt index -> [start_ns, end_ns] from the engine's ``costrouter_attempt`` events."""


class OTelCallbackHandler(BaseCallbackHandler):
    """Emits GenAI spans and metrics for every LLM run it sees (routed or not).

    Args:
        tracer_provider / meter_provider: default: the global ones.
        capture_content: put prompt and answer text in ``gen_ai.input.messages`` /
            ``gen_ai.output.messages`` (off by default; text is scrubbed of keys).
        tenant_keys: run-metadata keys that name the tenant for the cost counter and spans
            (several keys are joined with ``/``; a key whose name looks secret is hashed).
        models: catalog name -> ``(provider, model id)``, to name the model of each attempt
            span (``instrument(router)`` fills it from the router's catalog).
        clock: monotonic seconds for durations (inject a fake one in tests).
    """

    run_inline: bool = True
    raise_error: bool = False

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        capture_content: bool = False,
        tenant_keys: Sequence[str] = ("user",),
        models: Mapping[str, tuple[str, str]] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__()
        self.capture_content = capture_content
        self.tenant_keys = tuple(tenant_keys)
        self._models = dict(models or {})
        self._clock = clock
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(__name__, meter_provider=meter_provider)
        self._tokens = meter.create_histogram(
            sc.METRIC_TOKEN_USAGE, unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=sc.TOKEN_BUCKETS,
        )
        self._duration = meter.create_histogram(
            sc.METRIC_DURATION, unit="s", description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS,
        )
        self._ttfc = meter.create_histogram(
            sc.METRIC_TTFC, unit="s", description="Time to receive the first chunk",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS,
        )
        self._cost = meter.create_counter(
            sc.METRIC_COST, unit="USD", description="Spend on model calls (provisional name)",
        )
        self._open: dict[UUID, _Open] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(open_runs={len(self._open)}, " \
               f"capture_content={self.capture_content})"

    # -- start -------------------------------------------------------------------------------

    def on_chat_model_start(
        self, serialized: Any, messages: list[list[BaseMessage]], *, run_id: UUID,
        parent_run_id: UUID | None = None, metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = None
        if self.capture_content and messages:
            prompt = [message_part(m) for m in messages[0]]
        self._start(run_id, parent_run_id, metadata, kwargs.get("invocation_params"), prompt)

    def on_llm_start(
        self, serialized: Any, prompts: list[str], *, run_id: UUID,
        parent_run_id: UUID | None = None, metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = None
        if self.capture_content:
            prompt = [{"role": "user", "content": scrub_text(p)} for p in prompts]
        self._start(run_id, parent_run_id, metadata, kwargs.get("invocation_params"), prompt)

    def _start(
        self, run_id: UUID, parent: UUID | None, metadata: dict[str, Any] | None,
        params: dict[str, Any] | None, prompt: list[dict[str, str]] | None,
    ) -> None:
        if parent is not None and parent in self._open:
            return  # an LLM run inside a counted LLM run (a wrapper's inner model): once
        meta = metadata or {}
        params = params or {}
        requested = meta.get("ls_model_name") or params.get("model") or params.get("model_name")
        run = _Open(
            start_ns=time.time_ns(), t0=self._clock(), context=otel_context.get_current(),
            requested=str(requested) if requested else None,
            provider=opt_str(meta.get("ls_provider")),
            tenant=self._tenant(meta),
            params={k: params[k] for k in ("temperature", "max_tokens") if k in params},
            prompt=prompt,
        )
        with self._lock:
            if len(self._open) >= _MAX_OPEN:  # abandoned runs: forget the oldest
                self._open.pop(next(iter(self._open)))
            self._open[run_id] = run

    def _tenant(self, meta: Mapping[str, Any]) -> str:
        parts = []
        for k in self.tenant_keys:
            v = meta.get(k)
            if v is None or v == "":
                parts.append(NO_TENANT)
            elif is_secret_key(k):
                parts.append("sha256:" + hashlib.sha256(str(v).encode()).hexdigest()[:24])
            else:
                parts.append(scrub_text(str(v)))
        return "/".join(parts) if parts else NO_TENANT

    # -- stream and end ------------------------------------------------------------------------

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Live attempt timings, when the call engine sends them (``ATTEMPT_EVENT``):
        ``{"phase": "start" | "end", "index": <position in the attempts list>}``."""
        if name != ATTEMPT_EVENT or not isinstance(data, Mapping):
            return
        run = self._open.get(run_id)
        index, phase = data.get("index"), data.get("phase")
        if run is None or isinstance(index, bool) or not isinstance(index, int):
            return
        now = time.time_ns()
        if run.live is None:
            run.live = {}
        if phase == "start":
            run.live[index] = [now, now]
        elif phase == "end" and index in run.live:
            run.live[index][1] = now

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, run_id: UUID,
                         **kwargs: Any) -> None:
        run = self._open.get(run_id)
        if run is None:
            return
        run.streamed = True
        if run.ttfc is None:
            run.ttfc = max(self._clock() - run.t0, 0.0)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, response, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, kwargs.get("response"), error)

    def _finish(
        self, run_id: UUID, response: LLMResult | None, error: BaseException | None
    ) -> None:
        with self._lock:
            run = self._open.pop(run_id, None)
        if run is None:
            return
        end_ns = time.time_ns()
        duration = max(self._clock() - run.t0, 0.0)
        message = message_of(response)
        meta: Mapping[str, Any] = getattr(message, "response_metadata", None) or {}
        route = route_of(meta) or (route_of_error(error) if error is not None else None)
        attempts = route.attempts if route else attempts_of_error(error) if error else ()
        attrs = self._call_attributes(run, meta, route, message, error)
        name = f"{sc.OPERATION_CHAT} {attrs.get(sc.REQUEST_MODEL) or 'unknown'}"
        span = self._tracer.start_span(
            name, context=run.context, kind=SpanKind.CLIENT, start_time=run.start_ns,
            attributes=attrs,
        )
        if attempts:
            parent = trace.set_span_in_context(span, run.context)
            self._attempt_spans(parent, attempts, run.start_ns, end_ns, route, run.live or {})
        if error is not None:
            text = scrub_text(f"{type(error).__name__}: {error}")[:500]
            span.set_status(Status(StatusCode.ERROR, text))
            span.add_event("exception", {"exception.type": type(error).__name__,
                                         "exception.message": text})
        span.end(end_time=end_ns)
        self._record_metrics(run, attrs, duration, error)

    def _call_attributes(
        self, run: _Open, meta: Mapping[str, Any], route: RouteInfo | None,
        message: Any, error: BaseException | None,
    ) -> dict[str, Any]:
        requested = run.requested
        tried = route.attempts if route else attempts_of_error(error) if error else ()
        if (not requested or requested == "costrouter") and tried:  # no plan was traced
            requested = self._models.get(tried[0].tier, (None, tried[0].tier))[1]
        a: dict[str, Any] = {
            sc.OPERATION_NAME: sc.OPERATION_CHAT,
            sc.PROVIDER_NAME: (route.provider if route else None)
            or opt_str(meta.get("model_provider")) or run.provider or "unknown",
            sc.REQUEST_MODEL: requested or "unknown",
        }
        response_model = opt_str(meta.get("model_name")) or (route.model_name if route else None)
        if response_model:
            a[sc.RESPONSE_MODEL] = response_model
        if run.params.get("temperature") is not None:
            a[sc.REQUEST_TEMPERATURE] = float(run.params["temperature"])
        if isinstance(run.params.get("max_tokens"), int):
            a[sc.REQUEST_MAX_TOKENS] = run.params["max_tokens"]
        if getattr(message, "id", None):
            a[sc.RESPONSE_ID] = str(message.id)
        finish = meta.get("finish_reason")
        if isinstance(finish, str) and finish:
            a[sc.RESPONSE_FINISH_REASONS] = [finish]
        a.update(usage_attributes(getattr(message, "usage_metadata", None)))
        if run.tenant != NO_TENANT or self.tenant_keys:
            a[sc.TENANT] = run.tenant
        if route is not None:
            a.update(route_attributes(route))
        if error is not None:
            a[sc.ERROR_TYPE] = type(error).__qualname__
            failed = attempts_of_error(error)
            if failed:
                a[sc.ATTEMPTS] = len(failed)
                reason = RouteInfo(attempts=failed).fallback_reason
                if reason:
                    a[sc.FALLBACK_REASON] = scrub_text(reason)[:1000]
        if self.capture_content:
            if run.prompt is not None:
                a[sc.INPUT_MESSAGES] = json.dumps(run.prompt, ensure_ascii=False)
            if message is not None:
                a[sc.OUTPUT_MESSAGES] = json.dumps([message_part(message)], ensure_ascii=False)
        return a

    def _attempt_spans(
        self, parent: otel_context.Context, attempts: Sequence[AttemptInfo], start_ns: int,
        end_ns: int, route: RouteInfo | None, live: Mapping[int, list[int]],
    ) -> None:
        t = start_ns
        for i, att in enumerate(attempts):
            provider, model = self._models.get(att.tier, (None, None))
            a: dict[str, Any] = {
                sc.OPERATION_NAME: sc.OPERATION_CHAT,
                sc.PROVIDER_NAME: provider or "unknown",
                sc.REQUEST_MODEL: model or att.tier,
                sc.TIER: att.tier,
                sc.ATTEMPT_INDEX: i,
                sc.ATTEMPT_STATUS: att.status,
                sc.ATTEMPT_TIMING: "live" if i in live else "reconstructed",
            }
            if att.error:
                a[sc.ATTEMPT_ERROR] = scrub_text(att.error)[:500]
            if att.cost_usd is not None:
                a[sc.COST_AMOUNT] = float(att.cost_usd)
                a[sc.COST_CURRENCY] = route.currency if route else "USD"
                a[sc.COST_SOURCE] = sc.COST_SOURCE_LOCAL
            if att.status == "ok" and route is not None and route.model_name:
                a[sc.RESPONSE_MODEL] = route.model_name
            if i in live:  # timed as it happened
                t, stop = live[i][0], live[i][1]
            else:  # laid after the previous attempt, for its recorded duration
                stop = min(t + int(att.duration_s * 1e9), end_ns)
            child = self._tracer.start_span(
                f"{sc.OPERATION_CHAT} {a[sc.REQUEST_MODEL]}", context=parent,
                kind=SpanKind.CLIENT, start_time=t, attributes=a,
            )
            if att.status == "error":
                child.set_status(Status(StatusCode.ERROR, a.get(sc.ATTEMPT_ERROR, "error")))
            child.end(end_time=stop)
            t = stop

    def _record_metrics(
        self, run: _Open, attrs: Mapping[str, Any], duration: float, error: BaseException | None
    ) -> None:
        base = {k: attrs[k] for k in (sc.OPERATION_NAME, sc.PROVIDER_NAME, sc.REQUEST_MODEL,
                                      sc.RESPONSE_MODEL, sc.LEVEL) if k in attrs}
        timed = dict(base)
        if error is not None:
            timed[sc.ERROR_TYPE] = attrs[sc.ERROR_TYPE]
        self._duration.record(duration, timed)
        if run.streamed and run.ttfc is not None and error is None:
            self._ttfc.record(run.ttfc, base)
        if error is None:
            for kind, key in (("input", sc.INPUT_TOKENS), ("output", sc.OUTPUT_TOKENS)):
                if key in attrs:
                    self._tokens.record(attrs[key], {**base, sc.TOKEN_TYPE: kind})
        if sc.COST_AMOUNT in attrs:
            labels = {k: attrs[k] for k in (sc.RESPONSE_MODEL, sc.LEVEL) if k in attrs}
            labels[sc.TENANT] = run.tenant
            self._cost.add(attrs[sc.COST_AMOUNT], labels)
