"""Routing tables, eval-router and calibrate: outputs, thresholds, one-line errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from langchain_costrouter.cli.main import main
from langchain_costrouter.exceptions import ConfigError, RoutingDataError
from langchain_costrouter.quality.calibrate import (
    calibrate,
    cut_for_share,
    parse_mix,
    share_for_budget,
    share_for_quality,
)
from langchain_costrouter.quality.table import RoutingTable, read_prompts, read_table
from langchain_costrouter.routing.scorers import HeuristicScorer, Thresholds

CSV = (
    "prompt,s,w,cs,cw\n"
    '"Prove that there are infinitely many primes, step by step.",1,0,0.01,0.001\n'
    "Translate 'hello' to French.,1,1,0.01,0.001\n"
    "What is the capital of Spain?,0,0,0.01,0.001\n"
    '"Implement an LRU cache class in Python with unit tests.",1,0,0.01,0.001\n'
)


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def err(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_eval_router_prints_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    data = write(tmp_path, "d.csv", CSV)
    j, png = tmp_path / "e.json", tmp_path / "c.png"
    assert main(["eval-router", "--data", str(data), "--strong", "s", "--weak", "w",
                 "--cost-strong", "cs", "--cost-weak", "cw", "--json", str(j),
                 "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "APGR" in out and "cost at 95% quality" in out
    reports = {r["scorer"]: r for r in json.loads(j.read_text())["reports"]}
    assert set(reports) == {"random", "length", "heuristic", "default"}
    # the heuristic ranks the proof and the code task (the two strong wins) first:
    # PGR 0 -> .5 -> 1 over shares 0, .25, .5, then 1: APGR = .0625 + .1875 + .5 = .75
    assert reports["heuristic"]["apgr"] == pytest.approx(0.75)
    assert Decimal(reports["heuristic"]["cost_all_strong_usd"]) == Decimal("0.04")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("text", "args", "needles"),
    [
        (CSV, ["--strong", "nope", "--weak", "w"], ["column 'nope'", "columns: prompt, s"]),
        (CSV.replace(",1,0,0.01", ",high,0,0.01", 1), ["--strong", "s", "--weak", "w"],
         ["row 1", "column 's'", "'high' is not a number"]),
        ("", ["--strong", "s", "--weak", "w"], ["empty file"]),
        ("prompt,s,w\n", ["--strong", "s", "--weak", "w"], ["no data rows"]),
        (CSV, ["--strong", "s", "--weak", "w", "--cost-strong", "cs"], ["neither"]),
        (CSV.replace("0.001\n", "-1\n", 1), ["--strong", "s", "--weak", "w", "--cost-strong",
                                             "cs", "--cost-weak", "cw"], ["row 1", "'cw'"]),
        (CSV, ["--strong", "s", "--weak", "w", "--scorer", "bert"], ["unknown scorer 'bert'"]),
    ],
)
def test_eval_router_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, args: list[str],
    needles: list[str],
) -> None:
    data = write(tmp_path, "d.csv", text)
    assert main(["eval-router", "--data", str(data), *args]) == 2
    line = err(capsys)
    assert line.startswith("costrouter eval-router: error:")
    for n in needles:
        assert n in line


def test_table_checks_lengths_and_prompts(tmp_path: Path) -> None:
    with pytest.raises(RoutingDataError, match="3 values for 2 prompts"):
        RoutingTable(prompts=("a", "b"), strong=(1, 1, 1), weak=(0, 0))
    p = write(tmp_path, "d.csv", "prompt,s,w\n ,1,0\n")
    with pytest.raises(RoutingDataError, match="row 1, column 'prompt': empty prompt"):
        read_table(p, strong="s", weak="w")
    t = read_table(write(tmp_path, "e.csv", CSV), strong="s", weak="w", cost_strong="cs",
                   cost_weak="cw")
    assert t.cost_weak == (Decimal("0.001"),) * 4 and t.strong_wins() == [1, 0, 0, 1]


def test_read_prompts_formats(tmp_path: Path) -> None:
    j = write(tmp_path, "p.jsonl", '{"prompt": "a"}\n\n{"prompt": "b"}\n')
    assert read_prompts(j) == ["a", "b"]
    assert read_prompts(write(tmp_path, "p.txt", "x\n\ny\n")) == ["x", "y"]
    assert read_prompts(write(tmp_path, "p.csv", "q\nz\n"), "q") == ["z"]
    with pytest.raises(RoutingDataError, match="row 2"):
        read_prompts(write(tmp_path, "bad.jsonl", '{"prompt": "a"}\n{"text": "b"}\n'))
    with pytest.raises(RoutingDataError, match=r"\.jsonl, \.csv or \.txt"):
        read_prompts(write(tmp_path, "p.md", "x"))


def test_cut_for_share_is_exact_without_ties() -> None:
    scores = [i / 10 for i in range(10)]  # 0.0 .. 0.9
    for share in (0.0, 0.3, 0.5, 1.0):
        cut = cut_for_share(scores, share)
        assert sum(s >= cut for s in scores) / 10 == share
    assert cut_for_share(scores, 0.3) == pytest.approx(0.65)  # midway between .6 and .7
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        cut_for_share(scores, 1.5)


def test_calibrate_four_level_mix_and_two_levels() -> None:
    scores = [i / 100 for i in range(100)]
    cal = calibrate(scores, parse_mix("0.4,0.3,0.2,0.1"))
    assert cal.thresholds.cuts == pytest.approx((0.395, 0.695, 0.895))
    assert cal.shares == pytest.approx((0.4, 0.3, 0.2, 0.1))
    assert [lv.value for lv in cal.levels] == ["trivial", "standard", "complex", "expert"]
    two = calibrate(scores, [0.7, 0.3])
    assert len(two.thresholds.cuts) == 1 and two.shares == pytest.approx((0.7, 0.3))
    assert two.snippet() == "ChatCostRouter(thresholds=Thresholds((0.695,)))"
    assert Thresholds(two.thresholds.cuts).level(0.9).value == "expert"
    with pytest.raises(ConfigError, match="add up to 1"):
        parse_mix("0.5,0.6")
    with pytest.raises(ConfigError, match="tie"):
        calibrate([0.5] * 10, [0.4, 0.3, 0.3])


def test_calibrated_cut_reproduces_share_on_workload() -> None:
    from langchain_costrouter.quality.table import read_prompts as rp

    root = Path(__file__).resolve().parents[2]
    prompts = rp(root / "langchain_costrouter/data/workload.jsonl")
    h = HeuristicScorer()
    scores = h.score_batch(prompts)
    cut = cut_for_share(scores, 0.3)
    routed = sum(Thresholds((cut,)).level(s).value == "expert" for s in scores) / len(scores)
    assert routed == pytest.approx(0.3, abs=0.02)  # up to ties in the heuristic's scores


def test_share_for_quality_and_budget() -> None:
    t = RoutingTable(prompts=("a", "b", "c", "d"), strong=(1, 1, 0, 1), weak=(0, 1, 0, 0))
    # see test_quality_metrics: .95 x .75 reached at share .7125 with these scores
    assert share_for_quality([0.9, 0.7, 0.5, 0.6], t, 0.95) == pytest.approx(0.7125)
    cs, cw = [Decimal("0.01")] * 4, [Decimal("0.001")] * 4
    # all weak .004; each strong call adds .009: budget .025 allows 2 (.022), not 3 (.031)
    assert share_for_budget([4, 3, 2, 1], cs, cw, Decimal("0.025")) == 0.5
    with pytest.raises(ConfigError, match="below the cost"):
        share_for_budget([1, 2, 3, 4], cs, cw, Decimal("0.001"))


def test_calibrate_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompts = write(tmp_path, "p.txt", "\n".join(f"prompt number {i} " + "word " * i
                                                 for i in range(20)))
    assert main(["calibrate", "--prompts", str(prompts), "--scorer", "length",
                 "--strong-share", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "25.0%" in out and "Thresholds((" in out and "LengthScorer()" in out
    assert main(["calibrate", "--prompts", str(prompts), "--budget", "1",
                 "--strong-model", "gpt-5.5", "--weak-model", "gpt-5.4-nano"]) == 0
    assert "the budget allows 100.0% of the prompts" in capsys.readouterr().out
    assert main(["calibrate", "--prompts", str(prompts), "--target-quality", "0.9"]) == 2
    assert "--target-quality needs --data, --strong, --weak" in err(capsys)
    data = write(tmp_path, "d.csv", CSV)
    assert main(["calibrate", "--prompts", str(prompts), "--target-quality", "0.95",
                 "--data", str(data), "--strong", "s", "--weak", "w"]) == 0
    assert "reaches 95% of the strong model's quality" in capsys.readouterr().out
