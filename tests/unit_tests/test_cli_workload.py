"""The packaged workload: real prompts, exact mix, deterministic sampling, padding, bad files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from langchain_costrouter.exceptions import WorkloadFileError
from langchain_costrouter.pricing.tokens import count_text
from langchain_costrouter.routing.levels import Level
from langchain_costrouter.workload import CATEGORY_LEVEL, load_workload, mixed_workload


def test_packaged_prompts_are_many_distinct_and_labelled() -> None:
    items = load_workload()
    assert len(items) >= 250
    assert len({i.prompt for i in items}) == len(items)
    assert len({i.id for i in items}) == len(items)
    for i in items:
        assert i.expected_level is CATEGORY_LEVEL[i.category]
        assert count_text(i.prompt) >= 4


@pytest.mark.parametrize("n", [100, 1000, 37])
def test_mix_proportions(n: int) -> None:
    counts = Counter(i.category for i in mixed_workload(n, seed=3))
    assert sum(counts.values()) == n
    for cat, share in {"classification": 0.4, "qa": 0.3, "code": 0.2, "reasoning": 0.1}.items():
        assert abs(counts[cat] - n * share) < 1


def test_deterministic_per_seed() -> None:
    a = [i.id for i in mixed_workload(200, seed=7)]
    assert a == [i.id for i in mixed_workload(200, seed=7)]
    assert a != [i.id for i in mixed_workload(200, seed=8)]
    # no repeats within a category until the category is used up
    trivial = [i.id for i in mixed_workload(200, seed=7) if i.expected_level is Level.TRIVIAL]
    assert len(set(trivial)) == len(trivial) == 80


def test_padding_reaches_target_context() -> None:
    items = mixed_workload(40, seed=1, context_tokens=2048)
    plain = {i.id: i.prompt for i in load_workload()}
    for i in items:
        assert 2048 - 8 <= count_text(i.prompt) <= 2048
        assert i.prompt.endswith(plain[i.id])  # the task is kept whole, after the context


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "w.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


GOOD = json.dumps({"id": "a", "category": "qa", "expected_level": "standard", "prompt": "Why?"})


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"id": "b", "category": "qa", "prompt": "x"}),
         "missing field(s) expected_level"),
        (json.dumps({"id": "b", "category": "poetry", "expected_level": "standard", "prompt": "x"}),
         "unknown category 'poetry'"),
        (json.dumps({"id": "b", "category": "qa", "expected_level": "genius", "prompt": "x"}),
         "unknown expected_level 'genius'"),
        (GOOD, "id 'a' already used on line 1"),
    ],
)
def test_malformed_file_names_file_line_problem(tmp_path: Path, bad: str, problem: str) -> None:
    p = _write(tmp_path, [GOOD, bad])
    with pytest.raises(WorkloadFileError) as ei:
        load_workload(p)
    assert ei.value.line == 2
    assert str(ei.value).startswith(f"workload file {p}:2: ")
    assert problem in str(ei.value)
