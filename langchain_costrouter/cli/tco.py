"""Monthly total cost of ownership of a workload, per model and per routing strategy.

No network: prices come from the :class:`~langchain_costrouter.models.catalog.Catalog` (genai-prices
plus overrides). A monthly workload is priced from aggregates, but the price *tier* of a model
(e.g. Claude's long-context tier above 200K input tokens per call) is chosen from the shape of
one request, never from the monthly total.

Money is ``Decimal``; a model without a price costs ``None`` ("unpriced"), never $0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from langchain_costrouter.cli.args import finite_decimal
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.catalog import Catalog, load_mapping
from langchain_costrouter.pricing.prices import Prices, TokenUsage, cost_of
from langchain_costrouter.routing.levels import LEVELS, Level

DEFAULT_MIX: dict[Level, Decimal] = {
    Level.TRIVIAL: Decimal("0.4"),
    Level.STANDARD: Decimal("0.3"),
    Level.COMPLEX: Decimal("0.2"),
    Level.EXPERT: Decimal("0.1"),
}
BENCH_INPUT_TOKENS = 2048
"""The benchmark's request shape: a 2,048-token context ..."""
BENCH_OUTPUT_TOKENS = 512
"""... and a 512-token output cap."""

_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000, "g": 1_000_000_000}


def parse_tokens(value: str | int, what: str = "token count") -> int:
    """``50M`` -> 50_000_000; ``1.5k`` -> 1500; ``20_000`` -> 20000."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = Decimal(value)
    else:
        m = re.fullmatch(r"\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([kKmMbBgG]?)\s*", str(value))
        if not m:
            raise ConfigError(f"{what}: expected a number like 50M or 20000, got {value!r}")
        n = Decimal(m.group(1).replace("_", "").replace(",", "")) * _SUFFIX[m.group(2).lower()]
    if n < 0 or n != n.to_integral_value():
        raise ConfigError(f"{what}: expected a whole, non-negative number of tokens, got {value!r}")
    return int(n)


def _decimal(value: Any, what: str) -> Decimal:
    """A finite number (``40%`` -> 0.4); NaN, infinity and junk are a ``ConfigError``."""
    return finite_decimal(value, what)


def parse_mix(value: str | Mapping[str, Any]) -> dict[Level, Decimal]:
    """``trivial=0.4,standard=0.3,...`` or a mapping; shares may be fractions or percentages."""
    if isinstance(value, str):
        pairs: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in value.split(","))):
            if "=" not in part:
                raise ConfigError(f"mix: expected level=share pairs, got {part!r}")
            k, v = part.split("=", 1)
            pairs[k.strip()] = v
        value = pairs
    mix = {Level.parse(k): _decimal(v, f"mix share of {k}") for k, v in value.items()}
    if any(s < 0 for s in mix.values()):
        raise ConfigError(f"mix: shares must be >= 0, got {_fmt_mix(mix)}")
    total = sum(mix.values(), Decimal(0))
    if total > 1 and all(s == s.to_integral_value() for s in mix.values()):
        mix = {k: v / 100 for k, v in mix.items()}  # given in percent: 40,30,20,10
        total = sum(mix.values(), Decimal(0))
    if abs(total - 1) > Decimal("0.0001"):
        raise ConfigError(f"mix: shares must add up to 1 (or 100%), got {total} ({_fmt_mix(mix)})")
    return {lv: mix.get(lv, Decimal(0)) for lv in LEVELS}


def _fmt_mix(mix: Mapping[Level, Decimal]) -> str:
    return ", ".join(f"{k.value}={v}" for k, v in mix.items())


@dataclass(frozen=True, kw_only=True)
class MonthlyWorkload:
    """What a month of traffic looks like."""

    input_tokens: int
    """Input tokens per month (cached ones included)."""
    output_tokens: int
    """Output tokens per month."""
    mix: dict[Level, Decimal] = field(default_factory=lambda: dict(DEFAULT_MIX))
    """Share of the traffic at each level; sums to 1."""
    cache_hit_rate: Decimal = Decimal(0)
    """Share of input tokens served from the provider's prompt cache (cached-input price)."""
    input_tokens_per_request: int = BENCH_INPUT_TOKENS
    """Size of one request: picks each model's price tier (e.g. long-context pricing)."""

    def __post_init__(self) -> None:
        if not 0 <= self.cache_hit_rate <= 1:
            raise ConfigError(f"cache hit rate must be within 0..1, got {self.cache_hit_rate}")
        if self.input_tokens_per_request <= 0:
            raise ConfigError(
                f"input tokens per request must be > 0, got {self.input_tokens_per_request}"
            )

    @property
    def requests(self) -> Decimal:
        return Decimal(self.input_tokens) / self.input_tokens_per_request

    @property
    def output_tokens_per_request(self) -> int:
        """Mean output of one request (the benchmark's 512 when there is no input)."""
        if not self.input_tokens:
            return BENCH_OUTPUT_TOKENS
        return _round(Decimal(self.output_tokens) / self.requests)

    def share(self, level: Level) -> MonthlyWorkload:
        s = self.mix.get(level, Decimal(0))
        return MonthlyWorkload(
            input_tokens=_round(self.input_tokens * s),
            output_tokens=_round(self.output_tokens * s),
            mix={level: Decimal(1)},
            cache_hit_rate=self.cache_hit_rate,
            input_tokens_per_request=self.input_tokens_per_request,
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "workload") -> MonthlyWorkload:
        known = {
            "input_tokens", "output_tokens", "mix", "cache_hit_rate", "input_tokens_per_request"
        }
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{source}: unknown keys {sorted(unknown)}; expected {sorted(known)}")
        for key in ("input_tokens", "output_tokens"):
            if key not in data:
                raise ConfigError(f"{source}: missing {key!r}")
        kw: dict[str, Any] = {
            "input_tokens": parse_tokens(data["input_tokens"], f"{source}: input_tokens"),
            "output_tokens": parse_tokens(data["output_tokens"], f"{source}: output_tokens"),
        }
        if "mix" in data:
            kw["mix"] = parse_mix(data["mix"])
        if "cache_hit_rate" in data:
            kw["cache_hit_rate"] = _decimal(data["cache_hit_rate"], f"{source}: cache_hit_rate")
        if "input_tokens_per_request" in data:
            kw["input_tokens_per_request"] = parse_tokens(
                data["input_tokens_per_request"], f"{source}: input_tokens_per_request"
            )
        return cls(**kw)

    @classmethod
    def from_file(cls, path: str) -> MonthlyWorkload:
        data = load_mapping(path)
        return cls.from_mapping(data, source=f"workload file {path!r}")


