"""Check names for the CLI and configs: ``python_syntax``, ``arithmetic+final_answer``,
``schema:PATH.json``."""

from __future__ import annotations

import json
import os

from langchain_costrouter.cascade.answers import final_answer
from langchain_costrouter.cascade.arithmetic import arithmetic
from langchain_costrouter.cascade.base import Verifier, all_of
from langchain_costrouter.cascade.basic import empty_answer, refusal
from langchain_costrouter.cascade.code import python_required, python_syntax
from langchain_costrouter.cascade.structured import json_answer, matches_schema
from langchain_costrouter.exceptions import ConfigError

CHECKS: dict[str, Verifier] = {
    c.name: c
    for c in (empty_answer, refusal, final_answer, arithmetic, python_syntax, python_required,
              json_answer)
}
"""Built-in checks by name. ``low_confidence`` is left out: it needs logprobs."""


def _one(spec: str) -> Verifier:
    name, sep, arg = spec.partition(":")
    if name == "schema" and sep:
        if not os.path.isfile(arg):
            raise ConfigError(f"check {spec!r}: no schema file {arg!r}")
        try:
            with open(arg, encoding="utf-8") as f:
                schema = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"check {spec!r}: the schema file is not JSON ({e})") from None
        if not isinstance(schema, dict):
            raise ConfigError(f"check {spec!r}: the schema must be a JSON object")
        return matches_schema(schema, name=f"schema:{os.path.basename(arg)}")
    if spec in CHECKS:
        return CHECKS[spec]
    raise ConfigError(
        f"unknown cascade check {spec!r}; use one of {', '.join(CHECKS)}, schema:PATH.json, "
        "or several joined by '+' (all must accept)"
    )


def resolve_check(spec: str) -> Verifier:
    """A check from its name; ``a+b`` is :func:`all_of` (escalate when either rejects)."""
    parts = [p.strip() for p in spec.split("+")]
    if not spec.strip() or not all(parts):
        raise ConfigError(f"empty cascade check name in {spec!r}")
    checks = [_one(p) for p in parts]
    if len(checks) == 1:
        return checks[0]
    combined = all_of(*checks)
    return Verifier(combined.fn, "+".join(c.name for c in checks), combined.__doc__)
