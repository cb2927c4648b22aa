"""Reading catalog overrides: YAML/JSON files, the entries of an overrides mapping, and
validation errors as one line that names each bad field (and never a secret's value)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.pricing.prices import Prices, lookup_prices
from langchain_costrouter.redact import scrub_text


def model_patches(models: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(name, fields)`` pairs of an overrides ``models`` value: a mapping or a list."""
    if models is None:
        return
    if isinstance(models, Mapping):
        for name, patch in models.items():
            if not isinstance(patch, Mapping):
                raise ConfigError(
                    f"models.{name}: expected a mapping of fields, got {type(patch).__name__}"
                )
            yield str(name), patch
    elif isinstance(models, (list, tuple)):
        for i, patch in enumerate(models):
            if not isinstance(patch, Mapping) or not isinstance(patch.get("name"), str):
                raise ConfigError(
                    f"models[{i}]: expected a mapping of fields with a name, "
                    f"got {type(patch).__name__}"
                )
            yield patch["name"], {k: v for k, v in patch.items() if k != "name"}
    else:
        raise ConfigError(
            "models: expected a mapping of model name to fields (or a list of entries), "
            f"got {type(models).__name__}"
        )


def list_prices(patch: Mapping[str, Any]) -> Prices | None:
    """genai-prices' list prices of a new entry's ``model`` (at its ``provider``), or None."""
    model, provider = patch.get("model"), patch.get("provider")
    if isinstance(model, str) and model:
        return lookup_prices(model, provider if isinstance(provider, str) else None)
    return None


def load_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict; errors name the file and the problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read catalog file {str(p)!r}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"catalog file {str(p)!r} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at "
            f"offset {e.start}); save it as UTF-8"
        ) from None
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as e:  # json.JSONDecodeError, yaml.YAMLError
        raise ConfigError(scrub_text(
            f"catalog file {str(p)!r} is not valid {p.suffix[1:] or 'YAML'}: {e}"
        )) from None
    if not isinstance(data, dict):
        raise ConfigError(f"catalog file {str(p)!r} must hold a mapping, got {type(data).__name__}")
    return data


def explain_validation(e: ValidationError, what: str = "invalid catalog") -> str:
    """One line naming each bad field and its value (scrubbed; a validator that rejects a
    secret says so without echoing it)."""
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] in {"value_error", "assertion_error"} or not loc:
            parts.append(f"{loc + ': ' if loc else ''}{msg}")
        else:
            parts.append(f"{loc}: {msg} (got {err.get('input')!r})")
    return scrub_text(f"{what}: " + "; ".join(parts))
