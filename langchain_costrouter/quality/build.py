"""Build the default scorer from the shared routing data, with its held-out figures.

The recipe (:class:`Recipe`) is chosen for traffic the scorer has never seen, since the shipped
default meets nothing else:

1. Target per prompt (:func:`target`): ``pair_weight`` x the file's evaluation pair's gain
   ``(q_strong - q_weak + 1) / 2`` plus the rest x the same gain averaged over every
   (top-third, bottom-third) pair of the file's models, so several models, not one pair, shape
   what "hard" means. Then each target is replaced by its dataset's mean on the training rows
   (``within_share`` of the prompt's own target kept): one pair's outcome on one prompt is a
   0 / 0.5 / 1 coin, while the mean says how much the strong model gains on that kind of task.
2. One linear fit (:mod:`.fit`) over the hand-made features only (``text_share`` = 0): learned
   word n-grams identify the public benchmarks, which helps in domain and hurts out of it
   (``--text-share`` of the build script reproduces the trial). ``text_share`` > 0 blends in a
   fit with n-grams, for experiments.
3. On the package's labelled reference workload: the context unit (the spread of its logits),
   the second stage (:mod:`.workload_stage`: the heuristic's keyword groups, which the
   benchmarks cannot weigh, weighed on everyday requests), and the cuts for ``DEFAULT_MIX``.

:func:`build` reports, on the same rows for every scorer: the in-domain split (a random half of
the distinct prompts of all files pooled trains, the other half evaluates: pooled and per
dataset), where the recipe of ``costrouter train-scorer`` (your own logs) is shown too, and
leave-one-dataset-out (each family held out in turn, evaluated per dataset, with a paired
bootstrap interval of the default minus prompt length).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_costrouter.quality.baselines import reference_prompts
from langchain_costrouter.quality.bootstrap import mean_interval, paired_interval
from langchain_costrouter.quality.corpus import Row, in_first_half, read_corpus
from langchain_costrouter.quality.fit import (
    Design,
    FitSettings,
    blend,
    dense_only,
    design,
    fit,
    smoothed,
    take,
    to_scorer,
)
from langchain_costrouter.quality.protocol import Split, char_length, evaluate_split, mean_row
from langchain_costrouter.quality.table import RoutingTable
from langchain_costrouter.quality.train import fit_own
from langchain_costrouter.quality.workload_stage import compose, cross_validated, fit_stage
from langchain_costrouter.routing.features import FeatureConfig
from langchain_costrouter.routing.scorers import DEFAULT_MIX, Thresholds

COMMAND = "python -m scripts.build_default_scorer"
REFERENCE = "langchain_costrouter/data/workload.jsonl (300 prompts)"


@dataclass(frozen=True)
class Recipe:
    fit: FitSettings = field(default_factory=FitSettings)
    text_share: float = 0.0
    """Weight of the n-gram fit in the blend (0: the hand-made features alone)."""
    pair_weight: float = 0.75
    """Weight of the evaluation pair's gain in the target; the rest is the many-model gain."""
    within_share: float = 0.0
    """Share of each prompt's own target kept; the rest is its dataset's mean."""
    second_stage: bool = True
    """Weigh the keyword groups on the reference workload (:mod:`.workload_stage`)."""
    features: FeatureConfig = field(default_factory=FeatureConfig)
    seed: int = 0
    """Seed of the in-domain random half."""

    def as_dict(self) -> dict[str, Any]:
        return {"fit": self.fit.as_dict(), "text_share": self.text_share,
                "features": self.features.as_dict(), "seed": self.seed,
                "pair_weight": self.pair_weight, "within_share": self.within_share,
                "second_stage": self.second_stage,
                "target": "pair_weight x pair gain + (1 - pair_weight) x many-model gain, in "
                          "[0, 1], then within_share x itself + the rest x its dataset's mean"}


def target(r: Row, pair_weight: float = 0.75) -> float:
    """One prompt's own target, in [0, 1] (see the module doc)."""
    return pair_weight * (r.strong - r.weak + 1) / 2 + (1 - pair_weight) * (r.multi_gain + 1) / 2


