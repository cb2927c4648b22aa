"""The ``costrouter`` entry point: tco outputs, and one-line errors on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from langchain_costrouter import Catalog
from langchain_costrouter.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY",
        "COSTROUTER_API_KEY")


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "langchain_costrouter.cli.main", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout,
    )


def assert_one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0]


ROI_CATALOG = """\
models:
  gpt-4.1: {provider: openai, model: gpt-4.1, base_url: "https://api.openai.com/v1"}
  claude-sonnet-4.5: {provider: anthropic, model: claude-sonnet-4-5,
                      base_url: "https://api.anthropic.com/v1/"}
  gemini-2.5-flash: {provider: google, model: gemini-2.5-flash,
                     base_url: "https://generativelanguage.googleapis.com/v1beta/openai/"}
"""


def test_tco_json_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    j, png, cat = tmp_path / "tco.json", tmp_path / "tco.png", tmp_path / "roi.yaml"
    cat.write_text(ROI_CATALOG)  # the published ROI table's models, priced by genai-prices
    assert main(["tco", "--input-tokens", "50M", "--output-tokens", "20M", "--catalog", str(cat),
                 "--json", str(j), "--plot", str(png)]) == 0
    data = json.loads(j.read_text())
    costs = {m["name"]: Decimal(m["monthly_cost_usd"]) for m in data["models"]}
    assert costs["gpt-4.1"] == 260 and costs["claude-sonnet-4.5"] == 450
    assert costs["gemini-2.5-flash"] == 65
    strategies = {s["name"]: s for s in data["strategies"]}
    assert set(strategies) == {"always-premium", "always-cheapest", "ChatCostRouter"}
    # the baselines are models the router itself uses, not the pin-only ROI models
    assert strategies["always-premium"]["detail"] == data["baseline"] == "claude-opus-5.5"
    assert strategies["always-cheapest"]["detail"] == "gpt-5.4-nano"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "$450.00" in capsys.readouterr().out


def test_tco_workload_file_and_baseline(tmp_path: Path) -> None:
    w = tmp_path / "w.yaml"
    w.write_text("input_tokens: 10M\noutput_tokens: 1M\ncache_hit_rate: 0.5\n"
                 "mix: {trivial: 100}\n")
    j = tmp_path / "o.json"
    assert main(["tco", "--workload", str(w), "--baseline", "gpt-5.4", "--json", str(j)]) == 0
    data = json.loads(j.read_text())
    assert data["baseline"] == "gpt-5.4"
    # 5M fresh at $2.50 + 5M cached at $0.25 + 1M output at $15 (prices from the catalog)
    assert Decimal(data["baseline_monthly_cost_usd"]) == Decimal("12.5") + Decimal("1.25") + 15


def test_malformed_catalog_file_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "cat.yaml"
    bad.write_text("models:\n  gpt-5.4:\n    prices: {input: -3, output: 8}\n")
    assert_one_line_error(cli("tco", "--catalog", str(bad)), "gpt-5.4", "input")


def in_process_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_bad_inputs_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "cat2.json"
    broken.write_text("{ not json")
    assert str(broken) in in_process_error(capsys, "tco", "--catalog", str(broken))
    assert "add up to 1" in in_process_error(capsys, "tco", "--mix", "trivial=0.9,expert=0.5")
    assert "unknown model 'gpt-99'" in in_process_error(capsys, "tco", "--baseline", "gpt-99")
    assert "'lots'" in in_process_error(capsys, "tco", "--input-tokens", "lots")
    missing = tmp_path / "none" / "x.json"
    assert "does not exist" in in_process_error(capsys, "tco", "--json", str(missing))


def test_malformed_workload_file_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "w.jsonl"
    bad.write_text('{"id": "a", "category": "qa", "expected_level": "standard", "prompt": "x"}\n'
                   '{"id": "b", "category": "qa"\n')
    r = cli("bench", "--workload", str(bad), "--calls", "2", "--local")
    assert_one_line_error(r, f"{bad}:2", "invalid JSON")


def test_unwritable_output_fails_before_any_work(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import time

    from langchain_costrouter.cli.main import main

    start = time.monotonic()
    code = main(["bench", "--calls", "50", "--json", str(tmp_path / "missing" / "b.json")])
    err = capsys.readouterr()
    assert code == 2
    assert "folder" in err.err and "does not exist" in err.err
    assert "calls per strategy" not in err.out  # the run never started
    assert time.monotonic() - start < 5


def test_demo_exits_1_naming_the_error_when_every_call_failed() -> None:
    from rich.console import Console

    from langchain_costrouter.cli.demo import _all_failed_exit
    from langchain_costrouter.cli.runner import Outcome, RunResult

    def outcome(i: int, ok: bool) -> Outcome:
        return Outcome(index=i, strategy="s", category="c", expected_level="trivial", ok=ok,
                       error=None if ok else "AllModelsFailedError: every candidate failed")

    con = Console(record=True, width=200)
    failed = RunResult(outcomes=[outcome(0, False), outcome(1, False)], wall_s=1.0,
                       interrupted=False)
    assert _all_failed_exit(failed, con) == 1
    text = con.export_text()
    assert "Every call failed (2 of 2)" in text and "AllModelsFailedError" in text
    mixed = RunResult(outcomes=[outcome(0, False), outcome(1, True)], wall_s=1.0,
                      interrupted=False)
    assert _all_failed_exit(mixed, con) == 0


def test_a_scrubbed_error_keeps_its_redacted_mark_on_the_console() -> None:
    """Rich markup would take ``[redacted]`` for a style tag and print nothing in its place."""
    from rich.console import Console

    from langchain_costrouter.cli.demo import _all_failed_exit
    from langchain_costrouter.cli.runner import Outcome, RunResult

    error = "ConnectionError: upstream rejected key Bearer [redacted] at http://[redacted]@gw"
    con = Console(record=True, width=300)
    failed = RunResult(outcomes=[Outcome(index=0, strategy="s", category="c",
                                         expected_level="trivial", ok=False, error=error)],
                       wall_s=1.0, interrupted=False)
    assert _all_failed_exit(failed, con) == 1
    assert error in con.export_text()


def test_reports_use_the_routers_own_cost_when_it_gave_one() -> None:
    from decimal import Decimal

    from langchain_costrouter import Catalog, TokenUsage, cost_of
    from langchain_costrouter.cli.runner import Outcome
    from langchain_costrouter.cli.summary import call_cost

    cat = Catalog.default()
    usage = TokenUsage(input_tokens=1000, output_tokens=100)
    o = Outcome(index=0, strategy="router", category="c", expected_level="trivial",
                model="gpt-5.4-nano", usage=usage)
    assert call_cost(cat, o) == cost_of(cat["gpt-5.4-nano"].prices, usage)
    o.router_cost = Decimal("0.123")  # e.g. a cascade that paid for two answers
    assert call_cost(cat, o) == Decimal("0.123")


def test_providers_mode_keeps_only_keyed_models_and_never_borrows_a_cheaper_class() -> None:
    from langchain_costrouter.cli.endpoints import _only_keyed
    from langchain_costrouter.exceptions import ConfigError as _ConfigError

    anthropic = _only_keyed(Catalog.default(), ["ANTHROPIC_API_KEY"])
    assert set(anthropic.models) == {"claude-sonnet-5.5", "claude-opus-5.5"}
    levels = {lv.value: names for lv, names in anthropic.levels.items()}
    # trivial and standard have no Anthropic model: they borrow complex's, the nearest above
    assert levels == {"trivial": ("claude-sonnet-5.5",), "standard": ("claude-sonnet-5.5",),
                      "complex": ("claude-sonnet-5.5",), "expert": ("claude-opus-5.5",)}
    gemini = _only_keyed(Catalog.default(), ["GEMINI_API_KEY"])
    # nothing above complex is keyed: the top levels take the nearest below
    assert gemini.candidates("expert") == ("gemini-3.5-flash",)
    with pytest.raises(_ConfigError, match="no catalog model uses"):
        _only_keyed(Catalog.default(), ["MYSTERY_API_KEY"])
