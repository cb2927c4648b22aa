"""The model catalog: what each model costs, what it can do, and where it is served.

A :class:`Catalog` holds :class:`ModelSpec` entries by name and the ordered candidates of each
:class:`~langchain_costrouter.routing.levels.Level`. It validates itself at construction: a negative
price, a zero context window, a level naming an unknown model, an empty level or two entries with
one name fail with a :class:`ConfigError` that names the field and the value (never the value of
a secret). Models in no level are *pin-only*: used only when a call pins them.

Default models and levels are in :mod:`langchain_costrouter.models.defaults`; default prices come
from genai-prices (:func:`~langchain_costrouter.pricing.prices.lookup_prices`), never typed by
hand. Overrides come from a dict, or a YAML or JSON file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from langchain_costrouter.exceptions import ConfigError, UnknownModelError
from langchain_costrouter.models import ladder
from langchain_costrouter.models.defaults import AGGREGATOR_PRESETS, DEFAULT_LEVELS, default_models
from langchain_costrouter.models.from_chat import (
    capabilities_of,
    model_id_of,
    provider_of,
    spread_levels,
    window_of,
)
from langchain_costrouter.models.overrides import (
    explain_validation,
    list_prices,
    load_mapping,
    model_patches,
)
from langchain_costrouter.pricing.prices import Prices, lookup_prices
from langchain_costrouter.pricing.tokens import EncodingName
from langchain_costrouter.redact import register_secret, scrub_text
from langchain_costrouter.routing.levels import LEVELS, Level

__all__ = [
    "AGGREGATOR_PRESETS",
    "DEFAULT_LEVELS",
    "Capabilities",
    "Catalog",
    "ModelSpec",
    "aggregator",
    "default_models",
    "explain_validation",
    "load_mapping",
    "spread_levels",
]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Capabilities(BaseModel):
    """What a model supports. A call that needs a missing capability skips the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    streaming: bool = True
    tools: bool = True
    structured_output: bool = True
    """Native ``response_format`` json_schema; tool-calling structured output needs ``tools``."""
    vision: bool = False
    """Accepts image input blocks. Off unless declared: a text-only endpoint answers an image
    with a 400, so a request with images goes only to models that declare it."""


class ModelSpec(BaseModel):
    """One routable model.

    Either ``base_url`` (an OpenAI-compatible endpoint, with ``api_key_env`` naming the
    environment variable that holds its key) or a ready ``chat_model`` serves it.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, hide_input_in_errors=True
    )

    name: str = Field(min_length=1)
    """Key of the entry in the catalog and in level lists, e.g. ``claude-sonnet-5.5``."""
    provider: str = Field(min_length=1)
    """Provider id (``openai``), also the genai-prices provider and LangSmith ``ls_provider``."""
    model: str = Field(min_length=1)
    """Model id sent to the API, e.g. ``claude-sonnet-5-5``."""
    base_url: str | None = None
    api_key_env: str | None = None
    """Name of the environment variable read at call time (``OPENAI_API_KEY``), never the key
    itself; ``None`` when the endpoint needs no key."""
    grade: Level | None = None
    """The model's class, as the hardest level it is built for (nano: trivial, mini: standard,
    Sonnet: complex, Opus: expert). ``None``: undeclared, and then the highest level that lists
    the model stands for it (:meth:`Catalog.class_of`)."""
    chat_model: BaseChatModel | None = Field(default=None, repr=False, exclude=True)
    prices: Prices | None = None
    """``None`` means unpriced: cost is reported as ``None`` with a warning."""
    context_window: int = Field(default=128_000, gt=0)
    max_output_tokens: int = Field(default=16_384, gt=0)
    p50_latency_ms: float = Field(default=500.0, ge=0)
    capabilities: Capabilities = Capabilities()
    timeout_s: float = Field(default=60.0, gt=0)
    tokenizer: EncodingName = "o200k_base"
    """tiktoken encoding used to count this model's prompts (an estimate for non-OpenAI models)."""
    # -- lanes (flex / batch); see models/lanes.py -------------------------------------------
    lanes: dict[Literal["flex", "batch"], Prices | None] = Field(default_factory=dict)
    """Cheaper lanes beyond realtime and their prices; ``None``: that lane's price from
    genai-prices (unknown stays ``None``, never the realtime price). Empty: realtime only."""
    # -- end lanes ----------------------------------------------------------------------------

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.match(v):
            register_secret(v)  # it may be a pasted key: scrub it wherever it shows up
            raise ValueError(
                "must be the NAME of an environment variable (letters, digits and _, like "
                "OPENAI_API_KEY), not a key; the value given is not shown"
            )
        return v

    @field_validator("grade", mode="before")
    @classmethod
    def _grade(cls, v: Any) -> Any:
        return None if v is None else Level.parse(v)

    @model_validator(mode="after")
    def _has_a_backend(self) -> ModelSpec:
        if self.chat_model is None and not self.base_url:
            raise ValueError(f"model {self.name!r} needs a base_url or a chat_model")
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for key, value in super().__repr_args__():  # no URL credentials in a repr
            yield key, scrub_text(value) if isinstance(value, str) else value

    def api_key(self) -> str | None:
        """The key from the environment, or ``None`` when unset or not needed."""
        if self.api_key_env is None:
            return None
        return os.environ.get(self.api_key_env) or None


