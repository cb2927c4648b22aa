"""Expected output length per model, learned from the ledger's own history.

Every settled call notes its output tokens in the ledger (shared by every process using it).
The expectation is a high quantile (0.9 by default) of the latest answers of that model; with
fewer than ``min_samples`` answers it is the configured prior. It drives decisions (cover the
fallbacks or pin, which downgrade fits); the enforced ``max_tokens`` bound is what keeps the
spend under the limit, whatever the answer.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable

from langchain_costrouter.budget.ledger import Ledger
from langchain_costrouter.exceptions import LedgerUnavailableError


def quantile(values: list[int], q: float) -> int:
    """Nearest-rank quantile (``q`` in 0..1) of non-empty ``values``."""
    s = sorted(values)
    k = min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))
    return s[k]


class OutputHistory:
    """Learned output lengths, cached per model and refreshed from the ledger now and then."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        q: float = 0.9,
        min_samples: int = 5,
        window: int = 200,
        refresh_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger = ledger
        self.q = q
        self.min_samples = min_samples
        self.window = window
        self.refresh_s = refresh_s
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, list[int]]] = {}

    def samples(self, model: str) -> list[int]:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(model)
        if hit is not None and now - hit[0] < self.refresh_s:
            return hit[1]
        try:
            got = self.ledger.recent_outputs(model, self.window)
        except LedgerUnavailableError:
            got = hit[1] if hit else []
        with self._lock:
            self._cache[model] = (now, got)
        return got

    def expected(self, model: str | None, prior: int) -> int:
        """The learned expectation for ``model``, or ``prior`` while too few answers are known."""
        if not model:
            return prior
        s = self.samples(model)
        return quantile(s, self.q) if len(s) >= self.min_samples else prior

    def observe(self, model: str | None, tokens: int, *, now: float) -> None:
        """Note one answer's length (in the ledger, and in the cache at once)."""
        if not model or tokens < 0:
            return
        with self._lock:
            hit = self._cache.get(model)
            if hit is not None:
                self._cache[model] = (hit[0], [tokens, *hit[1]][: self.window])
        # a learned estimate is a hint: never fail a settled call over it
        with contextlib.suppress(LedgerUnavailableError):
            self.ledger.note_output(model, tokens, now=now)
