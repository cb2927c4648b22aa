"""Bounded running aggregates: totals and a log-bucket latency histogram.

The history of records is a ring buffer, but aggregates must count every call forever in fixed
memory. Totals are a handful of integers and one ``Decimal``. Latency percentiles come from a
:class:`LatencyHistogram`: log-spaced buckets with relative accuracy ``alpha`` (1 % by default),
the scheme of DDSketch (Masson et al., VLDB 2019). From 1 us to 1 day at 1 % that is at most
~1,200 buckets whatever the number of calls; a quantile is within 1 % of a true sample value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from langchain_costrouter.costs.record import CallRecord

_MIN_S = 1e-6  # latencies at or below 1 us go to the zero bucket


class LatencyHistogram:
    """Quantiles of positive durations in seconds, in bounded memory, within ``alpha``."""

    __slots__ = ("_buckets", "_gamma", "_log_gamma", "count", "max", "min", "zero")

    def __init__(self, alpha: float = 0.01) -> None:
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        self._gamma = (1 + alpha) / (1 - alpha)
        self._log_gamma = math.log(self._gamma)
        self._buckets: dict[int, int] = {}
        self.zero = 0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, seconds: float) -> None:
        self.count += 1
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)
        if seconds <= _MIN_S:
            self.zero += 1
            return
        i = math.ceil(math.log(seconds) / self._log_gamma)
        self._buckets[i] = self._buckets.get(i, 0) + 1

    @property
    def buckets(self) -> int:
        """Number of non-empty buckets (the memory used, in dict entries)."""
        return len(self._buckets) + (1 if self.zero else 0)

    def quantile(self, q: float) -> float | None:
        """Value at quantile ``q`` (0..1), ``None`` when empty; exact at the min and max."""
        if not 0 <= q <= 1:
            raise ValueError(f"quantile must be in [0, 1], got {q!r}")
        if self.count == 0:
            return None
        rank = int(q * (self.count - 1))
        if rank == 0:
            return self.min
        if rank >= self.count - 1:
            return self.max
        seen = self.zero
        if rank < seen:
            return self.min
        for i in sorted(self._buckets):
            seen += self._buckets[i]
            if rank < seen:
                value = 2 * self._gamma**i / (self._gamma + 1)
                return min(max(value, self.min), self.max)
        return self.max


@dataclass(slots=True)
class Totals:
    """Running sums over every call ever recorded (not only those still in the ring buffer)."""

    requests: int = 0
    succeeded: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)
    priced: int = 0
    unpriced: int = 0
    estimated: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    ttft: LatencyHistogram = field(default_factory=LatencyHistogram)

    def add(self, r: CallRecord) -> None:
        self.requests += 1
        if r.status == "ok":
            self.succeeded += 1
        self.input_tokens += r.input_tokens
        self.cached_input_tokens += r.cached_input_tokens
        self.cache_write_tokens += r.cache_write_tokens
        self.output_tokens += r.output_tokens
        self.reasoning_tokens += r.reasoning_tokens
        if r.cost is not None:
            self.cost += r.cost
            self.priced += 1
        elif r.status == "ok" or r.input_tokens or r.output_tokens:
            self.unpriced += 1  # tokens were used and we cannot price them
        if r.estimated:
            self.estimated += 1
        self.latency.add(r.latency_s)
        if r.ttft_s is not None:
            self.ttft.add(r.ttft_s)
