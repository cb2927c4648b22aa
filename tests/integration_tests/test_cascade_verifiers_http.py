"""Verifier checks in the router over real loopback HTTP: a whole answer passes, an answer cut
by ``max_tokens`` escalates, a check that raises is a typed error and leaves the breaker closed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.messages import AIMessage

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.cascade import arithmetic, json_answer, python_syntax
from langchain_costrouter.exceptions import CascadeCheckError
from langchain_costrouter.testing import LocalServer, ServerConfig

# langchain-openai caches one async httpx client per base_url; its keep-alive connections belong
# to the event loop that opened them, so the async tests of this module share one loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")

# "python ... code" in the prompt: the local server answers with a fenced Python block.
CODE = "Write python code that doubles every item of a list"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as srv:
        yield srv


def attempts(msg: AIMessage) -> list[tuple[str, str, str | None]]:
    return [(a["tier"], a["status"], a.get("error"))
            for a in msg.response_metadata["costrouter"]["attempts"]]


async def call(router: ChatCostRouter, mode: str) -> AIMessage:
    if mode == "sync":
        return router.invoke(CODE, level="trivial")
    return await router.ainvoke(CODE, level="trivial")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_whole_code_answer_passes(server: LocalServer, mode: str) -> None:
    catalog = Catalog.default().served_by(server.base_url)
    router = ChatCostRouter(catalog=catalog, max_tokens=400,
                            cascade=[python_syntax, arithmetic, json_answer])
    msg = await call(router, mode)
    assert "```python" in msg.text
    first = router.plan(CODE, level="trivial").candidates[0]
    assert attempts(msg) == [(first.name, "ok", None)]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_code_cut_by_max_tokens_escalates(server: LocalServer, mode: str) -> None:
    catalog = Catalog.default().served_by(server.base_url)
    router = ChatCostRouter(catalog=catalog, max_tokens=27, cascade=[python_syntax])
    msg = await call(router, mode)
    steps = attempts(msg)
    assert len(steps) >= 2  # rejected, then escalated
    assert steps[0][1] == "rejected"
    assert steps[0][2] is not None and "python: the code does not parse" in steps[0][2]
    if msg.response_metadata["costrouter"].get("cascade_exhausted"):
        assert all(s[1] == "rejected" for s in steps)  # every model was cut as short


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_check_that_raises_fails_the_call_not_the_breaker(
    server: LocalServer, mode: str
) -> None:
    def flaky(message: AIMessage) -> str | None:
        raise RuntimeError("my check is broken")

    catalog = Catalog.default().served_by(server.base_url)
    router = ChatCostRouter(catalog=catalog, max_tokens=400, cascade=[python_syntax, flaky])
    server.reset_stats()
    with pytest.raises(CascadeCheckError, match="'flaky' failed: RuntimeError") as e:
        await call(router, mode)
    assert e.value.check == "flaky"
    first = router.plan(CODE, level="trivial").candidates[0]
    assert sum(s["requests"] for s in server.stats().values()) == 1  # no escalation
    health = router.health()[first.name]
    assert (health.state, health.failures) == ("closed", 0)
