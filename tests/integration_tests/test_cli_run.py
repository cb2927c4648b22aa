"""``costrouter demo`` and ``bench`` end to end on the local server (real HTTP on loopback)."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from langchain_costrouter import Catalog, Level
from langchain_costrouter.workload import mixed_workload

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY",
        "COSTROUTER_API_KEY")
CMD = [sys.executable, "-m", "langchain_costrouter.cli.main"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env["COLUMNS"] = "200"
    return env


def cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], capture_output=True, text=True, cwd=ROOT, env=_env(),
                          timeout=timeout)


def assert_one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_demo_routes_to_several_models_and_saves(tmp_path: Path) -> None:
    j = tmp_path / "demo.json"
    r = cli("demo", "--calls", "60", "--concurrency", "8", "--json", str(j))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "LOCAL TEST SERVER" in r.stdout
    data = json.loads(j.read_text())
    routed = {row["model"] for row in data["routing_mix"]}
    assert len(routed) > 1
    # the printed routing table names the same models
    mix_table = r.stdout.split("Routing mix", 1)[1].split("Cost of the real usage", 1)[0]
    assert all(m in mix_table for m in routed)
    overall = data["overall"]
    assert overall["calls"] == 60 and overall["errors"] == 0
    cost, premium = Decimal(overall["cost_usd"]), Decimal(overall["premium_cost_usd"])
    assert Decimal(0) < cost < premium
    assert Decimal(overall["saving_vs_premium_usd"]) == premium - cost
    # per-model costs add up to the total exactly (Decimal, no rounding)
    assert sum(Decimal(m["cost_usd"]) for m in data["models"]) == cost
    assert data["budget"] and Decimal(data["budget"][0]["used"].lstrip("$")) > 0
    # always-premium is the strongest model the router itself uses: EXPERT's first choice
    assert data["premium"] == Catalog.default().first_choice(Level.EXPERT)
    # quality beside the saving, from what was served against each prompt's label
    rank = {lv.value: lv.rank for lv in Level}
    mix = data["routing_mix"]
    at = sum(r["calls"] for r in mix if rank[r["served_level"]] >= rank[r["expected_level"]])
    assert overall["served_at_or_above_label_share"] == round(at / 60, 6)
    assert overall["under_routed_share"] == round(1 - at / 60, 6)
    assert sum(q["calls"] for q in data["quality_by_label"]) == 60
    headline = r.stdout.strip().splitlines()[-2]  # the last line names the JSON file
    assert "saving" in headline and "served at or above their labelled level" in headline
    assert f"{1 - at / 60:.1%} under-routed" in headline


def test_bench_small_outputs_parse(tmp_path: Path) -> None:
    j, c, png = tmp_path / "b.json", tmp_path / "b.csv", tmp_path / "b.png"
    r = cli("bench", "--calls", "24", "--concurrency", "8", "--json", str(j), "--csv", str(c),
            "--plot", str(png))
    assert r.returncode == 0, r.stderr
    data = json.loads(j.read_text())
    overall = {row["strategy"]: row for row in data["rows"] if row["model"] == "(all)"}
    lite = importlib.util.find_spec("litellm") is not None
    assert "ChatCostRouter" in overall and len(overall) == (5 if lite else 3)
    cat = Catalog.default()
    # baselines named truthfully: EXPERT's first choice and the cheapest model any level lists
    first = cat.first_choice(Level.EXPERT)
    assert f"always-premium ({first})" in overall and data["premium"] == first
    assert f"always-cheapest ({cat.first_choice(Level.TRIVIAL)})" in overall
    premium = next(v for k, v in overall.items() if k.startswith("always-premium"))
    cheapest = next(v for k, v in overall.items() if k.startswith("always-cheapest"))
    # quality beside each saving: premium serves every call at or above its label, the
    # cheapest model only the trivial ones (10 of 24 in the 40/30/20/10 mix)
    trivial = sum(it.expected_level is Level.TRIVIAL for it in mixed_workload(24, seed=0))
    assert premium["served_at_or_above_label_share"] == 1.0
    assert cheapest["served_at_or_above_label_share"] == round(trivial / 24, 6)
    assert cheapest["under_routed_share"] == round(1 - trivial / 24, 6)
    assert 0 <= overall["ChatCostRouter"]["under_routed_share"] <= 1
    if lite:
        assert "LiteLLM Router (shuffle)" in overall and "LiteLLM Router (cost-based)" in overall
    router = overall["ChatCostRouter"]
    assert router["calls"] == 24 and router["error_rate"] == 0
    per_1k = Decimal(router["cost_per_1k_requests_usd"])
    assert per_1k < Decimal(premium["cost_per_1k_requests_usd"])
    assert router["p50_ms"] <= router["p95_ms"] <= router["p99_ms"]
    with c.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(data["rows"]) and rows[0]["strategy"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "LiteLLM" in r.stdout  # ran, or skipped with a note


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_endpoint_one_line() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    assert_one_line_error(cli("demo", "--base-url", url, "--calls", "2"), "cannot reach", url)


def test_port_in_use_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert_one_line_error(cli("demo", "--local", "--port", str(port), "--calls", "2"),
                              str(port))


def test_ctrl_c_prints_partial_report() -> None:
    p = subprocess.Popen(
        [*CMD, "demo", "--local", "--calls", "400", "--concurrency", "4",
         "--latency-scale", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env(),
    )
    assert p.stderr is not None
    try:
        deadline = time.monotonic() + 60
        seen = ""
        while time.monotonic() < deadline:  # wait for real progress, not a fixed time
            line = p.stderr.readline()
            seen += line
            if line.startswith("progress ChatCostRouter:") and not line.split(":")[1].startswith(
                " 0/"
            ):
                break
            assert line, f"process ended early: {seen}"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert "Interrupted: partial report of" in out
    done = int(out.split("Interrupted: partial report of", 1)[1].split()[0])
    assert 0 < done < 400
    assert "Routing mix" in out and "Latency" in out


def test_bench_lane_mix_prices_the_routers_measured_calls_at_lane_prices(tmp_path: Path) -> None:
    from langchain_costrouter.models.lanes import lane_prices, offered_lanes, with_lanes

    j = tmp_path / "lanes.json"
    r = cli("bench", "--calls", "40", "--concurrency", "8", "--strategies", "router",
            "--lane-mix", "batch=0.3,flex=0.1", "--json", str(j))
    assert r.returncode == 0, r.stderr
    data = json.loads(j.read_text())
    rep = data["lane_mix"]
    assert rep["mix"] == {"realtime": "0.6", "batch": "0.3", "flex": "0.1"}
    realtime = {row["model"]: Decimal(row["cost_usd"]) for row in data["rows"]
                if row["strategy"] == "ChatCostRouter" and row["model"] != "(all)"}
    overall = next(row for row in data["rows"] if row["model"] == "(all)")
    assert rep["realtime_cost_per_1k_requests_usd"] == overall["cost_per_1k_requests_usd"]
    cat = with_lanes(Catalog.default())
    fell_back = False
    expected = Decimal(0)
    for m in rep["models"]:
        spec = cat[m["model"]]
        assert Decimal(m["realtime_cost_usd"]) == realtime[m["model"]]
        assert m["cached_tokens"] == 0  # the local server reports no cache hits
        total = realtime[m["model"]] * Decimal("0.6")
        for lane, share in (("batch", Decimal("0.3")), ("flex", Decimal("0.1"))):
            got = m["lanes"][lane]
            if lane not in offered_lanes(spec):  # e.g. Anthropic has no flex tier
                assert got["served"] == "realtime"
                fell_back = True
                total += realtime[m["model"]] * share
                continue
            assert got["served"] == lane
            p = lane_prices(spec, lane)
            assert p is not None
            assert Decimal(got["prices"]["input_per_mtok"]) == p.input
            assert Decimal(got["prices"]["output_per_mtok"]) == p.output
            assert p.input < spec.prices.input  # the lane is cheaper than realtime
            total += share * (m["input_tokens"] * p.input + m["output_tokens"] * p.output) / 10**6
        assert abs(Decimal(m["cost_usd"]) - total) < Decimal("1e-18")
        expected += total
    per_1k = expected / rep["answered"] * 1000
    assert abs(Decimal(rep["cost_per_1k_requests_usd"]) - per_1k) < Decimal("1e-15")
    assert Decimal(0) < per_1k < Decimal(rep["realtime_cost_per_1k_requests_usd"])
    assert "ChatCostRouter with lanes realtime 60%, batch 30%, flex 10%" in r.stdout
    assert fell_back == any(not {"flex", "batch"} <= set(offered_lanes(cat[m["model"]]))
                            for m in rep["models"])
