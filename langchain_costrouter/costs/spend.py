"""Spend per period, group (tenant) and model, streamed from a ledger or a JSON lines file.

Two sources, read one row at a time (memory grows with the number of groups, not of calls):

* the SQLite budget ledger's ``usage_records`` table (written when the ledger is a sink of the
  cost handler), opened read-only. It keeps the ``user``/``team``/``api_key`` scopes (API keys
  hashed), ``model``/``provider``/``tier`` and the record's plain fields (``level``,
  ``status`` ...); other metadata keys are not in the ledger;
* a :class:`~.export.JsonLinesSink` file of cost records, which keeps all run metadata.

Group values come from :func:`~.groups.value_of`: missing ones are ``"(none)"``, and a key no
row carries warns once. Periods are UTC: ``hour``, ``day``, ``week`` (ISO), ``month``, ``all``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from langchain_costrouter.costs.export import record_from_dict
from langchain_costrouter.costs.groups import NONE, value_of, warn_unknown
from langchain_costrouter.costs.record import CallRecord
from langchain_costrouter.exceptions import ConfigError

PERIODS = ("hour", "day", "week", "month", "all")
_LEDGER_COLUMNS = ("ts", "model", "provider", "tier", "input_tokens", "output_tokens",
                   "cost_usd", "scope", "extra")


@dataclass(frozen=True, slots=True)
class SpendRow:
    """One call as the report needs it."""

    ts: float
    model: str | None
    input_tokens: int
    output_tokens: int
    cost: Decimal | None
    values: dict[str, str]
    """Group-by key -> value (only the keys the row has)."""


@dataclass(slots=True)
class Cell:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    unpriced: int = 0

    def add(self, r: SpendRow) -> None:
        self.requests += 1
        self.input_tokens += r.input_tokens
        self.output_tokens += r.output_tokens
        if r.cost is None:
            if r.input_tokens or r.output_tokens:
                self.unpriced += 1
        else:
            self.cost += r.cost


def period_of(ts: float, period: str) -> str:
    """The UTC label of the period holding ``ts``."""
    if period == "all":
        return "all"
    t = datetime.fromtimestamp(ts, tz=timezone.utc)
    if period == "hour":
        return t.strftime("%Y-%m-%dT%H:00")
    if period == "day":
        return t.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = t.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return t.strftime("%Y-%m")
    raise ConfigError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")


# -- sources -----------------------------------------------------------------------------------


def jsonl_rows(path: str | os.PathLike[str], keys: Sequence[str]) -> Iterator[SpendRow]:
    """Rows of a JSON lines file of cost records; a bad line is a ConfigError naming it."""
    p = os.fspath(path)
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = record_from_dict(json.loads(line))
            except (ValueError, TypeError, InvalidOperation) as e:
                raise ConfigError(f"{p}, line {n}: not a cost record ({e})") from None
            yield _from_record(rec, keys)


def _from_record(rec: CallRecord, keys: Sequence[str]) -> SpendRow:
    values = {k: v for k in keys if (v := value_of(rec, k)) is not None}
    return SpendRow(ts=rec.timestamp, model=rec.model, input_tokens=rec.input_tokens,
                    output_tokens=rec.output_tokens, cost=rec.cost, values=values)


def ledger_rows(path: str | os.PathLike[str], keys: Sequence[str]) -> Iterator[SpendRow]:
    """Rows of a SQLite ledger's ``usage_records``, read-only, oldest first."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise ConfigError(f"no ledger file at {p!r}")
    try:
        db = sqlite3.connect(Path(p).resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise ConfigError(f"cannot open ledger {p!r} read-only: {e}") from None
    try:
        try:
            cols = {r[1] for r in db.execute("PRAGMA table_info(usage_records)")}
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"{p!r} is not a SQLite ledger: {e}") from None
        if not cols:
            raise ConfigError(
                f"{p!r} has no usage_records table: is it a budget ledger used as a cost sink?"
            )
        missing = [c for c in _LEDGER_COLUMNS if c not in cols]
        if missing:
            raise ConfigError(f"{p!r}: usage_records lacks column(s) {', '.join(missing)}")
        order = "seq" if "seq" in cols else "ts"
        cur = db.execute(f"SELECT {', '.join(_LEDGER_COLUMNS)} FROM usage_records "
                         f"ORDER BY {order}")
        for row in cur:  # the cursor streams: no row list is built
            yield _from_ledger(dict(zip(_LEDGER_COLUMNS, row, strict=True)), keys, p)
    finally:
        db.close()


def _from_ledger(d: dict[str, Any], keys: Sequence[str], path: str) -> SpendRow:
    fields: dict[str, Any] = {}
    if d["extra"]:
        try:
            extra = json.loads(d["extra"])
        except ValueError:
            extra = {}
        if isinstance(extra, dict):
            fields.update(extra)
    for k in ("model", "provider", "tier"):
        if d[k] is not None:
            fields[k] = d[k]
    for part in (d["scope"] or "").split(","):  # "user:alice,team:eu"
        kind, sep, value = part.partition(":")
        if sep and value and value != "anonymous":
            fields[kind] = value
    values = {k: str(fields[k]) for k in keys if fields.get(k) not in (None, "")}
    try:
        cost = None if d["cost_usd"] in (None, "") else Decimal(str(d["cost_usd"]))
    except InvalidOperation:
        raise ConfigError(f"{path}: cost_usd {d['cost_usd']!r} is not a number") from None
    return SpendRow(ts=float(d["ts"]), model=d["model"], input_tokens=int(d["input_tokens"] or 0),
                    output_tokens=int(d["output_tokens"] or 0), cost=cost, values=values)


# -- aggregation -------------------------------------------------------------------------------


GroupCells = dict[tuple[str, tuple[str, ...], str], Cell]
"""(period, group values, model) -> totals."""


def aggregate(rows: Iterator[SpendRow], keys: Sequence[str], period: str) -> GroupCells:
    """Sum rows per period, group and model in one pass; warns for keys no row had."""
    cells: GroupCells = {}
    seen: set[str] = set()
    for r in rows:
        seen.update(r.values)
        group = tuple(r.values.get(k, NONE) for k in keys)
        key = (period_of(r.ts, period), group, r.model or "(unknown)")
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell()
        cell.add(r)
    warn_unknown(keys, seen)
    return cells