def train(x: Design, rows: Sequence[Row], recipe: Recipe, metadata: dict[str, Any] | None = None
          ) -> Any:
    """The recipe's model on ``rows`` (their design ``x``), as a LearnedScorer."""
    own = [target(r, recipe.pair_weight) for r in rows]
    y = smoothed(own, [f"{r.file}: {r.dataset}" for r in rows], recipe.within_share)
    model = fit(dense_only(x), y, recipe.features, recipe.fit)
    if recipe.text_share:
        model = blend(model, fit(x, y, recipe.features, recipe.fit), recipe.text_share)
    model = to_scorer(model, recipe.features, metadata)
    # the context unit (its logits' spread on the reference workload), so the hand-set priors
    # weigh the same in the held-out figures as in the shipped scorer
    first = model.calibrated(reference_prompts(), DEFAULT_MIX, REFERENCE)
    return with_second_stage(first) if recipe.second_stage else first


def with_second_stage(first: Any) -> Any:
    """``first`` composed with its second stage, with cuts sending :data:`DEFAULT_MIX` of the
    reference workload to each level (the composed context unit kept)."""
    model = compose(first, fit_stage(first))
    cuts = Thresholds.calibrate(model, reference_prompts(), mix=DEFAULT_MIX)
    return model.with_cuts(cuts.cuts, mix=list(DEFAULT_MIX), reference=REFERENCE)


@dataclass
class BuildResult:
    artifact: str
    in_domain: list[Split]
    out_of_domain: list[Split]
    sources: list[dict[str, Any]]
    workload: dict[str, float] = field(default_factory=dict)
    """The reference workload's levels on held-out halves (:func:`.cross_validated`)."""

    def as_dict(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "sources": self.sources,
                "in_domain": [s.as_dict() for s in self.in_domain],
                "out_of_domain": [s.as_dict() for s in self.out_of_domain],
                "reference_workload_held_out_halves": self.workload}


def _units(rows: Sequence[Row], idx: Sequence[int]) -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = {}
    for i in idx:
        out.setdefault((rows[i].file, rows[i].dataset), []).append(i)
    return out


def _split(name: str, rows: Sequence[Row], idx: Sequence[int], models: dict[str, Any],
           *, interval: bool = False) -> Split:
    prompts = [rows[i].prompt for i in idx]
    strong, weak = [rows[i].strong for i in idx], [rows[i].weak for i in idx]
    split = evaluate_split(name, prompts, strong, weak, models)
    if interval and split.problem is None:
        split.vs_length = paired_interval([models["default"](p) for p in prompts],
                                          [char_length(p) for p in prompts], strong, weak)
    return split


def family_oracle(rows: Sequence[Row], train_idx: Sequence[int]) -> Callable[[str], float]:
    """A yardstick, not a scorer: it knows each prompt's benchmark family (which no scorer is
    told) and scores it with that family's mean gain on the training rows; within a family it
    ties every prompt. The same benchmark sits in several files with different model pairs
    (mbpp's mean gain is 0.69 in llmrouter's file and 0.15 in routerbench's, on prompts of the
    same form), which no prompt text can tell apart, so this bounds what telling benchmarks
    apart can reach in the pooled split."""
    sums: dict[str, list[float]] = {}
    for i in train_idx:
        acc = sums.setdefault(rows[i].family, [0.0, 0])
        acc[0] += rows[i].strong - rows[i].weak
        acc[1] += 1
    family = {r.prompt: r.family for r in rows}
    means = {f: t / k for f, (t, k) in sums.items()}
    return lambda p: means.get(family[p], 0.0)


def ood_mean(splits: Sequence[Split], name: str = "mean") -> Split:
    """The mean row of the held-out datasets, with the interval of the mean difference from
    prompt length."""
    row = mean_row(splits, name)
    intervals = [s.vs_length for s in splits if s.vs_length is not None]
    if intervals:
        row.vs_length = mean_interval(intervals)
    return row


