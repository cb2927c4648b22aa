"""Bad catalog input is a one-line ConfigError that names what is wrong and never echoes a key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from langchain_costrouter import Catalog, ConfigError, ModelSpec
from langchain_costrouter.pricing.prices import lookup_prices
from langchain_costrouter.redact import REDACTED, scrub_text

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-proj-PASTEDKEY0123456789abcdef"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"models": [1]}, r"models\[0\]: expected a mapping of fields with a name, got int"),
        ({"models": "gpt-5.4"}, r"models: expected a mapping of model name to fields"),
        ({"models": {"gpt-5.4": 7}}, r"models\.gpt-5\.4: expected a mapping of fields, got int"),
        ({"levels": ["trivial"]}, r"levels: expected a mapping of level to model names"),
        ({"levels": {"trivial": "gpt-5.4"}}, r"levels\.trivial: expected a list of model names"),
        ({"levels": {"expert": []}}, r"level 'expert' has no candidate model"),
    ],
)
def test_bad_overrides_are_config_errors(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Catalog.default().with_overrides(overrides)


def test_overrides_that_are_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        Catalog.default().with_overrides([("models", {})])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"models\[0\]: expected a model entry, got int"):
        Catalog.build({"models": [1], "levels": {}})


def test_a_list_of_entries_and_partial_capabilities_merge() -> None:
    cat = Catalog.default().with_overrides({"models": [
        {"name": "gpt-5.4", "capabilities": {"vision": False}},
        {"name": "mini-2025", "provider": "openai", "model": "gpt-4.1-mini",
         "base_url": "https://api.openai.com/v1"},
    ]})
    caps = cat["gpt-5.4"].capabilities
    assert caps.vision is False and caps.tools and caps.structured_output  # the rest is kept
    # a new entry is priced from genai-prices by its model id, and sits in no level
    assert cat["mini-2025"].prices == lookup_prices("gpt-4.1-mini", "openai")
    assert cat.pin_only() == ("gpt-5.5-pro", "mini-2025")


def test_a_key_pasted_as_api_key_env_is_refused_and_never_shown() -> None:
    with pytest.raises(ConfigError) as info:
        Catalog.default().with_overrides({"models": {"gpt-5.4": {"api_key_env": KEY}}})
    text = str(info.value) + repr(info.value)
    assert "api_key_env" in text and "NAME of an environment variable" in text
    assert KEY not in text and "PASTEDKEY" not in text
    assert scrub_text(f"oops {KEY}") == f"oops {REDACTED}"  # and it is scrubbed from now on
    with pytest.raises(ValueError) as direct:  # building a spec by hand: pydantic's error
        ModelSpec(name="m", provider="p", model="m", base_url="http://x",
                  api_key_env="Bearer abc.def.ghi")
    assert "abc.def.ghi" not in str(direct.value) + repr(direct.value)
    for ok in ("OPENAI_API_KEY", "_MY_KEY2", "k"):
        Catalog.default().with_overrides({"models": {"gpt-5.4": {"api_key_env": ok}}})


def test_repr_hides_url_credentials() -> None:
    url = "https://team:sk-urlsecret0123456789abcd@gw.example.com/v1?api_key=qs0123456789abcd"
    cat = Catalog.default().served_by(url)
    shown = repr(cat) + str(cat) + repr(cat["gpt-5.4"]) + str(cat["gpt-5.4"])
    assert "sk-urlsecret" not in shown and "qs0123456789abcd" not in shown and "team:" not in shown
    assert "gw.example.com/v1" in shown
    assert cat["gpt-5.4"].base_url == url  # the real value still reaches the client


def test_a_non_utf8_catalog_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("models:\n  gpt-5.4:\n    provider: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml.*not UTF-8 text \(byte 0xe9"):
        Catalog.from_file(bad)
    r = subprocess.run(
        [sys.executable, "-m", "langchain_costrouter.cli.main", "tco", "--catalog", str(bad)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert str(bad) in line and "not UTF-8" in line
