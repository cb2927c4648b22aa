"""Text -> sparse hashed features for the learned scorer (stable across processes and runs).

Features of the prompt text (the last human message; only its first and last
``max_scan_chars // 2`` characters when longer, where instructions sit):

* word unigrams and bigrams, lower-cased (``\\w+`` words and runs of punctuation);
* character 4-grams of each distinct word padded with spaces (spelling variants, code tokens);
* hashed with CRC-32 into ``2 ** n_bits`` slots, bit 31 giving a +/- sign (fewer collisions
  bias the weights), L2-normalised over the distinct n-grams;
* plus a few dense length features (characters, words, lines, digits, code fences, questions).

CRC-32 rather than ``hash()``: Python salts ``hash`` per process, which would break a saved
model.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from zlib import crc32

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]+")
_NO_DIGITS = str.maketrans("", "", "0123456789")
DENSE_NAMES = ("log_chars", "log_words", "log_lines", "digit_share", "code_fence", "questions")


@dataclass(frozen=True)
class FeatureConfig:
    n_bits: int = 18
    char_n: int = 4
    max_scan_chars: int = 2000

    @property
    def size(self) -> int:
        return 1 << self.n_bits

    def as_dict(self) -> dict[str, int]:
        return {"n_bits": self.n_bits, "char_n": self.char_n,
                "max_scan_chars": self.max_scan_chars}


def _scan(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n" + text[-half:]


def hashed(text: str, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Sparse features as ``(slots, values)``; a slot may repeat (colliding n-grams add up)."""
    words = _TOKEN.findall(_scan(text, cfg.max_scan_chars).lower())
    keys = ["w " + w for w in words]
    keys += ["b " + a + " " + b for a, b in zip(["<s>", *words], words, strict=False)]
    n = cfg.char_n
    for w in set(words):
        padded = f" {w} "
        keys += ["c " + padded[i : i + n] for i in range(max(1, len(padded) - n + 1))]
    counts = Counter(keys)
    k = len(counts)
    if not k:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    h = np.fromiter((crc32(key.encode()) for key in counts), dtype=np.uint32, count=k)
    vals = np.fromiter(counts.values(), dtype=np.float64, count=k)
    vals /= math.sqrt(float(vals @ vals))
    vals[(h >> 31) == 0] *= -1.0
    return (h & np.uint32(cfg.size - 1)).astype(np.int64), vals


def dense(text: str) -> list[float]:
    """Length and shape features, see :data:`DENSE_NAMES` (standardised by the model).

    ``digit_share`` counts ASCII digits."""
    n = len(text)
    digits = n - len(text.translate(_NO_DIGITS))
    return [
        math.log1p(n),
        math.log1p(len(text.split())),
        math.log1p(text.count("\n")),
        digits / n if n else 0.0,
        1.0 if "```" in text else 0.0,
        math.log1p(text.count("?")),
    ]
