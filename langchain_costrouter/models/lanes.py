"""Lanes: the same model served now (``realtime``), slower and cheaper (``flex``), or within
24 hours through the provider's Batch API (``batch``), each at its own prices.

A model offers realtime always, and the lanes its :attr:`ModelSpec.lanes` names. A lane's
prices come from the catalog when given, else from genai-prices' price variants
(``{"processing": "batch"}`` and ``{"service_tier": "flex"}``); a lane genai-prices does not
price stays unpriced (``None`` with a warning), never silently the realtime price.

:func:`with_lanes` fills ``lanes`` from what genai-prices knows, for providers that have the
API: OpenAI, Anthropic and Gemini have batch APIs; OpenAI and Gemini have flex tiers.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, get_args

from langchain_costrouter.exceptions import BatchLaneUnavailableError, ConfigError
from langchain_costrouter.pricing.prices import Prices

Lane = Literal["realtime", "flex", "batch"]
LANES: tuple[Lane, ...] = get_args(Lane)

BATCH_TRANSPORTS: dict[str, str] = {
    "openai": "openai",  # files + /v1/batches
    "google": "openai",  # Gemini's OpenAI-compatible endpoint takes the same batch calls
    "anthropic": "anthropic",  # /v1/messages/batches
}
"""Providers with a batch API, and the wire format of it."""
FLEX_PROVIDERS: frozenset[str] = frozenset({"openai", "google"})
"""Providers with a flex ``service_tier``."""
_CONTEXT: dict[str, dict[str, str]] = {
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
}


def parse_lane(value: Any) -> Lane:
    """``value`` as a lane name; anything else is a ``ConfigError`` naming the choices."""
    if value in LANES:
        return value  # type: ignore[no-any-return]
    raise ConfigError(f"unknown lane {value!r}; expected one of {', '.join(LANES)}")


def offered_lanes(spec: Any) -> tuple[Lane, ...]:
    """The lanes ``spec`` (a ModelSpec) offers, realtime first."""
    return ("realtime", *(lane for lane in ("flex", "batch") if lane in spec.lanes))


def lane_prices(spec: Any, lane: Lane) -> Prices | None:
    """Prices of ``spec`` on ``lane``: the catalog's, else genai-prices', else ``None``.

    Raises :class:`BatchLaneUnavailableError` when the model does not offer ``lane``.
    """
    if lane == "realtime":
        return spec.prices  # type: ignore[no-any-return]
    if lane not in spec.lanes:
        raise BatchLaneUnavailableError(spec.name, spec.provider, lane, offered_lanes(spec))
    given = spec.lanes[lane]
    if given is not None:
        return given  # type: ignore[no-any-return]
    found = genai_lane_prices(spec.model, spec.provider, lane)
    if found is None:
        _warn_unpriced(spec.name, lane)
    return found


def transport_of(spec: Any) -> str:
    """``"openai"`` or ``"anthropic"``: the batch wire format of ``spec``'s provider."""
    kind = BATCH_TRANSPORTS.get(spec.provider)
    if kind is None or "batch" not in spec.lanes:
        raise BatchLaneUnavailableError(spec.name, spec.provider, "batch", offered_lanes(spec))
    return kind


@lru_cache(maxsize=256)
def genai_lane_prices(model: str, provider: str | None, lane: Lane) -> Prices | None:
    """genai-prices' price variant of ``model`` for ``lane``, or ``None`` when it has none."""
    from genai_prices import Usage, calc_price
    from genai_prices import __version__ as gp_version

    context = _CONTEXT.get(lane)
    if context is None:
        return None
    try:
        calc = calc_price(
            Usage(input_tokens=1, output_tokens=1), model, provider_id=provider,
            price_context=context,  # type: ignore[arg-type]
        )
    except LookupError:
        return None
    variants = [
        v for v in (calc.model.price_variants or ())
        if all(context.get(k) == val for k, val in v.when.items())
    ]
    if not variants or not any(
        getattr(v.prices, "input_mtok", None) is not None for v in variants
    ):
        return None  # no variant: the standard price is not this lane's price
    return _to_prices(calc.model_price, f"genai-prices {gp_version} ({lane})")