def _round(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_HALF_EVEN))


def flat_prices(prices: Prices, input_tokens_per_request: int) -> Prices:
    """The price tier that applies to requests of this size, with no further tiers."""
    tier = prices.for_input(input_tokens_per_request)
    return tier.model_copy(update={"long_context": None, "long_context_threshold": None})


def monthly_cost(prices: Prices | None, workload: MonthlyWorkload) -> Decimal | None:
    """Cost of ``workload`` served whole by a model at ``prices``; ``None`` when unpriced."""
    if prices is None:
        return None
    cached = _round(workload.input_tokens * workload.cache_hit_rate)
    usage = TokenUsage(
        input_tokens=workload.input_tokens,
        output_tokens=workload.output_tokens,
        cached_tokens=cached,
    )
    return cost_of(flat_prices(prices, workload.input_tokens_per_request), usage)


def cost_per_1k_requests(
    prices: Prices | None,
    input_tokens: int = BENCH_INPUT_TOKENS,
    output_tokens: int = BENCH_OUTPUT_TOKENS,
) -> Decimal | None:
    """Cost of 1,000 requests of one shape (default: the benchmark's 2,048 in / 512 out)."""
    c = cost_of(prices, TokenUsage(input_tokens=input_tokens, output_tokens=output_tokens))
    return None if c is None else c * 1000


@dataclass(frozen=True, kw_only=True)
class Line:
    """One row of the report: a model or a strategy."""

    name: str
    kind: str
    """``"model"`` or ``"strategy"``."""
    monthly_cost: Decimal | None
    per_1k_requests: Decimal | None
    detail: str = ""
    saving: Decimal | None = None
    saving_pct: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class TcoReport:
    workload: MonthlyWorkload
    baseline: str
    baseline_cost: Decimal | None
    models: list[Line]
    strategies: list[Line]
    unpriced: list[str]

    def as_dict(self) -> dict[str, Any]:
        def s(d: Decimal | None) -> str | None:
            return None if d is None else str(d)

        def line(ln: Line) -> dict[str, Any]:
            return {
                "name": ln.name,
                "kind": ln.kind,
                "monthly_cost_usd": s(ln.monthly_cost),
                "cost_per_1k_requests_usd": s(ln.per_1k_requests),
                "saving_vs_baseline_usd": s(ln.saving),
                "saving_vs_baseline_pct": s(ln.saving_pct),
                "detail": ln.detail,
            }

        w = self.workload
        return {
            "workload": {
                "input_tokens": w.input_tokens,
                "output_tokens": w.output_tokens,
                "mix": {k.value: str(v) for k, v in w.mix.items()},
                "cache_hit_rate": str(w.cache_hit_rate),
                "input_tokens_per_request": w.input_tokens_per_request,
            },
            "currency": "USD",
            "per_1k_requests_shape": {
                "input_tokens": BENCH_INPUT_TOKENS, "output_tokens": BENCH_OUTPUT_TOKENS
            },
            "baseline": self.baseline,
            "baseline_monthly_cost_usd": s(self.baseline_cost),
            "models": [line(ln) for ln in self.models],
            "strategies": [line(ln) for ln in self.strategies],
            "unpriced": self.unpriced,
        }


