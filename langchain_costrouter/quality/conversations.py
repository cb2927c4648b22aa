"""Conversation-shaped rows from the single-prompt routing data, with the labels carried over.

The shared routing data (``../shared/data/routing``) holds single prompts, so the scorer's
reading of a whole request (system prompt, earlier turns: :mod:`..routing.request`) was never
measured on it. Each corpus row becomes a few message lists that still ask for the SAME task,
so the row's strong/weak quality still applies:

* ``plain``: ``[HumanMessage(prompt)]``;
* ``system``: a generic system prompt (:data:`SYSTEM_PROMPT`), then the prompt;
* ``follow-up``: the prompt, the weak model's answer, then a short request to redo the task
  (:data:`FOLLOW_UP`). The answer is the weak model's real text from ``responses.csv`` where
  that file has the prompt, else :data:`PLACEHOLDER_ANSWER`;
* ``follow-up, last turn only``: the follow-up text alone, as a scorer that reads only the last
  message sees it: the contrast.

:func:`evaluate_shapes` scores every shape on the same rows (APGR, :mod:`.metrics`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from langchain_costrouter.exceptions import ConfigError
from langchain_costrouter.quality.baselines import RandomScorer
from langchain_costrouter.quality.cascade_eval import Columns, read_groups
from langchain_costrouter.quality.corpus import PAIRS, Row
from langchain_costrouter.quality.metrics import curve
from langchain_costrouter.quality.table import RoutingTable
from langchain_costrouter.routing.request import text_of

SYSTEM_PROMPT = "You are a helpful assistant."
FOLLOW_UP = "I don't get step 3, can you redo it?"
PLACEHOLDER_ANSWER = "Here is my answer. Step 1: read the question. Step 2: work it out. " \
                     "Step 3: check the result."
SHAPES = ("plain", "system", "follow-up", "follow-up, last turn only")
MIXED = "mixed"
"""Not a shape: each row as its plain or its follow-up shape (half each, by a hash of the
prompt), as traffic mixing single prompts and follow-ups is ranked in one list."""
RANDOM_SEEDS = (0, 1, 2, 3, 4)
REAL, PLACEHOLDER = "responses.csv", "placeholder"

Messages = list[BaseMessage]
RequestScorer = Callable[[Messages], float]


@dataclass(frozen=True)
class Conversation:
    """One corpus row (its labels) and its message list in every shape of :data:`SHAPES`."""

    row: Row
    shapes: dict[str, Messages]
    answer_source: str
    """:data:`REAL` (the weak model's text from ``responses.csv``) or :data:`PLACEHOLDER`."""


def sample(rows: Sequence[Row], per_dataset: int | None, seed: int = 0) -> list[Row]:
    """At most ``per_dataset`` rows of each (file, dataset), chosen by a hash of the prompt
    (deterministic, spread over the file rather than its first rows), in corpus order."""
    if per_dataset is None:
        return list(rows)

    def key(i: int) -> bytes:
        return hashlib.blake2b(rows[i].prompt.encode(), digest_size=8,
                               key=str(seed).encode()).digest() + i.to_bytes(4, "big")

    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r.file, r.dataset), []).append(i)
    keep = {i for idx in groups.values() for i in sorted(idx, key=key)[:per_dataset]}
    return [r for i, r in enumerate(rows) if i in keep]


def weak_answers(path: str) -> dict[tuple[str, str], str]:
    """``(prompt, weak model) -> the weak model's answer`` from a responses CSV
    (:func:`.cascade_eval.read_groups`); an empty dict when the file is absent."""
    if not os.path.exists(path):
        return {}
    out: dict[tuple[str, str], str] = {}
    for key, rows in read_groups(path, Columns(strong_response=None)).items():
        model = key.split(" / ", 1)[1] if " / " in key else ""
        for prompt, answer in zip(rows.table.prompts, rows.answers, strict=True):
            if answer.strip():
                out.setdefault((prompt, model), answer)
    return out


def _answer(row: Row, answers: dict[tuple[str, str], str]) -> str | None:
    pair = PAIRS.get((row.file, row.dataset)) or PAIRS.get((row.file, None))
    return answers.get((row.prompt, pair[1])) if pair else None


def conversations(rows: Sequence[Row], answers: dict[tuple[str, str], str]) -> list[Conversation]:
    """Every row in every shape; the follow-up's answer is the row's pair's weak model's text
    from ``answers`` when there is one, else :data:`PLACEHOLDER_ANSWER`."""
    out = []
    for r in rows:
        real = _answer(r, answers)
        out.append(Conversation(row=r, answer_source=REAL if real is not None else PLACEHOLDER,
                                shapes={
            "plain": [HumanMessage(r.prompt)],
            "system": [SystemMessage(SYSTEM_PROMPT), HumanMessage(r.prompt)],
            "follow-up": [HumanMessage(r.prompt),
                          AIMessage(real if real is not None else PLACEHOLDER_ANSWER),
                          HumanMessage(FOLLOW_UP)],
            "follow-up, last turn only": [HumanMessage(FOLLOW_UP)],
        }))
    return out


def last_human_length(messages: Messages) -> float:
    """Prompt length in characters of the last human message (the length baseline)."""
    humans = [m for m in messages if m.type == "human"]
    return float(len(text_of(humans[-1].content))) if humans else 0.0


