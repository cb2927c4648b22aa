"""The shipped scorer artifact: small, pure Python to load and run, records its training rows,
and every defect of an artifact is a one-line error naming the file."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from langchain_costrouter.exceptions import ArtifactError
from langchain_costrouter.routing.learned import FORMAT, LearnedScorer
from langchain_costrouter.routing.scorers import DEFAULT_ARTIFACT, default_scorer, load_scorer

SHIPPED = Path(str(resources.files("langchain_costrouter").joinpath(DEFAULT_ARTIFACT)))


def test_shipped_artifact_is_small_and_records_its_rows() -> None:
    assert SHIPPED.stat().st_size <= 5_000_000
    meta = default_scorer().metadata
    files = meta["trained_on"]["files"]
    assert {f["file"] for f in files} >= {"routerbench.csv", "llmrouter.csv", "zeroeval.csv"}
    for f in files:
        assert len(f["sha256"]) == 64 and f["rows"] == sum(f["datasets"].values())
    assert meta["calibration"]["mix"] == [0.4, 0.3, 0.2, 0.1]
    assert default_scorer().cuts is not None


def test_save_load_roundtrip_scores_the_same(tmp_path: Path) -> None:
    s = default_scorer()
    out = s.with_cuts((0.2, 0.5, 0.8), mix=[0.25] * 4).save(tmp_path / "copy.gz")
    back = load_scorer(out)
    prompt = "Write a Python function that merges overlapping intervals."
    assert back(prompt) == s(prompt)
    assert back.cuts == (0.2, 0.5, 0.8) and back.scale == s.scale


def _rewrite(src: Path, dst: Path, edit: object) -> Path:
    raw = gzip.decompress(src.read_bytes())
    head, _, body = raw.partition(b"\n")
    meta = json.loads(head)
    head, body = edit(meta, body)  # type: ignore[operator]
    dst.write_bytes(gzip.compress(json.dumps(head).encode() + b"\n" + body))
    return dst


def _one_line_naming(path: Path, match: str) -> None:
    with pytest.raises(ArtifactError, match=match) as e:
        LearnedScorer.load(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_other_format_version_is_refused(tmp_path: Path) -> None:
    def edit(meta: dict, body: bytes) -> tuple[dict, bytes]:
        return {**meta, "format": "costrouter-scorer/1"}, body

    _one_line_naming(_rewrite(SHIPPED, tmp_path / "v1.gz", edit), "format.*costrouter-scorer/1")
    assert FORMAT.endswith("/2")


def test_corrupted_weights_are_refused(tmp_path: Path) -> None:
    def edit(meta: dict, body: bytes) -> tuple[dict, bytes]:
        return meta, bytes([body[0] ^ 0xFF]) + body[1:]

    _one_line_naming(_rewrite(SHIPPED, tmp_path / "bad.gz", edit), "sha256")


def test_truncated_files_are_refused(tmp_path: Path) -> None:
    data = SHIPPED.read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(data[: len(data) // 2])
    _one_line_naming(cut, "not a complete scorer artifact")

    def edit(meta: dict, body: bytes) -> tuple[dict, bytes]:
        return meta, body[:-10]

    _one_line_naming(_rewrite(SHIPPED, tmp_path / "short.gz", edit), "truncated")
    junk = tmp_path / "junk.gz"
    junk.write_bytes(gzip.compress(b"not json at all\n"))
    _one_line_naming(junk, "corrupted header")
    _one_line_naming(tmp_path / "missing.gz", "no such file")


BLOCK = (
    "import sys\n"
    "for name in ('numpy', 'pandas', 'matplotlib', 'scipy', 'sklearn'):\n"
    "    sys.modules[name] = None\n"
)


def test_base_install_routes_with_the_default_scorer_without_numpy() -> None:
    code = BLOCK + (
        "from langchain_costrouter import ChatCostRouter, Catalog\n"
        "r = ChatCostRouter(catalog=Catalog.default())\n"
        "p = r.plan('Show that there are infinitely many primes of the form 4k+3.')\n"
        "print(type(r._scorer).__name__, p.level.value, 0 < p.score < 1)\n"
    )
    keys = {k: "sk-test" for k in ("OPENAI_API_KEY", "GEMINI_API_KEY", "ANTHROPIC_API_KEY",
                                    "DEEPSEEK_API_KEY")}  # plan() makes no call
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, **keys})
    assert res.returncode == 0, res.stderr[-2000:]
    name, _, ok = res.stdout.split()
    assert name == "LearnedScorer" and ok == "True"


def test_calibrate_writes_a_scorer_carrying_the_new_cuts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_costrouter.cli.main import main
    from langchain_costrouter.quality.baselines import reference_prompts

    prompts = tmp_path / "mine.jsonl"
    prompts.write_text("\n".join(json.dumps({"prompt": p}) for p in reference_prompts()[:100]))
    out = tmp_path / "mine.gz"
    assert main(["calibrate", "--prompts", str(prompts), "--mix", "0.7,0.3",
                 "--write", str(out)]) == 0
    assert "load_scorer" in capsys.readouterr().out
    mine = load_scorer(out)
    assert len(mine.cuts) == 1 and mine.metadata["calibration"]["mix"] == [0.7, 0.3]
    strong = sum(mine(p) >= mine.cuts[0] for p in reference_prompts()[:100])
    assert strong == 30


def test_shared_datasets_are_held_out_by_family() -> None:
    from langchain_costrouter.quality.corpus import family_of

    assert family_of("routerbench", "arc-challenge") == family_of("llmrouter", "arc_challenge")
    assert family_of("routerdc_7b", "humaneval") == family_of("llmrouter", "human_eval")
    assert len({family_of("llmrouter", "math"), family_of("zeroeval", "math-level5"),
                family_of("routerdc_7b", "MATH_prealgebra")}) == 1
    assert family_of("alpacaeval_cot", "alpaca_eval/oasst") == family_of(
        "alpacaeval_weighted", "alpaca_eval/koala")
    assert family_of("routerarena", "anything") == "routerarena"
