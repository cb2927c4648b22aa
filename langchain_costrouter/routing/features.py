"""Text -> features for the default difficulty scorer, in pure Python (no numpy at inference).

Two kinds, both computed by :func:`extract` on one *task text* (see :mod:`.request`):

* **hashed n-grams**: lower-cased ``\\w+`` words and word bigrams of the text's scanned part
  (all of it up to ``scan_chars``, else its first and last halves of that many characters,
  where instructions sit). Each distinct n-gram is hashed with CRC-32 (stable across processes,
  unlike ``hash()``); the low ``n_bits`` bits pick a weight slot, bit 31 a +/- sign. A prompt's
  n-grams are weighted ``1/sqrt(k)`` for ``k`` distinct n-grams (L2 norm 1).
* **dense hand-made features** (:data:`DENSE_NAMES`): length and structure, math, code and
  reasoning markers, multiple-choice options, and the keyword groups of the heuristic. These
  are the signals that transfer across benchmarks; the model standardises them.

The same function serves training (numpy builds the matrix from these lists) and inference, so
the two can never disagree.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from operator import xor
from zlib import crc32

from langchain_costrouter.routing.keywords import (
    CLOSED_FORM,
    MATH,
    SIGNALS,
    spaced_words,
    stem_hits,
    stem_index,
)

_WORD = re.compile(r"\w+")
_NO_DIGITS = str.maketrans("", "", "0123456789")
_OPTION = re.compile(r"(?m)^\s*\(?[A-Ea-e1-5][\).:]\s")
# _MATH and _CODE markers are counted, not found: the single characters with one translate(),
# the rest with str.count() (the same counts as re.findall of the alternations
# ``[=^+\-*/<>]|\\[a-z]+|\$`` and ``[{};]|\bdef |\breturn\b|\bimport |=>|\(\)|::``: their
# alternatives share no character, so no match can hide another)
_NO_MATH_CHARS = str.maketrans("", "", "=^+-*/<>$")
_NO_CODE_CHARS = str.maketrans("", "", "{};")
_LATEX_CMD = re.compile(r"\\[a-z]")
_CODE_WORDS = re.compile(r"\bdef |\breturn\b|\bimport ")
_STEPS = re.compile(r"\n\s*3[.)]")
_MASK32 = 0xFFFFFFFF
_BIGRAM = 0x9E3779B1
_MIX = 0x5BD1E995
_START = (0x2545F491 * _BIGRAM) & _MASK32
# per word: its CRC-32 h, (h * _BIGRAM) & _MASK32 (as a bigram's first word) and h ^ _MIX (as
# its second), so that a bigram's hash ((a * _BIGRAM) ^ b) & _MASK32 ^ _MIX is one XOR
_WORD_CACHE: dict[str, int] = {}
_FIRST: dict[str, int] = {}
_SECOND: dict[str, int] = {}
_WORD_CACHE_MAX = 200_000
_GROUPS = (*SIGNALS, MATH, CLOSED_FORM)
_STEMS = stem_index(_GROUPS)

DENSE_NAMES: tuple[str, ...] = (
    "log_chars", "log_words", "log_lines", "digit_share", "non_ascii_share", "log_math",
    "latex", "log_code", "code_fence", "log_questions", "log_options", "numbered_steps",
    *(f"kw_{s.name}" for s in (*SIGNALS, MATH)), "closed_form",
)


@dataclass(frozen=True)
class FeatureConfig:
    n_bits: int = 18
    """``2 ** n_bits`` hashed weight slots."""
    scan_chars: int = 2000
    """N-grams come from at most this many characters (the two ends of longer texts)."""

    @property
    def size(self) -> int:
        return 1 << self.n_bits

    def as_dict(self) -> dict[str, int]:
        return {"n_bits": self.n_bits, "scan_chars": self.scan_chars}


def scan(text: str, limit: int) -> str:
    """The part of ``text`` whose n-grams are read: its two ends when longer than ``limit``."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n" + text[-half:]


def _word_hash(w: str) -> int:
    h = _WORD_CACHE.get(w)
    if h is None:
        h = crc32(w.encode())
        if len(_WORD_CACHE) < _WORD_CACHE_MAX:
            _WORD_CACHE[w] = h
            _FIRST[w] = (h * _BIGRAM) & _MASK32
            _SECOND[w] = h ^ _MIX
    return h


