"""Routing data: prompts with the quality of a strong and a weak model (and optional costs).

A *routing table* is what RouteLLM's evaluation needs: for each prompt, the quality of the
strong model's answer and of the weak model's answer (0/1 correctness or any score), optionally
the cost of each call, and optionally a group (the dataset the prompt came from) so that
whole groups can be held out. Read from CSV; every bad cell raises :class:`RoutingDataError`
naming the file, the 1-based data row and the column.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from langchain_costrouter.exceptions import RoutingDataError
from langchain_costrouter.quality.cells import number_cell, read_csv, usd_cell


@dataclass(frozen=True)
class RoutingTable:
    """Per-prompt strong/weak quality; costs and groups are optional."""

    prompts: tuple[str, ...]
    strong: tuple[float, ...]
    """Quality of the strong model's answer to each prompt."""
    weak: tuple[float, ...]
    cost_strong: tuple[Decimal, ...] | None = None
    """USD of the strong call per prompt; ``None`` when the table has no cost columns."""
    cost_weak: tuple[Decimal, ...] | None = None
    groups: tuple[str, ...] | None = None
    """Group of each row (e.g. source dataset), for held-out evaluation."""
    source: str = "<memory>"

    def __post_init__(self) -> None:
        n = len(self.prompts)
        cols = {"strong": self.strong, "weak": self.weak, "cost_strong": self.cost_strong,
                "cost_weak": self.cost_weak, "groups": self.groups}
        for name, col in cols.items():
            if col is not None and len(col) != n:
                raise RoutingDataError(self.source, f"{len(col)} values for {n} prompts",
                                       column=name)
        if (self.cost_strong is None) != (self.cost_weak is None):
            raise RoutingDataError(self.source, "give both cost columns or neither")

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def has_costs(self) -> bool:
        return self.cost_strong is not None

    def strong_wins(self) -> list[int]:
        """1 where the strong model's quality beats the weak one's, else 0 (training labels)."""
        return [int(s > w) for s, w in zip(self.strong, self.weak, strict=True)]

    def subset(self, rows: Sequence[int]) -> RoutingTable:
        def pick(col: tuple | None) -> tuple | None:  # type: ignore[type-arg]
            return None if col is None else tuple(col[i] for i in rows)

        return RoutingTable(
            prompts=tuple(self.prompts[i] for i in rows),
            strong=tuple(self.strong[i] for i in rows),
            weak=tuple(self.weak[i] for i in rows),
            cost_strong=pick(self.cost_strong),
            cost_weak=pick(self.cost_weak),
            groups=pick(self.groups),
            source=self.source,
        )


def _rows(path: str) -> tuple[list[str], list[list[str]]]:
    header, rows = read_csv(path)
    if not rows:
        raise RoutingDataError(path, "no data rows under the header")
    return header, rows


def read_table(
    path: str | os.PathLike[str],
    *,
    strong: str,
    weak: str,
    prompt_col: str = "prompt",
    cost_strong: str | None = None,
    cost_weak: str | None = None,
    group_col: str | None = None,
) -> RoutingTable:
    """Read a routing table from CSV, checking every named column and every cell."""
    p = os.fspath(path)
    header, rows = _rows(p)
    wanted = [c for c in (prompt_col, strong, weak, cost_strong, cost_weak, group_col) if c]
    for c in wanted:
        if c not in header:
            raise RoutingDataError(p, f"no such column (columns: {', '.join(header)})", column=c)
    idx = {c: header.index(c) for c in wanted}
    if (cost_strong is None) != (cost_weak is None):
        raise RoutingDataError(p, "give both --cost-strong and --cost-weak, or neither")
    cols: dict[str, list[object]] = {c: [] for c in wanted}
    for r, row in enumerate(rows, start=1):
        if len(row) < len(header):
            raise RoutingDataError(p, f"{len(row)} cells for {len(header)} columns", row=r)
        for c in wanted:
            cell = row[idx[c]]
            if c in (strong, weak):
                cols[c].append(number_cell(p, c, r, cell))
            elif c in (cost_strong, cost_weak):
                cols[c].append(usd_cell(p, c, r, cell))
            else:
                if c == prompt_col and not cell.strip():
                    raise RoutingDataError(p, "empty prompt", column=c, row=r)
                cols[c].append(cell)
    return RoutingTable(
        prompts=tuple(cols[prompt_col]),  # type: ignore[arg-type]
        strong=tuple(cols[strong]),  # type: ignore[arg-type]
        weak=tuple(cols[weak]),  # type: ignore[arg-type]
        cost_strong=tuple(cols[cost_strong]) if cost_strong else None,  # type: ignore[arg-type]
        cost_weak=tuple(cols[cost_weak]) if cost_weak else None,  # type: ignore[arg-type]
        groups=tuple(cols[group_col]) if group_col else None,  # type: ignore[arg-type]
        source=p,
    )


def read_prompts(path: str | os.PathLike[str], prompt_col: str = "prompt") -> list[str]:
    """Prompts from ``.jsonl`` (key ``prompt_col``), ``.csv`` (column) or ``.txt`` (one a line)."""
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext == ".csv":
        header, rows = _rows(p)
        if prompt_col not in header:
            raise RoutingDataError(p, f"no such column (columns: {', '.join(header)})",
                                   column=prompt_col)
        i = header.index(prompt_col)
        out = [row[i] if i < len(row) else "" for row in rows]
    elif ext in (".jsonl", ".ndjson"):
        out = []
        with open(p, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise RoutingDataError(p, f"not JSON ({e.msg})", row=n) from None
                if not isinstance(obj, dict) or not isinstance(obj.get(prompt_col), str):
                    raise RoutingDataError(p, "no string value", column=prompt_col, row=n)
                out.append(obj[prompt_col])
    elif ext == ".txt":
        with open(p, encoding="utf-8") as f:
            out = [line.rstrip("\n") for line in f if line.strip()]
    else:
        raise RoutingDataError(p, "prompts must be a .jsonl, .csv or .txt file")
    for n, text in enumerate(out, start=1):
        if not text.strip():
            raise RoutingDataError(p, "empty prompt", column=prompt_col, row=n)
    if not out:
        raise RoutingDataError(p, "no prompts in the file")
    return out
