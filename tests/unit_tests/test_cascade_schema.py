"""The small JSON Schema validator agrees with jsonschema on the keywords structured output uses,
and reports deep nesting instead of overflowing the stack."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from langchain_costrouter.cascade.schema import MAX_DEPTH, schema_error

jsonschema = pytest.importorskip("jsonschema")


class Address(BaseModel):
    city: str
    zip: str | None = None


class Person(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    age: int = Field(ge=0, lt=150)
    tags: list[str] = Field(default_factory=list, max_length=3)
    kind: str = Field(default="human", json_schema_extra={"enum": ["human", "robot"]})
    address: Address | None = None


STRICT = {  # OpenAI strict mode: every key required, no extra keys, nullable via type lists
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "steps": {"type": "array", "items": {"type": "object", "properties": {
            "n": {"type": "integer"}, "text": {"type": "string"}},
            "required": ["n", "text"], "additionalProperties": False}, "minItems": 1},
        "unit": {"anyOf": [{"type": "string", "enum": ["m", "s"]}, {"type": "null"}]},
        "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
        "flag": {"const": True},
    },
    "required": ["answer", "confidence", "steps", "unit", "flag"],
    "additionalProperties": False,
}

PERSON = Person.model_json_schema()  # $defs and $ref, anyOf with null, bounds, lengths

CASES: list[tuple[dict[str, Any], Any]] = [
    (PERSON, {"name": "Ada", "age": 36}),
    (PERSON, {"name": "Ada", "age": 36, "address": {"city": "London"}}),
    (PERSON, {"name": "Ada", "age": 36, "address": {"zip": "1"}}),
    (PERSON, {"name": "Ada", "age": 36, "address": None}),
    (PERSON, {"name": "", "age": 36}),
    (PERSON, {"name": "A" * 21, "age": 36}),
    (PERSON, {"name": "Ada", "age": 150}),
    (PERSON, {"name": "Ada", "age": -1}),
    (PERSON, {"name": "Ada", "age": 36.0}),
    (PERSON, {"name": "Ada", "age": 36.5}),
    (PERSON, {"name": "Ada", "age": True}),
    (PERSON, {"name": "Ada", "age": "36"}),
    (PERSON, {"name": "Ada", "age": 36, "tags": ["a", "b", "c", "d"]}),
    (PERSON, {"name": "Ada", "age": 36, "tags": ["a", 1]}),
    (PERSON, {"name": "Ada", "age": 36, "kind": "cat"}),
    (PERSON, {"age": 36}),
    (PERSON, ["Ada", 36]),
    (PERSON, None),
    (STRICT, {"answer": "4", "confidence": 0.9, "steps": [{"n": 1, "text": "2+2"}],
              "unit": None, "flag": True}),
    (STRICT, {"answer": "4", "confidence": None, "steps": [{"n": 1, "text": "x"}],
              "unit": "m", "flag": True, "pair": [1, "a", 3]}),
    (STRICT, {"answer": "4", "confidence": 1.5, "steps": [{"n": 1, "text": "x"}],
              "unit": "m", "flag": True}),
    (STRICT, {"answer": "4", "confidence": 0.5, "steps": [], "unit": "m", "flag": True}),
    (STRICT, {"answer": "4", "confidence": 0.5, "steps": [{"n": "1", "text": "x"}],
              "unit": "m", "flag": True}),
    (STRICT, {"answer": "4", "confidence": 0.5, "steps": [{"n": 1, "text": "x", "y": 2}],
              "unit": "m", "flag": True}),
    (STRICT, {"answer": "4", "confidence": 0.5, "steps": [{"n": 1, "text": "x"}],
              "unit": "km", "flag": True}),
    (STRICT, {"answer": "4", "confidence": 0.5, "steps": [{"n": 1, "text": "x"}],
              "unit": "m", "flag": 1}),
    (STRICT, {"answer": "4", "confidence": 0.5, "steps": [{"n": 1, "text": "x"}],
              "unit": "m", "flag": True, "pair": ["a", "b"]}),
    (STRICT, {"answer": "4", "confidence": 0.5, "steps": [{"n": 1, "text": "x"}],
              "unit": "m", "flag": True, "extra": 0}),
]


@pytest.mark.parametrize(("schema", "value"), CASES)
def test_agrees_with_jsonschema(schema: dict[str, Any], value: Any) -> None:
    expected = jsonschema.Draft202012Validator(schema).is_valid(value)
    err = schema_error(value, schema)
    assert (err is None) is expected, err


def test_errors_name_the_path() -> None:
    err = schema_error({"answer": "4", "confidence": 0.5, "steps": [{"n": "1", "text": "x"}],
                        "unit": "m", "flag": True}, STRICT)
    assert err == "$.steps[0].n: expected integer, got string"


def test_deep_values_are_an_error_not_a_recursion_error() -> None:
    value: Any = 1
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(MAX_DEPTH + 5):
        value, schema = [value], {"type": "array", "items": schema}
    err = schema_error(value, schema)
    assert err is not None and f"nested deeper than {MAX_DEPTH}" in err


def test_a_recursive_ref_terminates() -> None:
    tree = {"$defs": {"node": {"type": "object", "properties": {"kids": {
        "type": "array", "items": {"$ref": "#/$defs/node"}}}}}, "$ref": "#/$defs/node"}
    value: Any = {"kids": []}
    for _ in range(200):
        value = {"kids": [value]}
    assert "nested deeper" in (schema_error(value, tree) or "")
    assert schema_error({"kids": [{"kids": []}]}, tree) is None
