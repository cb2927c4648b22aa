"""Training scorers: from a routing CSV, from the FeedbackLog, warm or from scratch; the default
scorer's rebuild on a small sample of the shared data; bad tables rejected before any write."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

pytest.importorskip("numpy")

from langchain_costrouter.cli.main import main
from langchain_costrouter.costs import CostTrackingCallbackHandler
from langchain_costrouter.costs.export import JsonLinesSink, read_json_lines
from langchain_costrouter.quality.build import Recipe, build
from langchain_costrouter.quality.feedback import FeedbackLog, last_human
from langchain_costrouter.quality.fit import FitSettings, design, fit, predict
from langchain_costrouter.routing.features import FeatureConfig
from langchain_costrouter.routing.scorers import load_scorer
from langchain_costrouter.testing.function_model import FunctionChatModel

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "routing"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="no shared routing data")
FAST = ["--epochs", "25"]


def synthetic_csv(path: Path, n: int = 240, seed: int = 0) -> Path:
    """SYNTHETIC: the weak model fails exactly the prompts holding the word 'zorblax'."""
    rng = random.Random(seed)
    topics = ["invoice", "weather", "recipe", "poem", "email", "garden", "travel", "budget"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["prompt", "big", "small", "dataset"])
        for i in range(n):
            words = [rng.choice(topics) for _ in range(rng.randint(4, 10))]
            marker = i % 3 == 0
            if marker:
                words.insert(rng.randrange(len(words) + 1), "zorblax")
            w.writerow([f"item {i}: " + " ".join(words), 1, 0 if marker else 1, "ab"[i % 2]])
    return path


def test_fit_learns_a_marker_word() -> None:
    texts = [f"zorblax task {i}" if i % 2 else f"plain task {i}" for i in range(60)]
    y = [1.0 if i % 2 else 0.0 for i in range(60)]
    cfg = FeatureConfig(n_bits=12)
    x = design(texts, cfg)
    z = predict(fit(x, y, cfg, FitSettings(epochs=40)), x)
    assert min(z[1::2]) > max(z[::2])


def test_train_scorer_on_a_csv_reports_held_out_half_and_saves_its_rows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = synthetic_csv(tmp_path / "routing.csv")
    out = tmp_path / "mine.gz"
    assert main(["train-scorer", "--data", str(data), "--strong", "big", "--weak", "small",
                 "--out", str(out), *FAST]) == 0
    text = capsys.readouterr().out
    assert "held-out half" in text and "length" in text and "shipped default" in text
    s = load_scorer(out)
    meta = s.metadata
    assert meta["trained_on"]["rows_in_file"] == 240 and len(meta["trained_on"]["sha256"]) == 64
    assert meta["protocol"] == "in-domain half" and s.cuts is not None
    trained = meta["held_out"][0]["scores"]["trained"]["apgr"]
    length = meta["held_out"][0]["scores"]["length"]["apgr"]
    assert trained > 0.75 and trained > length + 0.2  # the marker is learnt, unlike length
    assert s("item 1: zorblax poem") > s("item 1: garden poem")


def test_warm_start_from_the_default_and_holdout_groups(tmp_path: Path) -> None:
    data = synthetic_csv(tmp_path / "routing.csv")
    out = tmp_path / "warm.gz"
    assert main(["train-scorer", "--data", str(data), "--strong", "big", "--weak", "small",
                 "--holdout-col", "dataset", "--holdout", "b", "--init", "default",
                 "--out", str(out), *FAST]) == 0
    meta = load_scorer(out).metadata
    assert meta["protocol"] == "holdout" and meta["trained_on"]["groups"] == {"a": 120}
    assert meta["init"] != "scratch"


def _bad(tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[list[object]],
         extra: list[str]) -> str:
    path = tmp_path / "bad.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["prompt", "big", "small", "dataset"], *rows])
    out = tmp_path / "never.gz"
    code = main(["train-scorer", "--data", str(path), "--strong", "big", "--weak", "small",
                 "--out", str(out), *extra, *FAST])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists() and len(err.splitlines()) == 1
    assert str(path) in err
    return err


def test_bad_tables_name_the_file_the_column_and_the_row(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = [[f"p{i}", 1, 1, "a"] for i in range(10)]
    err = _bad(tmp_path, capsys, same, [])
    assert "no quality gap" in err and "column 'big'" in err and "row 1" in err
    nan = [["p0", 1, 0, "a"], ["p1", "nan", 0, "a"]]
    err = _bad(tmp_path, capsys, nan, [])
    assert "row 2" in err and "column 'big'" in err and "not a finite number" in err
    one_group = [[f"p{i}", 1, i % 2, "a"] for i in range(10)]
    err = _bad(tmp_path, capsys, one_group, ["--holdout-col", "dataset", "--holdout", "a"])
    assert "one group only" in err and "column 'dataset'" in err and "row 1" in err


def test_train_from_the_feedback_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    calls = tmp_path / "calls.jsonl"
    handler = CostTrackingCallbackHandler(store_prompts=True, sinks=[JsonLinesSink(calls)])
    strong = FunctionChatModel(model_name="big-model")
    weak = FunctionChatModel(model_name="small-model")
    prompts = [f"Prove lemma {i} about zorblax groups." if i % 2 else f"Say hello to {i}."
               for i in range(40)]
    for p in prompts:  # a shadow run: each prompt to both models
        for m in (strong, weak):
            m.invoke(p, config={"callbacks": [handler]})
    log = FeedbackLog(tmp_path / "feedback.jsonl", clock=lambda: 0.0)
    for r in read_json_lines(calls):
        hard = "zorblax" in (last_human(r.prompt) or "")
        log.record(r.run_id, "down" if hard and r.model == "small-model" else "up")
    out = tmp_path / "logs.gz"
    assert main(["train-scorer", "--feedback", str(log.path), "--records", str(calls),
                 "--strong-model", "big-model", "--weak-model", "small-model",
                 "--out", str(out), *FAST]) == 0
    s = load_scorer(out)
    assert s.metadata["trained_on"]["rows_in_file"] == 40
    assert s("Prove lemma 99 about zorblax groups.") > s("Say hello to 99.")


@needs_shared
def test_default_scorer_rebuild_on_a_small_sample(tmp_path: Path) -> None:
    out = tmp_path / "default.gz"
    res = build(str(SHARED), out, recipe=Recipe(fit=FitSettings(epochs=8)), per_dataset=12,
                log=lambda m: None)
    s = load_scorer(res.artifact)
    trained = s.metadata["trained_on"]
    assert trained["per_dataset_limit"] == 12 and trained["rows"] == sum(
        f["rows"] for f in trained["files"])
    assert s.cuts is not None and s.metadata["calibration"]["mix"] == [0.4, 0.3, 0.2, 0.1]
    assert res.in_domain[0].name.startswith("pooled")
    assert {"default", "train-scorer", "benchmark oracle"} <= set(res.in_domain[0].scores)
    scorers = {"random", "length", "heuristic", "default"}
    assert all(set(sp.scores) == scorers for sp in res.out_of_domain if sp.problem is None)
    # every held-out dataset with figures has its interval against prompt length, around the
    # point difference of the table's own APGRs
    for sp in res.out_of_domain:
        if sp.problem is None:
            v = sp.vs_length
            assert v.difference == pytest.approx(
                sp.scores["default"].apgr - sp.scores["length"].apgr)
            assert v.low <= v.high
    assert s.metadata["second_stage"]["features"][0] == "kw_expert"
    assert "reference_workload_held_out_halves" in s.metadata["held_out"]
    families = {sp.name for sp in res.out_of_domain}
    assert {"routerbench: mbpp", "zeroeval: math-level5", "llmrouter: gpqa"} <= families
