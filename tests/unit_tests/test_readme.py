"""The README's quickstart runs as written (against the local server on loopback)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_quickstart_runs(capsys: object) -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## Quickstart\n.*?```python\n(.*?)```", text, re.S)
    assert block is not None, "README has a python block under ## Quickstart"
    scope: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), scope)
    msg = scope["msg"]
    entry = msg.response_metadata["costrouter"]  # type: ignore[attr-defined]
    assert entry["level"] in {"complex", "expert"}  # a proof is not routed as easy
    assert Decimal(entry["cost_usd"]) > 0
    cb = scope["cb"]
    assert cb.summary().requests == 2  # type: ignore[attr-defined]
    assert isinstance(scope["answer"], str) and scope["answer"]


def test_readme_commands_exist_in_makefile() -> None:
    text = README.read_text(encoding="utf-8")
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    for target in re.findall(r"^make (\w+)", text, re.M):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is in the README"
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def _block(text: str, heading: str) -> str:
    m = re.search(rf"### {re.escape(heading)}\n.*?```python\n(.*?)```", text, re.S)
    assert m is not None, f"README has a python block under ### {heading}"
    return m.group(1)


def test_resilience_and_budget_snippets_run(tmp_path: Path, monkeypatch: object) -> None:
    from langchain_costrouter import Catalog, ChatCostRouter
    from langchain_costrouter.testing import LocalServer

    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]  # the snippets write .db files
    text = README.read_text(encoding="utf-8")
    scope: dict[str, object] = {}
    exec(compile(_block(text, "Resilience"), "README.md", "exec"), scope)
    router = scope["router"]
    health = router.health()  # type: ignore[attr-defined]
    assert health and {h.state for h in health.values()} == {"closed"}
    with LocalServer() as server:
        # the snippet's breakers and limiter, but models served by the local server
        scope["router"] = ChatCostRouter(
            catalog=Catalog.default().served_by(server.base_url),
            breakers=router.breakers, limiter=router.limiter,  # type: ignore[attr-defined]
        )
        exec(compile(_block(text, "Cost tracking and budgets"), "README.md", "exec"), scope)
    summary = scope["cb"].summary()  # type: ignore[attr-defined]
    assert summary.requests == 1 and summary.total_cost > 0
    assert (tmp_path / "budget.db").exists() and (tmp_path / "breakers.db").exists()
