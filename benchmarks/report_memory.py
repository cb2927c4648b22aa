"""Memory of ``costrouter report``'s aggregation: peak with 10x more rows, same groups.

    .venv/bin/python -m benchmarks.report_memory [--rows 20000]

Writes a JSON lines file of cost records and a SQLite ledger with N and 10N calls over the
same 50 users, 3 models and 30 days, and measures the peak Python allocation (tracemalloc)
of reading and summing each. A streaming report has a ratio near 1; one that loads the rows
would have a ratio near 10.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import tracemalloc
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

from langchain_costrouter.budget import SQLiteLedger
from langchain_costrouter.costs.export import record_to_dict
from langchain_costrouter.costs.record import CallRecord
from langchain_costrouter.costs.spend import aggregate, jsonl_rows, ledger_rows

T0 = 1_796_083_200.0


def records(n: int):  # type: ignore[no-untyped-def]
    for i in range(n):
        yield CallRecord(run_id=uuid4(), timestamp=T0 + (i % 30) * 86_400 + i % 1000,
                         model=f"model-{i % 3}", input_tokens=100, output_tokens=20,
                         cost=Decimal("0.0000123"), metadata={"user": f"user-{i % 50}"})


def write(folder: Path, n: int) -> tuple[Path, Path]:
    jsonl, db = folder / f"{n}.jsonl", folder / f"{n}.db"
    ledger = SQLiteLedger(db, synchronous="OFF")
    with jsonl.open("w", encoding="utf-8") as f:
        for r in records(n):
            f.write(json.dumps(record_to_dict(r)) + "\n")
            ledger.write(r)
    ledger.close()
    return jsonl, db


def peak(fn) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    cells = fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sum(c.requests for c in cells.values()) > 0
    return top / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        small, big = write(Path(d), args.rows), write(Path(d), args.rows * 10)
        for label, i, reader in (("jsonl", 0, jsonl_rows), ("ledger", 1, ledger_rows)):
            aggregate(reader(small[i], ["user"]), ["user"], "day")  # warm: imports, caches
            a = peak(lambda p=small[i], r=reader: aggregate(r(p, ["user"]), ["user"], "day"))
            b = peak(lambda p=big[i], r=reader: aggregate(r(p, ["user"]), ["user"], "day"))
            print(f"{label:6}  {args.rows:>8,} rows {a:6.2f} MB   {args.rows * 10:>9,} rows "
                  f"{b:6.2f} MB   ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
