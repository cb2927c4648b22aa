"""The base install (no extras) runs the CLI and the router: numpy, pandas, matplotlib,
redis and llama.cpp are optional and must not be imported on those paths."""

from __future__ import annotations

import subprocess
import sys

from langchain_costrouter.cli import train_scorer
from langchain_costrouter.quality.fit import FitSettings

BLOCK = (
    "import sys\n"
    "for name in ('numpy', 'pandas', 'matplotlib', 'redis', 'llama_cpp', 'litellm'):\n"
    "    sys.modules[name] = None  # importing it now raises ImportError\n"
)


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True,
                          timeout=120)


def test_cli_parser_and_tco_without_extras() -> None:
    res = run(
        "from langchain_costrouter.cli.main import main\n"
        "raise SystemExit(main(['tco', '--input-tokens', '1000000', '--output-tokens', '1000']))"
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Routing strategies" in res.stdout and "$" in res.stdout


def test_router_imports_without_extras() -> None:
    res = run("from langchain_costrouter import ChatCostRouter, track_costs, Budget, Catalog\n"
              "print(type(ChatCostRouter(catalog=Catalog.default())).__name__)\n")
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "ChatCostRouter"


def test_train_scorer_without_numpy_says_which_extra() -> None:
    res = run(
        "from langchain_costrouter.cli.main import main\n"
        "raise SystemExit(main(['train-scorer', '--data', 'x.csv', '--strong', 's', "
        "'--weak', 'w']))"
    )
    assert res.returncode == 2
    assert "langchain-costrouter[learn]" in res.stderr
    assert "Traceback" not in res.stderr


def test_parser_defaults_match_fit_settings() -> None:
    d = FitSettings()
    expected = (d.epochs, d.learning_rate, d.l2_text)
    assert expected == (train_scorer.EPOCHS, train_scorer.LEARNING_RATE, train_scorer.L2_TEXT)