def candidate_names(catalog: Catalog) -> list[str]:
    """Models named by some level, in level order, each once."""
    seen: dict[str, None] = {}
    for lv in LEVELS:
        for n in catalog.candidates(lv):
            seen.setdefault(n, None)
    return list(seen)


def _priced(
    catalog: Catalog, names: list[str], workload: MonthlyWorkload
) -> list[tuple[str, Decimal]]:
    out = []
    for n in names:
        c = monthly_cost(catalog[n].prices, workload)
        if c is not None:
            out.append((n, c))
    return out


def tco(catalog: Catalog, workload: MonthlyWorkload, baseline: str | None = None) -> TcoReport:
    """Price ``workload`` on every catalog model and under each routing strategy."""
    candidates = candidate_names(catalog)
    priced = _priced(catalog, candidates, workload)
    if not priced:
        raise ConfigError("no candidate model has a price; give prices with --catalog")
    # always-premium: the strongest model the router itself would use (EXPERT's first choice
    # for a request of this workload's shape); always-cheapest: the cheapest one any level lists
    premium = catalog.first_choice(
        Level.EXPERT, workload.input_tokens_per_request, workload.output_tokens_per_request
    )
    cheapest = min(priced, key=lambda x: x[1])[0]
    if baseline is None:
        baseline = premium
    baseline_cost = monthly_cost(catalog[baseline].prices, workload)  # raises on unknown name

    def saving(cost: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
        if cost is None or baseline_cost is None:
            return None, None
        pct = (baseline_cost - cost) / baseline_cost * 100 if baseline_cost else None
        return baseline_cost - cost, pct

    models = []
    for name, spec in catalog.models.items():
        c = monthly_cost(spec.prices, workload)
        sv, pct = saving(c)
        detail = f"{spec.provider}/{spec.model}"
        if spec.prices is not None:
            p = flat_prices(spec.prices, workload.input_tokens_per_request)
            detail += f" ${p.input}/${p.output} per 1M"
        models.append(
            Line(
                name=name, kind="model", monthly_cost=c,
                per_1k_requests=cost_per_1k_requests(spec.prices), detail=detail,
                saving=sv, saving_pct=pct,
            )
        )

    def model_line(strategy: str, name: str) -> Line:
        c = monthly_cost(catalog[name].prices, workload)
        sv, pct = saving(c)
        return Line(
            name=strategy, kind="strategy", monthly_cost=c,
            per_1k_requests=cost_per_1k_requests(catalog[name].prices), detail=name,
            saving=sv, saving_pct=pct,
        )

    strategies = [model_line("always-premium", premium), model_line("always-cheapest", cheapest)]
    strategies.append(_router_line(catalog, workload, saving))
    unpriced = [n for n, s in catalog.models.items() if s.prices is None]
    return TcoReport(
        workload=workload, baseline=baseline, baseline_cost=baseline_cost,
        models=models, strategies=strategies, unpriced=unpriced,
    )


def _router_line(catalog: Catalog, workload: MonthlyWorkload, saving: Any) -> Line:
    """ChatCostRouter's level mapping: each level's share goes to its cheapest priced candidate."""
    total: Decimal | None = Decimal(0)
    per_1k: Decimal | None = Decimal(0)
    parts = []
    for lv in LEVELS:
        share = workload.mix.get(lv, Decimal(0))
        if not share:
            continue
        part = workload.share(lv)
        priced = _priced(catalog, list(catalog.candidates(lv)), part)
        if not priced:
            total = per_1k = None
            parts.append(f"{lv.value}->unpriced")
            continue
        name, cost = min(priced, key=lambda x: x[1])
        parts.append(f"{lv.value}->{name}")
        if total is not None:
            total += cost
        one = cost_per_1k_requests(catalog[name].prices)
        if per_1k is not None and one is not None:
            per_1k += one * share
    sv, pct = saving(total)
    return Line(
        name="ChatCostRouter", kind="strategy", monthly_cost=total, per_1k_requests=per_1k,
        detail=", ".join(parts), saving=sv, saving_pct=pct,
    )
