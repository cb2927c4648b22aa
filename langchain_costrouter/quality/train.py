"""Train a :class:`~.learned.LearnedScorer` from a routing table and report held-out figures.

Labels are "strong wins": the strong model's quality is above the weak model's on that prompt.
Evaluation holds out whole groups (e.g. whole source datasets), never single rows:

* ``holdout=[...]`` given: train on the other groups, evaluate on the held-out ones; the saved
  artifact is that model (it never saw the held-out groups).
* no ``holdout`` but a group column: leave-one-group-out (train on all groups but one, evaluate
  on that one, for each group), then the saved artifact is trained on every row.
* no group column: no held-out evaluation is possible; none is reported.

The artifact's metadata records the CSV path, its sha256, the row counts, the columns and the
held-out groups, so that any figure can be traced to the rows behind it.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.baselines import resolve_scorer, score_all
from langchain_costrouter.quality.features import FeatureConfig
from langchain_costrouter.quality.learned import FitSettings, LearnedScorer, fit
from langchain_costrouter.quality.metrics import RouterReport, evaluate
from langchain_costrouter.quality.table import RoutingTable

COMPARED = ("random", "length", "heuristic")


@dataclass(frozen=True)
class HeldOut:
    """Figures of every scorer on one held-out split."""

    groups: tuple[str, ...]
    rows: int
    reports: tuple[RouterReport, ...] = ()
    problem: str | None = None
    """Why no figures could be computed (e.g. no quality gap in the group)."""

    def as_dict(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "rows": self.rows, "problem": self.problem,
                "reports": [r.as_dict() for r in self.reports]}


@dataclass
class TrainResult:
    scorer: LearnedScorer
    artifact: str
    protocol: str
    """``holdout``, ``leave-one-group-out`` or ``none``."""
    held_out: list[HeldOut] = field(default_factory=list)


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _evaluate(model: LearnedScorer, table: RoutingTable, groups: Sequence[str]) -> HeldOut:
    reports = []
    try:
        for name in COMPARED:
            label, scorer = resolve_scorer(name)
            reports.append(evaluate(label, score_all(scorer, table.prompts), table))
        reports.append(evaluate("learned", model.score_batch(table.prompts), table))
    except ConfigError as e:
        return HeldOut(tuple(groups), len(table), problem=str(e))
    return HeldOut(tuple(groups), len(table), tuple(reports))


def _rows_in(table: RoutingTable, groups: set[str], inside: bool) -> list[int]:
    assert table.groups is not None
    return [i for i, g in enumerate(table.groups) if (g in groups) == inside]


def _fit(table: RoutingTable, settings: FitSettings, config: FeatureConfig) -> LearnedScorer:
    return fit(table.prompts, table.strong_wins(), settings, config)


def train_scorer(
    table: RoutingTable,
    out: str | os.PathLike[str],
    *,
    columns: dict[str, str | None],
    holdout: Sequence[str] | None = None,
    settings: FitSettings | None = None,
    config: FeatureConfig | None = None,
) -> TrainResult:
    """Train, evaluate on held-out groups, save the artifact with its provenance."""
    settings = settings or FitSettings()
    config = config or FeatureConfig()
    out = os.fspath(out)
    if not out.endswith(".npz"):
        raise ConfigError(f"--out must end in .npz, got {out!r}")
    if holdout and table.groups is None:
        raise ConfigError("--holdout needs --holdout-col (the column naming each row's group)")
    counts = Counter(table.groups or ())
    held: list[HeldOut] = []
    model: LearnedScorer | None = None
    if holdout:
        unknown = [g for g in holdout if g not in counts]
        if unknown:
            raise ConfigError(f"held-out groups {unknown} are not in the data; "
                              f"groups: {', '.join(sorted(counts))}")
        train_rows = _rows_in(table, set(holdout), inside=False)
        if not train_rows:
            raise ConfigError("holding out every group leaves no training rows")
        train = table.subset(train_rows)
        protocol = "holdout"
        model = _fit(train, settings, config)
        test = table.subset(_rows_in(table, set(holdout), inside=True))
        held.append(_evaluate(model, test, holdout))
        if len(holdout) > 1:
            held += [_evaluate(model, test.subset(_rows_in(test, {g}, True)), [g])
                     for g in holdout]
    elif table.groups is not None:
        if len(counts) < 2:
            raise ConfigError(f"leave-one-group-out needs 2 or more groups; got {list(counts)}")
        protocol = "leave-one-group-out"
        for g in sorted(counts):
            part = _fit(table.subset(_rows_in(table, {g}, False)), settings, config)
            held.append(_evaluate(part, table.subset(_rows_in(table, {g}, True)), [g]))
        train = table
    else:
        protocol, train = "none", table
    source = {
        "path": os.path.abspath(table.source) if os.path.exists(table.source) else table.source,
        "sha256": sha256_of(table.source) if os.path.exists(table.source) else None,
        "rows_in_file": len(table),
        "rows_trained_on": len(train),
        "columns": columns,
        "holdout_groups": list(holdout or []),
        "train_groups": dict(Counter(train.groups)) if train.groups is not None else None,
    }
    meta = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        "protocol": protocol,
        "held_out": [h.as_dict() for h in held],
    }
    if model is None:  # the holdout model is saved as evaluated; otherwise train on every row
        model = _fit(train, settings, config)
    model.metadata.update(meta)
    path = model.save(out)
    return TrainResult(scorer=model, artifact=path, protocol=protocol, held_out=held)
