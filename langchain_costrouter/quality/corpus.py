"""The shared routing data (``../shared/data/routing``) as training and evaluation rows.

Every row keeps its file, its dataset and the *family* it is held out with: datasets that are
one benchmark under two spellings (``arc-challenge``/``arc_challenge``, ``humaneval``/
``human_eval``), the three slices of MATH (``math``, ``math-level5``, ``MATH_prealgebra``), the
two AlpacaEval files (the same 805 prompts) and RouterArena's 62 small task families (one unit).
Leave-one-dataset-out never trains on a row of the held-out family.

Evaluation uses ONE strong/weak pair per file (per dataset for zeroeval), as in the data's
README; :data:`PAIRS`. Training targets use every model of the file:

* ``multi_win``: over every (strong, weak) pair of the file's top and bottom thirds of models by
  mean quality, the mean of ``max(0, q_strong - q_weak)``: how often a strong model beats a
  weak one on this prompt;
* ``fail_share``: ``1 -`` the mean quality of every model with a result: how many fail it.

``responses.csv`` repeats routerbench and zeroeval prompts (it is for cascade checks) and is
not read. Pure Python (``csv``), so that loading needs no extra.
"""

from __future__ import annotations

import csv
import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_costrouter.exceptions import RoutingDataError
from langchain_costrouter.quality.cells import number_cell

FILES = ("routerbench", "routerdc_7b", "zeroeval", "llmrouter", "routerarena",
         "alpacaeval_cot", "alpacaeval_weighted")
PAIRS: dict[tuple[str, str | None], tuple[str, str]] = {
    ("routerbench", None): ("gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat"),
    ("zeroeval", "cruxeval-o"): ("gpt-4-turbo-2024-04-09", "Mixtral-8x7B-Instruct-v0.1"),
    ("zeroeval", "math-level5"): ("gpt-4-turbo-2024-04-09", "gpt-3.5-turbo-0125"),
    ("llmrouter", None): ("llama-3.1-nemotron-51b-instruct", "mistral-7b-instruct-v0.3"),
    ("routerarena", None): ("gemini-2.0-flash-001", "claude-3-haiku-20240307"),
    # not in the data README's table: its best and worst model by mean quality
    ("routerdc_7b", None): ("cognitivecomputations/dolphin-2.9-llama3-8b",
                            "itpossible/Chinese-Mistral-7B-v0.1"),
    # AlpacaEval: GPT-4 and Mixtral tie on most prompts, so a pair with a real gap
    ("alpacaeval_cot", None): ("gpt4", "gpt-3.5-turbo-0301"),
    ("alpacaeval_weighted", None): ("claude-2.1", "gpt-3.5-turbo-0301"),
}
_NOT_MODELS = {"prompt", "dataset", "source", "split"}


@dataclass(frozen=True)
class Row:
    prompt: str
    file: str
    dataset: str
    """The unit evaluated on its own (RouterArena's families are one unit, ``routerarena``)."""
    family: str
    """Held out together with every dataset of the same family."""
    strong: float
    """Quality of the evaluation pair's strong model."""
    weak: float
    multi_win: float
    multi_gain: float
    """The mean of ``q_strong - q_weak`` over the same pairs, in [-1, 1]."""
    fail_share: float


def family_of(file: str, dataset: str) -> str:
    if file == "routerarena":
        return "routerarena"
    d = dataset.lower().replace("-", "_")
    if d.startswith("alpaca_eval"):
        return "alpaca_eval"
    if d.startswith("math"):
        return "math"
    return {"human_eval": "humaneval"}.get(d, d)


def _unit(file: str, dataset: str) -> str:
    if file == "routerarena":
        return "routerarena"
    return "alpaca_eval" if dataset.startswith("alpaca_eval") else dataset


def _cell(path: str, col: str, row: int, cell: str) -> float | None:
    if not cell.strip():
        return None
    return number_cell(path, col, row, cell)


def _thirds(models: list[str], means: dict[str, float]) -> tuple[list[str], list[str]]:
    ranked = sorted(models, key=lambda m: means[m])
    k = max(1, len(ranked) // 3)
    return ranked[-k:], ranked[:k]


def read_file(path: str) -> list[Row]:
    """Rows of one shared file (name without ``.csv`` gives its pair); bad cells raise
    :class:`RoutingDataError` naming the file, the column and the row."""
    name = os.path.splitext(os.path.basename(path))[0]
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        raw = list(reader)
    models = [h for h in header if h not in _NOT_MODELS and "|" not in h]
    ip, idd = header.index("prompt"), header.index("dataset")
    im = {m: header.index(m) for m in models}
    quality: list[dict[str, float]] = []
    for r, cells in enumerate(raw, start=1):
        q = {}
        for m in models:
            v = _cell(path, m, r, cells[im[m]])
            if v is not None:
                q[m] = v
        quality.append(q)
    sums: dict[str, list[float]] = {m: [0.0, 0.0] for m in models}
    for q in quality:
        for m, v in q.items():
            sums[m][0] += v
            sums[m][1] += 1
    means = {m: s / n if n else 0.0 for m, (s, n) in sums.items()}
    strong_set, weak_set = _thirds([m for m in models if sums[m][1]], means)
    rows = []
    for cells, q in zip(raw, quality, strict=True):
        dataset = cells[idd]
        pair = PAIRS.get((name, dataset)) or PAIRS.get((name, None))
        if pair is None or pair[0] not in q or pair[1] not in q or not q:
            continue
        gains = [q[s] - q[w] for s in strong_set for w in weak_set if s in q and w in q]
        wins = [max(0.0, g) for g in gains]
        rows.append(Row(
            prompt=cells[ip], file=name, dataset=_unit(name, dataset),
            family=family_of(name, dataset), strong=q[pair[0]], weak=q[pair[1]],
            multi_win=sum(wins) / len(wins) if wins else float(q[pair[0]] > q[pair[1]]),
            multi_gain=sum(gains) / len(gains) if gains else q[pair[0]] - q[pair[1]],
            fail_share=1.0 - sum(q.values()) / len(q),
        ))
    return rows


def read_corpus(folder: str, files: Sequence[str] = FILES) -> tuple[list[Row], list[dict]]:
    """Rows of every shared file, and each file's provenance (path, sha256, rows, datasets)."""
    rows: list[Row] = []
    sources = []
    for name in files:
        path = os.path.join(folder, name + ".csv")
        if not os.path.exists(path):
            raise RoutingDataError(path, "missing: the shared routing data is incomplete")
        part = read_file(path)
        counts: dict[str, int] = {}
        for r in part:
            counts[r.dataset] = counts.get(r.dataset, 0) + 1
        sources.append({"file": name + ".csv", "sha256": sha256_of(path), "rows": len(part),
                        "datasets": counts})
        rows += part
    return rows, sources


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def in_first_half(prompt: str, seed: int = 0) -> bool:
    """A random half of the distinct prompts (the same prompt always lands on the same side,
    so the two AlpacaEval files never leak one prompt across the split)."""
    key = " ".join(prompt.split()).lower().encode()
    return hashlib.blake2b(key, digest_size=8, key=str(seed).encode()).digest()[0] < 128
