"""Outcome labels for routed calls, keyed by run id, and a training table from one's own logs.

:class:`FeedbackLog` appends one JSON line per label (thumbs up/down or an evaluator score in
[0, 1]) to a file; nothing is ever rewritten. Labels join the cost handler's
:class:`~langchain_costrouter.costs.record.CallRecord` on ``run_id`` (the record gives the model,
tier and level that served the call).

:func:`training_rows` turns joined labels into rows for ``costrouter train-scorer`` (columns
``prompt, strong, weak``). A routed call only shows how ONE model did, so by default a row is
made only for prompts that have labels on both a strong and a weak model (e.g. from shadow
runs or A/B tests). ``assume_strong=1.0`` also makes rows from weak-model calls alone, assuming
the strong model would have scored that much; the row's ``strong_observed`` column says so.
"""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_costrouter.costs.record import CallRecord
from langchain_costrouter.exceptions import ConfigError, RoutingDataError

THUMBS = {"up": 1.0, "down": 0.0}


@dataclass(frozen=True, kw_only=True)
class Feedback:
    run_id: UUID
    """Run id of the routed call (``CallRecord.run_id``)."""
    score: float
    """1 = good answer, 0 = bad; evaluator scores in between."""
    source: str = "user"
    """Who judged: ``user`` (thumbs), an evaluator's name ..."""
    prompt: str | None = None
    """The prompt, when the cost records do not store prompts (``store_prompts=False``)."""
    timestamp: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": str(self.run_id), "score": self.score, "source": self.source,
                "prompt": self.prompt, "timestamp": self.timestamp}


def _score(value: float | str | bool) -> float:
    if isinstance(value, str):
        if value.lower() not in THUMBS:
            raise ConfigError(f"feedback must be 'up', 'down' or a score in [0, 1], got {value!r}")
        return THUMBS[value.lower()]
    score = float(value)
    if not 0 <= score <= 1:
        raise ConfigError(f"feedback score must be in [0, 1], got {value!r}")
    return score


class FeedbackLog:
    """Append-only JSON-lines file of :class:`Feedback`; thread-safe within a process."""

    def __init__(self, path: str | os.PathLike[str], clock: Callable[[], float] = time.time
                 ) -> None:
        self.path = os.fspath(path)
        self._clock = clock
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FeedbackLog({self.path!r})"

    def record(self, run_id: UUID | str, outcome: float | str | bool, *, source: str = "user",
               prompt: str | None = None) -> Feedback:
        """Append one label: ``"up"``/``"down"``, ``True``/``False`` or a score in [0, 1]."""
        fb = Feedback(run_id=UUID(str(run_id)), score=_score(outcome), source=source,
                      prompt=prompt, timestamp=self._clock())
        line = json.dumps(fb.as_dict(), ensure_ascii=False) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
        return fb

    def read(self) -> list[Feedback]:
        out = []
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    out.append(Feedback(run_id=UUID(d["run_id"]), score=_score(d["score"]),
                                        source=d.get("source", "user"), prompt=d.get("prompt"),
                                        timestamp=float(d.get("timestamp", 0.0))))
                except (ValueError, KeyError, TypeError) as e:
                    raise RoutingDataError(self.path, f"bad feedback line ({e})", row=n) from None
        return out


def join(records: Iterable[CallRecord], feedback: Iterable[Feedback]
         ) -> list[tuple[CallRecord, Feedback]]:
    """Pairs of (call record, label) sharing a run id; labels without a record are dropped."""
    by_run = {r.run_id: r for r in records}
    return [(by_run[f.run_id], f) for f in feedback if f.run_id in by_run]


def last_human(buffer: str | None) -> str | None:
    """The last human turn of a record's stored prompt (``get_buffer_string`` form,
    ``"System: ...\nHuman: ..."``): the text a scorer judges. Other text is returned as is."""
    if not buffer:
        return None
    i = buffer.rfind("\nHuman: ")
    if i >= 0:
        return buffer[i + len("\nHuman: "):]
    return buffer[len("Human: "):] if buffer.startswith("Human: ") else buffer


def training_rows(
    pairs: Iterable[tuple[CallRecord, Feedback]],
    strong_models: Sequence[str],
    weak_models: Sequence[str],
    assume_strong: float | None = None,
) -> list[dict[str, Any]]:
    """Rows ``{prompt, strong, weak, strong_observed, calls}``, mean label per prompt and side.

    A call counts as strong or weak when its ``tier`` or ``model`` is in the given lists. The
    prompt is the label's ``prompt`` if given, else the last human turn of the record's.
    """
    sides: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"strong": [], "weak": []})
    for rec, fb in pairs:
        prompt = fb.prompt or last_human(rec.prompt)
        if not prompt:
            raise ConfigError(f"run {fb.run_id} has no prompt: record calls with "
                              "store_prompts=True or pass prompt= with the feedback")
        names = {rec.tier, rec.model}
        if names & set(strong_models):
            sides[prompt]["strong"].append(fb.score)
        elif names & set(weak_models):
            sides[prompt]["weak"].append(fb.score)
    rows = []
    for prompt, s in sides.items():
        if not s["weak"] or (not s["strong"] and assume_strong is None):
            continue
        strong = sum(s["strong"]) / len(s["strong"]) if s["strong"] else assume_strong
        rows.append({"prompt": prompt, "strong": strong, "weak": sum(s["weak"]) / len(s["weak"]),
                     "strong_observed": bool(s["strong"]),
                     "calls": len(s["strong"]) + len(s["weak"])})
    return rows


def write_training_csv(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> str:
    """Write rows for ``costrouter train-scorer --strong strong --weak weak``."""
    p = os.fspath(path)
    cols = ["prompt", "strong", "weak", "strong_observed", "calls"]
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    return p
