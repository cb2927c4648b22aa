"""Cascade over real loopback HTTP: the rejected answer's tokens, as the server counted them,
are in the router's usage and cost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from langchain_core.messages import AIMessage

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.costs import track_costs
from langchain_costrouter.pricing.prices import TokenUsage, cost_of
from langchain_costrouter.testing import LocalServer, ServerConfig

PROMPT = "Say hello to the team"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ServerConfig.from_catalog(latency_scale=0)) as srv:
        yield srv


def settled_stats(server: LocalServer) -> dict[str, dict[str, int]]:
    """The server records a request's tokens just after its reply is sent: wait (bounded) until
    no request is still in flight, so the counts are complete."""
    deadline = time.monotonic() + 5
    while True:
        stats = server.stats()
        if all(s["in_flight"] == 0 for s in stats.values()) or time.monotonic() > deadline:
            return stats
        time.sleep(0.005)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_rejected_first_answer_is_summed_with_the_escalated_one(
    server: LocalServer, mode: str
) -> None:
    catalog = Catalog.default().served_by(server.base_url)
    probe = ChatCostRouter(catalog=catalog, max_tokens=40)
    first, second = probe.plan(PROMPT, level="trivial").candidates[:2]

    def not_the_first(message: AIMessage) -> str | None:
        name = message.response_metadata.get("model_name")
        return f"answered by {name}" if name == first.spec.model else None

    router = ChatCostRouter(catalog=catalog, max_tokens=40, cascade=not_the_first)
    server.reset_stats()
    with track_costs() as cb:
        if mode == "sync":
            msg = router.invoke(PROMPT, level="trivial")
        else:
            msg = await router.ainvoke(PROMPT, level="trivial")

    meta = msg.response_metadata["costrouter"]
    assert [(a["tier"], a["status"]) for a in meta["attempts"]] == [
        (first.name, "rejected"),
        (second.name, "ok"),
    ]
    assert msg.response_metadata["model_name"] == second.spec.model
    stats = settled_stats(server)
    assert {m: s["requests"] for m, s in stats.items()} == {
        first.spec.model: 1,
        second.spec.model: 1,
    }
    served = {
        m: TokenUsage(input_tokens=s["prompt_tokens"], output_tokens=s["completion_tokens"])
        for m, s in stats.items()
    }
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["input_tokens"] == sum(u.input_tokens for u in served.values())
    assert msg.usage_metadata["output_tokens"] == sum(u.output_tokens for u in served.values())
    costs = [cost_of(c.spec.prices, served[c.spec.model]) for c in (first, second)]
    assert None not in costs and all(c is not None and c > 0 for c in costs)
    assert [a["cost_usd"] for a in meta["attempts"]] == [str(c) for c in costs]
    total = sum((c for c in costs if c is not None), Decimal(0))
    assert Decimal(meta["cost_usd"]) == total
    (record,) = cb.records  # one router call, one record
    assert record.cost == total
    assert record.input_tokens == msg.usage_metadata["input_tokens"]
