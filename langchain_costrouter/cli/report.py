"""Output helpers shared by the commands: money formatting, rich tables, JSON, CSV and plots."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from langchain_costrouter.exceptions import ConfigError

UNPRICED = "unpriced"


def money(d: Decimal | None, places: int = 2) -> str:
    """``$1,234.57``; ``unpriced`` for ``None`` (never ``$0``). Small amounts keep precision."""
    if d is None:
        return UNPRICED
    if d != 0 and abs(d) < Decimal("0.01"):
        places = max(places, 6)
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if q < 0 else ""
    return f"{sign}${abs(q):,.{places}f}"


def pct(d: Decimal | None) -> str:
    if d is None:
        return "-"
    return f"{d.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def share(v: float | None) -> str:
    """``82.5%``; ``-`` when unknown."""
    return "-" if v is None else f"{v:.1%}"


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f}"


def table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], right_from: int = 1
) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for i, c in enumerate(columns):
        t.add_column(c, justify="right" if i >= right_from else "left")
    for r in rows:
        t.add_row(*(str(x) for x in r))
    return t


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _writable(path: str | Path) -> Path:
    """``path`` if a file can be written there; ``ConfigError`` (one line) otherwise.

    Checked before a command starts, so a long run never fails at its last line: a directory,
    a missing folder, a parent that is a file, or a place the process may not write.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"cannot write {str(p)!r}: it is a directory; give a file name")
    parent = p.parent
    if not parent.exists():
        raise ConfigError(f"cannot write {str(p)!r}: folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise ConfigError(f"cannot write {str(p)!r}: {str(parent)!r} is not a folder")
    existed = p.exists()
    try:  # the only check that holds for root, read-only mounts and ACLs alike: try it
        with p.open("a", encoding="utf-8"):
            pass
    except OSError as e:
        raise ConfigError(f"cannot write {str(p)!r}: {e.strerror or e}") from None
    if not existed:
        p.unlink(missing_ok=True)
    return p


def write_json(path: str | Path, data: Mapping[str, Any]) -> Path:
    p = _writable(path)
    p.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return p


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    p = _writable(path)
    fields: dict[str, None] = {}
    for r in rows:
        fields.update(dict.fromkeys(r))
    with p.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(fields))
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return p


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(
            "--plot needs matplotlib: pip install 'langchain-costrouter[plots]'"
        ) from None
    return plt


def bar_chart(
    path: str | Path,
    title: str,
    series: Mapping[str, Sequence[tuple[str, float | None]]],
    xlabel: str,
) -> Path:
    """Horizontal bar charts, one panel per series; ``None`` values are drawn as 'unpriced'."""
    p = _writable(path)
    plt = _pyplot()
    n = len(series)
    height = max(3.0, 0.45 * max(len(v) for v in series.values()) + 1.5)
    fig, axes = plt.subplots(n, 1, figsize=(9, height * n), squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], series.items(), strict=True):
        labels = [lab for lab, _ in values]
        nums = [v or 0.0 for _, v in values]
        bars = ax.barh(labels, nums, color="#4C72B0")
        for bar, (_, v) in zip(bars, values, strict=True):
            text = UNPRICED if v is None else f"{v:,.2f}"
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {text}",
                    va="center", fontsize=8)
        ax.invert_yaxis()
        ax.set_title(name)
        ax.set_xlabel(xlabel)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(p, format="png", dpi=100)
    plt.close(fig)
    return p


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)
