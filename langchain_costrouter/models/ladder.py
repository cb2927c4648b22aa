"""Does a catalog route as it reads? First choices, model classes and fallbacks per level.

With the default cheapest-first policy, the order inside a level does not decide which model
serves a call: the cheapest one does. These functions say which model that is, and list where a
catalog's levels fall short of a ladder: four distinct, increasingly capable first choices, and
fallbacks of the same or a higher class that are never cheaper than their level's first choice.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING

from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.routing.levels import LEVELS, Level

if TYPE_CHECKING:
    from langchain_costrouter.models.catalog import Catalog

REQUEST_SHAPE = (2048, 512)
"""Input and output tokens of the request at which first choices are named (the bench's)."""


def pin_only(catalog: Catalog) -> tuple[str, ...]:
    """Models in no level: they serve a call only when it pins them (``model=...``)."""
    listed = {n for names in catalog.levels.values() for n in names}
    return tuple(n for n in catalog.models if n not in listed)


def class_of(catalog: Catalog, name: str) -> Level | None:
    """A model's declared ``grade``, else the highest level that lists it, else ``None``."""
    spec = catalog[name]
    if spec.grade is not None:
        return spec.grade
    listed = [lv for lv in LEVELS if name in catalog.levels[lv]]
    return listed[-1] if listed else None


def first_choice(
    catalog: Catalog, level: Level, input_tokens: int = REQUEST_SHAPE[0],
    output_tokens: int = REQUEST_SHAPE[1],
) -> str:
    """The candidate of ``level`` that cheapest-first tries first for a request of this shape:
    the cheapest priced one (list order breaks ties), or the first listed when none is priced."""
    usage = TokenUsage(input_tokens=input_tokens, output_tokens=output_tokens)

    def key(name: str) -> Decimal:
        c = cost_of(catalog[name].prices, usage)
        return Decimal("Infinity") if c is None else c

    return min(catalog.levels[level], key=key)  # min() keeps the first of equal keys


def _rank(level: Level | None) -> int:
    return -1 if level is None else level.rank


def _cheaper(catalog: Catalog, a: str, b: str) -> bool:
    """Whether model ``a`` has a lower input or output list price than ``b``."""
    pa, pb = catalog[a].prices, catalog[b].prices
    if pa is None or pb is None:
        return False
    return pa.input < pb.input or pa.output < pb.output


def ladder_problems(catalog: Catalog) -> list[str]:
    """Where the levels do not route as they read, in words (empty when they do):

    - two levels with the same first choice, or a first choice of a lower class, or cheaper on
      input or output, than the level below's;
    - a fallback of a lower class than its level's first choice, or cheaper than it on input or
      output (cheapest-first would then serve some calls with it).
    """
    problems: list[str] = []
    firsts = [(lv, first_choice(catalog, lv)) for lv in LEVELS]
    for (lo, a), (hi, b) in pairwise(firsts):
        if a == b:
            problems.append(f"{lo.value} and {hi.value} both start with {a!r}")
        elif _rank(class_of(catalog, b)) < _rank(class_of(catalog, a)) or _cheaper(catalog, b, a):
            problems.append(f"{hi.value} starts with {b!r}, below {lo.value}'s {a!r}")
    for lv, first in firsts:
        for n in catalog.levels[lv]:
            if n == first:
                continue
            if _rank(class_of(catalog, n)) < _rank(class_of(catalog, first)):
                problems.append(f"{lv.value} falls back to {n!r}, a lower class than {first!r}")
            elif _cheaper(catalog, n, first):
                problems.append(f"{lv.value} lists {n!r}, cheaper than {first!r} on a price")
    return problems
