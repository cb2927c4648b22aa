"""The four complexity levels a request can be scored into."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any, Protocol

from langchain_costrouter.exceptions import UnknownModelError


class ModelSpecLike(Protocol):
    name: str
    prices: Any


class Level(str, Enum):
    """How hard a request is, from cheapest to most capable model needed."""

    TRIVIAL = "trivial"
    STANDARD = "standard"
    COMPLEX = "complex"
    EXPERT = "expert"

    @classmethod
    def parse(cls, value: Level | str) -> Level:
        """Accept a ``Level`` or its name in any case; raise ``UnknownModelError`` otherwise."""
        if isinstance(value, Level):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise UnknownModelError("level", value, [lv.value for lv in cls]) from None

    @property
    def rank(self) -> int:
        return _RANK[self]


_ORDER = [Level.TRIVIAL, Level.STANDARD, Level.COMPLEX, Level.EXPERT]
LEVELS: tuple[Level, ...] = tuple(_ORDER)
_RANK = {lv: i for i, lv in enumerate(_ORDER)}


def spread_by_price(specs: Iterable[ModelSpecLike]) -> dict[str, list[str]]:
    """Levels for models given without any, so that an unpriced model is never a level alone.

    Priced models are ranked by price and level ``i`` of 4 uses the models from rank
    ``i*n//4`` up (the cheapest serve only the easy levels, the dearest every level). Unpriced
    models follow the priced ones in every level: routable, but never preferred, because
    nobody can claim they are cheap. With no priced model at all, every level lists them all.
    """
    specs = list(specs)
    priced = sorted((s for s in specs if s.prices is not None),
                    key=lambda s: s.prices.input + s.prices.output)  # type: ignore[union-attr]
    unpriced = [s.name for s in specs if s.prices is None]
    n = len(priced)
    names = [s.name for s in priced]
    return {lv.value: (names[min(n - 1, i * n // 4):] if n else []) + unpriced
            for i, lv in enumerate(_ORDER)}