class Catalog(BaseModel):
    """Models by name, and the ordered candidate names of each level."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, hide_input_in_errors=True
    )

    models: dict[str, ModelSpec]
    levels: dict[Level, tuple[str, ...]]

    @model_validator(mode="before")
    @classmethod
    def _from_lists(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        models = data.get("models")
        if isinstance(models, (list, tuple)):
            by_name: dict[str, Any] = {}
            for i, m in enumerate(models):
                if not isinstance(m, (ModelSpec, Mapping)):
                    raise ValueError(f"models[{i}]: expected a model entry, got {type(m).__name__}")
                name = m.name if isinstance(m, ModelSpec) else m.get("name")
                if name in by_name:
                    raise ValueError(f"duplicate model name {name!r} in catalog")
                by_name[str(name)] = m
            data["models"] = by_name
        elif isinstance(models, Mapping):
            fixed = {}
            for key, m in models.items():
                if isinstance(m, Mapping) and "name" not in m:
                    m = {**m, "name": key}
                fixed[key] = m
            data["models"] = fixed
        levels = data.get("levels")
        if isinstance(levels, Mapping):
            data["levels"] = {Level.parse(k): v for k, v in levels.items()}
        return data

    @field_validator("levels")
    @classmethod
    def _all_levels(cls, v: dict[Level, tuple[str, ...]]) -> dict[Level, tuple[str, ...]]:
        missing = [lv.value for lv in LEVELS if not v.get(lv)]
        if missing:
            which = ", ".join(repr(m) for m in missing)
            raise ValueError(
                f"level {which} {'has' if len(missing) == 1 else 'have'} no candidate model; "
                "every level needs at least one (list model names under levels.<level>)"
            )
        return {lv: tuple(v[lv]) for lv in LEVELS}

    @model_validator(mode="after")
    def _names_consistent(self) -> Catalog:
        for key, spec in self.models.items():
            if key != spec.name:
                raise ValueError(f"model entry {key!r} has name {spec.name!r}; they must match")
        for level, names in self.levels.items():
            seen: set[str] = set()
            for n in names:
                if n not in self.models:
                    raise ValueError(
                        f"level {level.value!r} names unknown model {n!r}; "
                        f"known: {', '.join(self.models)}"
                    )
                if n in seen:
                    raise ValueError(f"level {level.value!r} lists model {n!r} twice")
                seen.add(n)
        return self

    # construction -------------------------------------------------------------------------

    @classmethod
    def build(cls, data: Mapping[str, Any]) -> Catalog:
        """Validate ``data``; a bad value raises ``ConfigError`` naming field and value."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ConfigError(explain_validation(e)) from None

    @classmethod
    def default(cls) -> Catalog:
        return cls.build({"models": default_models(), "levels": DEFAULT_LEVELS})

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], base: Catalog | None = None) -> Catalog:
        """Apply a YAML or JSON override file to ``base`` (the default catalog if omitted)."""
        return (base or cls.default()).with_overrides(load_mapping(path))

    @classmethod
    def from_models(
        cls, models: Mapping[str, BaseChatModel], levels: Mapping[str, Iterable[str]] | None = None
    ) -> Catalog:
        """A catalog of ready chat models, priced from genai-prices when their name is known.

        With no ``levels``, every level may use every model (cheapest first when priced).
        """
        specs = []
        for name, chat_model in models.items():
            model_id = model_id_of(chat_model) or name
            provider = provider_of(chat_model)
            specs.append(
                {
                    "name": name,
                    "provider": provider,
                    "model": model_id,
                    "chat_model": chat_model,
                    "prices": lookup_prices(model_id, provider if provider != "custom" else None),
                    "capabilities": capabilities_of(chat_model),
                    **window_of(chat_model),
                }
            )
        if levels is None:
            levels = spread_levels(specs)
        return cls.build({"models": specs, "levels": dict(levels)})

    def with_overrides(self, overrides: Mapping[str, Any]) -> Catalog:
        """Deep-merge ``{"models": {name: {field: value}}, "levels": {level: [names]}}``.

        An existing model takes only the fields given (``capabilities`` and ``prices`` given as
        dicts replace only the keys they name); a new one needs ``provider``, ``model`` and
        ``base_url``, and is priced from genai-prices unless it gives ``prices``. ``models`` may
        also be a list of entries with a ``name``. A new model in no level is pin-only.
        """
        if not isinstance(overrides, Mapping):
            raise ConfigError(
                f"catalog overrides must be a mapping with models and levels, "
                f"got {type(overrides).__name__}"
            )
        unknown = set(overrides) - {"models", "levels"}
        if unknown:
            raise ConfigError(f"unknown catalog keys {sorted(unknown)}; expected models, levels")
        models: dict[str, Any] = {n: dict(s) for n, s in self._raw_models().items()}
        for name, patch in model_patches(overrides.get("models")):
            current = models.get(name)
            merged = {**(current or {"name": name}), **patch}
            if current is None and "prices" not in patch:
                merged["prices"] = list_prices(patch)
            if current is not None and isinstance(patch.get("capabilities"), Mapping):
                merged["capabilities"] = {
                    **current["capabilities"].model_dump(), **patch["capabilities"]
                }
            if "prices" in patch and isinstance(patch["prices"], Mapping):
                old = (current or {}).get("prices")
                old_d = old.model_dump(exclude_none=True) if isinstance(old, Prices) else {}
                if old_d and not {"long_context", "long_context_threshold"} & set(patch["prices"]):
                    old_d.pop("long_context", None)  # a hand-set price drops the genai tier
                    old_d.pop("long_context_threshold", None)
                merged["prices"] = {**old_d, "source": "user", **patch["prices"]}
            models[name] = merged
        levels = {lv.value: list(names) for lv, names in self.levels.items()}
        level_patch = overrides.get("levels") or {}
        if not isinstance(level_patch, Mapping):
            raise ConfigError(
                f"levels: expected a mapping of level to model names, "
                f"got {type(level_patch).__name__}"
            )
        for lv, names in level_patch.items():
            level = Level.parse(lv)
            if isinstance(names, str) or not isinstance(names, (list, tuple)):
                raise ConfigError(
                    f"levels.{level.value}: expected a list of model names, got {names!r}"
                )
            levels[level.value] = list(names)
        return Catalog.build({"models": list(models.values()), "levels": levels})

    def served_by(
        self,
        base_url: str,
        *,
        api_key_env: str | None = None,
        model_ids: Mapping[str, str] | None = None,
        prices: Mapping[str, Mapping[str, Any]] | None = None,
        provider: str | None = None,
    ) -> Catalog:
        """Every model behind one OpenAI-compatible ``base_url``: an aggregator or a local server.

        ``model_ids`` maps catalog names to the aggregator's model ids (e.g. ``openai/gpt-4.1``);
        ``prices`` gives the aggregator's own prices per name (USD per 1M tokens).
        ``provider`` relabels every model (LangSmith then prices it as that provider).
        """
        patch: dict[str, Any] = {}
        for name in self.models:
            entry: dict[str, Any] = {"base_url": base_url, "api_key_env": api_key_env}
            if model_ids and name in model_ids:
                entry["model"] = model_ids[name]
            if prices and name in prices:
                try:  # an aggregator's prices replace the list prices whole
                    entry["prices"] = Prices(**{"source": "aggregator", **prices[name]})
                except ValidationError as e:
                    raise ConfigError(f"prices of {name!r}: " + explain_validation(e)) from None
            if provider:
                entry["provider"] = provider
            patch[name] = entry
        unknown = set(model_ids or {}) | set(prices or {})
        unknown -= set(self.models)
        if unknown:
            raise UnknownModelError("model", sorted(unknown)[0], list(self.models))
        return self.with_overrides({"models": patch})

    # queries ------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            raise UnknownModelError("model", name, list(self.models)) from None

    def candidates(self, level: Level | str) -> tuple[str, ...]:
        return self.levels[Level.parse(level)]

    def pin_only(self) -> tuple[str, ...]:
        """Models in no level: they serve a call only when it pins them (``model=...``)."""
        return ladder.pin_only(self)

    def class_of(self, name: str) -> Level | None:
        """The model's class: its declared ``grade``, else the highest level that lists it
        (``None`` for an undeclared pin-only model)."""
        return ladder.class_of(self, name)

    def first_choice(
        self, level: Level | str, input_tokens: int = ladder.REQUEST_SHAPE[0],
        output_tokens: int = ladder.REQUEST_SHAPE[1],
    ) -> str:
        """The model the default cheapest-first policy tries first at ``level`` for a request
        of this shape (unpriced models last; list order breaks ties)."""
        return ladder.first_choice(self, Level.parse(level), input_tokens, output_tokens)

    def ladder_problems(self) -> list[str]:
        """Where the levels do not route as they read, in words; empty when they do
        (see :func:`langchain_costrouter.models.ladder.ladder_problems`)."""
        return ladder.ladder_problems(self)

    def _raw_models(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, spec in self.models.items():
            d = {f: getattr(spec, f) for f in type(spec).model_fields}
            out[name] = d
        return out

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for key, value in super().__repr_args__():  # no URL credentials in a repr
            yield key, scrub_text(value) if isinstance(value, str) else value


def aggregator(
    preset: str,
    *,
    prices: Mapping[str, Mapping[str, Any]] | None = None,
    base: Catalog | None = None,
) -> Catalog:
    """The default catalog served through an aggregator preset, at the aggregator's prices.

    >>> aggregator("openrouter", prices={"gpt-5.4": {"input": 1, "output": 4}})  # doctest: +SKIP
    """
    if preset not in AGGREGATOR_PRESETS:
        raise UnknownModelError("aggregator preset", preset, list(AGGREGATOR_PRESETS))
    p = AGGREGATOR_PRESETS[preset]
    return (base or Catalog.default()).served_by(
        p["base_url"], api_key_env=p["api_key_env"], model_ids=p["model_ids"], prices=prices
    )