def ngram_hashes(text: str, cfg: FeatureConfig) -> set[int]:
    """32-bit hashes of the distinct word unigrams and bigrams of ``text``'s scanned part."""
    return _ngram_hashes(scan(text, cfg.scan_chars).lower())


def _ngram_hashes(lower: str) -> set[int]:
    """:func:`ngram_hashes` of an already scanned, lower-cased text."""
    words = _WORD.findall(lower)
    hs = list(map(_WORD_CACHE.get, words))  # cache hits in C; misses hashed below
    if None in hs:
        hs = [h if h is not None else _word_hash(w) for h, w in zip(hs, words, strict=True)]
        if None in map(_FIRST.get, words):  # the cache is full: the slow, same formula
            keys = set(hs)
            keys.update([((a * _BIGRAM) ^ b) & _MASK32 ^ _MIX
                         for a, b in zip([0x2545F491, *hs], hs, strict=False)])
            return keys
    keys = set(hs)
    # the start-of-text marker 0x2545F491: the first word also forms a bigram
    if words:
        firsts = [_START, *map(_FIRST.__getitem__, words)]
        keys.update(map(xor, firsts, map(_SECOND.__getitem__, words)))
    return keys


def dense(text: str, cfg: FeatureConfig) -> list[float]:
    """The hand-made features of :data:`DENSE_NAMES`, unstandardised."""
    part = scan(text, cfg.scan_chars)
    return _dense(text, part, part.lower())


def _dense(text: str, part: str, lower: str) -> list[float]:
    """:func:`dense` given the scanned part and its lower-cased form."""
    n = len(text)
    m = len(part) or 1
    spaced, words = spaced_words(lower)
    stems = stem_hits(words, _STEMS)
    digits = len(part) - len(part.translate(_NO_DIGITS))
    non_ascii = len(part) - len(part.encode("ascii", "ignore"))
    n_math = len(part) - len(part.translate(_NO_MATH_CHARS))
    if "\\" in part:
        n_math += len(_LATEX_CMD.findall(part))
    n_code = (len(part) - len(part.translate(_NO_CODE_CHARS)) + part.count("=>")
              + part.count("()") + part.count("::"))
    if "def " in part or "return" in part or "import " in part:
        n_code += len(_CODE_WORDS.findall(part))
    return [
        math.log1p(n),
        math.log1p(text.count(" ") + text.count("\n")),
        math.log1p(text.count("\n")),
        digits / m,
        non_ascii / m,
        math.log1p(n_math),
        1.0 if ("\\frac" in part or "$" in part or "\\(" in part) else 0.0,
        math.log1p(n_code),
        1.0 if "```" in part else 0.0,
        math.log1p(part.count("?")),
        math.log1p(len(_OPTION.findall(part))) if ")" in part or "." in part or ":" in part
        else 0.0,
        1.0 if "3" in part and _STEPS.search(part) else 0.0,
        *(1.0 if s.hit(words, lower, spaced, stems) else 0.0 for s in _GROUPS),
    ]


def text_features(text: str, cfg: FeatureConfig) -> tuple[set[int], list[float]]:
    """``(ngram_hashes, dense)`` of one text, scanning and lower-casing it once."""
    part = scan(text, cfg.scan_chars)
    lower = part.lower()
    return _ngram_hashes(lower), _dense(text, part, lower)


def split_slots(text: str, cfg: FeatureConfig) -> tuple[list[int], list[int], float]:
    """The n-gram slots with a + sign, those with a - sign, and the common magnitude."""
    keys = ngram_hashes(text, cfg)
    mask = cfg.size - 1
    pos = [h & mask for h in keys if h >> 31]
    neg = [h & mask for h in keys if not h >> 31]
    return pos, neg, 1.0 / math.sqrt(len(keys)) if keys else 0.0


def extract(text: str, cfg: FeatureConfig) -> tuple[list[tuple[int, float]], list[float]]:
    """``([(slot, signed value), ...], dense)`` of one task text."""
    keys = ngram_hashes(text, cfg)
    mask = cfg.size - 1
    v = 1.0 / math.sqrt(len(keys)) if keys else 0.0
    sparse = [(h & mask, v if h >> 31 else -v) for h in keys]
    return sparse, dense(text, cfg)
