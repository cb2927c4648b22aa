"""The four complexity levels a request can be scored into."""

from __future__ import annotations

from enum import Enum

from langchain_costrouter.exceptions import UnknownModelError


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
