"""Configuration of the local provider server: which models it serves and how they behave."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.testing.faults import NO_FAULTS, FaultPlan

if TYPE_CHECKING:
    from langchain_costrouter.models.catalog import Catalog

SleepFn = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class ModelBehaviour:
    """How one served model answers: latency, output lengths, context window and faults."""

    provider: str = "openai"
    """Reported as ``owned_by`` in ``/v1/models`` and in the ``x-costrouter-provider`` header."""
    p50_latency_ms: float = 0.0
    """Median time before the first byte (scaled by ``ServerConfig.latency_scale``)."""
    latency_sigma: float = 0.3
    """Sigma of the lognormal latency around the median."""
    tokens_per_s: float = 0.0
    """Output speed after the first byte; 0 sends the whole reply at once."""
    output_tokens_p50: int = 200
    """Median length of free-text replies (lognormal, seeded per request)."""
    output_tokens_sigma: float = 0.35
    output_tokens_max: int = 2048
    context_window: int | None = None
    """Prompts longer than this get a real 400 ``context_length_exceeded``."""
    faults: FaultPlan = NO_FAULTS

    def __post_init__(self) -> None:
        for name in ("p50_latency_ms", "latency_sigma", "tokens_per_s", "output_tokens_sigma"):
            if getattr(self, name) < 0:
                raise ConfigError(f"ModelBehaviour.{name}={getattr(self, name)!r} must be >= 0")
        if self.output_tokens_p50 < 1 or self.output_tokens_max < 1:
            raise ConfigError(
                f"output_tokens_p50={self.output_tokens_p50!r} and "
                f"output_tokens_max={self.output_tokens_max!r} must be >= 1"
            )
        if self.context_window is not None and self.context_window < 1:
            raise ConfigError(f"context_window={self.context_window!r} must be >= 1 or None")


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Models served (by API id), the seed of every random draw and the latency scale."""

    models: Mapping[str, ModelBehaviour] = field(default_factory=dict)
    seed: int = 0
    latency_scale: float = 1.0
    """Multiplies every latency; 0 gives a zero-latency server for overhead benchmarks."""
    unknown_models: Literal["serve", "404"] = "serve"
    """``"serve"`` answers any model name with ``default``; ``"404"`` gives ``model_not_found``."""
    default: ModelBehaviour = ModelBehaviour()
    sleep: SleepFn = field(default=asyncio.sleep, repr=False, compare=False)
    """Awaited for every simulated delay; tests inject a recorder instead of waiting."""

    def __post_init__(self) -> None:
        if self.latency_scale < 0:
            raise ConfigError(f"latency_scale={self.latency_scale!r} must be >= 0")
        if self.unknown_models not in ("serve", "404"):
            raise ConfigError(f"unknown_models={self.unknown_models!r} must be 'serve' or '404'")
        object.__setattr__(self, "models", dict(self.models))

    def behaviour(self, model: str) -> ModelBehaviour | None:
        """The behaviour of ``model``, ``default`` for unknown names, or ``None`` (404)."""
        found = self.models.get(model)
        if found is not None:
            return found
        return self.default if self.unknown_models == "serve" else None

    def with_faults(self, faults: Mapping[str, FaultPlan]) -> ServerConfig:
        """A copy with the given models' fault plans replaced."""
        models = dict(self.models)
        for name, plan in faults.items():
            models[name] = replace(models.get(name, self.default), faults=plan)
        return replace(self, models=models)

    @classmethod
    def from_catalog(
        cls,
        catalog: Catalog | None = None,
        *,
        latency_scale: float = 1.0,
        seed: int = 0,
        unknown_models: Literal["serve", "404"] = "404",
        faults: Mapping[str, FaultPlan] | None = None,
    ) -> ServerConfig:
        """Serve every catalog model under its API id and its catalog name.

        Latency medians and context windows come from the specs; ``faults`` is keyed by
        either name.
        """
        from langchain_costrouter.models.catalog import Catalog

        catalog = catalog or Catalog.default()
        faults = dict(faults or {})
        models: dict[str, ModelBehaviour] = {}
        for spec in catalog.models.values():
            b = ModelBehaviour(
                provider=spec.provider,
                p50_latency_ms=spec.p50_latency_ms,
                context_window=spec.context_window,
                faults=faults.get(spec.model, faults.get(spec.name, NO_FAULTS)),
            )
            models.setdefault(spec.model, b)
            models.setdefault(spec.name, b)
        unknown = set(faults) - set(models)
        if unknown:
            raise ConfigError(
                f"faults name unknown model {sorted(unknown)[0]!r}; known: {sorted(models)}"
            )
        return cls(
            models=models, seed=seed, latency_scale=latency_scale, unknown_models=unknown_models
        )
