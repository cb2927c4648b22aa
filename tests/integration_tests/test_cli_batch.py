"""``costrouter batch submit|status|collect`` against the local server's batch endpoints."""

from __future__ import annotations

import json

import pytest

from langchain_costrouter.cli.main import main
from langchain_costrouter.testing import LocalServer, ServerConfig
from tests.integration_tests._batch_setup import prompts, script


@pytest.fixture(scope="module")
def server():
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as srv:
        yield srv


def test_submit_status_collect_writes_one_line_per_prompt_in_order(server, tmp_path, capsys):
    script(server.url, polls_to_end=2, fail_every=4)
    src = tmp_path / "prompts.jsonl"
    src.write_text("\n".join(json.dumps({"prompt": p}) for p in prompts(12)) + "\n")
    common = ["--store", str(tmp_path / "jobs.db"), "--base-url", server.base_url]
    assert main(["batch", "submit", str(src), "--model", "claude-sonnet", *common]) == 0
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
    good = tmp_path / "p.jsonl"
    good.write_text('"hello"\n')
    assert main(["batch", "submit", str(good), "--model", "deepseek", *store]) == 2
    err = capsys.readouterr().err.strip()
    assert "item 0: model 'deepseek'" in err and "has no batch lane" in err
