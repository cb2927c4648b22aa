"""The model catalog: what each model costs, what it can do, and where it is served.

A :class:`Catalog` holds :class:`ModelSpec` entries by name and the ordered candidates of each
:class:`~langchain_costrouter.routing.levels.Level`. It validates itself at construction: a negative
price, a zero context window, a level naming an unknown model or two entries with one name fail
with a message that names the field and the value.

Default prices come from genai-prices (:func:`~langchain_costrouter.pricing.prices.lookup_prices`);
nothing here types a price by hand. Overrides come from a dict, or a YAML or JSON file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
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
from langchain_costrouter.pricing.prices import Prices, lookup_prices
from langchain_costrouter.pricing.tokens import EncodingName
from langchain_costrouter.routing.levels import LEVELS, Level


class Capabilities(BaseModel):
    """What a model supports. A call that needs a missing capability skips the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    streaming: bool = True
    tools: bool = True
    structured_output: bool = True
    """Native ``response_format`` json_schema; tool-calling structured output needs ``tools``."""


class ModelSpec(BaseModel):
    """One routable model.

    Either ``base_url`` (an OpenAI-compatible endpoint, with ``api_key_env`` naming the
    environment variable that holds its key) or a ready ``chat_model`` serves it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str = Field(min_length=1)
    """Key of the entry in the catalog and in level lists, e.g. ``gemini-flash``."""
    provider: str = Field(min_length=1)
    """Provider id (``openai``), also the genai-prices provider and LangSmith ``ls_provider``."""
    model: str = Field(min_length=1)
    """Model id sent to the API, e.g. ``gemini-2.5-flash``."""
    base_url: str | None = None
    api_key_env: str | None = None
    """Environment variable read at call time; ``None`` when the endpoint needs no key."""
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

    @model_validator(mode="after")
    def _has_a_backend(self) -> ModelSpec:
        if self.chat_model is None and not self.base_url:
            raise ValueError(f"model {self.name!r} needs a base_url or a chat_model")
        return self

    def api_key(self) -> str | None:
        """The key from the environment, or ``None`` when unset or not needed."""
        if self.api_key_env is None:
            return None
        return os.environ.get(self.api_key_env) or None


def _spec(
    name: str,
    provider: str,
    model: str,
    base_url: str,
    api_key_env: str,
    context_window: int,
    max_output_tokens: int,
    p50_latency_ms: float,
    price_ref: str | None = None,
    price_provider: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "provider": provider,
        "model": model,
        "base_url": base_url,
        "api_key_env": api_key_env,
        "prices": lookup_prices(price_ref or model, price_provider or provider),
        "context_window": context_window,
        "max_output_tokens": max_output_tokens,
        "p50_latency_ms": p50_latency_ms,
    }


def default_models() -> list[dict[str, Any]]:
    """The 2026 models users compare. Prices from genai-prices, context sizes from the vendors."""
    openai = "https://api.openai.com/v1"
    return [
        _spec("gpt-5", "openai", "gpt-5", openai, "OPENAI_API_KEY", 400_000, 128_000, 4000),
        _spec("gpt-4.1", "openai", "gpt-4.1", openai, "OPENAI_API_KEY", 1_047_576, 32_768, 900),
        _spec(
            "gpt-4.1-mini",
            "openai",
            "gpt-4.1-mini",
            openai,
            "OPENAI_API_KEY",
            1_047_576,
            32_768,
            600,
        ),
        _spec(
            "gpt-4.1-nano",
            "openai",
            "gpt-4.1-nano",
            openai,
            "OPENAI_API_KEY",
            1_047_576,
            32_768,
            400,
        ),
        _spec(
            "claude-sonnet",
            "anthropic",
            "claude-sonnet-4-5",
            "https://api.anthropic.com/v1/",
            "ANTHROPIC_API_KEY",
            200_000,
            64_000,
            1500,
        ),
        _spec(
            "gemini-flash",
            "google",
            "gemini-2.5-flash",
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            "GEMINI_API_KEY",
            1_048_576,
            65_536,
            700,
        ),
        # DeepSeek serves V3.2 under the API id "deepseek-chat"; priced as deepseek-v3.2.
        _spec(
            "deepseek",
            "deepseek",
            "deepseek-chat",
            "https://api.deepseek.com/v1",
            "DEEPSEEK_API_KEY",
            128_000,
            8_192,
            800,
            price_ref="deepseek-v3.2",
        ),
    ]


DEFAULT_LEVELS: dict[str, list[str]] = {
    "trivial": ["deepseek"],
    "standard": ["gemini-flash", "deepseek"],
    "complex": ["gpt-4.1", "gemini-flash"],
    "expert": ["claude-sonnet", "gpt-4.1"],
}


class Catalog(BaseModel):
    """Models by name, and the ordered candidate names of each level."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

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
            for m in models:
                name = m.name if isinstance(m, ModelSpec) else (m or {}).get("name")
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
            raise ValueError(f"levels {missing} have no candidate models; each level needs one")
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
            model_id = _model_id(chat_model) or name
            provider = _provider_of(chat_model)
            specs.append(
                {
                    "name": name,
                    "provider": provider,
                    "model": model_id,
                    "chat_model": chat_model,
                    "prices": lookup_prices(model_id, provider if provider != "custom" else None),
                    "capabilities": _capabilities_of(chat_model),
                    **_window_of(chat_model),
                }
            )
        if levels is None:
            levels = spread_levels(specs)
        return cls.build({"models": specs, "levels": dict(levels)})

    def with_overrides(self, overrides: Mapping[str, Any]) -> Catalog:
        """Deep-merge ``{"models": {name: {field: value}}, "levels": {level: [names]}}``.

        An existing model takes only the fields given; a new one needs ``provider``, ``model``
        and ``base_url``. ``prices`` given as a dict replaces only the keys it names.
        """
        unknown = set(overrides) - {"models", "levels"}
        if unknown:
            raise ConfigError(f"unknown catalog keys {sorted(unknown)}; expected models, levels")
        models: dict[str, Any] = {n: dict(s) for n, s in self._raw_models().items()}
        for name, patch in (overrides.get("models") or {}).items():
            if not isinstance(patch, Mapping):
                raise ConfigError(f"models.{name}: expected a mapping of fields, got {patch!r}")
            current = models.get(name, {"name": name})
            merged = {**current, **patch}
            if "prices" in patch and isinstance(patch["prices"], Mapping):
                old = current.get("prices")
                old_d = old.model_dump(exclude_none=True) if isinstance(old, Prices) else {}
                if old_d and not {"long_context", "long_context_threshold"} & set(patch["prices"]):
                    old_d.pop("long_context", None)  # a hand-set price drops the genai tier
                    old_d.pop("long_context_threshold", None)
                merged["prices"] = {**old_d, "source": "user", **patch["prices"]}
            models[name] = merged
        levels = {lv.value: list(names) for lv, names in self.levels.items()}
        for lv, names in (overrides.get("levels") or {}).items():
            levels[Level.parse(lv).value] = list(names)
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

    def _raw_models(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, spec in self.models.items():
            d = {f: getattr(spec, f) for f in type(spec).model_fields}
            out[name] = d
        return out


AGGREGATOR_PRESETS: dict[str, dict[str, Any]] = {
    "openrouter": {
        "base_url": "https://openrouter.ai/api/v1",
        "api_key_env": "OPENROUTER_API_KEY",
        "model_ids": {
            "gpt-5": "openai/gpt-5",
            "gpt-4.1": "openai/gpt-4.1",
            "gpt-4.1-mini": "openai/gpt-4.1-mini",
            "gpt-4.1-nano": "openai/gpt-4.1-nano",
            "claude-sonnet": "anthropic/claude-sonnet-4.5",
            "gemini-flash": "google/gemini-2.5-flash",
            "deepseek": "deepseek/deepseek-v3.2",
        },
    },
}


def aggregator(
    preset: str,
    *,
    prices: Mapping[str, Mapping[str, Any]] | None = None,
    base: Catalog | None = None,
) -> Catalog:
    """The default catalog served through an aggregator preset, at the aggregator's prices.

    >>> aggregator("openrouter", prices={"gpt-4.1": {"input": 1, "output": 4}})  # doctest: +SKIP
    """
    if preset not in AGGREGATOR_PRESETS:
        raise UnknownModelError("aggregator preset", preset, list(AGGREGATOR_PRESETS))
    p = AGGREGATOR_PRESETS[preset]
    return (base or Catalog.default()).served_by(
        p["base_url"], api_key_env=p["api_key_env"], model_ids=p["model_ids"], prices=prices
    )


# helpers ----------------------------------------------------------------------------------


def spread_levels(specs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Levels for models given without any: rank them by price (unpriced ones keep their given
    order, after the priced), and let level ``i`` of 4 use the models from rank ``i*n//4`` up.
    So the cheapest models serve only the easy levels and the dearest serve every level:
    ``{"small", "large"}`` gives trivial/standard ``[small, large]``, complex/expert ``[large]``.
    """

    def price(spec: dict[str, Any]) -> Decimal:
        p = spec.get("prices")
        return p.input + p.output if isinstance(p, Prices) else Decimal("Infinity")

    ranked = [s["name"] for s in sorted(specs, key=price)]  # stable: given order breaks ties
    n = len(ranked)
    return {lv.value: ranked[min(n - 1, i * n // 4):] for i, lv in enumerate(LEVELS)}



def load_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict; errors name the file and the problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read catalog file {str(p)!r}: {e.strerror or e}") from None
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as e:  # json.JSONDecodeError, yaml.YAMLError
        raise ConfigError(
            f"catalog file {str(p)!r} is not valid {p.suffix[1:] or 'YAML'}: {e}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"catalog file {str(p)!r} must hold a mapping, got {type(data).__name__}")
    return data


def explain_validation(e: ValidationError, what: str = "invalid catalog") -> str:
    """One line naming each bad field and its value."""
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] in {"value_error", "assertion_error"} or not loc:
            parts.append(f"{loc + ': ' if loc else ''}{msg}")
        else:
            parts.append(f"{loc}: {msg} (got {err.get('input')!r})")
    return f"{what}: " + "; ".join(parts)


def _model_id(chat_model: BaseChatModel) -> str | None:
    for attr in ("model_name", "model", "model_id"):
        v = getattr(chat_model, attr, None)
        if isinstance(v, str) and v:
            return v
    return None


def _provider_of(chat_model: BaseChatModel) -> str:
    try:
        ls = chat_model._get_ls_params()
        if ls.get("ls_provider"):
            return str(ls["ls_provider"])
    except Exception:
        pass
    return "custom"


def _capabilities_of(chat_model: BaseChatModel) -> Capabilities:
    profile = getattr(chat_model, "profile", None) or {}
    tools = profile.get("tool_calling")
    if tools is None:
        tools = type(chat_model).bind_tools is not BaseChatModel.bind_tools
    return Capabilities(
        streaming=True,
        tools=bool(tools),
        structured_output=bool(profile.get("structured_output", tools)),
    )


def _window_of(chat_model: BaseChatModel) -> dict[str, int]:
    profile = getattr(chat_model, "profile", None) or {}
    out: dict[str, int] = {}
    if profile.get("max_input_tokens"):
        out["context_window"] = int(profile["max_input_tokens"])
    if profile.get("max_output_tokens"):
        out["max_output_tokens"] = int(profile["max_output_tokens"])
    return out
