"""Exports: JSON, CSV, JSON lines and pandas round trips; no secret ever leaves a record."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from _cost_fakes import UsageModel, usage

from langchain_costrouter.costs import (
    CostTrackingCallbackHandler,
    JsonLinesSink,
    RecordSink,
    from_csv,
    from_json,
    read_json_lines,
    to_csv,
    to_dataframe,
    to_json,
)
from langchain_costrouter.redact import scrub

SECRET = "sk-proj-SECRETSECRETSECRET1234"


def tracked(tmp_path: Path | None = None, **kw: Any) -> CostTrackingCallbackHandler:
    """A handler with a priced call, an unpriced one, a streamed one and an error."""
    sinks = [JsonLinesSink(tmp_path / "calls.jsonl")] if tmp_path else []
    h = CostTrackingCallbackHandler(sinks=sinks, **kw)
    cfg: dict[str, Any] = {"callbacks": [h], "tags": ["t"], "metadata": {"user": "ann"}}
    UsageModel(usage=usage(1000, 50, cached=400)).invoke("a", config=cfg)
    with pytest.warns(UserWarning):  # warned once per model name: make it new
        unknown = UsageModel(model_name=f"no-such-model-{uuid4().hex[:8]}", usage=usage(5, 5))
        unknown.invoke("b", config=cfg)
    list(UsageModel(usage=None, reply="streamed, no usage").stream("c", config=cfg))
    with pytest.raises(RuntimeError):
        UsageModel(error="boom").invoke("d", config=cfg)
    return h


def test_json_round_trip_is_exact_and_money_is_a_string(tmp_path: Path) -> None:
    h = tracked()
    text = to_json(h, tmp_path / "calls.json")
    data = json.loads(text)
    assert isinstance(data[0]["cost"], str) and Decimal(data[0]["cost"]) == h.records[0].cost
    assert data[1]["cost"] is None
    assert from_json(text) == h.records
    assert from_json((tmp_path / "calls.json").read_text()) == h.records


def test_csv_round_trip_is_exact(tmp_path: Path) -> None:
    h = tracked()
    text = to_csv(h.records, tmp_path / "calls.csv")
    header = text.splitlines()[0].split(",")
    assert header[:3] == ["run_id", "parent_run_id", "timestamp"] and "cost" in header
    assert from_csv(text) == h.records
    assert from_csv((tmp_path / "calls.csv").read_text()) == h.records


def test_json_lines_sink_streams_every_record(tmp_path: Path) -> None:
    h = tracked(tmp_path, max_records=1)
    assert isinstance(JsonLinesSink(tmp_path / "x"), RecordSink)
    got = read_json_lines(tmp_path / "calls.jsonl")
    assert len(got) == 4 and got[-1:] == h.records  # the ring buffer kept only the last


def test_dataframe_keeps_exact_decimals() -> None:
    h = tracked()
    df = to_dataframe(h)
    assert list(df["model"]) == [r.model for r in h.records]
    assert df["cost"].dropna().sum() == h.summary().total_cost


def test_dataframe_without_pandas_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"langchain-costrouter\[pandas\]"):
        to_dataframe([])


def test_secrets_never_reach_records_exports_or_summaries(tmp_path: Path) -> None:
    h = CostTrackingCallbackHandler(store_prompts=True, sinks=[JsonLinesSink(tmp_path / "s")])
    m = UsageModel(usage=usage(10, 2), api_key=SECRET)
    meta = {
        "user": "ann",
        "api_key": SECRET,
        "openai_api_key": SECRET,
        "headers": {"Authorization": f"Bearer {SECRET}"},
        "extra": {"x-api-key": SECRET, "note": f"key is {SECRET}"},
        "client": {"token": SECRET},
    }
    m.invoke(f"my key is {SECRET}", config={"callbacks": [h], "metadata": meta})
    with pytest.raises(RuntimeError):
        UsageModel(error=f"bad key {SECRET}").invoke("x", config={"callbacks": [h]})
    outputs = [repr(h.records), to_json(h), to_csv(h), str(h.summary()), repr(h),
               (tmp_path / "s").read_text(), str(to_dataframe(h).to_dict())]
    for out in outputs:
        assert "SECRETSECRET" not in out
    r = h.records[0]
    assert r.metadata == {"user": "ann", "extra": {"note": "key is [redacted]"}, "client": {}}
    assert r.prompt == "Human: my key is [redacted]"


def test_scrub_keeps_harmless_keys() -> None:
    kept = {"max_tokens": 5, "team": "a", "author": "b", "tokens_used": 3, "keyword": "k"}
    assert scrub(kept) == kept
    assert scrub({"Authorization": "x", "X-Api-Key": "y", "password": "z", "a": [1, "b"]}) == {
        "a": [1, "b"]
    }
