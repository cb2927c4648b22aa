"""A router's configuration, settled once at construction: one way to set each policy.

Conflicting arguments are a ``ConfigError`` naming both; an unknown argument is one with a
"did you mean" hint; every ``models=`` entry is routable or the constructor says why.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from langchain_core.language_models import BaseChatModel

from langchain_costrouter.cascade import Check
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.pricing.resolver import default_pricer
from langchain_costrouter.resilience.breaker import Breakers
from langchain_costrouter.resilience.failures import Classify
from langchain_costrouter.resilience.failures import classify as default_classify
from langchain_costrouter.resilience.retry import RetryPolicy
from langchain_costrouter.routing.levels import LEVELS, spread_by_price


def settle(
    *,
    fields_set: set[str],
    classify: Classify,
    breakers: Breakers | bool | None,
    retry: RetryPolicy | None,
    max_retries: int,
    deadline_s: float | None,
    providers: Mapping[str, str],
) -> tuple[Classify, Breakers | None, RetryPolicy]:
    """One way to set each policy: the classifier, the breakers and the retry policy.

    ``classify=`` is honoured with ``breakers=Breakers(...)`` (the router classifies and hands
    the breakers the verdict); two different classifiers given both ways, or ``retry=`` with
    ``max_retries``/``deadline_s``, are a ``ConfigError`` naming both.
    """
    given = "classify" in fields_set
    if isinstance(breakers, Breakers):
        own = breakers.classify
        if given and own is not default_classify and own is not classify:
            raise ConfigError("classify= and breakers=Breakers(classify=...) disagree: "
                              "give the classifier in one place")
        if not given:
            classify = own
    if retry is not None:
        both = sorted({"max_retries", "deadline_s"} & fields_set)
        if both:
            raise ConfigError(f"retry= and {', '.join(both)}= both set the retry policy: put "
                              f"them in RetryPolicy(max_attempts=..., deadline_s=...)")
        if retry.classify is not default_classify and retry.classify is not classify:
            raise ConfigError("classify= and retry=RetryPolicy(classify=...) disagree: "
                              "give the classifier in one place")
    else:
        retry = RetryPolicy(max_attempts=max_retries + 1, deadline_s=deadline_s,
                            classify=classify)
    if breakers is None:
        built: Breakers | None = Breakers(classify=classify, providers=providers)
    elif breakers is False or breakers is True:
        built = None if breakers is False else Breakers(classify=classify, providers=providers)
    else:
        built = breakers
    return classify, built, retry


def build_catalog(
    catalog: Catalog | None, models: Mapping[str, BaseChatModel] | None,
    levels: Mapping[str, list[str]] | None,
) -> Catalog:
    """The catalog routed over; every ``models=`` entry sits in a level, or this says why."""
    cat = catalog
    if models:
        everywhere = {lv.value: list(models) for lv in LEVELS}
        extra = Catalog.from_models(models, levels if cat is None else everywhere)
        extra = _priced_by_the_resolver(extra)
        if levels is None and cat is None:  # never an unpriced model as a level alone
            extra = extra.with_overrides({"levels": spread_by_price(extra.models.values())})
        if cat is None:
            cat = extra
        else:
            merged_models = {**cat.models, **extra.models}
            cat = Catalog.build({"models": list(merged_models.values()),
                                 "levels": cat.levels})
    cat = cat or Catalog.default()
    if levels is not None:
        cat = cat.with_overrides({"levels": levels})
    if models:
        placed = {n for names in cat.levels.values() for n in names}
        lost = [n for n in models if n not in placed]
        if lost:
            raise ConfigError(
                f"models= entries {', '.join(map(repr, lost))} are in no level, so they "
                "would never be routed: place them with levels={level: [names]}")
    return cat


def _priced_by_the_resolver(cat: Catalog) -> Catalog:
    """Ready models the catalog could not price, priced as the cost handler will price them."""
    patch: dict[str, Any] = {}
    for name, spec in cat.models.items():
        if spec.prices is None:
            found = default_pricer().match(spec.model, spec.provider).prices
            if found is not None:
                patch[name] = {"prices": found}
    return cat.with_overrides({"models": patch}) if patch else cat


def parse_ceiling(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ConfigError(f"max_cost must be a number of USD, got {value!r}") from None
    if not d.is_finite() or d <= 0:
        raise ConfigError(f"max_cost must be > 0 USD (a finite amount), got {value!r}")
    return d


def refuse_unknown(cls: type[BaseChatModel], kwargs: Mapping[str, Any]) -> None:
    """An unknown argument is a ``ConfigError`` with a "did you mean" hint, never ignored."""
    known: set[str] = set()
    for name, info in cls.model_fields.items():
        known.add(name)
        if isinstance(info.alias, str):
            known.add(info.alias)
    unknown = [k for k in kwargs if k not in known]
    if not unknown:
        return
    hints = []
    for k in unknown:
        close = difflib.get_close_matches(k, sorted(known), n=1, cutoff=0.6)
        hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ConfigError(f"unknown ChatCostRouter argument{'s' if len(unknown) > 1 else ''}: "
                      + ", ".join(hints))


def check_names(cascade: Check | Sequence[Check]) -> list[str]:
    checks = [cascade] if callable(cascade) else list(cascade)
    return [getattr(c, "__name__", type(c).__name__) for c in checks]
