"""Conversation shapes built from the single-prompt routing data keep their rows' labels, and the
default scorer's whole-request reading keeps the difficulty ranking it has on the bare prompt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_costrouter.quality.conversations import (
    FOLLOW_UP,
    MIXED,
    PLACEHOLDER,
    PLACEHOLDER_ANSWER,
    REAL,
    SYSTEM_PROMPT,
    conversations,
    evaluate_shapes,
    levels_kept,
    messages_of,
    sample,
    sweep,
    weak_answers,
    with_context,
)
from langchain_costrouter.quality.corpus import Row, read_corpus
from langchain_costrouter.routing.scorers import default_scorer

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / ".." / "shared" / "data" / "routing"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="no shared routing data")

# Margins, from `python -m scripts.conversation_figures` and the 50-per-dataset sample below:
# follow-up minus plain APGR was -0.001 on the mean (+0.002 at 300 per dataset) and at most
# 0.017 on one file (0.010 at 300). A follow-up scored by its own text (short_plain = 0, so
# the short follow-up's logit floors the conversation's) moves the mean by -0.056 and one file
# by -0.125: the margins sit between the two.
MEAN_MARGIN = 0.015
FILE_MARGIN = 0.04
PER_DATASET = 50


def _row(prompt: str, file: str = "routerbench", dataset: str = "mbpp", strong: float = 1.0,
         weak: float = 0.0) -> Row:
    return Row(prompt=prompt, file=file, dataset=dataset, family=dataset, strong=strong,
               weak=weak, multi_win=0.5, multi_gain=0.5, fail_share=0.5)


def test_every_shape_keeps_the_rows_labels_and_task() -> None:
    rows = [_row("Write a function that sorts a list.", strong=1.0, weak=0.0),
            _row("What is 17 * 23?", dataset="arc-challenge", strong=0.0, weak=1.0)]
    answers = {("Write a function that sorts a list.", "mistralai/mixtral-8x7b-chat"):
               "def sort(xs): return sorted(xs)"}
    convs = conversations(rows, answers)
    assert [c.row for c in convs] == rows  # same order, same labels
    first, second = convs
    assert [type(m) for m in first.shapes["plain"]] == [HumanMessage]
    assert first.shapes["plain"][0].content == rows[0].prompt
    sys_msg, human = first.shapes["system"]
    assert isinstance(sys_msg, SystemMessage) and sys_msg.content == SYSTEM_PROMPT
    assert human.content == rows[0].prompt
    h1, ai, h2 = first.shapes["follow-up"]
    assert (type(h1), type(ai), type(h2)) == (HumanMessage, AIMessage, HumanMessage)
    assert h1.content == rows[0].prompt and h2.content == FOLLOW_UP
    # the real weak answer where the responses have the row's pair, else the placeholder
    assert ai.content == "def sort(xs): return sorted(xs)" and first.answer_source == REAL
    assert second.shapes["follow-up"][1].content == PLACEHOLDER_ANSWER
    assert second.answer_source == PLACEHOLDER
    assert [m.content for m in first.shapes["follow-up, last turn only"]] == [FOLLOW_UP]
    assert {tuple(m.content for m in messages_of(c, MIXED)) for c in convs} <= {
        tuple(m.content for m in c.shapes[s]) for c in convs for s in ("plain", "follow-up")}


def test_the_sample_is_capped_per_dataset_and_deterministic() -> None:
    rows = [_row(f"prompt {i}", dataset="a" if i % 3 else "b") for i in range(60)]
    picked = sample(rows, 7)
    assert picked == sample(rows, 7)
    assert sum(r.dataset == "a" for r in picked) == 7 and sum(r.dataset == "b" for r in picked) == 7
    assert picked != [r for r in rows if r.dataset == "a"][:7]  # spread, not the first rows
    assert [rows.index(r) for r in picked] == sorted(rows.index(r) for r in picked)
    assert sample(rows, None) == rows


@pytest.fixture(scope="module")
def shared_convs() -> list:
    rows, _ = read_corpus(str(SHARED))
    return conversations(sample(rows, PER_DATASET), weak_answers(str(SHARED / "responses.csv")))


@needs_shared
def test_real_weak_answers_come_from_the_responses_file(shared_convs: list) -> None:
    real = [c for c in shared_convs if c.answer_source == REAL]
    assert real and {c.row.file for c in real} <= {"routerbench", "zeroeval"}
    assert all(c.shapes["follow-up"][1].content != PLACEHOLDER_ANSWER for c in real)


@needs_shared
def test_a_follow_up_keeps_the_ranking_of_its_prompt(shared_convs: list) -> None:
    splits = evaluate_shapes(shared_convs, default_scorer())
    mean = splits[-1]
    assert mean.name == "mean" and mean.rows == len(shared_convs)
    plain, follow = mean.apgr["default: plain"], mean.apgr["default: follow-up"]
    last_only = mean.apgr["default: follow-up, last turn only"]
    assert abs(follow - plain) <= MEAN_MARGIN, (plain, follow)
    assert abs(mean.apgr["default: system"] - plain) <= MEAN_MARGIN
    for s in splits[:-1]:
        assert abs(s.apgr["default: follow-up"] - s.apgr["default: plain"]) <= FILE_MARGIN, s
    # the last message alone says nothing about the task: every row ties, the diagonal
    assert last_only == pytest.approx(0.5)
    assert follow >= last_only + 0.05
    assert mean.apgr["length: follow-up"] == pytest.approx(0.5)


@needs_shared
def test_the_margins_catch_a_follow_up_scored_by_its_own_text(shared_convs: list) -> None:
    # a history discounted so much that the follow-up's own text decides its score
    broken = with_context(default_scorer(), history_decay=10.0)
    mean = evaluate_shapes(shared_convs, broken)[-1]  # type: ignore[arg-type]
    assert mean.apgr["default: plain"] - mean.apgr["default: follow-up"] > MEAN_MARGIN


@needs_shared
def test_more_history_decay_drops_more_follow_ups_a_level(shared_convs: list) -> None:
    scorer = default_scorer()
    result = sweep(shared_convs, scorer, "history_decay", (0.0, 0.25, 1.0))
    lower = [p.levels[1] for p in result.values()]
    assert lower == sorted(lower) and lower[-1] > lower[0] + 0.2
    assert levels_kept(shared_convs, with_context(scorer, history_decay=0.25)) == \
        result[0.25].levels
    assert scorer.context == default_scorer().context  # the shipped scorer is not modified


def test_the_script_exits_2_without_the_data(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "scripts.conversation_figures", "--data",
                          str(tmp_path / "absent")], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip().count("\n") == 0 and "no routing data at" in out.stderr


@needs_shared
def test_the_script_prints_the_tables() -> None:
    out = subprocess.run([sys.executable, "-m", "scripts.conversation_figures", "--data",
                          str(SHARED), "--per-dataset", "5"], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr
    for heading in ("## APGR per file", "## Sweep of history_decay", "## Sweep of short_plain"):
        assert heading in out.stdout
    mean = next(line for line in out.stdout.splitlines() if line.startswith("| **mean**"))
    cells = [c.strip() for c in mean.strip("|").split("|")]
    assert len(cells) == 2 + 7  # file, rows, 4 shapes + 2 lengths + random
    assert all(0.0 <= float(c) <= 1.0 for c in cells[2:])
    assert "IN-SAMPLE" in out.stdout