@dataclass
class ShapeSplit:
    """APGR of each named scorer on one unit's rows; ``problem`` when there is no gap."""

    name: str
    rows: int
    apgr: dict[str, float] = dataclasses.field(default_factory=dict)
    problem: str | None = None


def evaluate(convs: Sequence[Conversation], columns: dict[str, Sequence[float]],
             with_random: bool = True) -> list[ShapeSplit]:
    """APGR of each column of scores (one per conversation, in order), per file, then the
    mean over the files that have a gap; random is the mean over :data:`RANDOM_SEEDS` of a
    per-row score, the same for every shape."""
    files: dict[str, list[int]] = {}
    for i, c in enumerate(convs):
        files.setdefault(c.row.file, []).append(i)
    splits = []
    for name, idx in files.items():
        rows = [convs[i].row for i in idx]
        table = RoutingTable(prompts=tuple(r.prompt for r in rows),
                             strong=tuple(r.strong for r in rows),
                             weak=tuple(r.weak for r in rows), source=name)
        split = ShapeSplit(name, len(idx))
        try:
            for label, scores in columns.items():
                split.apgr[label] = curve([scores[i] for i in idx], table).apgr()
            if with_random:
                split.apgr["random"] = statistics.mean(
                    curve([RandomScorer(s)(r.prompt) for r in rows], table).apgr()
                    for s in RANDOM_SEEDS)
        except ConfigError as e:
            split.apgr.clear()
            split.problem = str(e)
        splits.append(split)
    ok = [s for s in splits if s.problem is None]
    mean = ShapeSplit("mean", sum(s.rows for s in ok))
    if ok:
        mean.apgr = {k: statistics.mean(s.apgr[k] for s in ok) for k in ok[0].apgr}
    else:
        mean.problem = "no file has a quality gap"
    return [*splits, mean]


def messages_of(c: Conversation, shape: str) -> Messages:
    """The conversation's messages in ``shape`` (one of :data:`SHAPES`, or :data:`MIXED`)."""
    if shape == MIXED:
        odd = hashlib.blake2b(c.row.prompt.encode(), digest_size=1).digest()[0] & 1
        return c.shapes["follow-up" if odd else "plain"]
    return c.shapes[shape]


def shape_scores(convs: Sequence[Conversation], scorer: RequestScorer,
                 shapes: Sequence[str] = SHAPES) -> dict[str, list[float]]:
    """``scorer`` on every conversation in each of ``shapes``."""
    return {s: [scorer(messages_of(c, s)) for c in convs] for s in shapes}


def levels_kept(convs: Sequence[Conversation], scorer: object, shape: str = "follow-up"
                ) -> tuple[float, float, float]:
    """Shares of rows routed (by the scorer's own cuts) to the same, a lower and a higher level
    in ``shape`` than as the plain prompt: a redo of the same task should keep its level."""
    th = scorer.thresholds  # type: ignore[attr-defined]
    if th is None or not convs:
        raise ConfigError("levels_kept needs a calibrated scorer (with cuts) and rows")
    same = lower = 0
    for c in convs:
        a = th.level(scorer.score_request(c.shapes["plain"])).rank  # type: ignore[attr-defined]
        b = th.level(scorer.score_request(c.shapes[shape])).rank  # type: ignore[attr-defined]
        same += a == b
        lower += b < a
    n = len(convs)
    return same / n, lower / n, (n - same - lower) / n


def evaluate_shapes(convs: Sequence[Conversation], scorer: RequestScorer) -> list[ShapeSplit]:
    """The scorer on every shape, prompt length of the last human message on the plain and the
    follow-up shapes, and random: all on the same rows."""
    cols: dict[str, Sequence[float]] = {
        f"default: {k}": v for k, v in shape_scores(convs, scorer).items()}
    for s in ("plain", "follow-up"):
        cols[f"length: {s}"] = [last_human_length(c.shapes[s]) for c in convs]
    return evaluate(convs, cols)


def with_context(scorer: object, **weights: float) -> object:
    """A copy of a learned scorer whose :class:`~..routing.learned.ContextWeights` differ
    by ``weights``; the text model and cuts are the same."""
    context = dataclasses.replace(scorer.context, **weights)  # type: ignore[attr-defined]
    return dataclasses.replace(scorer, context=context)  # type: ignore[type-var]


@dataclass(frozen=True)
class SweepPoint:
    splits: list[ShapeSplit]
    """APGR per file and the mean, one entry per swept shape."""
    levels: tuple[float, float, float]
    """:func:`levels_kept` of the follow-up shape."""


def sweep(convs: Sequence[Conversation], scorer: object, weight: str,
          values: Sequence[float], shapes: Sequence[str] = ("follow-up", MIXED)
          ) -> dict[float, SweepPoint]:
    """For each value of one context weight: the APGR of ``score_request`` on ``shapes`` and
    the follow-ups' levels against the plain prompts'."""
    out = {}
    for v in values:
        copy = with_context(scorer, **{weight: v})
        cols = shape_scores(convs, copy.score_request, shapes)  # type: ignore[attr-defined]
        out[v] = SweepPoint(evaluate(convs, cols, with_random=False), levels_kept(convs, copy))
    return out