def own_logs(x: Design, rows: Sequence[Row]) -> Any:
    """What ``costrouter train-scorer`` trains on ``rows`` (the file's pair, each dataset a
    group), calibrated on them like its artifacts."""
    table = RoutingTable(prompts=tuple(r.prompt for r in rows),
                         strong=tuple(r.strong for r in rows), weak=tuple(r.weak for r in rows),
                         groups=tuple(f"{r.file}: {r.dataset}" for r in rows), source="pooled")
    return fit_own(x, table, range(len(rows)), FeatureConfig())


def sample(rows: list[Row], per_file: int | None) -> list[Row]:
    """Every row, or the first ``per_file`` of each dataset of each file (for quick tests)."""
    if per_file is None:
        return rows
    seen: dict[tuple[str, str], int] = {}
    out = []
    for r in rows:
        k = (r.file, r.dataset)
        if seen.get(k, 0) < per_file:
            seen[k] = seen.get(k, 0) + 1
            out.append(r)
    return out


def build(
    folder: str,
    out: str | os.PathLike[str],
    *,
    recipe: Recipe | None = None,
    per_dataset: int | None = None,
    log: Callable[[str], None] = print,
) -> BuildResult:
    """Evaluate the recipe (in domain, out of domain), then train on every row and save."""
    recipe = recipe or Recipe()
    rows, sources = read_corpus(folder)
    rows = sample(rows, per_dataset)
    for src in sources:  # what was trained on: after sampling
        name = src["file"].removesuffix(".csv")
        used = Counter(r.dataset for r in rows if r.file == name)
        src.update(rows_in_file=src["rows"], rows=sum(used.values()), datasets=dict(used))
    log(f"{len(rows)} rows from {len(sources)} files; extracting features")
    x = design([r.prompt for r in rows], recipe.features)
    n = len(rows)
    first = [i for i in range(n) if in_first_half(rows[i].prompt, recipe.seed)]
    second = [i for i in range(n) if not in_first_half(rows[i].prompt, recipe.seed)]
    log(f"in domain: training on {len(first)} rows, evaluating on {len(second)}")
    half = train(take(x, first), [rows[i] for i in first], recipe)
    log("in domain: the train-scorer recipe (your own logs) on the same half")
    models = {"default": half, "train-scorer": own_logs(take(x, first), [rows[i] for i in first]),
              "benchmark oracle": family_oracle(rows, first)}
    in_domain = [_split("pooled (all files)", rows, second, models)]
    for (file, ds), idx in sorted(_units(rows, second).items()):
        in_domain.append(_split(f"{file}: {ds}", rows, idx, models))
    out_of_domain = []
    families = sorted({r.family for r in rows})
    for fam in families:
        log(f"out of domain: holding out {fam}")
        train_idx = [i for i in range(n) if rows[i].family != fam]
        held = [i for i in range(n) if rows[i].family == fam]
        model = train(take(x, train_idx), [rows[i] for i in train_idx], recipe)
        for (file, ds), idx in sorted(_units(rows, held).items()):
            out_of_domain.append(_split(f"{file}: {ds}", rows, idx, {"default": model},
                                        interval=True))
    summary = {"in_domain_pooled": in_domain[0].as_dict(),
               "out_of_domain_mean": ood_mean(out_of_domain).as_dict(),
               "out_of_domain_below_length_beyond_noise": [
                   s.name for s in out_of_domain if s.vs_length is not None
                   and s.vs_length.below]}
    log("training on every row")
    meta = {"trained_on": {"folder": "../shared/data/routing", "files": sources,
                           "rows": n, "per_dataset_limit": per_dataset},
            "recipe": recipe.as_dict(), "built_by": COMMAND, "held_out": summary}
    first = train(x, rows, replace(recipe, second_stage=False), meta)
    workload = cross_validated(first, DEFAULT_MIX) if recipe.second_stage else {}
    summary["reference_workload_held_out_halves"] = workload
    final = with_second_stage(first) if recipe.second_stage else first
    path = final.save(out)
    return BuildResult(path, in_domain, out_of_domain, sources, workload)


def write_json(result: BuildResult, path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result.as_dict(), f, indent=1, default=str)
    os.replace(tmp, path)

