"""The notebooks run top to bottom, offline, within 60 s each, and are committed without outputs.

How they run: nbclient starts the ``python3`` kernel, which ipykernel registers for the
interpreter running the tests (``.venv/share/jupyter/kernels/python3`` after
``python -m ipykernel install --prefix .venv``; ipykernel's built-in spec otherwise). The kernel
inherits ``PYTHONPATH`` with the repository root, so the package imports without being installed,
and starts in ``notebooks/`` like Jupyter would. Kernel sockets and the local test server are on
loopback only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
TIMEOUT_S = 60


def run(name: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    path = NOTEBOOKS / name
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError on any failing cell
    return nb


def texts(nb: Any) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                out.append(o["text"])
            elif "data" in o:
                out.append(str(o["data"].get("text/plain", "")))
    return "\n".join(out)


def figures(nb: Any) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def errors(nb: Any) -> list[str]:
    return [o.get("ename", "?") for c in nb.cells for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def test_there_are_three_notebooks() -> None:
    assert [p.name for p in ALL] == [
        "01_quickstart.ipynb", "02_tco_analysis.ipynb", "03_routing_experiment.ipynb"
    ]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: a cell has outputs"
            assert cell.get("execution_count") is None, f"{path.name}: a cell has a count"


def test_quickstart(monkeypatch: pytest.MonkeyPatch) -> None:
    nb = run("01_quickstart.ipynb", monkeypatch)
    out = texts(nb)
    assert not errors(nb)
    m = re.search(r"(\d+) calls, (\d+) tokens, total cost \$(\d+\.\d+)", out)
    assert m and int(m[1]) == 4 and int(m[2]) > 0 and float(m[3]) > 0
    assert re.search(r"tier: \S+", out) and "price_source: genai-prices" in out
    assert re.search(r"budget blocked call #\d+ after \d+ served calls", out)
    assert "exceeded: limit" in out  # the BudgetExceededError message
    assert "cost_usd" in out  # the summary table


def test_tco_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    nb = run("02_tco_analysis.ipynb", monkeypatch)
    out = texts(nb)
    assert figures(nb) == 3  # per model, per strategy, sensitivity
    m = re.search(r"ChatCostRouter\s+\$\s*([\d,.]+)/month\s+saving\s+([\d.]+)%", out)
    assert m and float(m[1].replace(",", "")) > 0 and 0 < float(m[2]) < 100
    assert re.search(r"saving at 0% trivial: [\d.]+%; at 95% trivial: [\d.]+%", out)


def test_routing_experiment_falls_back_to_the_package_workload(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir"
    nb = run("03_routing_experiment.ipynb", monkeypatch, COSTROUTER_ROUTING_DATA=str(missing))
    out = texts(nb)
    assert f"Routing data NOT FOUND at {missing}" in out
    assert "the package's own workload" in out and ": 300 prompts" in out
    assert re.search(r"oracle \(label\)\s+[\d.]+\s+[\d.]+%\s+100\.0%", out)
    assert figures(nb) == 1


def test_routing_experiment_uses_the_data_folder_when_present(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src = ROOT / "langchain_costrouter" / "data" / "workload.jsonl"
    lines = src.read_text(encoding="utf-8").splitlines()[::15]  # 20 labelled prompts
    (tmp_path / "part.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    nb = run("03_routing_experiment.ipynb", monkeypatch, COSTROUTER_ROUTING_DATA=str(tmp_path))
    out = texts(nb)
    assert "NOT FOUND" not in out
    assert f"data: {tmp_path} (1 files): {len(lines)} prompts" in out
    assert figures(nb) == 1
