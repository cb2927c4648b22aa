"""Learned scorer pipeline on a SYNTHETIC table made here (not evidence about real routing).

The synthetic rule: prompts containing the made-up marker word "zorblax" are the ones the weak
model fails. A pipeline that learns anything must find it; real routing quality can only be
measured on real routing data, which this repository does not have.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from langchain_costrouter.cli.main import main
from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.baselines import LengthScorer, RandomScorer, resolve_scorer
from langchain_costrouter.quality.features import FeatureConfig, hashed
from langchain_costrouter.quality.learned import FitSettings, LearnedScorer, fit
from langchain_costrouter.quality.table import read_table
from langchain_costrouter.quality.train import sha256_of, train_scorer
from langchain_costrouter.routing.scorers import HeuristicScorer

TOPICS = ["invoice", "weather", "recipe", "poem", "email", "summary", "garden", "travel",
          "meeting", "budget", "letter", "story"]
GROUPS = ("synth-a", "synth-b", "synth-c")


def synthetic_csv(path: Path, per_group: int = 80, seed: int = 0) -> Path:
    rng = random.Random(seed)
    rows = []
    for g in GROUPS:
        for _ in range(per_group):
            marker = rng.random() < 0.3
            words = [rng.choice(TOPICS) for _ in range(rng.randint(4, 12))]
            if marker:
                words.insert(rng.randrange(len(words) + 1), "zorblax")
            rows.append({"prompt": "SYNTHETIC " + " ".join(words), "gpt_strong": 1,
                         "weak_ok": 0 if marker else 1, "dataset": g})
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


FAST = FitSettings(epochs=60)
SMALL = FeatureConfig(n_bits=14)


def test_features_are_stable_and_normalised() -> None:
    cfg = FeatureConfig()
    s1, v1 = hashed("Prove that sqrt(2) is irrational", cfg)
    s2, v2 = hashed("Prove that sqrt(2) is irrational", cfg)
    assert np.array_equal(s1, s2) and np.array_equal(v1, v2)
    assert float(v1 @ v1) == pytest.approx(1.0)
    assert s1.max() < cfg.size
    # a known CRC-32 slot: the word unigram "prove" (fails if the hash or key scheme changes)
    from zlib import crc32

    assert crc32(b"w prove") & (cfg.size - 1) in set(s1.tolist())
    assert hashed("", cfg)[0].size == 0


def test_fit_learns_marker_and_roundtrips(tmp_path: Path) -> None:
    t = read_table(synthetic_csv(tmp_path / "s.csv"), strong="gpt_strong", weak="weak_ok")
    model = fit(t.prompts, t.strong_wins(), FAST, SMALL, {"note": "synthetic"})
    marked, plain = model("SYNTHETIC poem zorblax garden"), model("SYNTHETIC poem garden")
    assert marked > 0.5 > plain and marked - plain > 0.3
    path = model.save(tmp_path / "m.npz")
    assert Path(path).stat().st_size < 5 * 1024 * 1024
    again = LearnedScorer.load(path)
    assert again.metadata["note"] == "synthetic"
    assert again("SYNTHETIC email zorblax") == pytest.approx(model("SYNTHETIC email zorblax"))
    assert "trained_on" in repr(again)


def test_fit_needs_both_classes() -> None:
    with pytest.raises(ConfigError, match="0 wins in 2 rows"):
        fit(["a", "b"], [0, 0], FAST, SMALL)


def test_load_rejects_other_files(tmp_path: Path) -> None:
    p = tmp_path / "x.npz"
    np.savez_compressed(p, meta=np.array(json.dumps({"format": "other"})), weights=np.zeros(1),
                        dense_weights=np.zeros(1), dense_mean=np.zeros(1),
                        dense_std=np.ones(1), bias=np.zeros(1))
    with pytest.raises(ConfigError, match="format 'other'"):
        LearnedScorer.load(p)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ConfigError, match="not a learned scorer"):
        LearnedScorer.load(tmp_path / "junk.npz")


def test_train_holdout_learns_signal_and_records_provenance(tmp_path: Path) -> None:
    src = synthetic_csv(tmp_path / "s.csv")
    t = read_table(src, strong="gpt_strong", weak="weak_ok", group_col="dataset")
    res = train_scorer(t, tmp_path / "m.npz", columns={"prompt": "prompt"},
                       holdout=["synth-c"], settings=FAST, config=SMALL)
    (held,) = res.held_out
    by = {r.name: r for r in held.reports}
    assert held.groups == ("synth-c",) and held.rows == 80
    assert by["learned"].apgr > 0.75  # synthetic signal, held-out group
    assert by["learned"].apgr > by["random"].apgr + 0.2
    meta = LearnedScorer.load(res.artifact).metadata
    assert meta["source"]["sha256"] == sha256_of(str(src))
    assert meta["source"]["rows_in_file"] == 240
    assert meta["source"]["rows_trained_on"] == 160
    assert meta["source"]["holdout_groups"] == ["synth-c"]
    assert meta["source"]["train_groups"] == {"synth-a": 80, "synth-b": 80}
    assert meta["held_out"][0]["reports"][-1]["scorer"] == "learned"


def test_train_leave_one_group_out(tmp_path: Path) -> None:
    t = read_table(synthetic_csv(tmp_path / "s.csv", per_group=40), strong="gpt_strong",
                   weak="weak_ok", group_col="dataset")
    res = train_scorer(t, tmp_path / "m.npz", columns={}, settings=FAST, config=SMALL)
    assert res.protocol == "leave-one-group-out"
    assert [h.groups for h in res.held_out] == [(g,) for g in GROUPS]
    assert res.scorer.metadata["source"]["rows_trained_on"] == 120
    with pytest.raises(ConfigError, match="not in the data"):
        train_scorer(t, tmp_path / "m.npz", columns={}, holdout=["nope"])


def test_cli_train_then_eval_router(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = synthetic_csv(tmp_path / "s.csv")
    art = tmp_path / "scorer.npz"
    assert main(["train-scorer", "--data", str(src), "--strong", "gpt_strong", "--weak",
                 "weak_ok", "--holdout-col", "dataset", "--holdout", "synth-b",
                 "--epochs", "60", "--out", str(art), "--json", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert "Held out: synth-b (80 rows)" in out and "trained on 160 of 240 rows" in out
    assert json.loads((tmp_path / "t.json").read_text())["protocol"] == "holdout"
    j = tmp_path / "e.json"
    assert main(["eval-router", "--data", str(src), "--strong", "gpt_strong", "--weak",
                 "weak_ok", "--scorer", "random", "--scorer", str(art), "--json", str(j)]) == 0
    reports = json.loads(j.read_text())["reports"]
    assert [r["scorer"] for r in reports] == ["random", "learned (scorer.npz)"]
    assert reports[1]["apgr"] > reports[0]["apgr"]


def test_resolve_scorer_names() -> None:
    assert isinstance(resolve_scorer("length")[1], LengthScorer)
    assert isinstance(resolve_scorer("heuristic")[1], HeuristicScorer)
    assert resolve_scorer("random:7")[1] == RandomScorer(7)
    with pytest.raises(ConfigError, match="unknown scorer 'bert'"):
        resolve_scorer("bert")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_scorer("missing.npz")


def test_baselines_behave() -> None:
    r = RandomScorer(3)
    assert r("hello") == r("hello") != RandomScorer(4)("hello")
    assert 0 <= r("hello") < 1
    ls = LengthScorer()
    assert ls("one two three four five six") > ls("hi")
