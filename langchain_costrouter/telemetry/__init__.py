"""OpenTelemetry GenAI spans and metrics for routed calls (optional extra ``[otel]``).

>>> from langchain_costrouter.telemetry import instrument
>>> instrument(router)  # doctest: +SKIP  (after configuring a tracer/meter provider)

Off unless a tracer or meter provider is configured: ``instrument`` then installs nothing.
Importing this package needs no OpenTelemetry; asking for telemetry without it raises
:class:`~langchain_costrouter.exceptions.TelemetryUnavailableError` naming the extra.
"""

from __future__ import annotations

from typing import Any

from langchain_costrouter.telemetry.route import (
    AttemptInfo,
    RouteInfo,
    attempts_of_error,
    route_of,
    route_of_error,
)
from langchain_costrouter.telemetry.setup import (
    instrument,
    otel_handler,
    require_otel,
    telemetry_configured,
    uninstrument,
)

__all__ = [
    "AttemptInfo",
    "OTelCallbackHandler",
    "RouteInfo",
    "attempts_of_error",
    "instrument",
    "otel_handler",
    "require_otel",
    "route_of",
    "route_of_error",
    "telemetry_configured",
    "uninstrument",
]


def __getattr__(name: str) -> Any:  # the handler imports OpenTelemetry: only on demand
    if name == "OTelCallbackHandler":
        require_otel()
        from langchain_costrouter.telemetry.handler import OTelCallbackHandler

        return OTelCallbackHandler
    raise AttributeError(name)
