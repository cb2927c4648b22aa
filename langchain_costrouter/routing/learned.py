"""The learned difficulty scorer: a linear model over hashed n-grams and hand-made features,
pure Python at inference (a dot product; a model whose n-gram weights are all zero, like the
shipped default, skips hashing them), shipped as one small artifact.

``score`` is a number in (0, 1) (the sigmoid of the model's logit) that orders requests by how
much they need the strong model; its calibrated cuts turn it into a level. It reads the whole
request (:mod:`.request`): the text model scores the task; the conversation, tools and schema
move the logit by hand-set weights (:class:`ContextWeights`; the public data has single prompts
only, so these cannot be learned from it).

Artifact format (``costrouter-scorer/2``): gzip of one JSON header line, ``\\n``, then the n-gram
weights as little-endian int16 (``weight = int * weight_scale``). The header holds the feature
settings, the hand-made features' weights and standardisation, the context weights, the
calibrated thresholds, the sha256 of the weight bytes and the provenance of the training rows.
Loading needs no network, no pickle and no numpy.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import sys
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from langchain_core.messages import BaseMessage

from langchain_costrouter.exceptions import ArtifactError
from langchain_costrouter.routing.features import (
    DENSE_NAMES,
    FeatureConfig,
    dense,
    text_features,
)
from langchain_costrouter.routing.request import RequestView, plainness, read_request

FORMAT = "costrouter-scorer/2"
_INT16 = 32767


@dataclass(frozen=True)
class ContextWeights:
    """Logit changes for what the text model cannot see, in units of the scorer's
    ``context_unit`` (the spread of its logits on its reference prompts; for the two-stage
    default, the first stage's spread times the second stage's weight on it), so that they mean
    the same on any scorer's scale. Hand-set, documented here:

    * a follow-up keeps the hardest earlier turn's logit minus ``history_decay``;
    * choosing a tool call adds ``tool_step`` plus ``per_tool`` x log(1 + tools bound);
    * answering from a tool result adds ``after_tool`` (``tool_error`` more if it is an error);
    * a structured output adds ``per_field`` x log(1 + properties), at most ``schema_max``;
    * a closed-form instruction over a long document adds ``closed_form_document``;
    * an explicit demand for a proof or derivation adds ``proof_demand``;
    * a very short plain text (:func:`.request.plainness`: a greeting, thanks, a one-fact
      lookup, no reasoning/math/code/domain marker) adds ``short_plain`` x its plainness, to
      each scored text (the task, the turn alone, earlier turns).
    """

    history_decay: float = 0.1
    """Measured on redo follow-ups built from the public data (``scripts.conversation_figures``):
    0.25 dropped 18% of them a level, 0.1 drops 6%, 0 drops 0.1%; a small decay is kept so that a
    later turn, not an old one, leads a long conversation."""
    tool_step: float = 1.0
    per_tool: float = 0.25
    after_tool: float = 0.0
    tool_error: float = 1.0
    per_field: float = 0.3
    schema_max: float = 1.0
    closed_form_document: float = -1.0
    proof_demand: float = 1.5
    short_plain: float = -2.5


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(eq=False)
class LearnedScorer:
    weights: array
    """n-gram weights as int16 (``array('h')``), ``2 ** n_bits`` of them."""
    weight_scale: float
    dense_weights: tuple[float, ...]
    dense_mean: tuple[float, ...]
    dense_std: tuple[float, ...]
    bias: float
    config: FeatureConfig = field(default_factory=FeatureConfig)
    context: ContextWeights = field(default_factory=ContextWeights)
    cuts: tuple[float, ...] | None = None
    """Calibrated thresholds on this scorer's scale (see :attr:`thresholds`)."""
    context_unit: float = 1.0
    """The unit of :class:`ContextWeights`: the standard deviation of its text logits on its
    reference prompts (:meth:`calibrated`), or for a composed two-stage model the weight of the
    first stage's unit in it (:func:`~..quality.workload_stage.compose`)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Training rows (files, sha256, datasets, counts), settings, calibration, figures."""

    def __post_init__(self) -> None:
        if len(self.weights) != self.config.size:
            raise ArtifactError("<memory>", f"{len(self.weights)} weights for "
                                f"{self.config.size} slots")
        self._dense = [(w / s, m) for w, m, s in
                       zip(self.dense_weights, self.dense_mean, self.dense_std, strict=True)]
        self._reads_ngrams = any(self.weights)
        """False for a model of the hand-made features alone (the shipped default): scoring
        then skips hashing the n-grams, whose weights are all zero."""
        self.scale = "learned:" + self.digest()[:16]
        """Names this scorer's scale; thresholds calibrated on it carry the same name."""

    def __repr__(self) -> str:
        return f"LearnedScorer(scale={self.scale!r}, cuts={self.cuts})"

    def digest(self) -> str:
        h = hashlib.sha256(self.weights.tobytes())
        h.update(json.dumps([self.dense_weights, self.dense_mean, self.dense_std, self.bias,
                             asdict(self.context), self.context_unit]).encode())
        return h.hexdigest()

    @property
    def thresholds(self) -> Any:
        """Its calibrated :class:`~.scorers.Thresholds`, or ``None`` when uncalibrated."""
        from langchain_costrouter.routing.scorers import Thresholds

        return None if self.cuts is None else Thresholds(self.cuts, scale=self.scale)

    # scoring -------------------------------------------------------------------------------

    def text_logit(self, text: str) -> float:
        return _logit(self, text)

    def _text_logit(self, text: str) -> float:
        if not self._reads_ngrams:
            z = self.bias
            for x, (wd, m) in zip(dense(text, self.config), self._dense, strict=True):
                z += wd * (x - m)
            return z
        # the same sum as over extract()'s (slot, +-v) pairs, with integer weights summed in C
        keys, feats = text_features(text, self.config)
        mask = self.config.size - 1
        pos = [h & mask for h in keys if h >> 31]
        neg = [h & mask for h in keys if not h >> 31]
        v = 1.0 / math.sqrt(len(keys)) if keys else 0.0
        get = self.weights.__getitem__
        z = self.bias + self.weight_scale * v * (sum(map(get, pos)) - sum(map(get, neg)))
        for x, (wd, m) in zip(feats, self._dense, strict=True):
            z += wd * (x - m)
        return z

    def prior_logit(self, text: str) -> float:
        """The text logit plus the short-plain prior (see :class:`ContextWeights`)."""
        z = self.text_logit(text)
        p = plainness(text) if len(text) <= 200 else 0.0
        return z + self.context_unit * self.context.short_plain * p if p else z

    def request_logit(self, view: RequestView) -> float:
        c, u = self.context, self.context_unit
        z = self.prior_logit(view.task)
        if view.alone is not None:
            z = max(z, self.prior_logit(view.alone))
        for turn in view.history:
            z = max(z, self.prior_logit(turn) - u * c.history_decay)
        extra = 0.0
        if view.tool_step:
            extra += c.tool_step + c.per_tool * math.log1p(view.n_tools)
        if view.after_tool:
            extra += c.after_tool + (c.tool_error if view.tool_error else 0.0)
        if view.schema_fields:
            extra += min(c.schema_max, c.per_field * math.log1p(view.schema_fields))
        if view.closed_form_document:
            extra += c.closed_form_document
        if view.demands_proof:
            extra += c.proof_demand
        return z + u * extra

    def score_request(self, messages: Sequence[BaseMessage] | str, *,
                      tools: Sequence[object] | None = None,
                      response_format: object | None = None) -> float:
        return _sigmoid(self.request_logit(read_request(messages, tools, response_format)))

    def __call__(self, messages: Sequence[BaseMessage] | str) -> float:
        return self.score_request(messages)

    def score_batch(self, prompts: Sequence[Sequence[BaseMessage] | str]) -> list[float]:
        return [self.score_request(p) for p in prompts]

    # persistence ---------------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "features": self.config.as_dict(),
            "dense_features": list(DENSE_NAMES), "dense_weights": list(self.dense_weights),
            "dense_mean": list(self.dense_mean), "dense_std": list(self.dense_std),
            "bias": self.bias, "weight_scale": self.weight_scale,
            "weights_sha256": hashlib.sha256(self._le_bytes()).hexdigest(),
            "context": asdict(self.context), "context_unit": self.context_unit,
            "cuts": list(self.cuts) if self.cuts is not None else None,
            "metadata": self.metadata,
        }

    def _le_bytes(self) -> bytes:
        w = array("h", self.weights)
        if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
            w.byteswap()
        return w.tobytes()

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the artifact atomically (a temporary file renamed over ``path``)."""
        p = os.fspath(path)
        blob = json.dumps(self.header(), default=str).encode() + b"\n" + self._le_bytes()
        tmp = f"{p}.tmp{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                f.write(gzip.compress(blob, compresslevel=9, mtime=0))
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LearnedScorer:
        """Read an artifact; any defect is an :class:`ArtifactError` naming the file."""
        p = os.fspath(path)
        try:
            with open(p, "rb") as f:
                raw = gzip.decompress(f.read())
        except FileNotFoundError:
            raise ArtifactError(p, "no such file") from None
        except (OSError, EOFError, zlib.error) as e:
            raise ArtifactError(p, f"not a complete scorer artifact ({e})") from None
        head, sep, body = raw.partition(b"\n")
        try:
            meta = json.loads(head)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ArtifactError(p, "corrupted header (not JSON)") from None
        if not sep or not isinstance(meta, dict):
            raise ArtifactError(p, "corrupted header")
        if meta.get("format") != FORMAT:
            raise ArtifactError(p, f"format {meta.get('format')!r}; this version reads {FORMAT!r}"
                                "; rebuild it with this version's train-scorer")
        try:
            cfg = FeatureConfig(**meta["features"])
            if meta["dense_features"] != list(DENSE_NAMES):
                raise ArtifactError(p, "its hand-made features differ from this version's")
            if len(body) != 2 * cfg.size:
                raise ArtifactError(p, f"truncated: {len(body)} weight bytes, expected "
                                    f"{2 * cfg.size}")
            if hashlib.sha256(body).hexdigest() != meta["weights_sha256"]:
                raise ArtifactError(p, "corrupted: the weights do not match their sha256")
            w = array("h")
            w.frombytes(body)
            if sys.byteorder != "little":  # pragma: no cover
                w.byteswap()
            return cls(
                weights=w, weight_scale=float(meta["weight_scale"]),
                dense_weights=tuple(map(float, meta["dense_weights"])),
                dense_mean=tuple(map(float, meta["dense_mean"])),
                dense_std=tuple(map(float, meta["dense_std"])), bias=float(meta["bias"]),
                config=cfg, context=ContextWeights(**meta["context"]),
                cuts=tuple(map(float, meta["cuts"])) if meta.get("cuts") else None,
                context_unit=float(meta["context_unit"]),
                metadata=dict(meta.get("metadata") or {}),
            )
        except ArtifactError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(p, f"corrupted header ({type(e).__name__}: {e})") from None

    def with_cuts(self, cuts: Sequence[float] | None, *, context_unit: float | None = None,
                  **calibration: Any) -> LearnedScorer:
        """A copy with these cuts (and context unit); ``calibration`` describes the cuts."""
        meta = dict(self.metadata)
        if calibration:
            meta["calibration"] = calibration
        return LearnedScorer(self.weights, self.weight_scale, self.dense_weights,
                             self.dense_mean, self.dense_std, self.bias, self.config,
                             self.context, tuple(cuts) if cuts is not None else None,
                             self.context_unit if context_unit is None else context_unit,
                             meta)

    def calibrated(self, prompts: Sequence[str], mix: Sequence[float], reference: str
                   ) -> LearnedScorer:
        """A copy whose context unit is the spread of its logits on ``prompts`` and whose
        cuts send ``mix`` of them to each level."""
        from langchain_costrouter.routing.scorers import Thresholds

        logits = [self.text_logit(p) for p in prompts]
        mean = sum(logits) / len(logits)
        sd = math.sqrt(sum((z - mean) ** 2 for z in logits) / len(logits)) or 1.0
        unit = self.with_cuts(None, context_unit=sd)
        cuts = Thresholds.calibrate(unit, prompts, mix=mix)
        return unit.with_cuts(cuts.cuts, mix=list(mix), reference=reference)


def quantise(values: Sequence[float]) -> tuple[array, float]:
    """int16 weights and their scale (the largest weight maps to 32767)."""
    top = max((abs(v) for v in values), default=0.0) or 1.0
    scale = top / _INT16
    return array("h", (round(v / scale) for v in values)), scale


@lru_cache(maxsize=8192)
def _cached(scorer: LearnedScorer, text: str) -> float:
    return scorer._text_logit(text)


@lru_cache(maxsize=32)
def _cached_long(scorer: LearnedScorer, text: str) -> float:
    return scorer._text_logit(text)


def _logit(scorer: LearnedScorer, text: str) -> float:
    # texts under 4,000 characters in a cache of 8,192 (at most ~33M characters held), longer
    # ones up to 200,000 (an agent loop re-sending a long context) in a cache of 32 (at most
    # 6.4M); longer still are scored each time
    n = len(text)
    if n < 4_000:
        return _cached(scorer, text)
    return _cached_long(scorer, text) if n <= 200_000 else scorer._text_logit(text)
