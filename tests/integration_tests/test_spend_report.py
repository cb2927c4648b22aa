"""``costrouter report``: spend per tenant and model per day, from a real SQLite ledger and a
JSON lines file that the cost handler filled during real routed calls over HTTP."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.budget import SQLiteLedger
from langchain_costrouter.cli.main import main
from langchain_costrouter.costs import CallRecord, CostTrackingCallbackHandler, JsonLinesSink
from langchain_costrouter.costs.export import record_to_dict
from langchain_costrouter.costs.groups import NONE, _reset_warnings
from langchain_costrouter.testing import LocalServer, ServerConfig

DAY = 86_400.0
T0 = 1_796_083_200.0  # 2026-12-01T00:00:00Z
CALLS = [("alice", "eu", 0), ("alice", "eu", 0), ("bob", "us", 0), ("alice", "us", 1),
         ("bob", "us", 1), (None, "eu", 1)]


class WallClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, dict]]:
    """Six routed calls over two days, recorded in a ledger and a JSONL file."""
    _reset_warnings()
    d = tmp_path_factory.mktemp("spend")
    db, jsonl = d / "budget.db", d / "costs.jsonl"
    ledger = SQLiteLedger(db)
    clock = WallClock()
    handler = CostTrackingCallbackHandler(sinks=[ledger, JsonLinesSink(jsonl)], wall_clock=clock)
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as server:
        router = ChatCostRouter(catalog=Catalog.default().served_by(server.base_url))
        for i, (user, team, day) in enumerate(CALLS):
            clock.now = T0 + day * DAY + i
            meta = {"team": team, **({"user": user} if user else {})}
            router.invoke(f"Say hello number {i}", config={"callbacks": [handler],
                                                         "metadata": meta})
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in handler.records:
        day = datetime.fromtimestamp(r.timestamp, tz=timezone.utc).date().isoformat()
        expected[(day, r.metadata.get("user", NONE))] += r.cost or Decimal(0)
    yield db, jsonl, dict(expected)  # the ledger stays open: reports read a live database
    ledger.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def sums(rows: list[dict[str, str]], *keys: str) -> dict[tuple[str, ...], Decimal]:
    out: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    for r in rows:
        out[tuple(r[k] for k in keys)] += Decimal(r["cost_usd"])
    return dict(out)


def test_report_from_the_ledger_sums_spend_per_user_and_day(
    recorded: tuple[Path, Path, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _, expected = recorded
    out_csv, png = tmp_path / "spend.csv", tmp_path / "spend.png"
    code = main(["report", "--ledger", str(db), "--by", "user", "--period", "day",
                 "--csv", str(out_csv), "--plot", str(png)])
    assert code == 0
    rows = read_csv(out_csv)
    assert sums(rows, "period", "user") == expected
    assert sum(int(r["requests"]) for r in rows) == len(CALLS)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shown = capsys.readouterr().out
    assert "alice" in shown and "2026-12-02" in shown


def test_report_from_jsonl_groups_by_several_keys(
    recorded: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    _, jsonl, _ = recorded
    out_csv = tmp_path / "spend.csv"
    assert main(["report", "--records", str(jsonl), "--by", "user,team", "--period", "all",
                 "--csv", str(out_csv)]) == 0
    rows = read_csv(out_csv)
    got = {(r["user"], r["team"]): int(r["requests"]) for r in rows}
    want: dict[tuple[str, str], int] = defaultdict(int)
    for user, team, _ in CALLS:
        want[(user or NONE, team)] += 1
    assert got == dict(want)


def test_an_unknown_key_reports_none_and_warns_once(
    recorded: tuple[Path, Path, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, jsonl, _ = recorded
    _reset_warnings()
    out_csv = tmp_path / "spend.csv"
    assert main(["report", "--records", str(jsonl), "--by", "tenant", "--csv",
                 str(out_csv)]) == 0
    assert {r["tenant"] for r in read_csv(out_csv)} == {NONE}
    err = capsys.readouterr().err
    assert err.count("warning: no cost record has a metadata key 'tenant'") == 1
    main(["report", "--records", str(jsonl), "--by", "tenant"])
    assert "warning" not in capsys.readouterr().err  # once


def test_a_jsonl_file_larger_than_the_record_buffer_is_counted_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    n = 25_000  # more than the handler's 10k ring buffer
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            r = CallRecord(run_id=uuid4(), timestamp=T0 + i, model="m", input_tokens=3,
                           output_tokens=1, cost=Decimal("0.000001"),
                           metadata={"user": f"u{i % 7}"})
            f.write(json.dumps(record_to_dict(r)) + "\n")
    out_csv = tmp_path / "big.csv"
    assert main(["report", "--records", str(path), "--period", "all", "--csv",
                 str(out_csv)]) == 0
    rows = read_csv(out_csv)
    assert sum(int(r["requests"]) for r in rows) == n
    assert sum(Decimal(r["cost_usd"]) for r in rows) == Decimal("0.000001") * n


def test_bad_input_is_one_line_that_names_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"run_id": "' + str(uuid4()) + '"}\nnot json\n', encoding="utf-8")
    assert main(["report", "--records", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "Traceback" not in err
    assert main(["report", "--ledger", str(tmp_path / "missing.db")]) == 2
    assert "no ledger file" in capsys.readouterr().err
    other = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    assert main(["report", "--ledger", str(other)]) == 2
    assert "usage_records" in capsys.readouterr().err


def test_plot_without_matplotlib_is_a_one_line_error(recorded: tuple[Path, Path, dict],
                                                     tmp_path: Path) -> None:
    _, jsonl, _ = recorded
    code = (
        "import sys\nsys.modules['matplotlib'] = None\n"
        "from langchain_costrouter.cli.main import main\n"
        f"raise SystemExit(main(['report', '--records', {str(jsonl)!r}, '--plot', "
        f"{str(tmp_path / 'x.png')!r}]))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2
    assert "langchain-costrouter[plots]" in res.stderr and "Traceback" not in res.stderr
