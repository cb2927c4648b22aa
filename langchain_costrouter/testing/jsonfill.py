"""Schema-valid JSON values for tool arguments and structured output, filled from the prompt.

Numbers in the prompt fill integer and number fields in order, quoted strings fill string
fields, an enum value named in the prompt is preferred. Everything else gets a deterministic
placeholder that satisfies the schema (types, enums, const, formats, length and range limits,
required fields, ``$ref``, ``anyOf``/``oneOf``/``allOf``). ``pattern`` is not honoured.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w|\.\d)")
_QUOTED = re.compile(
    r"(?:(?<=^)|(?<=[\s(\[{:=,]))'([^'\n]+?)'(?=$|[\s)\]},.;:!?])"
    r"|\"([^\"\n]+?)\"|“([^”\n]+?)”|「([^」\n]+?)」|\u2018([^\u2019\n]+?)\u2019"
)
_PLACE = re.compile(r"\b(?:in|at|near|for|from|to)\s+((?:[A-Z][\w.'-]*)(?:[ ,]+[A-Z][\w.'-]*)*)")
_PROPER = re.compile(r"(?<![.!?]\s)\b([A-Z][a-z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
_STOP = (
    "a an the and or but if of to in on at for from by with about as is are was were be "
    "been this that these those it its me my you your we our they their what which who whom "
    "how why when where please can could would should will shall do does did use using tool "
    "tools give tell make write some any all value input output result return"
)
STOPWORDS = frozenset(_STOP.split())
_NAME_FIELDS = ("name", "title", "company", "customer", "person", "user", "author")
_PLACE_FIELDS = ("location", "city", "place", "address", "country", "region", "destination")
_MAX_DEPTH = 8


@dataclass
class PromptValues:
    """Values taken from the prompt, consumed in order as fields are filled."""

    text: str
    numbers: list[float] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    proper: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> PromptValues:
        quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(text)]
        places = [p.strip(" ,") for p in _PLACE.findall(text)]
        proper = [p for p in _PROPER.findall(text) if p.lower() not in STOPWORDS]
        return cls(
            text=text,
            numbers=[float(n) for n in _NUMBER.findall(text)],
            quoted=quoted,
            places=places,
            proper=proper,
        )

    def topic(self) -> str:
        words = [w for w in re.findall(r"[^\W\d_]{4,}", self.text) if w.lower() not in STOPWORDS]
        return " ".join(words[-3:]).lower() if words else "this"


def fill(
    schema: dict[str, Any], values: PromptValues, rng: random.Random, root: dict | None = None
) -> Any:
    """A value valid against ``schema``."""
    return _Filler(values, rng, root or schema).value(schema, "value", 0)


class _Filler:
    def __init__(self, values: PromptValues, rng: random.Random, root: dict) -> None:
        self.v = values
        self.rng = rng
        self.root = root

    def resolve(self, s: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in s:
            ref = s["$ref"]
            node: Any = self.root
            for part in ref.lstrip("#/").split("/") if ref != "#" else []:
                node = node[part.replace("~1", "/").replace("~0", "~")]
            s = {**node, **{k: v for k, v in s.items() if k != "$ref"}}
        if "allOf" in s:
            merged: dict[str, Any] = {k: v for k, v in s.items() if k != "allOf"}
            for sub in s["allOf"]:
                sub = self.resolve(sub)
                props = {**merged.get("properties", {}), **sub.get("properties", {})}
                req = [*merged.get("required", []), *sub.get("required", [])]
                merged = {**merged, **sub, "properties": props, "required": req}
            s = merged
        return s

    def value(self, s: dict[str, Any] | bool, name: str, depth: int) -> Any:
        if not isinstance(s, dict):
            return self.text_for(name)
        s = self.resolve(s)
        if "const" in s:
            return s["const"]
        if "enum" in s:
            return self.enum(s["enum"])
        for key in ("anyOf", "oneOf"):
            if key in s:
                options = [self.resolve(o) for o in s[key]]
                non_null = [o for o in options if o.get("type") != "null"]
                if depth >= _MAX_DEPTH or not non_null:
                    return None
                return self.value(non_null[0], name, depth + 1)
        t = s.get("type")
        if isinstance(t, list):
            non_null_t = [x for x in t if x != "null"]
            if not non_null_t or depth >= _MAX_DEPTH:
                return None
            t = non_null_t[0]
        if t is None:
            t = "object" if "properties" in s else "array" if "items" in s else "string"
        if t == "object":
            return self.obj(s, depth)
        if t == "array":
            return self.array(s, name, depth)
        if t == "integer":
            return int(self.number(s, integer=True))
        if t == "number":
            return self.number(s, integer=False)
        if t == "boolean":
            return not re.search(r"\b(false|no|not|disable|off)\b", self.v.text, re.I)
        if t == "null":
            return None
        return self.string(s, name)

    def obj(self, s: dict[str, Any], depth: int) -> dict[str, Any]:
        props: dict[str, Any] = s.get("properties") or {}
        if depth >= _MAX_DEPTH:
            props = {k: props[k] for k in s.get("required", []) if k in props}
        return {k: self.value(sub, k, depth + 1) for k, sub in props.items()}

    def array(self, s: dict[str, Any], name: str, depth: int) -> list[Any]:
        lo = int(s.get("minItems", 0))
        hi = int(s.get("maxItems", max(lo, 3)))
        n = lo if depth >= _MAX_DEPTH else min(max(lo, 2), hi)
        items = s.get("items", {})
        if isinstance(s.get("prefixItems"), list):
            pre = s["prefixItems"]
            return [self.value(p, name, depth + 1) for p in pre][: max(n, len(pre))]
        return [self.value(items, name.rstrip("s") or name, depth + 1) for _ in range(n)]

    def enum(self, options: list[Any]) -> Any:
        low = self.v.text.lower()
        for o in options:
            if isinstance(o, str) and re.search(rf"\b{re.escape(o.lower())}\b", low):
                return o
        return options[0]

    def number(self, s: dict[str, Any], *, integer: bool) -> float:
        lo = s.get("minimum", s.get("exclusiveMinimum"))
        hi = s.get("maximum", s.get("exclusiveMaximum"))

        def ok(x: float) -> bool:
            if ("minimum" in s and x < s["minimum"]) or ("maximum" in s and x > s["maximum"]):
                return False
            if "exclusiveMinimum" in s and x <= s["exclusiveMinimum"]:
                return False
            return not ("exclusiveMaximum" in s and x >= s["exclusiveMaximum"])

        while self.v.numbers:
            x = self.v.numbers.pop(0)
            if (not integer or x == int(x)) and ok(x):
                return int(x) if integer else x
        base = lo if lo is not None else (hi - 10 if hi is not None else 0)
        for step in range(1, 20):
            x = float(int(base) + self.rng.randint(0, 9) + step) if integer else base + step / 2
            if ok(x):
                return int(x) if integer else x
        return int(base) if integer else float(base)

    def string(self, s: dict[str, Any], name: str) -> str:
        fmt = s.get("format")
        formats = {
            "date-time": "2025-01-15T09:30:00Z",
            "date": "2025-01-15",
            "time": "09:30:00",
            "email": "user@example.com",
            "uri": "https://example.com/",
            "url": "https://example.com/",
            "uuid": f"{self.rng.getrandbits(32):08x}-0000-4000-8000-"
            f"{self.rng.getrandbits(48):012x}",
        }
        text = formats.get(str(fmt)) or self.text_for(name, str(s.get("description", "")))
        lo, hi = int(s.get("minLength", 0)), s.get("maxLength")
        if len(text) < lo:
            text = text + "x" * (lo - len(text))
        if hi is not None:
            text = text[: int(hi)]
        return text

    def text_for(self, name: str, description: str = "") -> str:
        low = name.lower()
        v = self.v
        if any(k in low for k in _PLACE_FIELDS) and (v.places or v.proper):
            return (v.places or v.proper).pop(0)
        if v.quoted:
            return v.quoted.pop(0)
        if any(k in low for k in _NAME_FIELDS) and v.proper:
            return v.proper.pop(0)
        label = (description or name).strip().rstrip(".").replace("_", " ")
        return f"{label[:1].upper()}{label[1:]} about {v.topic()}"
