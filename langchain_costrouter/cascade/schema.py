"""A small JSON Schema validator for the subset structured output uses.

Why not ``jsonschema``: it is not a dependency of the package (only of the notebook tooling in
the ``test`` extra) and brings four more packages, one of them compiled (``rpds-py``), into a
base install that only needs to answer "does this answer match the schema the call asked for".
The schemas that reach a cascade are those of ``response_format`` / ``with_structured_output``
(OpenAI's strict subset, pydantic's ``model_json_schema``), which use the keywords below.
``tests/unit_tests/test_cascade_schema.py`` checks this validator against ``jsonschema`` on them.

Supported: ``type`` (one or a list), ``enum``, ``const``, ``properties``, ``required``,
``additionalProperties`` (bool or schema), ``items``, ``prefixItems``, ``minItems``,
``maxItems``, ``minLength``, ``maxLength``, ``minimum``, ``maximum``, ``exclusiveMinimum``,
``exclusiveMaximum``, ``anyOf``, ``oneOf``, ``allOf``, and local ``$ref`` (``#/$defs/...``,
``#/definitions/...``). Other keywords (``format``, ``pattern``, ...) are ignored, so such a
schema accepts more than jsonschema would, never less. Nesting deeper than
:data:`MAX_DEPTH` is reported as an error, not a ``RecursionError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 64

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    for name, kinds in _TYPES.items():
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    kinds = _TYPES.get(kind)
    return True if kinds is None else isinstance(value, kinds)  # unknown type name: no opinion


def schema_error(value: Any, schema: Mapping[str, Any]) -> str | None:
    """The first way ``value`` breaks ``schema`` (``"$.a[0]: expected string, got integer"``),
    ``None`` when it matches."""
    return _check(value, schema, schema, "$", 0)


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if not ref.startswith("#"):
        return None  # remote refs are not fetched: no opinion
    node: Any = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, Mapping) else None


def _check(
    value: Any, schema: Any, root: Mapping[str, Any], path: str, depth: int
) -> str | None:
    if depth > MAX_DEPTH:
        return f"{path}: nested deeper than {MAX_DEPTH} levels"
    if schema is True or not isinstance(schema, Mapping):
        return None
    if schema is False:  # pragma: no cover - False is not a Mapping; kept for clarity
        return f"{path}: no value is allowed here"
    if isinstance(ref := schema.get("$ref"), str):
        target = _resolve(ref, root)
        if target is not None and (err := _check(value, target, root, path, depth + 1)):
            return err
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(value, k) for k in names):
            return f"{path}: expected {' or '.join(map(str, names))}, got {_type_name(value)}"
    enum = schema.get("enum")
    if isinstance(enum, list) and not any(_same(value, e) for e in enum):
        return f"{path}: {_short(value)} is not one of {_short(enum)}"
    if "const" in schema and not _same(value, schema["const"]):
        return f"{path}: expected {_short(schema['const'])}, got {_short(value)}"
    for key in ("allOf", "anyOf", "oneOf"):
        subs = schema.get(key)
        if not isinstance(subs, list):
            continue
        errs = [_check(value, s, root, path, depth + 1) for s in subs]
        ok = sum(e is None for e in errs)
        if key == "allOf" and ok < len(subs):
            return next(e for e in errs if e)
        if key == "anyOf" and ok == 0 and subs:
            return f"{path}: matches none of anyOf ({errs[0]})"
        if key == "oneOf" and ok != 1 and subs:
            return f"{path}: matches {ok} of oneOf, not exactly one"
    if isinstance(value, dict):
        return _object(value, schema, root, path, depth)
    if isinstance(value, list):
        return _array(value, schema, root, path, depth)
    if isinstance(value, str):
        if isinstance(n := schema.get("minLength"), int) and len(value) < n:
            return f"{path}: shorter than {n} characters"
        if isinstance(n := schema.get("maxLength"), int) and len(value) > n:
            return f"{path}: longer than {n} characters"
    if _is(value, "number"):
        return _bounds(value, schema, path)
    return None


def _object(
    value: dict[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any], path: str,
    depth: int,
) -> str | None:
    missing = [k for k in schema.get("required") or () if k not in value]
    if missing:
        return f"{path}: missing required keys {missing}"
    props = schema.get("properties")
    props = props if isinstance(props, Mapping) else {}
    extra = schema.get("additionalProperties", True)
    for k, v in value.items():
        if k in props:
            sub = props[k]
        elif extra is False:
            return f"{path}: unexpected key {k!r}"
        else:
            sub = extra
        if err := _check(v, sub, root, f"{path}.{k}", depth + 1):
            return err
    return None


def _array(
    value: list[Any], schema: Mapping[str, Any], root: Mapping[str, Any], path: str, depth: int
) -> str | None:
    if isinstance(n := schema.get("minItems"), int) and len(value) < n:
        return f"{path}: fewer than {n} items"
    if isinstance(n := schema.get("maxItems"), int) and len(value) > n:
        return f"{path}: more than {n} items"
    prefix = schema.get("prefixItems")
    prefix = prefix if isinstance(prefix, list) else []
    items = schema.get("items", True)
    for i, v in enumerate(value):
        sub = prefix[i] if i < len(prefix) else items
        if err := _check(v, sub, root, f"{path}[{i}]", depth + 1):
            return err
    return None


def _bounds(value: float, schema: Mapping[str, Any], path: str) -> str | None:
    def num(key: str) -> float | None:
        v = schema.get(key)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    if (lo := num("minimum")) is not None and value < lo:
        return f"{path}: {value} < minimum {lo}"
    if (hi := num("maximum")) is not None and value > hi:
        return f"{path}: {value} > maximum {hi}"
    if (lo := num("exclusiveMinimum")) is not None and value <= lo:
        return f"{path}: {value} <= exclusiveMinimum {lo}"
    if (hi := num("exclusiveMaximum")) is not None and value >= hi:
        return f"{path}: {value} >= exclusiveMaximum {hi}"
    return None


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
