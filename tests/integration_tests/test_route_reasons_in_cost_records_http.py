"""The cost handler's records say what the router decided, and summaries group by it.

Over real HTTP (the local server), on invoke, ainvoke, stream and astream: each record carries
the router's scored level, served level, reason and score as its metadata reported them (read
by the one parser, ``RouteInfo``); ``summary()`` breaks the calls down by reason and by served
level, ``summary(group_by="reason")`` groups by them like any metadata key, and the exports
(JSON, CSV, pandas) keep them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from langchain_costrouter import Catalog, ChatCostRouter
from langchain_costrouter.costs import CostTrackingCallbackHandler
from langchain_costrouter.costs.export import from_csv, from_json, to_csv, to_dataframe, to_json
from langchain_costrouter.pricing.prices import Prices
from langchain_costrouter.testing import FaultPlan, LocalServer, ServerConfig
from langchain_costrouter.testing.paths import PATHS, call, route

pytestmark = pytest.mark.enable_socket

HARD = "Prove that there are infinitely many primes."


@pytest.fixture(scope="module")
def server() -> Any:
    config = ServerConfig(latency_scale=0).with_faults({"flaky-1": FaultPlan(error_500=1.0)})
    with LocalServer(config) as s:
        yield s


def catalog(server: LocalServer) -> Catalog:
    def entry(name: str, inp: str, out: str) -> dict[str, Any]:
        return {"name": name, "provider": f"p-{name}", "model": f"{name}-1",
                "base_url": server.base_url, "api_key_env": None,
                "prices": Prices(input=Decimal(inp), output=Decimal(out))}

    models = [entry("small", "0.1", "0.4"), entry("large", "2", "8"),
              entry("flaky", "1", "4")]
    levels = {"trivial": ["small"], "standard": ["small"], "complex": ["large"],
              "expert": ["flaky", "large"]}  # flaky answers 500: expert falls back to large
    return Catalog.build({"models": models, "levels": levels})


def decisions(router: ChatCostRouter, how: str, handler: CostTrackingCallbackHandler
              ) -> list[dict[str, Any]]:
    """One call per reason (and one served as scored); the router's metadata of each."""
    cb = {"callbacks": [handler]}
    large = router.plan("hello", level="complex").estimated_cost
    assert large is not None
    msgs = [
        call(router, how, "hi", config=cb),
        call(router, how, "hi", model="large", config=cb),
        call(router, how, "hi", config={**cb, "configurable": {
            "costrouter_model": "small", "costrouter_reason": "budget_downgrade"}}),
        call(router, how, HARD, level="expert", max_cost=large / 2, config=cb),
        call(router, how, "hi", level="expert", config=cb),
    ]
    return [route(m) for m in msgs]


@pytest.mark.parametrize("how", PATHS)
def test_each_record_carries_the_routers_decision(server: LocalServer, how: str) -> None:
    router = ChatCostRouter(catalog=catalog(server), max_tokens=64)
    handler = CostTrackingCallbackHandler(catalog=router.catalog)
    metas = decisions(router, how, handler)
    recs = handler.records
    assert len(recs) == len(metas)  # each call counted once
    assert [m["reason"] for m in metas] == [None, "pinned", "budget_downgrade", "ceiling",
                                             "fallback"]
    for rec, meta in zip(recs, metas, strict=True):
        got = (rec.scored_level, rec.served_level, rec.reason, rec.score, rec.tier)
        assert got == (meta["scored_level"], meta["served_level"], meta["reason"],
                       meta["score"], meta["tier"])
        assert rec.cost == Decimal(meta["cost_usd"]) > 0
    ceiling = recs[3]
    assert (ceiling.level, ceiling.served_level) == ("expert", "standard")
    assert isinstance(recs[0].score, float)


@pytest.mark.parametrize("how", ["invoke", "astream"])
def test_summaries_break_calls_down_by_reason_and_served_level(
        server: LocalServer, how: str) -> None:
    router = ChatCostRouter(catalog=catalog(server), max_tokens=64)
    handler = CostTrackingCallbackHandler(catalog=router.catalog)
    decisions(router, how, handler)
    recs = handler.records
    s = handler.summary()
    assert {k: v.requests for k, v in s.by_reason.items()} == {
        "(as scored)": 1, "pinned": 1, "budget_downgrade": 1, "ceiling": 1, "fallback": 1}
    assert s.by_reason["ceiling"].total_cost == recs[3].cost
    assert sum((v.total_cost for v in s.by_reason.values()), Decimal(0)) == s.total_cost
    served: dict[str, int] = {}
    for r in recs:
        served[r.served_level] = served.get(r.served_level, 0) + 1  # type: ignore[index]
    assert {k: v.requests for k, v in s.by_served_level.items()} == served
    for lv, t in s.by_served_level.items():
        assert t.total_cost == sum((r.cost for r in recs if r.served_level == lv),  # type: ignore[misc]
                                   Decimal(0))
    # the ceiling moved its call off the planned level: counted where it was served
    assert recs[3].cost is not None and s.by_served_level["standard"].total_cost >= recs[3].cost
    # any record field groups like a metadata key, alone or with others
    g = handler.summary(group_by="reason")
    assert {k: v.requests for k, v in g.by_group.items()} == {
        "(none)": 1, "pinned": 1, "budget_downgrade": 1, "ceiling": 1, "fallback": 1}
    g2 = handler.summary(group_by=["scored_level", "served_level"])
    assert sum(v.requests for v in g2.by_group.values()) == len(recs)
    assert g2.by_group[("expert", "standard")].total_cost == recs[3].cost
    # declared on the handler, the grouping covers every call
    h2 = CostTrackingCallbackHandler(catalog=router.catalog, group_by="reason")
    call(router, how, "hi", model="large", config={"callbacks": [h2]})
    assert h2.summary().by_group["pinned"].requests == 1
    assert "by_reason" in s.as_dict() and s.as_dict()["by_reason"]["pinned"]["requests"] == 1


def test_exports_keep_the_routers_decision(server: LocalServer) -> None:
    router = ChatCostRouter(catalog=catalog(server), max_tokens=64)
    handler = CostTrackingCallbackHandler(catalog=router.catalog)
    decisions(router, "invoke", handler)
    recs = handler.records
    fields = lambda r: (r.scored_level, r.served_level, r.reason, r.score, r.cost)  # noqa: E731
    assert [fields(r) for r in from_json(to_json(handler))] == [fields(r) for r in recs]
    assert [fields(r) for r in from_csv(to_csv(handler))] == [fields(r) for r in recs]
    header = to_csv(handler).splitlines()[0].split(",")
    assert {"scored_level", "served_level", "reason", "score"} <= set(header)
    pd = pytest.importorskip("pandas")
    df = to_dataframe(handler)
    assert df["reason"].isna().tolist() == [r.reason is None for r in recs]
    assert df["reason"].dropna().tolist() == [r.reason for r in recs if r.reason]
    assert df.groupby("served_level")["cost"].sum().to_dict() == {
        lv: sum((r.cost for r in recs if r.served_level == lv), Decimal(0))  # type: ignore[misc]
        for lv in {r.served_level for r in recs}}
    assert pd.api.types.is_float_dtype(df["score"])
