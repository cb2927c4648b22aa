"""Feedback labels joined to the cost handler's records, round-tripped into train-scorer input."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from langchain_costrouter.costs import CostTrackingCallbackHandler
from langchain_costrouter.costs.export import JsonLinesSink, read_json_lines
from langchain_costrouter.exceptions import ConfigError, RoutingDataError
from langchain_costrouter.quality.feedback import (
    FeedbackLog,
    join,
    last_human,
    training_rows,
    write_training_csv,
)
from langchain_costrouter.quality.table import read_table
from langchain_costrouter.testing.function_model import FunctionChatModel

pytestmark = pytest.mark.filterwarnings("ignore:no price is known")


def test_round_trip_from_logged_calls_to_training_table(tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    handler = CostTrackingCallbackHandler(store_prompts=True, sinks=[JsonLinesSink(calls)])
    strong = FunctionChatModel(model_name="big-model")
    weak = FunctionChatModel(model_name="small-model")
    prompts = ["Prove Fermat's little theorem.", "Say hi.", "Sort [3, 1, 2]."]
    for p in prompts:  # a shadow run: each prompt to both models
        for m in (strong, weak):
            m.invoke(p, config={"callbacks": [handler]})
    records = read_json_lines(calls)
    assert len(records) == 6
    log = FeedbackLog(tmp_path / "feedback.jsonl", clock=lambda: 1000.0)
    verdict = {("big-model", 0): "up", ("small-model", 0): "down", ("big-model", 1): "up",
               ("small-model", 1): "up", ("big-model", 2): 0.5, ("small-model", 2): 1.0}
    for r in records:
        log.record(r.run_id, verdict[(r.model, prompts.index(last_human(r.prompt) or ""))],
                   source="evaluator")
    log.record(uuid4(), "up")  # a label for a call that was never logged: dropped by join
    before = (tmp_path / "feedback.jsonl").read_text()
    fb = log.read()
    assert len(fb) == 7 and fb[0].timestamp == 1000.0 and fb[0].source == "evaluator"
    log.record(records[0].run_id, "down")  # append-only: earlier lines untouched
    assert (tmp_path / "feedback.jsonl").read_text().startswith(before)
    pairs = join(records, fb)
    assert len(pairs) == 6
    rows = training_rows(pairs, strong_models=["big-model"], weak_models=["small-model"])
    by = {r["prompt"]: r for r in rows}
    assert (by[prompts[0]]["strong"], by[prompts[0]]["weak"]) == (1.0, 0.0)
    assert (by[prompts[2]]["strong"], by[prompts[2]]["weak"]) == (0.5, 1.0)
    csv_path = write_training_csv(rows, tmp_path / "train.csv")
    table = read_table(csv_path, strong="strong", weak="weak")
    assert dict(zip(table.prompts, table.strong_wins(), strict=True)) == {
        prompts[0]: 1, prompts[1]: 0, prompts[2]: 0}


def test_one_sided_labels_need_an_explicit_assumption(tmp_path: Path) -> None:
    handler = CostTrackingCallbackHandler(store_prompts=False)
    weak = FunctionChatModel(model_name="small-model")
    weak.invoke("Hard question", config={"callbacks": [handler]})
    (rec,) = handler.records
    log = FeedbackLog(tmp_path / "f.jsonl")
    log.record(rec.run_id, False)
    with pytest.raises(ConfigError, match="has no prompt"):
        training_rows(join([rec], log.read()), ["big-model"], ["small-model"])
    log2 = FeedbackLog(tmp_path / "g.jsonl")
    log2.record(rec.run_id, "down", prompt="Hard question")
    pairs = join([rec], log2.read())
    assert training_rows(pairs, ["big-model"], ["small-model"]) == []
    (row,) = training_rows(pairs, ["big-model"], ["small-model"], assume_strong=1.0)
    assert row == {"prompt": "Hard question", "strong": 1.0, "weak": 0.0,
                   "strong_observed": False, "calls": 1}


def test_bad_feedback_values(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "f.jsonl")
    with pytest.raises(ConfigError, match="got 'meh'"):
        log.record(uuid4(), "meh")
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        log.record(uuid4(), 3)
    (tmp_path / "f.jsonl").write_text('{"run_id": "x", "score": 1}\n')
    with pytest.raises(RoutingDataError, match="row 1"):
        log.read()


def test_last_human_turn_of_a_stored_prompt() -> None:
    assert last_human("System: be brief\nHuman: hi\nAI: hello\nHuman: and now?") == "and now?"
    assert last_human("Human: one") == "one"
    assert last_human("plain") == "plain" and last_human(None) is None
