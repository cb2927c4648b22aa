"""Routing decisions over real HTTP (the local server), on invoke, ainvoke, stream and astream:

* bad call arguments are refused at planning, with no request sent and no breaker touched;
* ``max_cost`` is a hard ceiling by default (a typed error naming the cheapest estimate), soft
  on request (served, marked ``over_ceiling``);
* the metadata always says the scored level, the served level, the score and why they differ;
* a stream the caller stops early is billed, not free.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from langchain_costrouter import Catalog, ChatCostRouter, ConfigError
from langchain_costrouter.exceptions import CostCeilingError
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.testing import LocalServer, ServerConfig
from langchain_costrouter.testing.paths import PATHS, call, route, run

LEVELS = ("trivial", "standard", "complex", "expert")


@pytest.fixture(scope="module")
def server() -> Any:
    with LocalServer(ServerConfig(latency_scale=0)) as s:
        yield s


def catalog(server: LocalServer) -> Catalog:
    def entry(name: str, inp: str, out: str) -> dict[str, Any]:
        return {"name": name, "provider": f"p-{name}", "model": f"{name}-1",
                "base_url": server.base_url, "api_key_env": None,
                "prices": Prices(input=Decimal(inp), output=Decimal(out))}

    models = [entry("small", "0.1", "0.4"), entry("large", "2", "8")]
    levels = {"trivial": ["small"], "standard": ["small"], "complex": ["large"],
              "expert": ["large"]}
    return Catalog.build({"models": models, "levels": levels})


def requests(server: LocalServer) -> int:
    return sum(int(s.get("requests", 0)) for s in server.stats().values())


BAD_ARGS = [
    ({"stop": 5}, "stop"),
    ({"stop": [""]}, "stop"),
    ({"max_tokens": "abc"}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"temperature": float("nan")}, "temperature"),
    ({"temperature": 7}, "temperature"),
    ({"tools": [{"type": "function"}]}, "tools"),
    ({"tool_choice": "nope"}, "tool_choice"),
]


@pytest.mark.parametrize("how", PATHS)
@pytest.mark.parametrize(("bad", "name"), BAD_ARGS)
def test_a_bad_argument_is_refused_before_any_request(
    server: LocalServer, how: str, bad: dict[str, Any], name: str
) -> None:
    router = ChatCostRouter(catalog=catalog(server))
    before = requests(server)
    for _ in range(6):  # more than a breaker's threshold: none of them may count
        with pytest.raises(ConfigError, match=rf"^{name}="):
            call(router, how, "hello", **bad)
    assert requests(server) == before
    assert all(h.state == "closed" for h in router.health().values())
    assert route(call(router, how, "hello"))["tier"] == "small"  # still serving


@pytest.mark.parametrize("how", PATHS)
def test_a_hard_ceiling_no_model_fits_is_a_typed_error_and_sends_nothing(
    server: LocalServer, how: str
) -> None:
    router = ChatCostRouter(catalog=catalog(server), max_tokens=64)
    cheapest = router.plan("hello", level="trivial").estimated_cost
    assert cheapest is not None
    before = requests(server)
    with pytest.raises(CostCeilingError) as ei:
        call(router, how, "hello", max_cost=cheapest / 2, level="trivial")
    assert ei.value.cheapest == cheapest and ei.value.ceiling == cheapest / 2
    assert str(cheapest) in str(ei.value) and str(cheapest / 2) in str(ei.value)
    assert requests(server) == before


@pytest.mark.parametrize("how", PATHS)
def test_a_soft_ceiling_serves_the_cheapest_and_marks_it(server: LocalServer, how: str) -> None:
    router = ChatCostRouter(catalog=catalog(server), max_tokens=64, ceiling="soft")
    cheapest = router.plan("hello", level="trivial").estimated_cost
    assert cheapest is not None
    meta = route(call(router, how, "hello", max_cost=cheapest / 2, level="expert"))
    assert meta["over_ceiling"] is True and meta["tier"] == "small"  # the cheapest overall
    assert meta["reason"] == "ceiling"


@pytest.mark.parametrize("how", PATHS)
def test_a_ceiling_that_only_a_lower_level_fits_says_ceiling(
    server: LocalServer, how: str
) -> None:
    router = ChatCostRouter(catalog=catalog(server), max_tokens=64)
    large = router.plan("hello", level="expert").estimated_cost
    assert large is not None
    meta = route(call(router, how, "Prove that there are infinitely many primes.",
                      level="expert", max_cost=large / 2))
    assert (meta["tier"], meta["served_level"], meta["reason"]) == ("small", "standard",
                                                                    "ceiling")
    assert "over_ceiling" not in meta


@pytest.mark.parametrize("how", PATHS)
def test_the_metadata_says_scored_and_served_level_score_and_reason(
    server: LocalServer, how: str
) -> None:
    router = ChatCostRouter(catalog=catalog(server))
    meta = route(call(router, how, "hi"))
    assert meta["scored_level"] == meta["served_level"] == meta["level"]
    assert isinstance(meta["score"], float) and meta["reason"] is None
    meta = route(call(router, how, "hi", model="large"))
    assert (meta["tier"], meta["reason"]) == ("large", "pinned")
    assert meta["scored_level"] is not None
    meta = route(call(router, how, "hi", config={"configurable": {
        "costrouter_model": "small", "costrouter_reason": "budget_downgrade"}}))
    assert meta["reason"] == "budget_downgrade" and meta["scored_level"] is not None
    with pytest.raises(ConfigError, match="route_reason"):
        call(router, how, "hi", route_reason="because")


def test_a_stream_stopped_early_is_billed_as_delivered(server: LocalServer) -> None:
    from langchain_costrouter.routing import run as run_mod

    seen: list[Any] = []
    original = run_mod.CallRun._bill_cut

    def spy(self: Any, t: Any, why: str | None) -> None:
        original(self, t, why)
        seen.append(self.billed[-1][1])

    router = ChatCostRouter(catalog=catalog(server), max_tokens=64)
    run_mod.CallRun._bill_cut = spy  # type: ignore[method-assign]
    try:
        stream = router.stream("Write a long story about a lighthouse keeper.")
        first = next(stream)
        stream.close()

        async def astop() -> None:
            agen = router.astream("Write a long story about a lighthouse keeper.")
            await anext(agen)
            await agen.aclose()

        run(astop())
    finally:
        run_mod.CallRun._bill_cut = original  # type: ignore[method-assign]
    assert first.content is not None and len(seen) == 2
    for billed in seen:
        assert billed.estimated and billed.cost is not None and billed.cost > 0
        assert billed.usage_metadata["input_tokens"] > 0
