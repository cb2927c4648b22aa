"""The model catalog: defaults from genai-prices, overrides, presets and validation."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from langchain_costrouter import Catalog, ConfigError, Level, UnknownModelError, aggregator
from langchain_costrouter.pricing.prices import context_window_of, lookup_prices
from langchain_costrouter.testing.function_model import FunctionChatModel


def test_defaults_are_2026_models_priced_by_genai_prices() -> None:
    cat = Catalog.default()
    for name, spec in cat.models.items():
        assert spec.prices is not None, name
        assert spec.prices.source.startswith("genai-prices"), name
        # not retyped: the catalog holds what genai-prices says for the API model id
        assert spec.prices == lookup_prices(spec.model, spec.provider), name
        assert spec.context_window == context_window_of(spec.model, spec.provider), name
    assert cat["claude-sonnet-5.5"].model == "claude-sonnet-5-5"
    assert cat.candidates(Level.STANDARD) == ("gpt-5.4-mini", "gemini-3.5-flash")


def test_override_one_price_keeps_the_rest() -> None:
    cat = Catalog.default().with_overrides({"models": {"gpt-5.4": {"prices": {"output": 9}}}})
    p = cat["gpt-5.4"].prices
    assert p is not None
    assert p.output == Decimal(9) and p.input == Decimal("2.5") and p.source == "user"


def test_new_model_and_levels_from_yaml_and_json(tmp_path: Path) -> None:
    y = tmp_path / "cat.yaml"
    y.write_text(
        "models:\n"
        "  mine:\n"
        "    provider: local\n    model: my-7b\n    base_url: http://127.0.0.1:9/v1\n"
        "    prices: {input: 0, output: 0}\n    context_window: 8192\n"
        "levels:\n  trivial: [mine, gpt-5.4-nano]\n",
        encoding="utf-8",
    )
    cat = Catalog.from_file(y)
    assert cat.candidates("trivial") == ("mine", "gpt-5.4-nano")
    assert cat["mine"].prices is not None and cat["mine"].prices.input == 0
    j = tmp_path / "cat.json"
    j.write_text(json.dumps({"models": {"gpt-5.4": {"context_window": 1000}}}), encoding="utf-8")
    assert Catalog.from_file(j)["gpt-5.4"].context_window == 1000


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"models": {"gpt-5.4": {"prices": {"input": -1}}}},
         r"models\.gpt-5\.4\.prices\.input.*-1"),
        ({"models": {"gpt-5.4": {"context_window": 0}}},
         r"models\.gpt-5\.4\.context_window.*\b0\b"),
        ({"levels": {"trivial": ["nope"]}}, r"level 'trivial' names unknown model 'nope'"),
        ({"levels": {"hardest": ["gpt-5.4"]}}, r"unknown level 'hardest'"),
        ({"models": {"new": {"provider": "x"}}}, r"models\.new\.model"),
        ({"pricing": {}}, r"unknown catalog keys \['pricing'\]"),
    ],
)
def test_invalid_catalog_names_field_and_value(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Catalog.default().with_overrides(overrides)


def test_duplicate_names_are_refused() -> None:
    spec = Catalog.default()["gpt-5.4"]
    with pytest.raises(ConfigError, match=r"duplicate model name 'gpt-5\.4'"):
        Catalog.build({"models": [spec, spec], "levels": {"trivial": ["gpt-5.4"]}})


def test_bad_files_say_which_file_and_why(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read catalog file"):
        Catalog.from_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.json.*not valid json"):
        Catalog.from_file(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must hold a mapping, got list"):
        Catalog.from_file(lst)


def test_aggregator_preset_serves_every_model_at_its_own_prices() -> None:
    cat = aggregator("openrouter", prices={"gpt-5.4": {"input": 1, "output": 4}})
    spec = cat["gpt-5.4"]
    assert spec.base_url == "https://openrouter.ai/api/v1"
    assert spec.api_key_env == "OPENROUTER_API_KEY"
    assert spec.model == "openai/gpt-5.4"
    assert set(cat.models) == set(Catalog.default().models)  # the preset names every model
    assert spec.prices is not None
    assert (spec.prices.input, spec.prices.output, spec.prices.cached_input) == (1, 4, None)
    assert spec.prices.source == "aggregator"
    with pytest.raises(UnknownModelError, match="aggregator preset 'nope'"):
        aggregator("nope")
    with pytest.raises(UnknownModelError, match="unknown model 'gpt-9'"):
        aggregator("openrouter", prices={"gpt-9": {"input": 1, "output": 1}})


def test_ready_chat_models_are_priced_when_their_name_is_known() -> None:
    cat = Catalog.from_models({
        "mini": FunctionChatModel(model_name="gpt-4.1-mini", provider="openai"),
        "mystery": FunctionChatModel(model_name="house-model-7"),
    })
    assert cat["mini"].prices == lookup_prices("gpt-4.1-mini", "openai")
    assert cat["mystery"].prices is None
    # no levels given: spread by price, unpriced counted as dearest
    assert cat.candidates("trivial") == ("mini", "mystery")
    assert cat.candidates("expert") == ("mystery",)


def test_models_without_levels_spread_over_levels_by_price() -> None:
    cat = Catalog.from_models({
        "large": FunctionChatModel(model_name="gpt-4.1", provider="openai"),
        "small": FunctionChatModel(model_name="gpt-4.1-nano", provider="openai"),
        "mid": FunctionChatModel(model_name="gpt-4.1-mini", provider="openai"),
    })
    assert cat.candidates("trivial") == ("small", "mid", "large")
    assert cat.candidates("standard") == ("small", "mid", "large")
    assert cat.candidates("complex") == ("mid", "large")
    assert cat.candidates("expert") == ("large",)


def test_specs_never_show_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-1")
    cat = Catalog.default()
    assert cat["gpt-5.4"].api_key() == "sk-secret-value-1"
    assert "sk-secret-value-1" not in repr(cat) + str(cat["gpt-5.4"]) + cat.model_dump_json()
