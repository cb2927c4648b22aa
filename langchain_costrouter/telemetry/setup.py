"""Turning telemetry on: ``instrument(router)`` installs the handler only when it has somewhere
to send data, so a process without a tracer or meter provider pays nothing (no handler)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from langchain_costrouter.exceptions import ConfigError, TelemetryUnavailableError

_NOOP_PROVIDERS = {"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider",
                   "NoOpMeterProvider"}


def require_otel() -> None:
    """Raise :class:`TelemetryUnavailableError` (naming the ``[otel]`` extra) without the API."""
    for module in ("opentelemetry.trace", "opentelemetry.metrics"):
        try:
            importlib.import_module(module)
        except ImportError:
            raise TelemetryUnavailableError("opentelemetry-api") from None


def _configured(provider: Any) -> bool:
    return provider is not None and type(provider).__name__ not in _NOOP_PROVIDERS


def telemetry_configured(tracer_provider: Any = None, meter_provider: Any = None) -> bool:
    """Whether spans or metrics would go anywhere: a given provider, or a global one set."""
    require_otel()
    from opentelemetry import metrics, trace

    return (
        _configured(tracer_provider)
        or _configured(meter_provider)
        or _configured(trace.get_tracer_provider())
        or _configured(metrics.get_meter_provider())
    )


def otel_handler(
    router: Any = None,
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    capture_content: bool = False,
    tenant_keys: Sequence[str] = ("user",),
    force: bool = False,
) -> Any:
    """An :class:`~.handler.OTelCallbackHandler` (to pass in ``callbacks=[...]``), or ``None``
    when no tracer or meter provider is configured (unless ``force``)."""
    require_otel()
    if not force and not telemetry_configured(tracer_provider, meter_provider):
        return None
    from langchain_costrouter.telemetry.handler import OTelCallbackHandler

    models: dict[str, tuple[str, str]] = {}
    catalog = getattr(router, "route_catalog", None)
    for name, spec in (getattr(catalog, "models", None) or {}).items():
        models[name] = (str(spec.provider), str(spec.model))
    if isinstance(tenant_keys, str):
        tenant_keys = (tenant_keys,)
    return OTelCallbackHandler(
        tracer_provider=tracer_provider, meter_provider=meter_provider,
        capture_content=capture_content, tenant_keys=tenant_keys, models=models,
    )


def instrument(router: Any, **kwargs: Any) -> Any:
    """Emit OpenTelemetry GenAI spans and metrics for every call of ``router``.

    Adds an :class:`~.handler.OTelCallbackHandler` to the router's own callbacks and returns
    it; returns ``None`` and changes nothing when no tracer or meter provider is configured
    (configure them first). Calling it twice returns the handler already installed.
    Keyword arguments: those of :func:`otel_handler`.
    """
    if router is None or not callable(getattr(router, "invoke", None)):
        raise ConfigError(f"instrument() needs a chat model (a ChatCostRouter), got {router!r}")
    require_otel()
    from langchain_core.callbacks import BaseCallbackManager

    from langchain_costrouter.telemetry.handler import OTelCallbackHandler

    existing = router.callbacks
    handlers = existing.handlers if isinstance(existing, BaseCallbackManager) else existing or []
    for h in handlers:
        if isinstance(h, OTelCallbackHandler):
            return h
    handler = otel_handler(router, **kwargs)
    if handler is None:
        return None
    if isinstance(existing, BaseCallbackManager):
        existing.add_handler(handler, inherit=False)
    else:
        router.callbacks = [*(existing or []), handler]
    return handler


def uninstrument(router: Any) -> None:
    """Remove the handlers :func:`instrument` added."""
    from langchain_core.callbacks import BaseCallbackManager

    from langchain_costrouter.telemetry.handler import OTelCallbackHandler

    existing = router.callbacks
    if isinstance(existing, BaseCallbackManager):
        for h in [h for h in existing.handlers if isinstance(h, OTelCallbackHandler)]:
            existing.remove_handler(h)
    elif existing:
        router.callbacks = [h for h in existing if not isinstance(h, OTelCallbackHandler)]
