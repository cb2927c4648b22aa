"""Every CLI flag is checked before any work: one line on stderr, exit code 2. With API keys set
and no provider answering, the CLI says so in one line instead of running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from langchain_costrouter import Catalog

ROOT = Path(__file__).resolve().parents[2]
KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY",
            "COSTROUTER_API_KEY")
FAKE_KEYS = {"OPENAI_API_KEY": "sk-FAKEopenai0123456789abcdef",
             "ANTHROPIC_API_KEY": "sk-ant-FAKEanthropic0123456789",
             "GEMINI_API_KEY": "AIzaFAKEgemini0123456789abcdefgh"}


def cli(*args: str, keys: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env.update(keys or {})
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "langchain_costrouter.cli.main", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=90)


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "calls per strategy" not in r.stdout and "LOCAL TEST SERVER" not in r.stdout
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["tco", "--cache-hit-rate", "nan"], "--cache-hit-rate: expected a finite number"),
        (["tco", "--cache-hit-rate", "1.5"], "--cache-hit-rate: must be within 0..1"),
        (["tco", "--mix", "trivial=nan,expert=1"], "--mix"),
        (["tco", "--input-per-request", "0"], "--input-per-request"),
        (["demo", "--budget", "nan"], "--budget: expected a finite number"),
        (["demo", "--budget", "-3"], "--budget: must be a positive USD amount"),
        (["demo", "--port", "99999"], "--port: a port is 0..65535"),
        (["demo", "--calls", "0"], "--calls: must be >= 1"),
        (["demo", "--latency-scale", "inf"], "--latency-scale"),
        (["demo", "--base-url", "ftp://example"], "--base-url: must start with http://"),
        (["bench", "--context-tokens", "-1"], "--context-tokens: must be >= 0, got -1"),
        (["bench", "--concurrency", "0"], "--concurrency: must be >= 1"),
        (["bench", "--max-tokens", "many"], "--max-tokens: expected a whole number"),
        (["bench", "--strategies", "premium,fastest"], "--strategies: unknown ['fastest']"),
        (["bench", "--lane-mix", "batch=0.8,flex=0.5"], "--lane-mix: shares must be >= 0 and add"),
        (["bench", "--lane-mix", "overnight=0.3"], "--lane-mix: unknown lane 'overnight'"),
        (["bench", "--lane-mix", "batch"], "--lane-mix: expected lane=share pairs, got 'batch'"),
    ],
)
def test_bad_flag_values(args: list[str], needle: str) -> None:
    assert needle in one_line(cli(*args))


def test_output_paths_are_checked_before_the_run(tmp_path: Path) -> None:
    start = time.monotonic()
    line = one_line(cli("bench", "--calls", "500", "--json", str(tmp_path)))
    assert "is a directory" in line and str(tmp_path) in line
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = one_line(cli("bench", "--calls", "500", "--csv", str(blocker / "out.csv")))
    assert "is not a folder" in line
    line = one_line(cli("demo", "--json", str(tmp_path / "no" / "such" / "d.json")))
    assert "does not exist" in line
    assert time.monotonic() - start < 60  # no run of 500 calls happened
    assert list(tmp_path.iterdir()) == [blocker]  # and the probe left nothing behind


@pytest.fixture
def closed_port_catalog(tmp_path: Path) -> Path:
    """Catalog overrides pointing every default model at a loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lines = ["models:"] + [f"  {n}: {{base_url: 'http://127.0.0.1:{port}/v1'}}"
                           for n in Catalog.default().models]
    f = tmp_path / "closed.yaml"
    f.write_text("\n".join(lines) + "\n")
    return f


@pytest.mark.parametrize("command", ["demo", "bench"])
def test_real_keys_and_no_network_is_one_line(command: str, closed_port_catalog: Path) -> None:
    r = cli(command, "--catalog", str(closed_port_catalog), "--calls", "4", keys=FAKE_KEYS)
    line = one_line(r)
    assert "API keys are set but the provider endpoints do not answer" in line
    assert "--local" in line
    for key in FAKE_KEYS.values():
        assert key not in r.stdout + r.stderr
