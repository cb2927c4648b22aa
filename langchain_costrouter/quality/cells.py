"""Parsing one CSV cell of a routing or responses table, with errors that name the cell."""

from __future__ import annotations

import csv
import math
from decimal import Decimal, InvalidOperation

from langchain_costrouter.exceptions import RoutingDataError


def number_cell(path: str, col: str, row: int, cell: str) -> float:
    """A finite float, or :class:`RoutingDataError` naming file, column and row."""
    try:
        v = float(cell)
    except ValueError:
        raise RoutingDataError(path, f"{cell!r} is not a number", column=col, row=row) from None
    if not math.isfinite(v):
        raise RoutingDataError(path, f"{cell!r} is not a finite number", column=col, row=row)
    return v


def usd_cell(path: str, col: str, row: int, cell: str) -> Decimal:
    """A finite USD amount >= 0 as ``Decimal``, or :class:`RoutingDataError`."""
    try:
        v = Decimal(cell.strip())
    except InvalidOperation:
        raise RoutingDataError(path, f"{cell!r} is not a USD amount", column=col,
                               row=row) from None
    if not v.is_finite() or v < 0:
        raise RoutingDataError(path, f"{cell!r} is not a USD amount >= 0", column=col, row=row)
    return v


def read_csv(path: str) -> tuple[list[str], list[list[str]]]:
    """The stripped header and the non-blank rows of a UTF-8 CSV file.

    Not UTF-8, not valid CSV, or no header row: :class:`RoutingDataError`. No data rows is
    left to the caller, which may want to name a missing column first.
    """
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            rows = list(reader)
    except UnicodeDecodeError as e:
        raise RoutingDataError(path, f"not UTF-8 text ({e.reason})") from None
    except csv.Error as e:
        raise RoutingDataError(path, f"not valid CSV ({e})") from None
    if not header or not any(h.strip() for h in header):
        raise RoutingDataError(path, "empty file (no header row)")
    return [h.strip() for h in header], [r for r in rows if any(c.strip() for c in r)]
