"""Records out to JSON, CSV, JSON lines and pandas, and back from JSON and CSV.

Decimals are written as strings (``"0.00012"``), never floats, so money survives the round trip
exactly; UUIDs as strings; in CSV, ``tags`` and ``metadata`` are JSON cells and ``None`` is an
empty cell. Records never hold credentials (see :func:`~.record.scrub`), so exports do not.
pandas is optional and imported only by :func:`to_dataframe`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from dataclasses import fields
from decimal import Decimal
from typing import Any
from uuid import UUID

from langchain_costrouter.costs.record import CallRecord

COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CallRecord))
_INTS = {"input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens",
         "reasoning_tokens"}
_FLOATS = {"timestamp", "latency_s", "ttft_s", "score"}
_BOOLS = {"estimated", "streamed"}
_UUIDS = {"run_id", "parent_run_id"}


def _records(source: Any) -> list[CallRecord]:
    """Records of a handler (anything with ``.records``) or an iterable of records."""
    recs = getattr(source, "records", source)
    return list(recs)


def record_to_dict(r: CallRecord) -> dict[str, Any]:
    """JSON-safe dict: Decimal and UUID as strings, tags as a list."""
    d: dict[str, Any] = {}
    for name in COLUMNS:
        v = getattr(r, name)
        if isinstance(v, (Decimal, UUID)):
            v = str(v)
        elif isinstance(v, tuple):
            v = list(v)
        d[name] = v
    return d


def record_from_dict(d: dict[str, Any]) -> CallRecord:
    kw: dict[str, Any] = {}
    for name in COLUMNS:
        if name not in d:
            continue
        v = d[name]
        if v is not None:
            if name in _UUIDS:
                v = UUID(str(v))
            elif name == "cost":
                v = Decimal(str(v))
            elif name == "tags":
                v = tuple(v)
        kw[name] = v
    return CallRecord(**kw)


def to_json(source: Any, path: str | os.PathLike[str] | None = None, *, indent: int | None = None
            ) -> str:
    """A JSON array of records; also written to ``path`` when given."""
    text = json.dumps([record_to_dict(r) for r in _records(source)], indent=indent,
                      ensure_ascii=False)
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return text


def from_json(text: str) -> list[CallRecord]:
    return [record_from_dict(d) for d in json.loads(text)]


def to_csv(source: Any, path: str | os.PathLike[str] | None = None) -> str:
    """CSV with one column per record field; also written to ``path`` when given."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in _records(source):
        row = []
        for name, v in record_to_dict(r).items():
            if name in ("tags", "metadata"):
                v = json.dumps(v, ensure_ascii=False, sort_keys=True)
            elif isinstance(v, bool):
                v = "true" if v else "false"
            elif isinstance(v, float):
                v = repr(v)
            row.append("" if v is None else v)
        w.writerow(row)
    text = buf.getvalue()
    if path is not None:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return text


def from_csv(text: str) -> list[CallRecord]:
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        d: dict[str, Any] = {}
        for name, cell in row.items():
            if name in ("tags", "metadata"):
                d[name] = json.loads(cell)
            elif name in _BOOLS:
                d[name] = cell == "true"
            elif cell == "":
                d[name] = None if name not in _INTS else 0
            elif name in _INTS:
                d[name] = int(cell)
            elif name in _FLOATS:
                d[name] = float(cell)
            else:
                d[name] = cell
        out.append(record_from_dict(d))
    return out


def to_dataframe(source: Any) -> Any:
    """A pandas DataFrame, one row per record; ``cost`` keeps exact ``Decimal`` objects."""
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError(
            "to_dataframe needs pandas, which is not installed: "
            "pip install 'langchain-costrouter[pandas]'"
        ) from e
    rows = []
    for r in _records(source):
        d = record_to_dict(r)
        d["cost"] = r.cost
        rows.append(d)
    return pd.DataFrame(rows, columns=list(COLUMNS))


class JsonLinesSink:
    """A :class:`~.record.RecordSink` appending one JSON line per record to a file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JsonLinesSink({self.path!r})"

    def write(self, record: CallRecord) -> None:
        line = json.dumps(record_to_dict(record), ensure_ascii=False) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)


def read_json_lines(path: str | os.PathLike[str]) -> list[CallRecord]:
    with open(path, encoding="utf-8") as f:
        return [record_from_dict(json.loads(line)) for line in f if line.strip()]
