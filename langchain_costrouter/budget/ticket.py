"""A granted budget reservation (:class:`Ticket`): its charges, the option it was granted for,
and the enforced output bound."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_costrouter.budget.bounds import Bound
from langchain_costrouter.budget.ledger import Charge
from langchain_costrouter.budget.options import Option


@dataclass(frozen=True)
class Ticket:
    """A granted reservation. ``id`` is ``None`` when the call runs untracked (fail-open)."""

    id: str | None
    charges: tuple[Charge, ...]
    option: Option
    scopes: Mapping[str, str]
    bound: Bound | None = None
    """The enforced output bound (``max_tokens``) and the quote it was reserved against."""

    @property
    def max_tokens(self) -> int | None:
        return None if self.bound is None else self.bound.max_tokens

    @property
    def pin(self) -> str | None:
        """The router model the call is pinned to (a downgrade, or no room for fallbacks)."""
        if self.option.pin is not None:
            return self.option.pin
        if self.bound is not None and self.bound.pinned:
            return self.bound.quote.primary.name
        return None

    def metadata(self) -> dict[str, Any]:
        """The guard's entry in the answer's metadata: the estimate and the enforced bound."""
        q = self.bound.quote if self.bound else self.option.quote
        return {
            "max_tokens": self.max_tokens,
            "expected_output_tokens": q.expected,
            "caller_cap": q.cap,
            "pinned": self.pin,
            "covers": [ln.name for ln in q.lines],
            "tracked": self.id is not None,
        }