def _to_prices(mp: Any, source: str) -> Prices | None:
    def split(value: Any) -> tuple[Decimal | None, Decimal | None, int | None]:
        if value is None:
            return None, None, None
        base = getattr(value, "base", None)
        if base is None:
            return Decimal(value), None, None
        tier = value.tiers[0] if value.tiers else None
        return Decimal(base), (Decimal(tier.price) if tier else None), (
            int(tier.start) if tier else None
        )

    inp, inp_long, threshold = split(getattr(mp, "input_mtok", None))
    out, out_long, _ = split(getattr(mp, "output_mtok", None))
    cr, cr_long, _ = split(getattr(mp, "cache_read_mtok", None))
    cw, cw_long, _ = split(getattr(mp, "cache_write_mtok", None))
    if inp is None or out is None:
        return None
    long_ctx = None
    if inp_long is not None and threshold is not None:
        long_ctx = Prices(
            input=inp_long, output=out_long or out, cached_input=cr_long or cr,
            cache_write=cw_long or cw, source=source,
        )
    return Prices(
        input=inp, output=out, cached_input=cr, cache_write=cw,
        long_context_threshold=threshold if long_ctx else None, long_context=long_ctx,
        source=source,
    )


def auto_lanes(spec: Any) -> dict[str, Prices | None]:
    """The lanes genai-prices prices for ``spec``, where its provider has the API."""
    out: dict[str, Prices | None] = dict(spec.lanes)
    if spec.provider in FLEX_PROVIDERS and "flex" not in out and genai_lane_prices(
        spec.model, spec.provider, "flex"
    ):
        out["flex"] = None
    if spec.provider in BATCH_TRANSPORTS and "batch" not in out and genai_lane_prices(
        spec.model, spec.provider, "batch"
    ):
        out["batch"] = None
    return out


def with_lanes(catalog: Any, lanes: Mapping[str, Iterable[str]] | None = None) -> Any:
    """``catalog`` with lanes filled in: from ``lanes`` (name -> lane names) when given, else
    every lane genai-prices prices for the model. Catalog-given lane prices are kept."""
    patch: dict[str, Any] = {}
    for name, spec in catalog.models.items():
        if lanes is None:
            patch[name] = {"lanes": auto_lanes(spec)}
        elif name in lanes:
            chosen = {parse_lane(x) for x in lanes[name]} - {"realtime"}
            patch[name] = {"lanes": {x: spec.lanes.get(x) for x in sorted(chosen)}}
    unknown = set(lanes or {}) - set(catalog.models)
    if unknown:
        raise ConfigError(f"lanes name unknown model {sorted(unknown)[0]!r}")
    return catalog.with_overrides({"models": patch})


def cheapest_lane(spec: Any, deadline_s: float | None) -> Lane:
    """The cheapest lane of ``spec`` that can meet ``deadline_s`` (``None``: no deadline).

    Batch results may take 24 h; flex answers synchronously but slowly (OpenAI advises a
    15-minute timeout), so it needs a deadline of at least that.
    """
    lanes = offered_lanes(spec)
    if (deadline_s is None or deadline_s >= BATCH_WINDOW_S) and "batch" in lanes:
        return "batch"
    if (deadline_s is None or deadline_s >= FLEX_TIMEOUT_S) and "flex" in lanes:
        return "flex"
    return "realtime"


BATCH_WINDOW_S = 24 * 3600.0
FLEX_TIMEOUT_S = 900.0
URGENCY_DEADLINES: dict[str, float | None] = {"now": 0.0, "soon": FLEX_TIMEOUT_S, "later": None}
"""``urgency=`` names for deadlines: ``now`` realtime, ``soon`` flex at best, ``later`` any."""


def lane_for(
    spec: Any, *, lane: Any = None, deadline_s: float | None = None, urgency: str | None = None
) -> Lane:
    """The lane a call asked for: ``lane=`` wins; else ``deadline_s``/``urgency`` choose the
    cheapest lane that meets it; else realtime."""
    if lane is not None:
        chosen = parse_lane(lane)
        if chosen not in offered_lanes(spec):
            raise BatchLaneUnavailableError(spec.name, spec.provider, chosen, offered_lanes(spec))
        return chosen
    if urgency is not None:
        if urgency not in URGENCY_DEADLINES:
            raise ConfigError(f"unknown urgency {urgency!r}; expected now, soon or later")
        return cheapest_lane(spec, URGENCY_DEADLINES[urgency]) if urgency != "now" else "realtime"
    if deadline_s is not None:
        return cheapest_lane(spec, deadline_s)
    return "realtime"


_warned: set[tuple[str, str]] = set()


def _warn_unpriced(name: str, lane: str) -> None:
    if (name, lane) in _warned:
        return
    _warned.add((name, lane))
    warnings.warn(
        f"no {lane} price is known for model {name!r}: its {lane} cost is reported as None. "
        f"Give it one in the catalog: models.{name}.lanes.{lane}: {{input: ..., output: ...}}",
        UserWarning,
        stacklevel=3,
    )
