"""Train a scorer on your own routing table (a CSV or the FeedbackLog) and report held-out
figures next to the baselines, on the same rows.

Target per prompt: ``(q_strong - q_weak + 1) / 2`` (1 = only the strong model gets it right,
0 = only the weak one, 0.5 = tie). With a group column, each target moves towards its group's
mean on the training rows (:data:`GROUP_KEEP` of its own value kept): one prompt's outcome is a
coin, its group's mean says how much the strong model gains on that kind of task
(:data:`GROUP_KEEP` was chosen on the pooled public data's in-domain half, the same split the
build reports). The model is the n-gram + hand-made-feature model of :mod:`.fit`, from zeros
(``init=None``) or from a saved scorer's weights (warm start, e.g. the shipped default). Unlike
the shipped default, it reads n-grams: trained on your own traffic, they recognise your kinds
of task.

Evaluation:

* ``holdout=[...]`` (needs a group column): train on the other groups, evaluate on those; the
  saved artifact is that model (it never saw the held-out groups);
* otherwise the in-domain split: a random half of the distinct prompts trains, the other half
  evaluates; then the saved artifact is trained on every row.

The artifact carries cuts calibrated on its training prompts for ``mix`` (your traffic's level
mix) and records its rows: the file, its sha256, the columns, the counts, the held-out figures.
Every check runs before anything is written; the write itself is atomic.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from langchain_costrouter.exceptions import ConfigError, RoutingDataError
from langchain_costrouter.quality.corpus import in_first_half, sha256_of
from langchain_costrouter.quality.fit import (
    FitSettings,
    design,
    fit,
    from_scorer,
    smoothed,
    take,
    to_scorer,
)
from langchain_costrouter.quality.protocol import Split, evaluate_split
from langchain_costrouter.quality.table import RoutingTable
from langchain_costrouter.routing.features import FeatureConfig
from langchain_costrouter.routing.learned import ContextWeights
from langchain_costrouter.routing.scorers import DEFAULT_MIX, default_scorer

OWN_DATA = ContextWeights(short_plain=0.0)
"""A scorer trained on your own labelled traffic learns what your short prompts need from it:
it keeps the hand-set context weights but not the short-prompt prior (a prior for the public
data's default, whose short prompts say little about yours)."""


@dataclass
class TrainResult:
    scorer: Any
    artifact: str
    protocol: str
    """``holdout`` or ``in-domain half``."""
    held_out: list[Split] = field(default_factory=list)


def check_table(table: RoutingTable, columns: dict[str, str | None]) -> None:
    """A table that cannot train: no quality gap anywhere, or one group only."""
    strong, weak = columns.get("strong") or "strong", columns.get("weak") or "weak"
    if all(s == w for s, w in zip(table.strong, table.weak, strict=True)):
        raise RoutingDataError(table.source, f"no quality gap: on every row (1-{len(table)}) "
                               f"it equals column {weak!r}, so there is nothing to learn",
                               column=strong, row=1)
    if table.groups is not None:
        groups = Counter(table.groups)
        if len(groups) < 2:
            raise RoutingDataError(table.source, f"names one group only ({next(iter(groups))!r}"
                                   f" on rows 1-{len(table)}): holding out needs two or more",
                                   column=columns.get("holdout") or "group", row=1)


GROUP_KEEP = 0.25
"""Share of a prompt's own target kept when the table names groups; the rest is its group's
mean."""


def targets(table: RoutingTable, rows: Sequence[int]) -> list[float]:
    """The training targets of ``rows`` (see the module doc)."""
    own = [(table.strong[i] - table.weak[i] + 1) / 2 for i in rows]
    if table.groups is None:
        return own
    return smoothed(own, [table.groups[i] for i in rows], GROUP_KEEP)


def fit_own(x: Any, table: RoutingTable, rows: Sequence[int], config: FeatureConfig,
            settings: FitSettings | None = None, warm: Any = None,
            mix: Sequence[float] = DEFAULT_MIX) -> Any:
    """The model trained on ``rows`` of ``table`` (``x``: their design), calibrated on their
    prompts for ``mix``: what an artifact of ``train-scorer`` holds."""
    model = to_scorer(fit(x, targets(table, rows), config, settings, warm=warm), config,
                      context=OWN_DATA)
    prompts = [table.prompts[i] for i in rows]
    return model.calibrated(prompts, mix, f"its {len(prompts)} training prompts")


def _evaluate(name: str, table: RoutingTable, rows: Sequence[int], model: Any) -> Split:
    return evaluate_split(name, [table.prompts[i] for i in rows],
                          [table.strong[i] for i in rows], [table.weak[i] for i in rows],
                          {"shipped default": default_scorer(), "trained": model})


def train_scorer(
    table: RoutingTable,
    out: str | os.PathLike[str],
    *,
    columns: dict[str, str | None],
    holdout: Sequence[str] | None = None,
    settings: FitSettings | None = None,
    init: Any | None = None,
    mix: Sequence[float] = DEFAULT_MIX,
    seed: int = 0,
) -> TrainResult:
    """Check, evaluate on a held-out split, train, calibrate, then save atomically."""
    settings = settings or FitSettings()
    out = os.fspath(out)
    check_table(table, columns)
    if holdout and table.groups is None:
        raise ConfigError("--holdout needs --holdout-col (the column naming each row's group)")
    config = init.config if init is not None else FeatureConfig()
    warm = from_scorer(init) if init is not None else None
    x = design(table.prompts, config)
    n = len(table)
    if holdout:
        counts = Counter(table.groups or ())
        unknown = [g for g in holdout if g not in counts]
        if unknown:
            raise ConfigError(f"held-out groups {unknown} are not in the data; "
                              f"groups: {', '.join(sorted(counts))}")
        assert table.groups is not None
        train_rows = [i for i in range(n) if table.groups[i] not in holdout]
        test_rows = [i for i in range(n) if table.groups[i] in holdout]
        if not train_rows:
            raise ConfigError("holding out every group leaves no training rows")
        protocol = "holdout"
    else:
        train_rows = [i for i in range(n) if in_first_half(table.prompts[i], seed)]
        test_rows = [i for i in range(n) if not in_first_half(table.prompts[i], seed)]
        protocol = "in-domain half"
    if not train_rows or not test_rows:
        raise ConfigError(f"{n} rows are too few to hold half out; give more labelled prompts")
    part = fit_own(take(x, train_rows), table, train_rows, config, settings, warm, mix)
    held = [_evaluate(", ".join(holdout) if holdout else "held-out half", table, test_rows,
                      part)]
    final_rows = train_rows if holdout else list(range(n))
    model = part if holdout else fit_own(x, table, final_rows, config, settings, warm, mix)
    exists = os.path.exists(table.source)
    model.metadata.update({
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "trained_on": {
            "path": os.path.abspath(table.source) if exists else table.source,
            "sha256": sha256_of(table.source) if exists else None,
            "rows_in_file": n, "rows_trained_on": len(final_rows), "columns": columns,
            "holdout_groups": list(holdout or []),
            "groups": dict(Counter(table.groups[i] for i in final_rows))
            if table.groups is not None else None,
        },
        "init": "scratch" if init is None else (init.metadata.get("built_by") or "a scorer"),
        "fit": settings.as_dict(), "protocol": protocol,
        "held_out": [h.as_dict() for h in held],
    })
    path = model.save(out)
    return TrainResult(scorer=model, artifact=path, protocol=protocol, held_out=held)
