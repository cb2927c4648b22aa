"""Load the workload prompts and sample a deterministic mix of them."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path

from langchain_costrouter.exceptions import ConfigError, WorkloadFileError
from langchain_costrouter.pricing.tokens import EncodingName, count_text, get_encoding
from langchain_costrouter.routing.levels import Level

CATEGORY_LEVEL: dict[str, Level] = {
    "classification": Level.TRIVIAL,
    "qa": Level.STANDARD,
    "code": Level.COMPLEX,
    "reasoning": Level.EXPERT,
}
DEFAULT_CATEGORY_MIX: dict[str, Fraction] = {
    "classification": Fraction(40, 100),
    "qa": Fraction(30, 100),
    "code": Fraction(20, 100),
    "reasoning": Fraction(10, 100),
}
_FIELDS = ("id", "category", "expected_level", "prompt")


@dataclass(frozen=True, slots=True)
class WorkloadItem:
    """One prompt of the workload."""

    id: str
    category: str
    """``classification``, ``qa``, ``code`` or ``reasoning``."""
    expected_level: Level
    """The level a good router should pick for it."""
    prompt: str


def _package_file(name: str) -> str:
    return str(resources.files("langchain_costrouter").joinpath("data", name))


def load_workload(path: str | Path | None = None) -> list[WorkloadItem]:
    """Read a workload JSONL file (the packaged one by default).

    Each line is ``{"id", "category", "expected_level", "prompt"}``. A bad line raises
    :class:`WorkloadFileError` naming the file, the line number and the problem.
    """
    p = str(path) if path is not None else _package_file("workload.jsonl")
    return list(_load_workload(p))


@lru_cache(maxsize=8)
def _load_workload(p: str) -> tuple[WorkloadItem, ...]:
    try:
        with open(p, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise WorkloadFileError(p, None, f"cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise WorkloadFileError(p, None, f"not UTF-8 text ({e.reason})") from None
    items: list[WorkloadItem] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise WorkloadFileError(p, n, f"invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise WorkloadFileError(p, n, f"expected a JSON object, got {type(obj).__name__}")
        missing = [k for k in _FIELDS if k not in obj]
        if missing:
            raise WorkloadFileError(p, n, f"missing field(s) {', '.join(missing)}")
        for k in _FIELDS:
            if not isinstance(obj[k], str) or not obj[k].strip():
                raise WorkloadFileError(p, n, f"field {k!r} must be a non-empty string")
        if obj["category"] not in CATEGORY_LEVEL:
            raise WorkloadFileError(
                p, n,
                f"unknown category {obj['category']!r}; "
                f"expected one of {', '.join(CATEGORY_LEVEL)}",
            )
        try:
            level = Level.parse(obj["expected_level"])
        except ConfigError:
            raise WorkloadFileError(
                p, n,
                f"unknown expected_level {obj['expected_level']!r}; "
                f"expected one of {', '.join(lv.value for lv in Level)}",
            ) from None
        if obj["id"] in seen:
            first = seen[obj["id"]]
            raise WorkloadFileError(p, n, f"id {obj['id']!r} already used on line {first}")
        seen[obj["id"]] = n
        items.append(WorkloadItem(obj["id"], obj["category"], level, obj["prompt"]))
    if not items:
        raise WorkloadFileError(p, None, "no prompts in it")
    return tuple(items)


@lru_cache(maxsize=1)
def load_contexts() -> tuple[tuple[str, str], ...]:
    """The packaged reference documents as ``(title, text)`` pairs."""
    out = []
    with open(_package_file("contexts.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                obj = json.loads(line)
                out.append((obj["title"], obj["text"]))
    return tuple(out)


def _counts(n: int, mix: Mapping[str, Fraction]) -> dict[str, int]:
    """Split ``n`` by ``mix`` exactly (largest remainder), so 100 calls give 40/30/20/10."""
    total = sum(mix.values(), Fraction(0))
    exact = {k: Fraction(n) * v / total for k, v in mix.items()}
    counts = {k: int(v) for k, v in exact.items()}
    short = n - sum(counts.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - counts[k]), list(mix).index(k)))[:short]:
        counts[k] += 1
    return counts


_HEADER = "Reference material (use it if it is relevant to the task below):\n\n"
_FOOTER = "\n\n---\n\nTask: "


@lru_cache(maxsize=1024)
def pad_prompt(
    prompt: str, context_tokens: int, start: int = 0, encoding: EncodingName = "o200k_base"
) -> str:
    """``prompt`` preceded by reference documents so the text is about ``context_tokens`` long.

    The result has at most ``context_tokens`` tokens (by :func:`count_text`) and at least
    ``context_tokens - 8``; a prompt already that long is returned unchanged.
    """
    base = count_text(prompt, encoding)
    frame = count_text(_HEADER + _FOOTER, encoding)
    budget = context_tokens - base - frame
    if budget <= 8:
        return prompt
    docs = load_contexts()
    enc = get_encoding(encoding)
    parts: list[str] = []
    used = 0
    i = start
    while used < budget:
        title, text = docs[i % len(docs)]
        parts.append(f"## {title}\n\n{text}\n\n")
        used += count_text(parts[-1], encoding)
        i += 1
    body_tokens = enc.encode("".join(parts), disallowed_special=())[:budget]
    body = enc.decode(body_tokens).rstrip()
    out = _HEADER + body + _FOOTER + prompt
    while count_text(out, encoding) > context_tokens:  # re-tokenising may merge differently
        body = body[: max(0, len(body) - 20)].rstrip()
        out = _HEADER + body + _FOOTER + prompt
    return out


def mixed_workload(
    n: int,
    seed: int = 0,
    context_tokens: int | None = None,
    *,
    mix: Mapping[str, Fraction | float] | None = None,
    items: Sequence[WorkloadItem] | None = None,
) -> list[WorkloadItem]:
    """``n`` prompts in the category ``mix`` (default 40/30/20/10), shuffled, same for a seed.

    Within a category prompts are drawn without repetition until all are used. With
    ``context_tokens``, each prompt is padded with reference documents to that many tokens.
    """
    if n < 0:
        raise ConfigError(f"number of prompts must be >= 0, got {n}")
    pool = list(items) if items is not None else load_workload()
    given = mix or DEFAULT_CATEGORY_MIX
    weights = {k: Fraction(v).limit_denominator(10_000) for k, v in given.items()}
    if any(w < 0 for w in weights.values()) or not sum(weights.values()):
        raise ConfigError(f"mix needs non-negative shares with a positive sum, got {dict(given)}")
    by_cat: dict[str, list[WorkloadItem]] = {}
    for it in pool:
        by_cat.setdefault(it.category, []).append(it)
    rng = random.Random(seed)
    chosen: list[WorkloadItem] = []
    for cat, k in _counts(n, weights).items():
        if k == 0:
            continue
        source = by_cat.get(cat)
        if not source:
            raise ConfigError(f"the workload has no prompts of category {cat!r}")
        while k > 0:
            batch = rng.sample(source, min(k, len(source)))
            chosen.extend(batch)
            k -= len(batch)
    rng.shuffle(chosen)
    if context_tokens is None:
        return chosen
    return [
        WorkloadItem(
            it.id, it.category, it.expected_level,
            pad_prompt(it.prompt, context_tokens, start=_stable_index(it.id)),
        )
        for it in chosen
    ]


def _stable_index(s: str) -> int:
    return sum(s.encode())
