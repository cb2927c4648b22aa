"""``costrouter batch submit|status|collect`` against the local server's batch endpoints."""

from __future__ import annotations

import json
import warnings

import pytest

from langchain_costrouter.cli.main import main
from langchain_costrouter.models.catalog import Catalog
from langchain_costrouter.models.lanes import offered_lanes, with_lanes
from langchain_costrouter.testing import LocalServer, ServerConfig
from tests.integration_tests._batch_setup import prompts, script


@pytest.fixture(scope="module")
def server():
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as srv:
        yield srv


def default_with_lanes() -> Catalog:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return with_lanes(Catalog.default())


def anthropic_batch_model() -> str:
    """A default-catalog model served through Anthropic message batches (what the CLI uses)."""
    for name, spec in default_with_lanes().models.items():
        if spec.provider == "anthropic" and "batch" in offered_lanes(spec):
            return name
    pytest.skip("the default catalog has no Anthropic model with a batch lane")


def test_submit_status_collect_writes_one_line_per_prompt_in_order(server, tmp_path, capsys):
    script(server.url, polls_to_end=2, fail_every=4)
    src = tmp_path / "prompts.jsonl"
    src.write_text("\n".join(json.dumps({"prompt": p}) for p in prompts(12)) + "\n")
    common = ["--store", str(tmp_path / "jobs.db"), "--base-url", server.base_url]
    assert main(["batch", "submit", str(src), "--model", anthropic_batch_model(), *common]) == 0
    job_id = capsys.readouterr().out.strip()
    assert job_id.startswith("cbj_")
    assert main(["batch", "status", job_id, *common]) == 0
    assert "0/12 done (pending 12)" in capsys.readouterr().out
    out = tmp_path / "results.jsonl"
    assert main(["batch", "collect", job_id, "--out", str(out), "--poll-s", "0", *common]) == 0
    err = capsys.readouterr().err
    assert "[##############################] 12/12" in err
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["index"] for r in rows] == list(range(12))
    assert [r["ok"] for r in rows].count(False) == 3
    assert {r["lane"] for r in rows if r["ok"]} == {"batch"}
    assert all(r["kind"] == "failed" for r in rows if not r["ok"])
    script(server.url)


def test_errors_are_one_line_and_exit_2(server, tmp_path, capsys):
    store = ["--store", str(tmp_path / "jobs.db"), "--base-url", server.base_url]
    assert main(["batch", "status", "cbj_missing", *store]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown batch job 'cbj_missing'" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": \n')
    assert main(["batch", "submit", str(bad), *store]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.jsonl:2: not JSON" in err
    no_batch = [n for n, s in default_with_lanes().models.items()
                if "batch" not in offered_lanes(s)]
    if no_batch:  # a model without a batch lane, asked for the batch lane
        good = tmp_path / "p.jsonl"
        good.write_text('"hello"\n')
        assert main(["batch", "submit", str(good), "--model", no_batch[0], *store]) == 2
        err = capsys.readouterr().err.strip()
        assert f"item 0: model '{no_batch[0]}'" in err and "has no batch lane" in err
